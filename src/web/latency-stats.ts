/**
 * Latency statistics of a benchmark run — p50, p99, mean, throughput — from raw per-inference times.
 * Pure (no DOM, no Node): the page computes its benchmark with it, and Node checks it in tests.
 */

/** What a benchmark of one model reports. Times in milliseconds. */
export interface LatencySummary {
  /** Timed inferences (after warm-up). */
  iterations: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  meanMs: number;
  minMs: number;
  maxMs: number;
  /** Sequential inferences per second: iterations / total timed seconds. */
  throughputPerS: number;
}

/**
 * Nearest-rank percentile (`q` in [0, 1]) of ascending-sorted `sorted`: the smallest value with at
 * least `q` of the samples at or below it — always one of the measured values.
 */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1]!;
}

/** Summarises per-inference times (ms) measured back to back. */
export function summarizeLatencies(timesMs: readonly number[]): LatencySummary {
  const sorted = [...timesMs].sort((a, b) => a - b);
  const total = sorted.reduce((a, b) => a + b, 0);
  return {
    iterations: sorted.length,
    p50Ms: percentile(sorted, 0.5),
    p90Ms: percentile(sorted, 0.9),
    p99Ms: percentile(sorted, 0.99),
    meanMs: sorted.length ? total / sorted.length : NaN,
    minMs: sorted[0] ?? NaN,
    maxMs: sorted[sorted.length - 1] ?? NaN,
    throughputPerS: total > 0 ? (sorted.length * 1000) / total : NaN,
  };
}
