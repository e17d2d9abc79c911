/**
 * `SessionPool`: N worker threads, each holding an onnxruntime session of the same model, so that
 * `run()` never blocks the caller's event loop. Requests go to the least-busy worker. Faults stay local:
 * a crashed worker fails only its own requests and is replaced; a run past its deadline retires its
 * worker (replaced at once; the old thread exits when its run returns, since a thread inside onnxruntime
 * cannot be stopped); failed restarts back off exponentially and give up after a limit, after which runs
 * fail at once instead of waiting forever. Every fault is reported through `onEvent`.
 */
import type { Worker } from 'node:worker_threads';
import { TrainferError, oneLine } from '../util/errors.js';
import type { Tensor } from '../onnx/tensor.js';
import { type FromWorker, type IoMetadata, type ToWorker, type WireTensor, type WorkerInit, fromWire, toWire } from './pool-protocol.js';
import { startWorker, stopWorker } from './pool-start.js';
import { type PoolCloseResult, PoolError, type PoolRunOptions, type PoolRunResult, type RestartPolicy, type SessionPoolOptions } from './pool-types.js';

export type { IoMetadata } from './pool-protocol.js';
export { PoolError } from './pool-types.js';
export type { PoolCloseResult, PoolEvent, PoolFailureKind, PoolRunOptions, PoolRunResult, RestartPolicy, SessionPoolOptions } from './pool-types.js';

interface Run {
  msg: Extract<ToWorker, { type: 'run' }>;
  transfer: ArrayBuffer[] | undefined;
  tags: readonly string[];
  resolve: (r: PoolRunResult) => void;
  reject: (e: Error) => void;
  settled: boolean;
  /** `performance.now()` after which the run has timed out (Infinity = never), and its length. */
  deadline: number;
  timeoutMs: number;
  slot?: Slot;
  sentAt: number;
}

/** How often deadlines are checked: one timer per pool instead of one per run (runs are ~µs apart under load). */
const DEADLINE_CHECK_MS = 20;

interface Slot {
  worker: Worker;
  /** Runs sent to this worker and not answered yet (settled or not). */
  runs: Map<number, Run>;
  /** Out of rotation: hung (waiting for its run to return) or closing. */
  retired: boolean;
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
  /** Workers replaced after a crash or a hung run since the pool started. */
  restarts = 0;
  private readonly slots: Slot[] = [];
  /** Hung workers that were replaced and have not exited yet. */
  private readonly retired = new Set<Slot>();
  private readonly backlog: Run[] = [];
  private readonly policy: Required<RestartPolicy>;
  private nextId = 1;
  private closed = false;
  private starting = 0;
  private failures = 0;
  private failure?: string;
  private idleWaiters: (() => void)[] = [];
  private deadlineTimer?: NodeJS.Timeout;
  /** Runs with a deadline that are not settled yet. */
  private readonly timed = new Set<Run>();

