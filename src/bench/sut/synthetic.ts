/**
 * Systems under test with known behaviour, no model: a no-op backend (the load generator's own
 * ceiling) and a queueing backend — `servers` parallel servers taking samples first-come first-served
 * with a chosen service-time distribution and an optional stall — whose latency distribution is known
 * analytically (M/M/1: sojourn time ~ Exp(μ − λ)). With a `VirtualClock` they run in simulated time.
 */
import { Rng } from '../../util/rng.js';
import type { SchedulingClock } from '../loadgen/clock.js';
import { VirtualClock } from '../loadgen/clock.js';
import type { QuerySample, QuerySamplesComplete, SystemUnderTest } from '../loadgen/types.js';

/** Answers every sample at once, synchronously. Measures the load generator alone. */
export class NoopSut implements SystemUnderTest {
  readonly name = 'noop';
  issueQuery(samples: readonly QuerySample[], complete: QuerySamplesComplete): void {
    complete(samples);
  }
}

/** Service-time distribution of a `QueueingSut`, in milliseconds. */
export type ServiceTime = { type: 'exponential'; meanMs: number } | { type: 'constant'; ms: number };

/** A stall: from `atMs` after the first query, for `durationMs`. */
export interface Stall {
  atMs: number;
  durationMs: number;
  /**
   * `pause`: the servers stop (queries still arrive and queue);
   * `block`: `issueQuery` blocks its caller's thread for the duration, as a synchronous `run()` on the
   * event loop would — the load generator cannot issue meanwhile (the coordinated-omission case).
   */
  mode: 'pause' | 'block';
}

/** Options for `QueueingSut`. */
export interface QueueingSutOptions {
  clock: SchedulingClock;
  service: ServiceTime;
  /** Parallel servers (default 1). */
  servers?: number;
  seed?: number;
  stall?: Stall;
}

interface Job {
  sample: QuerySample;
  complete: QuerySamplesComplete;
}

/**
 * `servers` servers, one FIFO queue, one sample per service.
 *
 * @example
 * const clock = new VirtualClock();
 * const sut = new QueueingSut({ clock, service: { type: 'exponential', meanMs: 1 } });
 */
export class QueueingSut implements SystemUnderTest {
  readonly name: string;
  private readonly queue: Job[] = [];
  private head = 0;
  private busy = 0;
  private readonly rng: Rng;
  private readonly servers: number;
  private firstAt?: number;
  private stalled = false;
  private blockedOnce = false;

  constructor(private readonly o: QueueingSutOptions) {
    this.servers = o.servers ?? 1;
    this.rng = Rng.fromSeed(o.seed ?? 1);
    const svc = o.service.type === 'exponential' ? `exp(${o.service.meanMs} ms)` : `const(${o.service.ms} ms)`;
    this.name = `queueing:${this.servers}x${svc}`;
  }

  issueQuery(samples: readonly QuerySample[], complete: QuerySamplesComplete): void {
    const now = this.o.clock.now();
    if (this.firstAt === undefined) {
      this.firstAt = now;
      const st = this.o.stall;
      if (st?.mode === 'pause') {
        this.o.clock.at(now + st.atMs, () => (this.stalled = true));
        this.o.clock.at(now + st.atMs + st.durationMs, () => {
          this.stalled = false;
          this.dispatch();
        });
      }
    }
    const st = this.o.stall;
    if (st?.mode === 'block' && !this.blockedOnce && now - this.firstAt >= st.atMs) {
      this.blockedOnce = true;
      this.block(st.durationMs);
    }
    for (const sample of samples) this.queue.push({ sample, complete });
    this.dispatch();
  }

  private block(ms: number): void {
    const clock = this.o.clock;
    if (clock instanceof VirtualClock) clock.block(ms);
    else {
      const end = performance.now() + ms;
      while (performance.now() < end) {
        // a synchronous stall of the caller's thread
      }
    }
  }

  private dispatch(): void {
    while (!this.stalled && this.busy < this.servers && this.head < this.queue.length) {
      const job = this.queue[this.head++]!;
      if (this.head > 4096 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      this.busy++;
      this.o.clock.at(this.o.clock.now() + this.serviceTime(), () => {
        this.busy--;
        job.complete([{ id: job.sample.id }]);
        this.dispatch();
      });
    }
  }

  private serviceTime(): number {
    const s = this.o.service;
    return s.type === 'constant' ? s.ms : -Math.log(1 - this.rng.uniform()) * s.meanMs;
  }
}

/** A sample library of `count` samples with no data, for synthetic backends. */
export class SyntheticLibrary {
  readonly name: string;
  readonly totalSampleCount: number;
  readonly performanceSampleCount: number;
  constructor(count = 1024) {
    this.name = `synthetic:${count}`;
    this.totalSampleCount = count;
    this.performanceSampleCount = count;
  }
  loadSamples(): void {}
  unloadSamples(): void {}
}
