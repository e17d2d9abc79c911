/**
 * The batching policy shared by the model-backed SUTs: one FIFO of samples, drained into batches of
 * at most `maxBatch` whenever an executor (worker thread, HTTP connection slot) is free. Nothing is
 * held back waiting for a fuller batch — whatever queued while the executors were busy forms the next
 * batch (dynamic batching with no delay). A long backlog (the offline query) is sent several batches
 * per message so the per-message cost does not limit throughput; a second message goes to a busy
 * executor only when a full batch is waiting (pipelining without starving batching).
 * The queue holds the load generator's own sample arrays (slices of them), never an object per
 * sample: at hundreds of thousands of samples per second the main thread's allocations would take
 * CPU from the workers.
 */
import type { QuerySample, QuerySamplesComplete } from '../loadgen/types.js';

/** Consecutive samples of one query, with the callback that answers them. */
export interface QueuedPart {
  samples: readonly QuerySample[];
  complete: QuerySamplesComplete;
}

/** A unit of work sent to one executor: consecutive batches. */
export interface WorkItem {
  parts: QueuedPart[];
  /** Samples over all parts. */
  count: number;
  /** Sizes of the batches the samples are cut into, in order. */
  batches: number[];
}

/** Options for `BatchQueue`. */
export interface BatchQueueOptions {
  executors: number;
  maxBatch: number;
  /** At most this many batches per work item (default 16). */
  maxBatchesPerItem?: number;
  /** At most this many items in flight per executor (default 2). */
  maxInFlight?: number;
  /** Sends `item` to executor `executor`. */
  send: (executor: number, item: WorkItem) => void;
}

/** FIFO + executors' in-flight counts. */
export class BatchQueue {
  private queue: QueuedPart[] = [];
  private head = 0;
  /** Samples of `queue[head]` already taken. */
  private offset = 0;
  private queued = 0;
  private readonly inFlight: number[];

  constructor(private readonly o: BatchQueueOptions) {
    this.inFlight = new Array<number>(o.executors).fill(0);
  }

  /** Samples waiting for an executor. */
  get waiting(): number {
    return this.queued;
  }

  /** Work items sent and not yet finished. */
  get busy(): number {
    return this.inFlight.reduce((a, b) => a + b, 0);
  }

  push(samples: readonly QuerySample[], complete: QuerySamplesComplete): void {
    if (samples.length === 0) return;
    this.queue.push({ samples, complete });
    this.queued += samples.length;
    this.pump();
  }

  /** Call when executor `e` finished an item. */
  finished(e: number): void {
    this.inFlight[e]!--;
    this.pump();
  }

  /** Removes and returns everything still queued (on close or failure). */
  takeAll(): QueuedPart[] {
    return this.take(this.queued).parts;
  }

  private take(n: number): WorkItem {
    const parts: QueuedPart[] = [];
    let left = n;
    while (left > 0 && this.head < this.queue.length) {
      const q = this.queue[this.head]!;
      const k = Math.min(left, q.samples.length - this.offset);
      parts.push({ samples: this.offset === 0 && k === q.samples.length ? q.samples : q.samples.slice(this.offset, this.offset + k), complete: q.complete });
      this.offset += k;
      left -= k;
      if (this.offset === q.samples.length) {
        this.head++;
        this.offset = 0;
      }
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.queued -= n - left;
    return { parts, count: n - left, batches: [] };
  }

  private pump(): void {
    const { maxBatch } = this.o;
    const depth = this.o.maxInFlight ?? 2;
    for (;;) {
      const waiting = this.queued;
      if (waiting === 0) return;
      let e = -1;
      for (let i = 0; i < this.inFlight.length; i++) if (this.inFlight[i] === 0) { e = i; break; }
      if (e < 0 && waiting >= maxBatch && depth > 1) {
        let best = Infinity;
        for (let i = 0; i < this.inFlight.length; i++) if (this.inFlight[i]! < depth && this.inFlight[i]! < best) { best = this.inFlight[i]!; e = i; }
      }
      if (e < 0) return;
      // An item holds at most 1/8 of each executor's share of the backlog, so items shrink as the
      // backlog drains and no executor is left idle at the end while another works through a big item.
      const perExecutor = Math.floor(waiting / (maxBatch * this.o.executors * 8));
      const nBatches = Math.max(1, Math.min(this.o.maxBatchesPerItem ?? 16, perExecutor));
      const item = this.take(Math.min(waiting, nBatches * maxBatch));
      for (let left = item.count; left > 0; left -= maxBatch) item.batches.push(Math.min(maxBatch, left));
      this.inFlight[e]!++;
      this.o.send(e, item);
    }
  }
}

/** The sample indices of an item, in order. */
export function itemIndices(item: WorkItem): Int32Array {
  const out = new Int32Array(item.count);
  let k = 0;
  for (const p of item.parts) for (const s of p.samples) out[k++] = s.index;
  return out;
}

/** Answers every sample of `parts` (the samples themselves are the responses: they carry the ids). */
export function answer(parts: readonly QueuedPart[], error?: string): void {
  for (const p of parts) p.complete(error === undefined ? p.samples : p.samples.map((s) => ({ id: s.id, error })));
}