  private constructor(
    private readonly init: WorkerInit,
    private readonly label: string,
    private readonly instances: number,
    private readonly o: SessionPoolOptions,
    meta: { inputs: IoMetadata[]; outputs: IoMetadata[] },
  ) {
    this.inputs = meta.inputs;
    this.outputs = meta.outputs;
    this.policy = { backoffMs: 100, maxBackoffMs: 10_000, maxAttempts: 5, ...o.restart };
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
      for (const s of started) if (s.status === 'fulfilled') void stopWorker(s.value.worker, true);
      throw (failed as PromiseRejectedResult).reason;
    }
    const ok = started as PromiseFulfilledResult<Awaited<ReturnType<typeof startWorker>>>[];
    const pool = new SessionPool(init, label, instances, options, ok[0]!.value.meta);
    for (const s of ok) pool.attach(s.value.worker);
    return pool;
  }

  /** Number of worker threads in rotation. */
  get size(): number {
    return this.slots.length;
  }

  /** Runs sent or waiting and not yet answered. */
  get inFlight(): number {
    let n = this.backlog.length;
    for (const s of this.slots) for (const r of s.runs.values()) if (!r.settled) n++;
    return n;
  }

  /** Hung workers replaced and still inside onnxruntime. */
  get hung(): number {
    return this.retired.size;
  }

  /** Why runs fail at once (restarts gave up), or undefined while the pool can serve. */
  get unavailable(): string | undefined {
    return this.failure;
  }

  /** Runs the model on the least-busy worker. Failures are one-line `PoolError`s. */
  run(feeds: Record<string, Tensor>, fetches?: readonly string[], options: PoolRunOptions = {}): Promise<PoolRunResult> {
    if (this.closed) return Promise.reject(new PoolError(`${this.label}: session pool is closed`, 'closed', 'session pool is closed'));
    if (this.failure) return Promise.reject(new PoolError(`${this.label}: ${this.failure}`, 'unavailable', this.failure));
    const transfer: ArrayBuffer[] | undefined = options.transfer ? [] : undefined;
    const wire: Record<string, WireTensor> = {};
    for (const [k, v] of Object.entries(feeds)) wire[k] = toWire(v, transfer);
    const msg = { type: 'run', id: this.nextId++, feeds: wire, fetches: fetches ? [...fetches] : undefined } satisfies ToWorker;
    return new Promise<PoolRunResult>((resolve, reject) => {
      const now = performance.now();
      const ms = options.timeoutMs ?? 0;
      const run: Run = { msg, transfer, tags: options.tags ?? [], resolve, reject, settled: false, deadline: ms > 0 ? now + ms : Infinity, timeoutMs: ms, sentAt: now };
      if (ms > 0) this.watch(run);
      if (this.slots.length === 0) this.backlog.push(run);
      else this.send(run);
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

  /**
   * Stops taking runs, waits for those in flight (up to `deadlineMs`, default no limit), fails the rest
   * with kind `closed`, and stops every worker. Workers still inside onnxruntime are asked to exit after
   * their run and counted as `stuck`; their threads keep the process alive until then.
   */
  async close(options: { deadlineMs?: number } = {}): Promise<PoolCloseResult> {
    this.closed = true;
    clearInterval(this.deadlineTimer);
    this.deadlineTimer = undefined;
    const deadline = options.deadlineMs;
    if (this.inFlight > 0) {
      const idle = new Promise<void>((r) => this.idleWaiters.push(r));
      if (deadline === undefined) await idle;
      else {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([idle, new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, deadline))))]);
        clearTimeout(timer);
      }
    }
    const err = new PoolError(`${this.label}: the server is shutting down`, 'closed', 'the server is shutting down');
    for (const r of this.backlog.splice(0)) this.settle(r, err);
    let stuck = 0;
    const stops: Promise<void>[] = [];
    for (const s of [...this.slots, ...this.retired]) {
      const busy = s.runs.size > 0;
      for (const r of s.runs.values()) this.settle(r, err);
      s.retired = true;
      if (busy) {
        // Not unref'd: if the process ended while this thread is inside onnxruntime it would abort.
        stuck++;
        void stopWorker(s.worker, false);
      } else {
        stops.push(stopWorker(s.worker, true));
      }
    }
    this.slots.length = 0;
    await Promise.all(stops);
    return { stuck };
  }

  private send(run: Run): void {
    let slot = this.slots[0]!;
    for (const s of this.slots) if (s.runs.size < slot.runs.size) slot = s;
    run.slot = slot;
    run.sentAt = performance.now();
    slot.runs.set(run.msg.id, run);
    slot.worker.postMessage(run.msg, run.transfer ?? []);
  }

  /** Starts checking `run`'s deadline (one shared timer, running only while some run has a deadline). */
  private watch(run: Run): void {
    this.timed.add(run);
    if (this.deadlineTimer) return;
    this.deadlineTimer = setInterval(() => {
      const now = performance.now();
      for (const r of this.timed) if (r.deadline <= now) this.expire(r, r.timeoutMs);
      if (this.timed.size === 0) {
        clearInterval(this.deadlineTimer);
        this.deadlineTimer = undefined;
      }
    }, DEADLINE_CHECK_MS);
    this.deadlineTimer.unref();
  }

  private settle(run: Run, result: PoolRunResult | Error): void {
    if (run.settled) return;
    run.settled = true;
    if (run.timeoutMs > 0) this.timed.delete(run);
    if (result instanceof Error) run.reject(result);
    else run.resolve(result);
    if (this.idleWaiters.length > 0 && this.inFlight === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** A run's deadline passed: fail it; if a worker has it, retire that worker and start a replacement. */
  private expire(run: Run, ms: number): void {
    if (run.settled) return;
    const i = this.backlog.indexOf(run);
    if (i >= 0) {
      this.backlog.splice(i, 1);
      const why = `no instance became free within ${ms} ms (restarting after a fault)`;
      this.settle(run, new PoolError(`${this.label}: ${why}`, 'timeout', why));
      return;
    }
    const slot = run.slot!;
    const why = `the run did not finish within ${ms} ms; its instance was replaced`;
    this.settle(run, new PoolError(`${this.label}: ${why}`, 'timeout', why));
    if (slot.retired) return;
    const tags = [...slot.runs.values()].flatMap((r) => [...r.tags]);
    const other = `the instance running this request was replaced after another run hung`;
    for (const r of slot.runs.values()) this.settle(r, new PoolError(`${this.label}: ${other}`, 'crash', other));
    this.retire(slot);
    this.o.onEvent?.({ type: 'hung', afterMs: Math.round(performance.now() - run.sentAt), tags });
    this.replace('hung');
  }

  private retire(slot: Slot): void {
    slot.retired = true;
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    this.retired.add(slot);
  }

  private attach(worker: Worker): Slot {
    const slot: Slot = { worker, runs: new Map(), retired: false };
    this.slots.push(slot);
    worker.on('message', (m: FromWorker) => {
      if (m.type !== 'result' && m.type !== 'run-error') return;
      const run = slot.runs.get(m.id);
      if (!run) return;
      slot.runs.delete(m.id);
      if (m.type === 'result') {
        const outputs: Record<string, Tensor> = {};
        for (const [k, v] of Object.entries(m.outputs)) outputs[k] = fromWire(v);
        this.settle(run, { outputs, computeMs: m.computeMs });
      } else {
        this.settle(run, new PoolError(`${this.label}: ${m.message}`, 'run', m.message));
      }
      // A hung worker whose run finally returned: let it exit; replace it if capacity is short.
      if (slot.retired && this.retired.has(slot) && slot.runs.size === 0) {
        void stopWorker(worker, true).then(() => {
          this.retired.delete(slot);
          this.o.onEvent?.({ type: 'retired-exited' });
          this.refill();
        });
      }
    });
    let reason = '';
    worker.on('error', (err) => (reason = oneLine(err)));
    worker.on('exit', (code) => {
      if (this.retired.delete(slot)) return this.refill();
      if (slot.retired) return;
      const why = `session worker crashed (exit code ${code})${reason ? `: ${reason}` : ''}`;
      const tags = [...slot.runs.values()].flatMap((r) => [...r.tags]);
      const err = new PoolError(`${this.label}: ${why}; the request failed and the worker was restarted`, 'crash', why);
      for (const r of slot.runs.values()) this.settle(r, err);
      slot.runs.clear();
      slot.retired = true;
      this.slots.splice(this.slots.indexOf(slot), 1);
      this.o.onEvent?.({ type: 'crash', exitCode: code, reason, tags });
      this.replace('crash');
    });
    return slot;
  }

  /** Starts workers until `instances` are in rotation (hung ones count against a cap of `instances` extra threads). */
  private refill(): void {
    if (this.closed || this.failure) return;
    while (this.slots.length + this.starting < this.instances && this.retired.size <= this.instances) this.replace(undefined);
  }

  private replace(cause: 'crash' | 'hung' | undefined): void {
    if (this.closed || this.failure) return;
    // Too many threads stuck in onnxruntime: wait for one to return before starting more.
    if (this.slots.length + this.starting >= this.instances || this.retired.size > this.instances) return;
    if (cause) this.restarts++;
    this.starting++;
    startWorker(this.init, this.label).then(
      ({ worker }) => {
        this.starting--;
        this.failures = 0;
        if (this.closed) {
          void stopWorker(worker, true);
          return;
        }
        this.attach(worker);
        if (cause) this.o.onEvent?.({ type: 'restarted', cause });
        while (this.backlog.length > 0 && this.slots.length > 0) this.send(this.backlog.shift()!);
      },
      (err: unknown) => {
        this.starting--;
        this.failures++;
        const reason = oneLine(err);
        if (this.failures >= this.policy.maxAttempts) {
          this.giveUp(`no instance is running: ${this.failures} restart attempts failed (last: ${reason})`);
          this.o.onEvent?.({ type: 'gave-up', attempts: this.failures, reason });
          return;
        }
        const retryInMs = Math.min(this.policy.maxBackoffMs, this.policy.backoffMs * 2 ** (this.failures - 1));
        this.o.onEvent?.({ type: 'start-failed', attempt: this.failures, reason, retryInMs });
        setTimeout(() => this.replace(undefined), retryInMs).unref();
      },
    );
  }

  private giveUp(why: string): void {
    this.failure = why;
    for (const r of this.backlog.splice(0)) this.settle(r, new PoolError(`${this.label}: ${why}`, 'unavailable', why));
  }
}
