/**
 * The batching policy shared by the model-backed SUTs: one FIFO of samples, drained into batches of
 * at most `maxBatch` whenever an executor (worker thread, HTTP connection slot) is free. Nothing is
 * held back waiting for a fuller batch — whatever queued while the executors were busy forms the next
 * batch (dynamic batching with no delay). A long backlog (the offline query) is sent several batches
 * per message so the per-message cost does not limit throughput; a second message goes to a busy
 * executor only when a full batch is waiting (pipelining without starving batching).
 */
import type { QuerySample, QuerySamplesComplete } from '../loadgen/types.js';

/** A queued sample with the callback that answers it. */
export interface QueuedSample {
  sample: QuerySample;
  complete: QuerySamplesComplete;
}

/** A unit of work sent to one executor: consecutive batches. */
export interface WorkItem {
  entries: QueuedSample[];
  /** Sizes of the batches `entries` is cut into, in order. */
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
  private queue: QueuedSample[] = [];
  private head = 0;
  private readonly inFlight: number[];

  constructor(private readonly o: BatchQueueOptions) {
    this.inFlight = new Array<number>(o.executors).fill(0);
  }

  /** Samples waiting for an executor. */
  get waiting(): number {
    return this.queue.length - this.head;
  }

  /** Work items sent and not yet finished. */
  get busy(): number {
    return this.inFlight.reduce((a, b) => a + b, 0);
  }

  push(samples: readonly QuerySample[], complete: QuerySamplesComplete): void {
    for (const sample of samples) this.queue.push({ sample, complete });
    this.pump();
  }

  /** Call when executor `e` finished an item. */
  finished(e: number): void {
    this.inFlight[e]!--;
    this.pump();
  }

  /** Removes and returns everything still queued (on close or failure). */
  takeAll(): QueuedSample[] {
    const rest = this.queue.slice(this.head);
    this.queue = [];
    this.head = 0;
    return rest;
  }

  private pump(): void {
    const { maxBatch } = this.o;
    const depth = this.o.maxInFlight ?? 2;
    for (;;) {
      const waiting = this.waiting;
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
      const take = Math.min(waiting, nBatches * maxBatch);
      const entries = this.queue.slice(this.head, this.head + take);
      this.head += take;
      if (this.head > 8192 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      const batches: number[] = [];
      for (let left = take; left > 0; left -= maxBatch) batches.push(Math.min(maxBatch, left));
      this.inFlight[e]!++;
      this.o.send(e, { entries, batches });
    }
  }
}

/** Answers `entries`, one call per run of entries that share a callback. */
export function answer(entries: readonly QueuedSample[], error?: string): void {
  let i = 0;
  while (i < entries.length) {
    const cb = entries[i]!.complete;
    const group: { id: number; error?: string }[] = [];
    for (; i < entries.length && entries[i]!.complete === cb; i++) group.push(error === undefined ? { id: entries[i]!.sample.id } : { id: entries[i]!.sample.id, error });
    cb(group);
  }
}
