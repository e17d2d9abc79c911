/**
 * `runScenario`: one MLPerf-style run of a scenario against any `SystemUnderTest` — warm-up, the
 * timed run with its issue pattern, draining, then statistics and the validity verdict.
 *  - single-stream: one 1-sample query at a time, the next issued when the previous completes;
 *  - multi-stream: the same with `samplesPerQuery` samples per query;
 *  - server: Poisson arrivals at `targetQps`; each query's latency runs from its *scheduled* arrival,
 *    so a late issue (a blocked event loop, a stalled SUT) counts against the system instead of
 *    vanishing (no coordinated omission). Latency from the actual issue is reported beside it;
 *  - offline: one query holding every sample; the metric is samples per second.
 */
import { Rng } from '../../util/rng.js';
import { TrainferError } from '../../util/errors.js';
import { RealClock } from './clock.js';
import { QueryLog } from './query-log.js';
import { type ResolvedSettings, type TestSettings, resolveSettings } from './settings.js';
import { type LatencySummary, percentileKey, summarize } from './stats.js';
import type { Clock, QuerySampleLibrary, Scenario, SystemUnderTest } from './types.js';

/** Progress of a run, reported at most every `PROGRESS_MS`. */
export interface RunProgress {
  scenario: Scenario;
  phase: 'warmup' | 'run' | 'drain';
  elapsedMs: number;
  /** The minimum duration of this phase. */
  plannedMs: number;
  queries: number;
  /** Queries (offline: samples) the run needs at least. */
  plannedQueries: number;
  completedSamples: number;
}

/** Options for `runScenario`. */
export interface RunScenarioOptions {
  sut: SystemUnderTest;
  qsl: QuerySampleLibrary;
  settings: TestSettings;
  /** Default: a new `RealClock` (closed afterwards). */
  clock?: Clock;
  onProgress?: (p: RunProgress) => void;
}

/** The headline number of a scenario (MLPerf's metric). */
export interface ScenarioMetric {
  name: string;
  value: number;
  unit: string;
}

/** Everything a run measured. Times in milliseconds. */
export interface ScenarioResult {
  scenario: Scenario;
  settings: ResolvedSettings;
  sut: string;
  qsl: string;
  valid: boolean;
  /** Why the run is invalid (empty when valid). */
  invalidReasons: string[];
  /** The scenario's result: p90 (single-stream) / p99 (multi-stream) latency, the target QPS (server), samples/s (offline). */
  metric: ScenarioMetric;
  startedAt: string;
  durationMs: number;
  queries: number;
  samples: number;
  errors: number;
  firstError?: string;
  /** Queries not answered before the drain timeout. */
  incomplete: number;
  queriesPerSecond: number;
  samplesPerSecond: number;
  /** Per query, from its scheduled arrival to its last sample's completion. */
  latencyMs: LatencySummary;
  /** Per query, from its actual issue (what a generator that waits would measure). */
  latencyFromIssueMs: LatencySummary;
  /** Issue time − scheduled time: the load generator's own lateness. */
  issueDelayMs: LatencySummary;
  /** Server only. */
  server?: { targetQps: number; issuedQps: number; lateQueries: number; stoppedEarly: boolean };
  warmup: { queries: number; samples: number; durationMs: number };
  /** With `recordTrace`: times relative to the run's start. */
  trace?: { scheduled: number[]; issued: number[]; completed: number[] };
}

const PROGRESS_MS = 100;
/** Let completions and I/O in at least this often while issuing back to back. */
const YIELD_MS = 2;

/**
 * Runs one scenario. Throws only for bad settings or a library with no samples; a failing SUT gives an
 * invalid result with its first error.
 *
 * @example
 * const r = await runScenario({ sut, qsl, settings: { scenario: 'server', targetQps: 500, latencyBoundMs: 10 } });
 * console.log(r.valid, r.latencyMs.p99);
 */
export async function runScenario(o: RunScenarioOptions): Promise<ScenarioResult> {
  const s = resolveSettings(o.settings);
  const own = !o.clock;
  const clock = o.clock ?? new RealClock();
  try {
    const count = o.qsl.performanceSampleCount;
    if (!(count > 0)) throw new TrainferError(`${o.qsl.name}: the sample library holds no samples`);
    const indices = Array.from({ length: count }, (_, i) => i);
    await o.qsl.loadSamples(indices);
    try {
      return await runLoaded(o, s, clock);
    } finally {
      await o.qsl.unloadSamples(indices);
    }
  } finally {
    if (own) clock.close();
  }
}

