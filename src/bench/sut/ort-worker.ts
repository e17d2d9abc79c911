/**
 * The body of one `InProcessSut` worker: a single-thread onnxruntime `Session` (as `trainfer serve`
 * runs one per core), the shared sample library, and a preallocated batch buffer per batch size.
 * Each work item is one or more batches run back to back; the reply carries only timing (and outputs
 * when asked), so the worker spends its time in `run()`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { allocate } from '../../onnx/dtype.js';
import type { TypedArray } from '../../onnx/dtype.js';
import { Session } from '../../runtime/session.js';
import { oneLine } from '../../util/errors.js';
import { type SampleInput, fillBatch } from '../qsl.js';
import { type FromOrtWorker, type OrtWorkerInit, type ToOrtWorker, type WireOutput, fixedBatchOf } from './ort-worker-protocol.js';

if (!parentPort) throw new Error('ort-worker must run inside a worker thread');
const port = parentPort;
const init = workerData as OrtWorkerInit;
const post = (m: FromOrtWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

interface BatchFeeds {
  buffers: TypedArray[];
  feeds: Record<string, ort.Tensor>;
}

async function start(): Promise<void> {
  let session: Session;
  try {
    session = await Session.create(init.source, init.session);
  } catch (err) {
    post({ type: 'init-error', message: oneLine(err) });
    return;
  }
  const inputs: SampleInput[] = init.library.inputs;
  const missing = session.inputNames.filter((n) => !inputs.some((i) => i.name === n));
  if (missing.length > 0) {
    post({ type: 'init-error', message: `the sample library has no data for model input${missing.length > 1 ? 's' : ''} ${missing.map((m) => `'${m}'`).join(', ')} (it has ${inputs.map((i) => `'${i.name}'`).join(', ')})` });
    return;
  }
  const used = inputs.filter((i) => session.inputNames.includes(i.name));
  const cache = new Map<number, BatchFeeds>();
  const feedsFor = (n: number): BatchFeeds => {
    let f = cache.get(n);
    if (!f) {
      const buffers = used.map((i) => allocate(i.dtype, n * i.sampleSize) as TypedArray);
      const feeds: Record<string, ort.Tensor> = {};
      used.forEach((i, k) => (feeds[i.name] = new ort.Tensor(i.dtype as 'float32', buffers[k] as Float32Array, [n, ...i.sampleDims])));
      f = { buffers, feeds };
      cache.set(n, f);
    }
    return f;
  };
  const meta = (session.ort.inputMetadata as unknown as { name: string; isTensor: boolean; shape?: readonly (number | string)[] }[]).map((m) => ({ name: m.name, dims: (m.shape ?? []).map((d) => (typeof d === 'number' && d < 0 ? null : d)) }));
  const fixedBatch = fixedBatchOf(meta.filter((m) => used.some((u) => u.name === m.name)));
  post({ type: 'ready', inputs: meta });
  // Work items arrive one at a time but `run` is async: chain them so the session runs one at a time.
  let chain: Promise<void> = Promise.resolve();
  port.on('message', (m: ToOrtWorker) => {
    if (m.type === 'close') {
      chain = chain.then(() => session.release()).finally(() => port.close());
      return;
    }
    chain = chain.then(() => runItem(session, used, feedsFor, m, fixedBatch));
  });
}

async function runItem(session: Session, used: SampleInput[], feedsFor: (n: number) => BatchFeeds, m: Extract<ToOrtWorker, { type: 'run' }>, fixedBatch: number | undefined): Promise<void> {
  const t0 = performance.now();
  const outputs: WireOutput[][] | undefined = init.returnOutputs ? [] : undefined;
  try {
    let off = 0;
    for (const n of m.batches) {
      const size = fixedBatch ?? n;
      const f = feedsFor(size);
      const idx = m.indices.subarray(off, off + n);
      used.forEach((inp, k) => fillBatch(inp, idx, f.buffers[k]!, size));
      off += n;
      const res = await session.ort.run(f.feeds);
      if (outputs) {
        outputs.push(Object.entries(res).map(([name, t]) => {
          // Copied by structured clone: onnxruntime may own the output's memory.
          return { name, dtype: t.type as WireOutput['dtype'], dims: t.dims.map(Number), data: t.data as TypedArray };
        }));
      }
    }
    post({ type: 'done', id: m.id, computeMs: performance.now() - t0, outputs });
  } catch (err) {
    post({ type: 'run-error', id: m.id, message: oneLine(err) });
  }
}

void start();
