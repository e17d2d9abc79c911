/**
 * Latency statistics as MLPerf LoadGen reports them: nearest-rank percentiles (the value at sorted
 * position ⌈p·n⌉ − 1, so "p99 ≤ bound" means at least 99% of queries met the bound), mean, min, max.
 */

/** Percentiles and moments of a latency sample, in milliseconds. */
export interface LatencySummary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p97: number;
  p99: number;
  p999: number;
  max: number;
}

/** Nearest-rank percentile of an ascending array (`p` in [0, 1]). NaN for an empty array. */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const rank = Math.min(n, Math.max(1, Math.ceil(p * n)));
  return sorted[rank - 1]!;
}

/** Summarises latencies (any order; the input is not modified). */
export function summarize(values: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i]!;
  const p = (q: number) => percentileSorted(sorted, q);
  return {
    count: n,
    min: n ? sorted[0]! : NaN,
    mean: n ? sum / n : NaN,
    p50: p(0.5),
    p90: p(0.9),
    p95: p(0.95),
    p97: p(0.97),
    p99: p(0.99),
    p999: p(0.999),
    max: n ? sorted[n - 1]! : NaN,
  };
}

/** The percentile a scenario is judged on, by name (e.g. 0.99 → `p99`). */
export function percentileKey(p: number): keyof LatencySummary {
  const keys: Record<string, keyof LatencySummary> = { '0.5': 'p50', '0.9': 'p90', '0.95': 'p95', '0.97': 'p97', '0.99': 'p99', '0.999': 'p999' };
  const k = keys[String(p)];
  if (!k) throw new Error(`latency percentile must be one of ${Object.keys(keys).join(', ')}, got ${p}`);
  return k;
}
