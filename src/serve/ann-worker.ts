/**
 * `AnnWorker`: a retrieval model's approximate top-K path in its own worker thread — the user tower,
 * the ANN index over the catalog (built there at load, on every core, while the main thread keeps
 * serving) and the recall measured against exact top-10 at load. The server's main thread posts
 * queries (user indices, excluded item indices, k) and gets items, scores, user vectors and cold-start
 * flags back as transferred buffers. The thread's body is ann-thread.ts.
 */
import { Worker } from 'node:worker_threads';
import { TrainferError, oneLine } from '../util/errors.js';
import type { AnnSettings } from './ann.js';
import type { AnnRecall, RecommenderOptions } from './retrieval.js';

/** What the thread is started with. */
export interface AnnThreadData {
  file: string;
  options: RecommenderOptions;
  /** Users sampled for the recall measurement (0 = skip). */
  recallSample: number;
}

/** Main → thread. */
export type ToAnnThread = { type: 'query'; id: number; users: BigInt64Array; exclude: BigInt64Array; excluded: number; k: number } | { type: 'close' };

/** Thread → main. */
export type FromAnnThread =
  | { type: 'ready'; settings: AnnSettings; buildSeconds: number; recall?: AnnRecall }
  | { type: 'init-error'; message: string }
  | { type: 'done'; id: number; items: BigInt64Array; scores: Float32Array; userVector: Float32Array; coldStart: Uint8Array; ms: number }
  | { type: 'error'; id: number; message: string };

/** What the index was built with and how well it does, measured at load. */
export interface AnnLoadReport {
  settings: AnnSettings;
  buildSeconds: number;
  /** Seconds from starting the thread to ready (model load, index build, recall measurement). */
  loadSeconds: number;
  recall?: AnnRecall;
}

/** One answered query: rows of k (item −1 and score −3e38 pad rows with fewer than k items). */
export interface AnnAnswer {
  items: BigInt64Array;
  scores: Float32Array;
  userVector: Float32Array;
  coldStart: Uint8Array;
  /** Time in the thread. */
  ms: number;
}

/** Bootstrap code: dist runs the sibling .js; under tsx the worker registers tsx's loader first. */
function bootstrap(): string {
  const self = new URL(import.meta.url);
  if (!self.pathname.endsWith('.ts')) return `import(${JSON.stringify(new URL('./ann-thread.js', self).href)});`;
  const entry = new URL('./ann-thread.ts', self).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  return `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
}

/** A retrieval model's ANN path, running in its own thread. */
export class AnnWorker {
  private next = 1;
  private readonly waiting = new Map<number, { resolve: (a: AnnAnswer) => void; reject: (e: Error) => void }>();
  private failed?: Error;

  private constructor(private readonly worker: Worker, readonly report: AnnLoadReport) {
    worker.on('message', (m: FromAnnThread) => {
      if (m.type !== 'done' && m.type !== 'error') return;
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.type === 'done') w?.resolve(m);
      else w?.reject(new TrainferError(m.message));
    });
    const fail = (err: Error) => {
      this.failed ??= err;
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    };
    worker.on('error', (err) => fail(new TrainferError(`ANN worker failed: ${oneLine(err)}`)));
    worker.on('exit', (code) => fail(new TrainferError(`ANN worker exited (code ${code})`)));
  }

  /** Starts the thread and waits until its index is built and measured. */
  static start(data: AnnThreadData): Promise<AnnWorker> {
    const t0 = performance.now();
    const worker = new Worker(bootstrap(), { eval: true, workerData: data });
    return new Promise((resolve, reject) => {
      const onMessage = (m: FromAnnThread) => {
        if (m.type === 'ready') {
          cleanup();
          resolve(new AnnWorker(worker, { settings: m.settings, buildSeconds: m.buildSeconds, loadSeconds: (performance.now() - t0) / 1000, recall: m.recall }));
        } else if (m.type === 'init-error') {
          cleanup();
          void worker.terminate();
          reject(new TrainferError(`ANN index: ${m.message}`));
        }
      };
      const onError = (err: Error) => {
        cleanup();
        reject(new TrainferError(`${data.file}: ANN worker failed to start: ${oneLine(err)}`));
      };
      const onExit = (code: number) => {
        cleanup();
        reject(new TrainferError(`${data.file}: ANN worker exited while loading (code ${code})`));
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

  /** Top-k of each user index (−1: cold start), leaving out `exclude` ([users, excluded], −1 pads). */
  query(o: { users: BigInt64Array; exclude: BigInt64Array; excluded: number; k: number }): Promise<AnnAnswer> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ type: 'query', id, ...o } satisfies ToAnnThread);
    });
  }

  /** Finishes queued queries, then stops the thread. */
  async close(): Promise<void> {
    if (this.failed) {
      await this.worker.terminate();
      return;
    }
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage({ type: 'close' } satisfies ToAnnThread);
    const timer = setTimeout(() => void this.worker.terminate(), 10_000);
    await exited;
    clearTimeout(timer);
  }
}
