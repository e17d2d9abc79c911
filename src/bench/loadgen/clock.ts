/**
 * Clocks for the load generator. `RealClock` wakes the issue loop on time without burning a core:
 * Node's timers have 1 ms granularity (a Poisson schedule at thousands of queries per second would
 * be issued in 1 ms clumps), so sleeps go to a helper thread that blocks in `Atomics.wait` with the
 * exact timeout and posts a message when it is due (≈ 0.02–0.1 ms late on an idle machine, never
 * early); gaps below 30 µs are spun. `VirtualClock` simulates time (a discrete-event loop) so scenario
 * statistics can be checked exactly and in milliseconds of real time.
 */
import { Worker } from 'node:worker_threads';
import type { Clock } from './types.js';

/** Gaps shorter than this are spun in place instead of sleeping (a thread wake-up costs more). */
const SPIN_MS = 0.03;

const TIMER_THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const ctl = new Int32Array(workerData, 0, 1);
const target = new Float64Array(workerData, 8, 1);
const abs = () => performance.timeOrigin + performance.now();
for (;;) {
  const gen = Atomics.load(ctl, 0);
  const t = target[0];
  if (t === 0) { Atomics.wait(ctl, 0, gen); continue; }
  const left = t - abs();
  if (left > 0) { Atomics.wait(ctl, 0, gen, left); continue; }
  parentPort.postMessage(gen);
  Atomics.wait(ctl, 0, gen);
}`;

interface Timer {
  t: number;
  /** Tie-break: timers due at the same time fire in the order they were set. */
  seq: number;
  fire: () => void;
}

const before = (a: Timer, b: Timer): boolean => a.t < b.t || (a.t === b.t && a.seq < b.seq);

/** A min-heap of timers by time. */
class TimerHeap {
  private readonly items: Timer[] = [];
  get size(): number {
    return this.items.length;
  }
  peek(): Timer | undefined {
    return this.items[0];
  }
  push(x: Timer): void {
    const a = this.items;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(x, a[p]!)) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = x;
  }
  pop(): Timer | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const c = l + 1 < a.length && before(a[l + 1]!, a[l]!) ? l + 1 : l;
        if (!before(a[c]!, last)) break;
        a[i] = a[c]!;
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}

/**
 * Real time (`performance.now()`), with precise sleeps from a helper thread.
 *
 * @example
 * const clock = new RealClock();
 * await clock.sleepUntil(clock.now() + 0.25); // wakes 0.25 ms later, not 1 ms
 * clock.close();
 */
export class RealClock implements Clock {
  private worker?: Worker;
  private readonly shared = new SharedArrayBuffer(16);
  private readonly ctl = new Int32Array(this.shared, 0, 1);
  private readonly target = new Float64Array(this.shared, 8, 1);
  private readonly timers = new TimerHeap();
  private armedAt = 0;
  private seq = 0;

  now(): number {
    return performance.now();
  }

  sleepUntil(t: number): Promise<void> {
    const left = t - performance.now();
    if (left <= 0) return Promise.resolve();
    if (left <= SPIN_MS) {
      while (performance.now() < t) {
        // spin: shorter than a thread wake-up
      }
      return Promise.resolve();
    }
    return new Promise((resolve) => this.at(t, resolve));
  }

  /** Calls `fire` at time `t` (used by synthetic backends that need sub-millisecond service times). */
  at(t: number, fire: () => void): void {
    this.timers.push({ t, seq: this.seq++, fire });
    if (this.armedAt === 0 || t < this.armedAt) this.arm(t);
  }

  yield(): Promise<void> {
    return new Promise((r) => setImmediate(r));
  }

  close(): void {
    void this.worker?.terminate();
    this.worker = undefined;
  }

  private arm(t: number): void {
    if (!this.worker) {
      this.worker = new Worker(TIMER_THREAD, { eval: true, workerData: this.shared });
      this.worker.on('message', () => this.wake());
    }
    this.armedAt = t;
    this.target[0] = t === 0 ? 0 : performance.timeOrigin + t;
    Atomics.add(this.ctl, 0, 1);
    Atomics.notify(this.ctl, 0);
    // A pending timer keeps the process alive, an idle timer thread does not.
    if (t === 0) this.worker.unref();
    else this.worker.ref();
  }

  private wake(): void {
    const now = performance.now();
    for (let top = this.timers.peek(); top && top.t <= now; top = this.timers.peek()) {
      this.timers.pop();
      top.fire();
    }
    this.arm(this.timers.peek()?.t ?? 0);
  }
}

/**
 * Simulated time: `sleepUntil` and `at` queue events, and time jumps to the next event once every
 * callback and promise chain triggered by the previous one has settled. Nothing may wait on real I/O.
 *
 * @example
 * const clock = new VirtualClock();
 * const r = await runScenario({ sut: new ExponentialSut({ clock, meanMs: 2 }), clock, … });
 */
export class VirtualClock implements Clock {
  private t = 0;
  private seq = 0;
  private readonly timers = new TimerHeap();
  private pumping = false;

  now(): number {
    return this.t;
  }

  sleepUntil(t: number): Promise<void> {
    if (t <= this.t) return Promise.resolve();
    return new Promise((resolve) => this.at(t, resolve));
  }

  /** Calls `fire` at simulated time `t` (ties fire in the order they were scheduled). */
  at(t: number, fire: () => void): void {
    this.timers.push({ t: Math.max(t, this.t), seq: this.seq++, fire });
    if (!this.pumping) {
      this.pumping = true;
      setImmediate(() => this.pump());
    }
  }

  yield(): Promise<void> {
    return Promise.resolve();
  }

  /** Simulates the calling thread being blocked for `ms`: time jumps now, and whatever was due meanwhile fires late. */
  block(ms: number): void {
    this.t += ms;
  }

  close(): void {}

  private pump(): void {
    const next = this.timers.pop();
    if (!next) {
      this.pumping = false;
      return;
    }
    this.t = Math.max(this.t, next.t);
    next.fire();
    // setImmediate runs after every microtask the event queued: the system is idle at `t`.
    setImmediate(() => this.pump());
  }
}

/** A clock that can also call back at a time (both `RealClock` and `VirtualClock`). */
export type SchedulingClock = RealClock | VirtualClock;
