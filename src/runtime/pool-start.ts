/**
 * Starting and stopping one `SessionPool` worker thread: the bootstrap code (dist `.js` or `.ts` under
 * tsx), waiting for its session to load, and a graceful stop. A worker is never `terminate()`d while it
 * may be inside onnxruntime: measured with onnxruntime-node 1.30, terminating (or `process.exit()`)
 * while a worker is in `session.run` aborts the whole process when the run returns
 * (`terminate called after throwing an instance of 'Napi::Error'`, exit 134).
 */
import { Worker } from 'node:worker_threads';
import { TrainferError, oneLine } from '../util/errors.js';
import type { FromWorker, IoMetadata, ToWorker, WorkerInit } from './pool-protocol.js';

/** A started worker and its session's input/output metadata. */
export interface StartedWorker {
  worker: Worker;
  meta: { inputs: IoMetadata[]; outputs: IoMetadata[] };
}

/**
 * The worker's bootstrap code. Under dist the entry is the sibling `pool-worker.js`; when this module
 * runs from `.ts` (tests, `tsx`), the worker first registers tsx's loader and then imports `pool-worker.ts`
 * (a worker does not inherit the parent's module hooks in Node 20).
 */
function workerBootstrap(): string {
  const self = new URL(import.meta.url);
  if (!self.pathname.endsWith('.ts')) return `import(${JSON.stringify(new URL('./pool-worker.js', self).href)});`;
  const entry = new URL('./pool-worker.ts', self).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  return `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
}

/** Starts one worker and waits until its session has loaded. Load errors are one line prefixed by `label`. */
export function startWorker(init: WorkerInit, label: string): Promise<StartedWorker> {
  const worker = new Worker(workerBootstrap(), { eval: true, workerData: init });
  return new Promise((resolve, reject) => {
    const onMessage = (m: FromWorker) => {
      if (m.type === 'ready') {
        cleanup();
        resolve({ worker, meta: { inputs: m.inputs, outputs: m.outputs } });
      } else if (m.type === 'init-error') {
        cleanup();
        // No session exists in this worker, so terminating it is safe.
        void worker.terminate();
        reject(new TrainferError(m.message.startsWith(label) ? m.message : `${label}: ${m.message}`));
      }
    };
    const onError = (err: Error) => {
      cleanup();
      reject(new TrainferError(`${label}: session worker failed to start: ${oneLine(err)}`));
    };
    const onExit = (code: number) => {
      cleanup();
      reject(new TrainferError(`${label}: session worker exited during start (exit code ${code})`));
    };
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}

/**
 * Asks a worker to release its session and exit once its current run (if any) has returned. Resolves
 * when it has exited. `idle` workers that ignore the request are terminated after 2 s (safe: they are not
 * inside onnxruntime); a busy one is only asked, never terminated.
 */
export function stopWorker(worker: Worker, idle: boolean): Promise<void> {
  const exited = new Promise<void>((r) => worker.once('exit', () => r()));
  const msg: ToWorker = { type: 'close' };
  worker.postMessage(msg);
  if (!idle) return exited;
  const timer = setTimeout(() => void worker.terminate(), 2000);
  return exited.finally(() => clearTimeout(timer));
}