async function runLoaded(o: RunScenarioOptions, s: ResolvedSettings, clock: Clock): Promise<ScenarioResult> {
  const rng = Rng.fromSeed(s.seed);
  const pick = samplePicker(o.qsl.performanceSampleCount, rng);
  const startedAt = new Date().toISOString();
  // Warm-up: the same pattern, discarded. Offline warms up with closed-loop queries of 256 samples and
  // uses their rate to size the timed query.
  const warm = new QueryLog(clock, 1, s.latencyBoundMs);
  const w0 = clock.now();
  if (s.warmupMs > 0) {
    const until = { minMs: s.warmupMs, minQueries: 1, maxMs: s.warmupMs * 3 };
    if (s.scenario === 'server') await serverLoop(o, s, clock, warm, rng, pick, until, 'warmup');
    else await closedLoop(o, s, clock, warm, pick, s.scenario === 'offline' ? 256 : s.samplesPerQuery, until, 'warmup');
    await warm.drain(s.drainTimeoutMs);
  }
  const warmMs = clock.now() - w0;
  const log = new QueryLog(clock, warm.endSampleId, s.latencyBoundMs);
  let stoppedEarly = false;
  let drained = true;
  let endAt = -Infinity;
  const t0 = clock.now();
  if (s.scenario === 'offline') {
    const rate = warm.samplesCompleted > 0 && warmMs > 0 ? (warm.samplesCompleted / warmMs) * 1000 : 0;
    let n = s.offlineSampleCount ?? Math.min(s.maxQueryCount, Math.max(1024, Math.ceil((rate * s.minDurationMs * 1.1) / 1000)));
    drained = await offlineQuery(o, s, clock, log, pick, n);
    // Sized from the warm-up and still too short: MLPerf would call it invalid; run once more, bigger.
    const took = log.completed.data[0]! - log.issued.data[0]!;
    if (drained && s.offlineSampleCount === undefined && took < s.minDurationMs && log.errors === 0 && n < s.maxQueryCount) {
      n = Math.min(s.maxQueryCount, Math.ceil(n * Math.min(100, (s.minDurationMs * 1.1) / Math.max(took, 1e-3))));
      return finish(o, s, clock, await rerunOffline(o, s, clock, log.endSampleId, pick, n), { warm, warmMs, startedAt, t0: NaN, stoppedEarly, drained: true, endAt: -Infinity });
    }
  } else if (s.scenario === 'server') {
    const sr = await serverLoop(o, s, clock, log, rng, pick, { minMs: s.minDurationMs, minQueries: s.minQueryCount, maxMs: s.maxDurationMs }, 'run');
    stoppedEarly = sr.stoppedEarly;
    endAt = sr.endAt;
    drained = await drainWithProgress(o, s, clock, log, t0);
  } else {
    await closedLoop(o, s, clock, log, pick, s.samplesPerQuery, { minMs: s.minDurationMs, minQueries: s.minQueryCount, maxMs: s.maxDurationMs }, 'run');
    drained = await drainWithProgress(o, s, clock, log, t0);
  }
  return finish(o, s, clock, log, { warm, warmMs, startedAt, t0: s.scenario === 'offline' ? NaN : t0, stoppedEarly, drained, endAt });
}

async function rerunOffline(o: RunScenarioOptions, s: ResolvedSettings, clock: Clock, firstId: number, pick: Picker, n: number): Promise<QueryLog> {
  const log = new QueryLog(clock, firstId, s.latencyBoundMs);
  await offlineQuery(o, s, clock, log, pick, n);
  return log;
}

type Picker = { next: () => number; sequence: (n: number) => Int32Array };

/** Random samples for single-stream/multi-stream/server; a shuffled cycle for offline (each sample once per pass). */
function samplePicker(count: number, rng: Rng): Picker {
  return {
    next: () => rng.int(count),
    sequence: (n) => {
      const order = rng.permutation(count);
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = order[i % count]!;
      return out;
    },
  };
}

interface Until {
  minMs: number;
  minQueries: number;
  maxMs: number;
}

function progress(o: RunScenarioOptions, s: ResolvedSettings, phase: RunProgress['phase'], elapsedMs: number, until: Until, log: QueryLog): void {
  o.onProgress?.({ scenario: s.scenario, phase, elapsedMs, plannedMs: until.minMs, queries: log.queries, plannedQueries: until.minQueries, completedSamples: log.samplesCompleted });
}

