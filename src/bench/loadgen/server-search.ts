/**
 * The Server scenario's result: the highest Poisson arrival rate whose latency percentile stays under
 * the bound. Doubles (or halves) from a starting rate until it brackets the answer, then bisects to a
 * relative tolerance. Every trial is kept: they are the latency-vs-QPS curve of the report.
 */
import { runScenario, type RunProgress, type ScenarioResult } from './run-scenario.js';
import type { TestSettings } from './settings.js';
import { percentileKey } from './stats.js';
import type { Clock, QuerySampleLibrary, SystemUnderTest } from './types.js';

/** Options for `searchServerQps`. */
export interface ServerSearchOptions {
  sut: SystemUnderTest;
  qsl: QuerySampleLibrary;
  /** Settings of every trial (the scenario is `server`; `targetQps` is what is searched). */
  settings: Omit<TestSettings, 'scenario' | 'targetQps'>;
  /** First rate tried (queries/s), e.g. 70% of the offline throughput. */
  startQps: number;
  /** No trial above this (e.g. the offline throughput, which no server rate can beat). */
  maxQps?: number;
  /** Give up below this rate (default startQps / 256). */
  minQps?: number;
  /** Stop when the valid and invalid rates are within this fraction (default 0.05). */
  tolerance?: number;
  /** At most this many trials (default 10). */
  maxTrials?: number;
  /**
   * A rate counts as over the bound only after failing this many more times (default 1: a single
   * disturbance of a shared machine does not end the search; a genuinely overloaded rate fails again,
   * fast, because its trials stop early). Every attempt is kept in `trials`.
   */
  confirmFailures?: number;
  /** Warm-up of trials after the first (default min(250, settings.warmupMs)). */
  laterWarmupMs?: number;
  clock?: Clock;
  /** Called before every trial (e.g. a full GC, so one from earlier work does not land inside it). */
  beforeTrial?: () => void;
  onTrial?: (t: ServerTrial, index: number) => void;
  onProgress?: (p: RunProgress, trial: number, targetQps: number) => void;
}

/** One trial of the search (a point of the latency-vs-QPS curve). */
export interface ServerTrial {
  targetQps: number;
  valid: boolean;
  stoppedEarly: boolean;
  /** Completed queries per second. */
  achievedQps: number;
  p50: number;
  p90: number;
  p99: number;
  /** The percentile the bound is judged on. */
  judged: number;
  queries: number;
  invalidReasons: string[];
}

/** The search's outcome. `bestQps` is undefined when no rate down to `minQps` met the bound. */
export interface ServerSearchResult {
  latencyBoundMs: number;
  latencyPercentile: number;
  bestQps?: number;
  /** The full result of the best trial. */
  best?: ScenarioResult;
  trials: ServerTrial[];
}

/**
 * Finds the highest QPS whose latency percentile (default p99) stays under `latencyBoundMs`.
 *
 * @example
 * const r = await searchServerQps({ sut, qsl, settings: { latencyBoundMs: 10, minDurationMs: 2000 }, startQps: 800 });
 * console.log(r.bestQps, r.trials.map((t) => [t.targetQps, t.p99]));
 */
export async function searchServerQps(o: ServerSearchOptions): Promise<ServerSearchResult> {
  const tol = o.tolerance ?? 0.05;
  const maxTrials = o.maxTrials ?? 10;
  const minQps = o.minQps ?? o.startQps / 256;
  let lo = 0;
  let hi = Infinity;
  let best: ScenarioResult | undefined;
  const trials: ServerTrial[] = [];
  let q = Math.min(o.startQps, o.maxQps ?? Infinity);
  const confirm = o.confirmFailures ?? 1;
  let failuresHere = 0;
  for (let i = 0; i < maxTrials; i++) {
    const settings: TestSettings = { ...o.settings, scenario: 'server', targetQps: q, stopEarly: true, seed: (o.settings.seed ?? 0) + i };
    if (i > 0) settings.warmupMs = o.laterWarmupMs ?? Math.min(250, o.settings.warmupMs ?? 250);
    o.beforeTrial?.();
    const r = await runScenario({ sut: o.sut, qsl: o.qsl, settings, clock: o.clock, onProgress: o.onProgress ? (p) => o.onProgress!(p, i, q) : undefined });
    const key = percentileKey(r.settings.latencyPercentile);
    const t: ServerTrial = { targetQps: q, valid: r.valid, stoppedEarly: r.server!.stoppedEarly, achievedQps: r.queriesPerSecond, p50: r.latencyMs.p50, p90: r.latencyMs.p90, p99: r.latencyMs.p99, judged: r.latencyMs[key] as number, queries: r.queries, invalidReasons: r.invalidReasons };
    trials.push(t);
    o.onTrial?.(t, i);
    if (r.valid) {
      lo = q;
      best = r;
      failuresHere = 0;
    } else if (failuresHere < confirm && t.judged < 4 * r.settings.latencyBoundMs) {
      // Near the bound: try the same rate again before believing it.
      failuresHere++;
      continue;
    } else {
      hi = Math.min(hi, q);
      failuresHere = 0;
    }
    if (lo > 0 && hi < Infinity && (hi - lo) / lo <= tol) break;
    if (lo > 0 && o.maxQps !== undefined && lo >= o.maxQps) break;
    if (hi === Infinity) q = Math.min(q * 2, o.maxQps ?? Infinity);
    // Far over the bound with nothing valid yet: step down faster.
    else if (lo === 0) q = t.judged > 4 * (r.settings.latencyBoundMs) ? q / 4 : q / 2;
    else q = hi / lo > 2 ? Math.sqrt(hi * lo) : (hi + lo) / 2;
    if (lo === 0 && q < minQps) break;
  }
  return { latencyBoundMs: best?.settings.latencyBoundMs ?? o.settings.latencyBoundMs ?? 10, latencyPercentile: best?.settings.latencyPercentile ?? o.settings.latencyPercentile ?? 0.99, bestQps: lo > 0 ? lo : undefined, best, trials };
}
