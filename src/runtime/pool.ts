/**
 * `SessionPool`: N worker threads, each holding an onnxruntime session of the same model, so that
 * `run()` never blocks the caller's event loop. Requests go to the least-busy worker; a crashed worker
 * fails only its own requests (with a one-line error) and is replaced.
 */
import { Worker } from 'node:worker_threads';
import { TrainferError, oneLine } from '../util/errors.js';
import type { Tensor } from '../onnx/tensor.js';
import type { ModelSource, SessionOptions } from './session.js';
import { type FromWorker, type IoMetadata, type ToWorker, type WireTensor, type WorkerInit, fromWire, toWire } from './pool-protocol.js';

export type { IoMetadata } from './pool-protocol.js';

/** Options for `SessionPool.create`. */
export interface SessionPoolOptions {
  /** The model every worker loads (bytes are copied to each worker). */
  source: ModelSource;
  /** Worker threads, each with its own session (default 1). */
  instances?: number;
  /** ORT intra-op threads per session (default 1). Other session options go in `session`. */
  threadsPerInstance?: number;
  /** Further session options (device, optimisation level, …). */
  session?: Omit<SessionOptions, 'intraOpThreads'>;
  /** A name used in error messages (default: the file path or `model`). */
  label?: string;
}

/** Options for one `SessionPool.run` call. */
export interface PoolRunOptions {
  /**
   * Transfer the feeds' buffers to the worker instead of copying them. The caller's typed arrays
   * become detached (length 0): use it only for tensors nothing else reads afterwards.
   */
  transfer?: boolean;
}

/** A pool result: outputs plus the time the session spent in `run` inside the worker. */
export interface PoolRunResult {
  outputs: Record<string, Tensor>;
  /** Milliseconds inside `session.run` on the worker (excludes queueing and message passing). */
  computeMs: number;
}

interface Pending {
  resolve: (r: PoolRunResult) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
  /** Set once the worker is being shut down on purpose (its exit is not a crash). */
  closing: boolean;
}

/** Test hook key: `pool[CRASH_WORKER](i)` kills worker `i` (tests import it from this module). */
export const CRASH_WORKER = Symbol('trainfer.crashWorker');

/**
 * A pool of worker-thread sessions of one model.
 *
 * @example
 * const pool = await SessionPool.create({ source: { path: 'mnist.onnx' }, instances: 2 });
 * const { outputs } = await pool.run({ pixels: x });
 * await pool.close();
 */
export class SessionPool {
  /** Input metadata reported by the session (dtype, shape with symbolic dims). */
  readonly inputs: readonly IoMetadata[];
  /** Output metadata reported by the session. */
  readonly outputs: readonly IoMetadata[];
  /** Workers replaced after a crash since the pool started. */
  restarts = 0;
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private backlog: (() => void)[] = [];
  private closed = false;

  private constructor(
    private readonly init: WorkerInit,
    private readonly label: string,
    meta: { inputs: IoMetadata[]; outputs: IoMetadata[] },
  ) {
    this.inputs = meta.inputs;
    this.outputs = meta.outputs;
  }

