/**
 * Pruning schedules as pure functions of the step: Zhu & Gupta's (2017) gradual polynomial schedule
 * s_t = s_f + (s_i − s_f)·(1 − (t − t0)/(n·Δt))³, applied at t0, t0 + Δt, …, t0 + n·Δt, and one-shot
 * pruning (the final sparsity at the first step).
 */
import { TrainferError } from '../../util/errors.js';

/** A resolved schedule: when masks are recomputed and to which sparsity. */
export interface SparsitySchedule {
  /** `gradual` (Zhu & Gupta) or `oneshot`. */
  kind: 'gradual' | 'oneshot';
  /** s_i: sparsity at the first pruning step (gradual; default 0). */
  initial: number;
  /** s_f: the final sparsity. */
  final: number;
  /** t0: the first pruning step (1-based step number; default 1). */
  begin: number;
  /** t0 + n·Δt: the last pruning step; training continues after it with fixed masks, recovering accuracy. */
  end: number;
  /** Δt: steps between mask updates. */
  frequency: number;
}

/** Options for `resolveSchedule`. */
export interface ScheduleOptions {
  kind: 'gradual' | 'oneshot';
  final: number;
  initial?: number;
  begin?: number;
  /** Default: 75% of the run (the last quarter fine-tunes with the final masks). */
  end?: number;
  /** Default: the pruning span in ~32 steps, at least 1. */
  frequency?: number;
  /** Steps the run takes in total. */
  totalSteps: number;
}

/** Checks a sparsity value: a number in [0, 1). */
export function checkSparsity(s: number, what = '--sparsity'): void {
  if (!(Number.isFinite(s) && s >= 0 && s < 1)) throw new TrainferError(`${what} must be in [0, 1), got ${s}`);
}

/** Fills in a schedule's defaults for a run of `totalSteps` steps. */
export function resolveSchedule(o: ScheduleOptions): SparsitySchedule {
  checkSparsity(o.final);
  const initial = o.initial ?? 0;
  checkSparsity(initial, 'initial sparsity');
  if (initial > o.final) throw new TrainferError(`initial sparsity ${initial} is above the final ${o.final}`);
  const begin = Math.max(1, Math.round(o.begin ?? 1));
  if (o.kind === 'oneshot') return { kind: 'oneshot', initial: o.final, final: o.final, begin, end: begin, frequency: 1 };
  const end = Math.max(begin, Math.round(o.end ?? Math.max(begin, Math.floor(0.75 * o.totalSteps))));
  const frequency = Math.max(1, Math.round(o.frequency ?? Math.max(1, Math.floor((end - begin) / 32))));
  if (o.end !== undefined && o.end > o.totalSteps) throw new TrainferError(`pruning ends at step ${o.end}, after the run's ${o.totalSteps} steps`);
  return { kind: 'gradual', initial, final: o.final, begin, end, frequency };
}

/** True when masks are recomputed before step `t` (1-based). */
export function isPruningStep(s: SparsitySchedule, t: number): boolean {
  if (t < s.begin || t > s.end) return false;
  return (t - s.begin) % s.frequency === 0 || t === s.end;
}

/**
 * The target sparsity at step `t` (1-based): s_i before t0, the polynomial between, s_f from the last
 * pruning step on.
 *
 * @example
 * sparsityAt({ kind: 'gradual', initial: 0, final: 0.9, begin: 1, end: 101, frequency: 10 }, 51) // 0.9·(1 − 0.5³) = 0.7875
 */
export function sparsityAt(s: SparsitySchedule, t: number): number {
  if (s.kind === 'oneshot' || t >= s.end) return s.final;
  if (t <= s.begin) return s.initial;
  const frac = (t - s.begin) / (s.end - s.begin);
  return s.final + (s.initial - s.final) * (1 - frac) ** 3;
}
