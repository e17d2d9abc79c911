/**
 * `InProcessSut`: a model run in this process the way `trainfer serve` runs it — one single-thread
 * onnxruntime session per core, each in its own worker thread, so the load generator's event loop is
 * never blocked by `run()`. Samples come from a shared `TensorSampleLibrary`; queries are batched by
 * `BatchQueue` (whatever is waiting, up to `maxBatch`).
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { Tensor } from '../../onnx/tensor.js';
import type { ModelSource, SessionOptions } from '../../runtime/session.js';
import { TrainferError, oneLine } from '../../util/errors.js';
import type { QuerySample, QuerySamplesComplete, SystemUnderTest } from '../loadgen/types.js';
import type { TensorSampleLibrary } from '../qsl.js';
import { BatchQueue, type QueuedPart, type WorkItem, answer, itemIndices } from './batch-queue.js';
import { type FromOrtWorker, type OrtWorkerInit, type ToOrtWorker, fixedBatchOf } from './ort-worker-protocol.js';

/** Options for `InProcessSut.create`. */
export interface InProcessSutOptions {
  /** The model (a path is read by each worker; bytes are copied to each). */
  source: ModelSource;
  library: TensorSampleLibrary;
  /** Worker threads, one session each (default: every core). */
  instances?: number;
  /** onnxruntime intra-op threads per session (default 1). */
  threadsPerInstance?: number;
  /** Largest batch one `run()` gets (default 1; offline runs pass e.g. 64). */
  maxBatch?: number;
  /** Further session options (device, optimisation level). */
  session?: Omit<SessionOptions, 'intraOpThreads'>;
  /** Receives every batch's outputs (accuracy checks; costs a copy per batch). */
  onOutputs?: (samples: readonly QuerySample[], outputs: Record<string, Tensor>) => void;
  /** Name in messages (default: the path or `model`). */
  label?: string;
}

interface Pending {
  worker: number;
  item: WorkItem;
}

/**
 * @example
 * const sut = await InProcessSut.create({ source: { path: 'cnn.onnx' }, library: qsl, maxBatch: 64 });
 * const r = await runScenario({ sut, qsl, settings: { scenario: 'offline' } });
 * await sut.close();
 */
export class InProcessSut implements SystemUnderTest {
  readonly name: string;
  /** Time the sessions spent inside `run()` (ms, summed over workers) since creation. */
  computeMs = 0;
  /** `run()` calls made. */
  runs = 0;
  private readonly queue: BatchQueue;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  private constructor(
    private readonly workers: Worker[],
    readonly maxBatch: number,
    readonly fixedBatch: number | undefined,
    private readonly label: string,
    private readonly onOutputs: InProcessSutOptions['onOutputs'],
    threads: number,
  ) {
    this.name = `in-process:${workers.length}x${threads}`;
    this.queue = new BatchQueue({ executors: workers.length, maxBatch, send: (e, item) => this.send(e, item) });
    workers.forEach((w, i) => {
      w.on('message', (m: FromOrtWorker) => this.onMessage(i, m));
      w.on('error', (err) => this.failAll(`${label}: bench worker failed: ${oneLine(err)}`));
      w.on('exit', (code) => {
        if (!this.closed) this.failAll(`${label}: bench worker exited (code ${code})`);
      });
    });
  }

