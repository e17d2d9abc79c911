/**
 * The bookkeeping of one run: every query's scheduled, issued and completed time in growable typed
 * arrays (no per-query objects beyond the samples handed to the SUT), the sample → query map the
 * completion callback uses, and the counts the issue loops and the early-stop rule read.
 */
import type { Clock, QuerySample, QuerySampleResponse, QuerySamplesComplete } from './types.js';

class Growable {
  data: Float64Array;
  length = 0;
  constructor(capacity = 1024) {
    this.data = new Float64Array(capacity);
  }
  push(v: number): number {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length] = v;
    return this.length++;
  }
  view(): Float64Array {
    return this.data.subarray(0, this.length);
  }
}

class GrowableInt {
  data: Int32Array;
  constructor(capacity = 1024) {
    this.data = new Int32Array(capacity);
  }
  ensure(n: number): void {
    if (n <= this.data.length) return;
    let cap = this.data.length;
    while (cap < n) cap *= 2;
    const next = new Int32Array(cap);
    next.set(this.data);
    this.data = next;
  }
}

/** Records of one run (warm-up and timed run each get their own). */
export class QueryLog {
  readonly scheduled = new Growable();
  readonly issued = new Growable();
  /** NaN until the query completes. */
  readonly completed = new Growable();
  /** Samples per query still outstanding. */
  private readonly remaining = new GrowableInt();
  /** Query of each sample id (offset by `firstSampleId`); -1 once answered. */
  private readonly sampleQuery = new GrowableInt();
  private nextSampleId: number;
  private readonly firstSampleId: number;
  samplesIssued = 0;
  samplesCompleted = 0;
  outstanding = 0;
  errors = 0;
  firstError?: string;
  /** Answers for samples that were not outstanding (a SUT bug; reported, never counted twice). */
  strayResponses = 0;
  /** Resolved when `outstanding` drops to 0 or the awaited query completes. */
  private waiter?: { query: number; resolve: () => void };
  /** The completion callback handed to the SUT. */
  readonly complete: QuerySamplesComplete;

  /** Completed queries whose latency (from the scheduled arrival) exceeded `lateBoundMs`. */
  late = 0;

  constructor(
    private readonly clock: Clock,
    firstSampleId: number,
    private readonly lateBoundMs = Infinity,
  ) {
    this.firstSampleId = firstSampleId;
    this.nextSampleId = firstSampleId;
    this.complete = (responses) => this.onComplete(responses);
  }

  get queries(): number {
    return this.scheduled.length;
  }

  /** Sample id after the last one used (the next run starts here, so late answers never alias). */
  get endSampleId(): number {
    return this.nextSampleId;
  }

  /** Creates a query of `indices` scheduled at `scheduledAt`; returns its number and samples. */
  newQuery(scheduledAt: number, indices: ArrayLike<number>): { query: number; samples: QuerySample[] } {
    const q = this.scheduled.push(scheduledAt);
    this.issued.push(0);
    this.completed.push(NaN);
    this.remaining.ensure(q + 1);
    this.remaining.data[q] = indices.length;
    const samples: QuerySample[] = new Array(indices.length);
    const base = this.nextSampleId - this.firstSampleId;
    this.sampleQuery.ensure(base + indices.length);
    for (let i = 0; i < indices.length; i++) {
      samples[i] = { id: this.nextSampleId + i, index: indices[i]! };
      this.sampleQuery.data[base + i] = q;
    }
    this.nextSampleId += indices.length;
    this.samplesIssued += indices.length;
    this.outstanding++;
    return { query: q, samples };
  }

  /** Marks query `q` issued now. */
  markIssued(q: number): void {
    this.issued.data[q] = this.clock.now();
  }

  /** Resolves once query `q` has completed (at once if it has). */
  waitFor(q: number): Promise<void> {
    if (this.remaining.data[q] === 0) return Promise.resolve();
    return new Promise((resolve) => (this.waiter = { query: q, resolve }));
  }

  /** Resolves once nothing is outstanding, or after `timeoutMs` (then `false`). */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.outstanding === 0) return true;
    const deadline = this.clock.now() + timeoutMs;
    const done = new Promise<boolean>((resolve) => (this.waiter = { query: -1, resolve: () => resolve(true) }));
    const timeout = this.clock.sleepUntil(deadline).then(() => false);
    const ok = await Promise.race([done, timeout]);
    this.waiter = undefined;
    return ok;
  }

  /** Queries outstanding whose age at `now` exceeds `boundMs`, scanning from the oldest. */
  outstandingOlderThan(now: number, boundMs: number, from: number): { count: number; firstOutstanding: number } {
    let first = from;
    const n = this.queries;
    while (first < n && this.remaining.data[first] === 0) first++;
    let count = 0;
    for (let q = first; q < n && this.scheduled.data[q]! < now - boundMs; q++) if (this.remaining.data[q]! > 0) count++;
    return { count, firstOutstanding: first };
  }

  private onComplete(responses: readonly QuerySampleResponse[]): void {
    const now = this.clock.now();
    for (const r of responses) {
      const k = r.id - this.firstSampleId;
      const q = k >= 0 && k < this.nextSampleId - this.firstSampleId ? this.sampleQuery.data[k]! : -1;
      if (q < 0) {
        this.strayResponses++;
        continue;
      }
      this.sampleQuery.data[k] = -1;
      this.samplesCompleted++;
      if (r.error !== undefined) {
        this.errors++;
        this.firstError ??= r.error;
      }
      if (--this.remaining.data[q]! === 0) {
        this.completed.data[q] = now;
        if (now - this.scheduled.data[q]! > this.lateBoundMs) this.late++;
        this.outstanding--;
        const w = this.waiter;
        if (w && (w.query === q || (w.query === -1 && this.outstanding === 0))) {
          this.waiter = undefined;
          w.resolve();
        }
      }
    }
  }
}
