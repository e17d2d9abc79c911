/**
 * The `SessionPool` API's types: options, run options and results, the restart policy, and the faults it
 * reports (`PoolError` with a kind, `PoolEvent`s).
 */
import { TrainferError } from '../util/errors.js';
import type { Tensor } from '../onnx/tensor.js';
import type { ModelSource, SessionOptions } from './session.js';

/** Restart policy for replacing workers that crashed or hung. */
export interface RestartPolicy {
  /** Delay before the second attempt after a failed start, doubled each time (default 100 ms). */
  backoffMs?: number;
  /** Longest delay between attempts (default 10 s). */
  maxBackoffMs?: number;
  /** Consecutive failed starts before the pool gives up and fails runs at once (default 5). */
  maxAttempts?: number;
}

/** What went wrong in a pool, as `PoolError.kind` says it. */
export type PoolFailureKind =
  /** onnxruntime rejected the run (bad values, shapes it could not handle, a kernel error). */
  | 'run'
  /** The worker thread died while the run was queued or running on it. */
  | 'crash'
  /** The run did not finish before its deadline (its worker was retired and replaced). */
  | 'timeout'
  /** No worker is running: restarts failed `maxAttempts` times. */
  | 'unavailable'
  /** The pool is closed (or closed before the run finished). */
  | 'closed';

/** A one-line pool failure with its kind. `detail` is the reason without the pool's label. */
export class PoolError extends TrainferError {
  constructor(
    message: string,
    readonly kind: PoolFailureKind,
    readonly detail: string,
  ) {
    super(message);
  }
}

/** A fault the pool handled, for logs and metrics. `tags` are the `PoolRunOptions.tags` of the runs it affected. */
export type PoolEvent =
  | { type: 'crash'; exitCode: number; reason: string; tags: string[] }
  | { type: 'hung'; afterMs: number; tags: string[] }
  | { type: 'restarted'; cause: 'crash' | 'hung' }
  | { type: 'start-failed'; attempt: number; reason: string; retryInMs?: number }
  | { type: 'gave-up'; attempts: number; reason: string }
  | { type: 'retired-exited' };

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
  /** How crashed or hung workers are replaced. */
  restart?: RestartPolicy;
  /** Called for every crash, hung run, restart and failed start. */
  onEvent?: (e: PoolEvent) => void;
}

/** Options for one `SessionPool.run` call. */
export interface PoolRunOptions {
  /**
   * Transfer the feeds' buffers to the worker instead of copying them. The caller's typed arrays
   * become detached (length 0): use it only for tensors nothing else reads afterwards.
   */
  transfer?: boolean;
  /**
   * Deadline in ms from this call (0 or absent = none). When it passes the run fails with kind
   * `timeout`; if the run had started, its worker is retired and replaced.
   */
  timeoutMs?: number;
  /** Labels reported with events that affect this run (e.g. request ids). */
  tags?: readonly string[];
}

/** A pool result: outputs plus the time the session spent in `run` inside the worker. */
export interface PoolRunResult {
  outputs: Record<string, Tensor>;
  /** Milliseconds inside `session.run` on the worker (excludes queueing and message passing). */
  computeMs: number;
}

/** Summary of `SessionPool.close`. */
export interface PoolCloseResult {
  /** Runs still inside onnxruntime when the deadline passed (their threads exit when the runs return). */
  stuck: number;
}

