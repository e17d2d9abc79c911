/**
 * The contract between the load generator and whatever it measures, after MLPerf Inference LoadGen:
 * the load generator knows nothing of the model. It issues queries of sample indices to a
 * `SystemUnderTest`, which answers each sample through the completion callback, and it asks a
 * `QuerySampleLibrary` to hold the samples in memory before the timed run. Scenarios, timing,
 * percentiles and validity rules live on the load generator's side (`run-scenario.ts`).
 */

/** One sample of a query: `id` is unique within a run, `index` selects the sample in the library. */
export interface QuerySample {
  readonly id: number;
  readonly index: number;
}

/** The answer for one sample. `error` marks a failed sample (the query then counts as an error). */
export interface QuerySampleResponse {
  readonly id: number;
  readonly error?: string;
}

/** Called by the SUT, from any callback, with the samples it finished (any subset, any order). */
export type QuerySamplesComplete = (responses: readonly QuerySampleResponse[]) => void;

/**
 * A system under test: an in-process model, a server URL, a browser page, a synthetic backend.
 * `issueQuery` must not block for long (it is called from the load generator's event loop); answers
 * arrive later through `complete`, which may also be called synchronously.
 */
export interface SystemUnderTest {
  /** A short name for reports (e.g. `in-process:2x1`, `oip:http://…`). */
  readonly name: string;
  issueQuery(samples: readonly QuerySample[], complete: QuerySamplesComplete): void;
  /** Tells the SUT that no more queries follow for now (it should not hold samples back for batching). */
  flushQueries?(): void;
}

/**
 * Where samples come from. The load generator picks indices in `[0, performanceSampleCount)` after
 * `loadSamples` (MLPerf's LoadSamplesToRam), so loading never happens inside the timed run.
 */
export interface QuerySampleLibrary {
  readonly name: string;
  /** Samples the library could provide. */
  readonly totalSampleCount: number;
  /** Samples held in memory at once during a run (≤ total). */
  readonly performanceSampleCount: number;
  loadSamples(indices: readonly number[]): void | Promise<void>;
  unloadSamples(indices: readonly number[]): void | Promise<void>;
}

/** The four MLPerf Inference scenarios. */
export type Scenario = 'single-stream' | 'multi-stream' | 'server' | 'offline';

/** The scenario names, for flag parsing and docs. */
export const SCENARIOS: readonly Scenario[] = ['single-stream', 'multi-stream', 'server', 'offline'];

/** Time source of a run: real (`RealClock`) or simulated (`VirtualClock`, for tests and what-ifs). */
export interface Clock {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  /** Resolves at (never before) time `t`; immediately when `t` has passed. */
  sleepUntil(t: number): Promise<void>;
  /** Lets other callbacks (completions, I/O) run without advancing time on purpose. */
  yield(): Promise<void>;
  /** Releases resources (the real clock's timer thread). */
  close(): void;
}