/** Single-stream, multi-stream (and offline's warm-up): issue the next query when the previous completes. */
async function closedLoop(o: RunScenarioOptions, s: ResolvedSettings, clock: Clock, log: QueryLog, pick: Picker, perQuery: number, until: Until, phase: RunProgress['phase']): Promise<void> {
  const t0 = clock.now();
  let lastYield = t0;
  let lastProgress = t0;
  const indices = new Int32Array(perQuery);
  for (;;) {
    const now = clock.now();
    const elapsed = now - t0;
    if ((elapsed >= until.minMs && log.queries >= until.minQueries) || elapsed >= until.maxMs || log.queries >= s.maxQueryCount) break;
    for (let i = 0; i < perQuery; i++) indices[i] = pick.next();
    const { query, samples } = log.newQuery(now, indices);
    log.markIssued(query);
    o.sut.issueQuery(samples, log.complete);
    if (s.scenario === 'offline') o.sut.flushQueries?.();
    await log.waitFor(query);
    const after = clock.now();
    if (after - lastProgress >= PROGRESS_MS) {
      lastProgress = after;
      progress(o, s, phase, after - t0, until, log);
    }
    if (after - lastYield >= YIELD_MS) {
      await clock.yield();
      lastYield = clock.now();
    }
  }
  progress(o, s, phase, clock.now() - t0, until, log);
}

/**
 * Server: Poisson arrivals. Returns whether the run was stopped early (the bound was certainly missed)
 * and when issuing ended (the first arrival not issued: the run covers the schedule up to there).
 */
async function serverLoop(o: RunScenarioOptions, s: ResolvedSettings, clock: Clock, log: QueryLog, rng: Rng, pick: Picker, until: Until, phase: RunProgress['phase']): Promise<{ stoppedEarly: boolean; endAt: number }> {
  const qps = s.targetQps!;
  const meanGap = 1000 / qps;
  const t0 = clock.now();
  const planned = Math.max(until.minQueries, Math.ceil((qps * until.minMs) / 1000));
  const allowedLate = Math.floor((1 - s.latencyPercentile) * planned);
  let next = t0 + exponential(rng, meanGap);
  let lastYield = t0;
  let lastCheck = t0;
  let firstOutstanding = 0;
  const one = new Int32Array(1);
  for (;;) {
    if (next - t0 >= until.maxMs || (next - t0 >= until.minMs && log.queries >= until.minQueries) || log.queries >= s.maxQueryCount) break;
    await clock.sleepUntil(next);
    // Issue every query that is due (after a stall there may be many); each keeps its own schedule.
    let now = clock.now();
    while (next <= now) {
      one[0] = pick.next();
      const { query, samples } = log.newQuery(next, one);
      log.markIssued(query);
      o.sut.issueQuery(samples, log.complete);
      next += exponential(rng, meanGap);
      if (next - t0 >= until.maxMs || log.queries >= s.maxQueryCount) break;
      now = clock.now();
    }
    if (now - lastCheck >= PROGRESS_MS) {
      lastCheck = now;
      progress(o, s, phase, now - t0, until, log);
      if (s.stopEarly && phase === 'run') {
        const old = log.outstandingOlderThan(now, s.latencyBoundMs, firstOutstanding);
        firstOutstanding = old.firstOutstanding;
        if (log.late + old.count > allowedLate) {
          o.sut.flushQueries?.();
          return { stoppedEarly: true, endAt: now };
        }
      }
    }
    if (now - lastYield >= YIELD_MS) {
      await clock.yield();
      lastYield = clock.now();
    }
  }
  o.sut.flushQueries?.();
  progress(o, s, phase, clock.now() - t0, until, log);
  return { stoppedEarly: false, endAt: Math.min(next, t0 + until.maxMs) };
}

/** Offline: one query of `n` samples. Returns false when the drain timed out. */
async function offlineQuery(o: RunScenarioOptions, s: ResolvedSettings, clock: Clock, log: QueryLog, pick: Picker, n: number): Promise<boolean> {
  // The query is built before the clock starts (MLPerf times from the issue, not from building it).
  const { query, samples } = log.newQuery(NaN, pick.sequence(n));
  const t0 = clock.now();
  log.scheduled.data[query] = t0;
  const until = { minMs: s.minDurationMs, minQueries: n, maxMs: s.maxDurationMs };
  const timer = o.onProgress ? setInterval(() => progress(o, s, 'run', clock.now() - t0, until, log), 200) : undefined;
  try {
    log.markIssued(query);
    o.sut.issueQuery(samples, log.complete);
    o.sut.flushQueries?.();
    const budget = Math.max(s.maxDurationMs, s.minDurationMs * 3) + s.drainTimeoutMs;
    return await log.drain(budget);
  } finally {
    if (timer) clearInterval(timer);
    progress(o, s, 'run', clock.now() - t0, until, log);
  }
}

async function drainWithProgress(o: RunScenarioOptions, s: ResolvedSettings, clock: Clock, log: QueryLog, t0: number): Promise<boolean> {
  if (log.outstanding === 0) return true;
  o.onProgress?.({ scenario: s.scenario, phase: 'drain', elapsedMs: clock.now() - t0, plannedMs: s.minDurationMs, queries: log.queries, plannedQueries: s.minQueryCount, completedSamples: log.samplesCompleted });
  return log.drain(s.drainTimeoutMs);
}

