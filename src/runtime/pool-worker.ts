/**
 * The body of one `SessionPool` worker thread: create a `Session` from `workerData`, report its
 * input/output metadata, then run requests one at a time and post results back (buffers transferred).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { DType } from '../onnx/dtype.js';
import type { Tensor } from '../onnx/tensor.js';
import { oneLine } from '../util/errors.js';
import { Session } from './session.js';
import { type FromWorker, type IoMetadata, type ToWorker, type WorkerInit, fromWire, toWire } from './pool-protocol.js';

if (!parentPort) throw new Error('pool-worker must run inside a worker thread');
const port = parentPort;
const post = (m: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

async function start(): Promise<void> {
  const init = workerData as WorkerInit;
  let session: Session;
  try {
    session = await Session.create(init.source, init.options);
  } catch (err) {
    post({ type: 'init-error', message: oneLine(err) });
    return;
  }
  post({ type: 'ready', inputs: metadata(session.ort.inputMetadata), outputs: metadata(session.ort.outputMetadata) });
  port.on('message', (m: ToWorker) => {
    if (m.type === 'crash') process.exit(m.code);
    if (m.type === 'close') {
      // After the run in progress (if any): a worker inside onnxruntime cannot be stopped from outside.
      void chain.then(() => session.release()).finally(() => port.close());
      return;
    }
    void runOne(session, m);
  });
}

// Messages arrive one at a time but `run` is async; chain them so one session runs one request at a time.
let chain: Promise<void> = Promise.resolve();
function runOne(session: Session, m: Extract<ToWorker, { type: 'run' }>): Promise<void> {
  chain = chain.then(async () => {
    const feeds: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(m.feeds)) feeds[k] = fromWire(v);
    const t0 = performance.now();
    try {
      const res = await session.run(feeds, m.fetches);
      const computeMs = performance.now() - t0;
      const transfer: ArrayBuffer[] = [];
      const outputs: Record<string, ReturnType<typeof toWire>> = {};
      for (const [k, v] of Object.entries(res)) outputs[k] = toWire(v, transfer);
      post({ type: 'result', id: m.id, outputs, computeMs }, transfer);
    } catch (err) {
      post({ type: 'run-error', id: m.id, message: oneLine(err) });
    }
  });
  return chain;
}

type OrtMeta = { name: string; isTensor: boolean; type?: string; shape?: readonly (number | string)[] };
function metadata(list: readonly unknown[]): IoMetadata[] {
  return (list as OrtMeta[]).map((m) => {
    if (!m.isTensor) return { name: m.name };
    return { name: m.name, dtype: m.type as DType, shape: m.shape?.map((d) => (typeof d === 'number' && d < 0 ? null : d)) };
  });
}

void start();