  /** Starts the workers and waits until every session has loaded. */
  static async create(o: InProcessSutOptions): Promise<InProcessSut> {
    const instances = o.instances ?? availableParallelism();
    const threads = o.threadsPerInstance ?? 1;
    if (!Number.isInteger(instances) || instances < 1) throw new TrainferError(`instances must be a positive integer, got ${instances}`);
    const label = o.label ?? ('path' in o.source ? o.source.path : 'model');
    const init: OrtWorkerInit = { source: o.source, session: { ...o.session, intraOpThreads: threads }, library: o.library.data(), returnOutputs: !!o.onOutputs };
    const started = await Promise.allSettled(Array.from({ length: instances }, () => startWorker(init, label)));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      for (const s of started) if (s.status === 'fulfilled') void s.value.worker.terminate();
      throw (failed as PromiseRejectedResult).reason;
    }
    const ok = started.map((s) => (s as PromiseFulfilledResult<Awaited<ReturnType<typeof startWorker>>>).value);
    const fixed = fixedBatchOf(ok[0]!.inputs);
    const maxBatch = fixed ?? Math.max(1, Math.round(o.maxBatch ?? 1));
    return new InProcessSut(ok.map((s) => s.worker), maxBatch, fixed, label, o.onOutputs, threads);
  }

  /** Worker threads (one session each). */
  get instances(): number {
    return this.workers.length;
  }

  issueQuery(samples: readonly QuerySample[], complete: QuerySamplesComplete): void {
    if (this.closed) {
      complete(samples.map((s) => ({ id: s.id, error: `${this.label}: the SUT is closed` })));
      return;
    }
    this.queue.push(samples, complete);
  }

  /** Waits for work in flight, then stops the workers. */
  async close(): Promise<void> {
    if (this.closed) return;
    while (this.pending.size > 0 || this.queue.waiting > 0) await new Promise((r) => setTimeout(r, 2));
    this.closed = true;
    await Promise.all(
      this.workers.map((w) => {
        const exited = new Promise<void>((r) => w.once('exit', () => r()));
        w.postMessage({ type: 'close' } satisfies ToOrtWorker);
        const t = setTimeout(() => void w.terminate(), 2000);
        return exited.finally(() => clearTimeout(t));
      }),
    );
  }

  private send(worker: number, item: WorkItem): void {
    const id = this.nextId++;
    this.pending.set(id, { worker, item });
    const indices = itemIndices(item);
    this.workers[worker]!.postMessage({ type: 'run', id, indices, batches: item.batches } satisfies ToOrtWorker, [indices.buffer as ArrayBuffer]);
  }

  private onMessage(worker: number, m: FromOrtWorker): void {
    if (m.type !== 'done' && m.type !== 'run-error') return;
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    this.runs += p.item.batches.length;
    if (m.type === 'done') {
      this.computeMs += m.computeMs;
      if (m.outputs && this.onOutputs) {
        const all = p.item.parts.flatMap((x) => x.samples);
        let off = 0;
        m.outputs.forEach((outs, b) => {
          const n = p.item.batches[b]!;
          const samples = all.slice(off, off + n);
          off += n;
          this.onOutputs!(samples, Object.fromEntries(outs.map((o) => [o.name, new Tensor(o.dtype, o.dims, o.data)])));
        });
      }
      answer(p.item.parts);
    } else answer(p.item.parts, `${this.label}: ${m.message}`);
    this.queue.finished(worker);
  }

  private failAll(message: string): void {
    const entries: QueuedPart[] = [...this.pending.values()].flatMap((p) => p.item.parts);
    this.pending.clear();
    this.closed = true;
    answer([...entries, ...this.queue.takeAll()], message);
  }
}


/**
 * The worker's bootstrap. Under dist the entry is the sibling `ort-worker.js`; from `.ts` (tsx) the
 * worker first registers tsx's loader (a worker does not inherit the parent's module hooks in Node 20).
 */
function workerBootstrap(): string {
  const self = new URL(import.meta.url);
  if (!self.pathname.endsWith('.ts')) return `import(${JSON.stringify(new URL('./ort-worker.js', self).href)});`;
  const entry = new URL('./ort-worker.ts', self).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  return `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
}

function startWorker(init: OrtWorkerInit, label: string): Promise<{ worker: Worker; inputs: { name: string; dims: (number | string | null)[] }[] }> {
  const worker = new Worker(workerBootstrap(), { eval: true, workerData: init });
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    const onMessage = (m: FromOrtWorker) => {
      if (m.type === 'ready') {
        cleanup();
        resolve({ worker, inputs: m.inputs });
      } else if (m.type === 'init-error') {
        cleanup();
        void worker.terminate();
        reject(new TrainferError(m.message.startsWith(label) ? m.message : `${label}: ${m.message}`));
      }
    };
    const onError = (err: Error) => {
      cleanup();
      reject(new TrainferError(`${label}: bench worker failed to start: ${oneLine(err)}`));
    };
    const onExit = (code: number) => {
      cleanup();
      reject(new TrainferError(`${label}: bench worker exited during start (exit code ${code})`));
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}