function exponential(rng: Rng, mean: number): number {
  return -Math.log(1 - rng.uniform()) * mean;
}

interface FinishInfo {
  warm: QueryLog;
  warmMs: number;
  startedAt: string;
  t0: number;
  stoppedEarly: boolean;
  drained: boolean;
  /** Server: when issuing ended; the duration covers at least the schedule up to there. */
  endAt: number;
}

function finish(o: RunScenarioOptions, s: ResolvedSettings, clock: Clock, log: QueryLog, f: FinishInfo): ScenarioResult {
  const n = log.queries;
  const now = clock.now();
  const t0 = Number.isNaN(f.t0) ? log.scheduled.data[0]! : f.t0;
  const lat = new Float64Array(n);
  const fromIssue = new Float64Array(n);
  const delay = new Float64Array(n);
  let lastDone = t0;
  let incomplete = 0;
  for (let q = 0; q < n; q++) {
    const sch = log.scheduled.data[q]!;
    const iss = log.issued.data[q]!;
    let c = log.completed.data[q]!;
    if (Number.isNaN(c)) {
      // Never answered: count it with the time it has waited so far (a lower bound).
      incomplete++;
      c = now;
    }
    lat[q] = c - sch;
    fromIssue[q] = c - iss;
    delay[q] = iss - sch;
    if (c > lastDone) lastDone = c;
  }
  const durationMs = Math.max(1e-9, lastDone - t0, f.endAt - t0);
  const latencyMs = summarize(lat);
  const key = percentileKey(s.latencyPercentile);
  const reasons: string[] = [];
  if (log.errors > 0) reasons.push(`${log.errors} sample${log.errors === 1 ? '' : 's'} failed (first: ${log.firstError})`);
  if (incomplete > 0 || !f.drained) reasons.push(`${incomplete} quer${incomplete === 1 ? 'y' : 'ies'} not answered within the drain timeout`);
  if (log.strayResponses > 0) reasons.push(`the SUT answered ${log.strayResponses} sample ids that were not outstanding`);
  if (s.scenario !== 'offline' && n < s.minQueryCount) reasons.push(`${n} queries < the minimum ${s.minQueryCount}`);
  if (durationMs < s.minDurationMs && !f.stoppedEarly) reasons.push(`ran ${fmt(durationMs)} ms < the minimum ${s.minDurationMs} ms`);
  let late = 0;
  for (let q = 0; q < n; q++) if (lat[q]! > s.latencyBoundMs) late++;
  if (s.scenario === 'server') {
    if (f.stoppedEarly) reasons.push(`stopped early: more than ${fmt((1 - s.latencyPercentile) * 100)}% of queries exceeded ${s.latencyBoundMs} ms`);
    else if (latencyMs[key] > s.latencyBoundMs) reasons.push(`${key} latency ${fmt(latencyMs[key])} ms > the bound ${s.latencyBoundMs} ms`);
  }
  const samples = log.samplesIssued;
  const metric: ScenarioMetric =
    s.scenario === 'offline' ? { name: 'samples per second', value: (samples / durationMs) * 1000, unit: 'samples/s' }
    : s.scenario === 'server' ? { name: 'target QPS', value: s.targetQps!, unit: 'queries/s' }
    : { name: `${key} latency`, value: latencyMs[key] as number, unit: 'ms' };
  const rel = (a: Float64Array) => Array.from(a, (x) => x - t0);
  return {
    scenario: s.scenario,
    settings: s,
    sut: o.sut.name,
    qsl: o.qsl.name,
    valid: reasons.length === 0,
    invalidReasons: reasons,
    metric,
    startedAt: f.startedAt,
    durationMs,
    queries: n,
    samples,
    errors: log.errors,
    firstError: log.firstError,
    incomplete,
    queriesPerSecond: (n / durationMs) * 1000,
    samplesPerSecond: (samples / durationMs) * 1000,
    latencyMs,
    latencyFromIssueMs: summarize(fromIssue),
    issueDelayMs: summarize(delay),
    server: s.scenario === 'server' ? { targetQps: s.targetQps!, issuedQps: n > 1 ? ((n - 1) / Math.max(1e-9, log.scheduled.data[n - 1]! - log.scheduled.data[0]!)) * 1000 : 0, lateQueries: late, stoppedEarly: f.stoppedEarly } : undefined,
    warmup: { queries: f.warm.queries, samples: f.warm.samplesIssued, durationMs: f.warmMs },
    trace: s.recordTrace ? { scheduled: rel(log.scheduled.view()), issued: rel(log.issued.view()), completed: rel(log.completed.view()) } : undefined,
  };
}

const fmt = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toPrecision(3));