  /** Starts `instances` workers and waits until every session has loaded. Load errors are one line. */
  static async create(options: SessionPoolOptions): Promise<SessionPool> {
    const instances = options.instances ?? 1;
    if (!Number.isInteger(instances) || instances < 1) throw new TrainferError(`instances must be a positive integer, got ${instances}`);
    const init: WorkerInit = { source: options.source, options: { ...options.session, intraOpThreads: options.threadsPerInstance ?? 1 } };
    const label = options.label ?? ('path' in options.source ? options.source.path : 'model');
    const started = await Promise.allSettled(Array.from({ length: instances }, () => startWorker(init, label)));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      for (const s of started) if (s.status === 'fulfilled') void s.value.worker.terminate();
      throw (failed as PromiseRejectedResult).reason;
    }
    const ok = started as PromiseFulfilledResult<{ worker: Worker; meta: { inputs: IoMetadata[]; outputs: IoMetadata[] } }>[];
    const pool = new SessionPool(init, label, ok[0]!.value.meta);
    for (const s of ok) pool.attach(s.value.worker);
    return pool;
  }

  /** Number of worker threads. */
  get size(): number {
    return this.slots.length;
  }

  /** Requests sent to workers and not yet answered. */
  get inFlight(): number {
    return this.slots.reduce((n, s) => n + s.pending.size, 0);
  }

  /** Runs the model on the least-busy worker. Errors (ORT or a crashed worker) are one-line `TrainferError`s. */
  run(feeds: Record<string, Tensor>, fetches?: readonly string[], options: PoolRunOptions = {}): Promise<PoolRunResult> {
    if (this.closed) return Promise.reject(new TrainferError(`${this.label}: session pool is closed`));
    const transfer: ArrayBuffer[] | undefined = options.transfer ? [] : undefined;
    const wire: Record<string, WireTensor> = {};
    for (const [k, v] of Object.entries(feeds)) wire[k] = toWire(v, transfer);
    const msg = { type: 'run', id: this.nextId++, feeds: wire, fetches: fetches ? [...fetches] : undefined } satisfies ToWorker;
    return new Promise<PoolRunResult>((resolve, reject) => {
      const send = () => {
        const slot = this.slots.reduce((best, s) => (s.pending.size < best.pending.size ? s : best));
        slot.pending.set(msg.id, { resolve, reject });
        slot.worker.postMessage(msg, transfer ?? []);
      };
      // Every worker crashed at once: wait for the first replacement.
      if (this.slots.length === 0) this.backlog.push(send);
      else send();
    });
  }

  /**
   * Fault injection for tests: makes worker `index` exit at once with `code` (it is then replaced).
   * Keyed by `CRASH_WORKER`, which the package entry does not export: not part of the public API.
   */
  [CRASH_WORKER](index: number, code = 70): void {
    const msg: ToWorker = { type: 'crash', code };
    this.slots[index]?.worker.postMessage(msg);
  }

  /** Waits for in-flight requests, then stops every worker. Later `run` calls reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.inFlight > 0 || this.backlog.length > 0) await new Promise((r) => setTimeout(r, 5));
    await Promise.all(this.slots.map((s) => stopWorker(s)));
  }

  private attach(worker: Worker): Slot {
    const slot: Slot = { worker, pending: new Map(), closing: false };
    this.slots.push(slot);
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'result' || m.type === 'run-error') {
        const p = slot.pending.get(m.id);
        if (!p) return;
        slot.pending.delete(m.id);
        if (m.type === 'result') {
          const outputs: Record<string, Tensor> = {};
          for (const [k, v] of Object.entries(m.outputs)) outputs[k] = fromWire(v);
          p.resolve({ outputs, computeMs: m.computeMs });
        } else {
          p.reject(new TrainferError(`${this.label}: ${m.message}`));
        }
      }
    });
    let reason = '';
    worker.on('error', (err) => (reason = oneLine(err)));
    worker.on('exit', (code) => {
      if (slot.closing) return;
      const why = reason ? `: ${reason}` : '';
      const err = new TrainferError(`${this.label}: session worker crashed (exit code ${code})${why}; the request failed and the worker was restarted`);
      for (const p of slot.pending.values()) p.reject(err);
      slot.pending.clear();
      this.slots.splice(this.slots.indexOf(slot), 1);
      if (!this.closed) this.replace();
    });
    return slot;
  }

  private replace(): void {
    this.restarts++;
    startWorker(this.init, this.label).then(
      ({ worker }) => {
        if (this.closed && this.backlog.length === 0) {
          void worker.terminate();
          return;
        }
        this.attach(worker);
        for (const send of this.backlog.splice(0)) send();
      },
      () => {
        // The model loaded before, so this is transient (e.g. memory); try again shortly.
        if (!this.closed || this.backlog.length > 0) setTimeout(() => this.replace(), 500).unref();
      },
    );
  }
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

function startWorker(init: WorkerInit, label: string): Promise<{ worker: Worker; meta: { inputs: IoMetadata[]; outputs: IoMetadata[] } }> {
  const worker = new Worker(workerBootstrap(), { eval: true, workerData: init });
  return new Promise((resolve, reject) => {
    const onMessage = (m: FromWorker) => {
      if (m.type === 'ready') {
        cleanup();
        resolve({ worker, meta: { inputs: m.inputs, outputs: m.outputs } });
      } else if (m.type === 'init-error') {
        cleanup();
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

async function stopWorker(slot: Slot): Promise<void> {
  slot.closing = true;
  const exited = new Promise<void>((r) => slot.worker.once('exit', () => r()));
  const msg: ToWorker = { type: 'close' };
  slot.worker.postMessage(msg);
  const timer = setTimeout(() => void slot.worker.terminate(), 2000);
  await exited;
  clearTimeout(timer);
}
