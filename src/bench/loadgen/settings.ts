/**
 * Test settings of a scenario run (MLPerf LoadGen's TestSettings), their defaults, and the resolved
 * form every result records. Defaults are MLPerf's rules scaled down for a laptop-sized run: minimum
 * duration 10 s instead of 600 s, minimum query counts 1024 / 270 / 1024 (single-, multi-stream, server).
 */
import { TrainferError } from '../../util/errors.js';
import type { Scenario } from './types.js';

/** What to run and the validity rules. One object; only `scenario` (and `targetQps` for server) is required. */
export interface TestSettings {
  scenario: Scenario;
  /** A valid run lasts at least this long (default 10 000 ms). */
  minDurationMs?: number;
  /** …and completes at least this many queries (default: single-stream 1024, multi-stream 270, server 1024, offline 1). */
  minQueryCount?: number;
  /** Issuing stops here even if the minimums are not met (then the run is invalid). Default max(60 s, 6 × minDurationMs). */
  maxDurationMs?: number;
  /** Issuing stops after this many queries — offline: samples in the query (memory: ~60 bytes each; default 4 000 000). */
  maxQueryCount?: number;
  /** Warm-up before the timed run, same pattern, results discarded (default min(1000, minDurationMs / 4) ms). */
  warmupMs?: number;
  /** Multi-stream: samples per query (default 8, as MLPerf). */
  samplesPerQuery?: number;
  /** Server: mean arrival rate of the Poisson process, queries per second. */
  targetQps?: number;
  /** Latency bound (ms): server validity, and reported for the other scenarios (default 10). */
  latencyBoundMs?: number;
  /** Percentile judged against the bound (default: single-stream 0.9, multi-stream and server 0.99). */
  latencyPercentile?: number;
  /** Offline: samples in the one query (default: enough for minDurationMs at the warm-up's rate, ≥ 1024). */
  offlineSampleCount?: number;
  /** Seed of the arrival times and sample choice (default 0). */
  seed?: number;
  /** Server: end the run as soon as the bound can no longer be met (used by the QPS search; default false). */
  stopEarly?: boolean;
  /** Wait at most this long for outstanding queries after issuing stops (default 30 000 ms). */
  drainTimeoutMs?: number;
  /** Keep every query's scheduled/issued/completed time in the result (default false). */
  recordTrace?: boolean;
}

/** Settings with every default filled in: what a result file records. */
export type ResolvedSettings = Required<Omit<TestSettings, 'targetQps' | 'offlineSampleCount'>> & Pick<TestSettings, 'targetQps' | 'offlineSampleCount'>;

const MIN_QUERIES: Record<Scenario, number> = { 'single-stream': 1024, 'multi-stream': 270, server: 1024, offline: 1 };
const PERCENTILE: Record<Scenario, number> = { 'single-stream': 0.9, 'multi-stream': 0.99, server: 0.99, offline: 0.99 };

/** Fills defaults and checks ranges; errors are one line naming the setting. */
export function resolveSettings(s: TestSettings): ResolvedSettings {
  const minDurationMs = s.minDurationMs ?? 10_000;
  const positive = (name: string, v: number | undefined, allowZero = false) => {
    if (v === undefined) return;
    if (!Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) throw new TrainferError(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} number, got ${v}`);
  };
  positive('minDurationMs', s.minDurationMs, true);
  positive('minQueryCount', s.minQueryCount, true);
  positive('maxDurationMs', s.maxDurationMs);
  positive('maxQueryCount', s.maxQueryCount);
  positive('warmupMs', s.warmupMs, true);
  positive('samplesPerQuery', s.samplesPerQuery);
  positive('targetQps', s.targetQps);
  positive('latencyBoundMs', s.latencyBoundMs);
  positive('offlineSampleCount', s.offlineSampleCount);
  positive('drainTimeoutMs', s.drainTimeoutMs);
  if (s.scenario === 'server' && s.targetQps === undefined) throw new TrainferError('the server scenario needs targetQps (or use searchServerQps)');
  const latencyPercentile = s.latencyPercentile ?? PERCENTILE[s.scenario];
  if (!(latencyPercentile > 0 && latencyPercentile < 1)) throw new TrainferError(`latencyPercentile must be in (0, 1), got ${latencyPercentile}`);
  return {
    scenario: s.scenario,
    minDurationMs,
    minQueryCount: Math.ceil(s.minQueryCount ?? MIN_QUERIES[s.scenario]),
    maxDurationMs: s.maxDurationMs ?? Math.max(60_000, 6 * minDurationMs),
    maxQueryCount: Math.ceil(s.maxQueryCount ?? 4_000_000),
    warmupMs: s.warmupMs ?? Math.min(1000, minDurationMs / 4),
    samplesPerQuery: s.scenario === 'multi-stream' ? Math.round(s.samplesPerQuery ?? 8) : 1,
    targetQps: s.targetQps,
    latencyBoundMs: s.latencyBoundMs ?? 10,
    latencyPercentile,
    offlineSampleCount: s.offlineSampleCount === undefined ? undefined : Math.round(s.offlineSampleCount),
    seed: s.seed ?? 0,
    stopEarly: s.stopEarly ?? false,
    drainTimeoutMs: s.drainTimeoutMs ?? 30_000,
    recordTrace: s.recordTrace ?? false,
  };
}
