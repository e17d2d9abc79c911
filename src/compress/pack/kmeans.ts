/**
 * Weight sharing by 1-D k-means (Han et al. 2016): the non-zero weights of a layer are clustered into
 * 2^b centroids, initialised evenly between the smallest and largest weight (the paper's "linear"
 * initialisation, which keeps the rare large weights that matter most), refined by Lloyd iterations on
 * the sorted values (assignment by binary search on the midpoints: O(n log k) per iteration).
 */

/** Centroids (ascending) and each value's cluster. */
export interface Clustering {
  centroids: Float32Array;
  /** Cluster of each input value, in input order. */
  assignment: Uint16Array;
}

/** Clusters `values` into at most `k` centroids. */
export function kmeans1d(values: Float32Array, k: number, iterations = 50): Clustering {
  const n = values.length;
  const assignment = new Uint16Array(n);
  if (n === 0) return { centroids: new Float32Array(0), assignment };
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const kk = Math.max(1, Math.min(k, n));
  const c = new Float64Array(kk);
  for (let i = 0; i < kk; i++) c[i] = kk === 1 ? (lo + hi) / 2 : lo + ((hi - lo) * i) / (kk - 1);
  const sums = new Float64Array(kk);
  const counts = new Float64Array(kk);
  const mids = new Float64Array(Math.max(0, kk - 1));
  const assign = (v: number): number => {
    let a = 0;
    let b = mids.length;
    while (a < b) {
      const m = (a + b) >> 1;
      if (v > mids[m]!) a = m + 1;
      else b = m;
    }
    return a;
  };
  for (let it = 0; it < iterations; it++) {
    for (let i = 0; i < mids.length; i++) mids[i] = (c[i]! + c[i + 1]!) / 2;
    sums.fill(0);
    counts.fill(0);
    let changed = it === 0;
    for (let i = 0; i < n; i++) {
      const a = assign(values[i]!);
      if (a !== assignment[i]) changed = true;
      assignment[i] = a;
      sums[a]! += values[i]!;
      counts[a]!++;
    }
    for (let j = 0; j < kk; j++) if (counts[j]! > 0) c[j] = sums[j]! / counts[j]!;
    if (!changed) break;
  }
  // Final assignment against the final centroids (kept ascending by construction).
  for (let i = 0; i < mids.length; i++) mids[i] = (c[i]! + c[i + 1]!) / 2;
  for (let i = 0; i < n; i++) assignment[i] = assign(values[i]!);
  return { centroids: Float32Array.from(c), assignment };
}
