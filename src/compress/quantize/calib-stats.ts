/**
 * Range statistics behind calibration: running min/max, fixed-range histograms, and the three ways to
 * turn them into a quantization range — MinMax, Percentile and Entropy (KL divergence, TensorRT style).
 * Pure functions over numbers; `calibration.ts` feeds them activations from onnxruntime.
 */

/** Calibration methods. */
export type CalibrationMethod = 'minmax' | 'percentile' | 'entropy';

/** A value's observed range. */
export interface Range {
  min: number;
  max: number;
}

/** Running min/max of one tensor. */
export class MinMax {
  min = Infinity;
  max = -Infinity;
  /** Folds a batch of values into the range (NaN is ignored). */
  update(x: ArrayLike<number>): void {
    let lo = this.min;
    let hi = this.max;
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    this.min = lo;
    this.max = hi;
  }
  /** The range seen so far ([0, 0] when nothing was seen). */
  range(): Range {
    return Number.isFinite(this.min) ? { min: this.min, max: this.max } : { min: 0, max: 0 };
  }
}

/** A histogram with `bins` equal bins over the fixed interval [lo, hi]; values outside land in the end bins. */
export class Histogram {
  readonly counts: Float64Array;
  constructor(
    readonly lo: number,
    readonly hi: number,
    readonly bins: number,
    /** Histogram |x| instead of x (for the symmetric entropy search). */
    readonly abs = false,
  ) {
    this.counts = new Float64Array(bins);
  }
  /** Adds a batch of values. */
  update(x: ArrayLike<number>): void {
    const { lo, bins, counts, abs } = this;
    const width = this.hi - lo;
    if (!(width > 0)) {
      counts[0]! += x.length;
      return;
    }
    const k = bins / width;
    for (let i = 0; i < x.length; i++) {
      const v = abs ? Math.abs(x[i]!) : x[i]!;
      let b = Math.floor((v - lo) * k);
      if (b < 0) b = 0;
      else if (b >= bins) b = bins - 1;
      counts[b]!++;
    }
  }
  /** Width of one bin. */
  get binWidth(): number {
    return (this.hi - this.lo) / this.bins;
  }
}

/**
 * Percentile range: cuts (100 − p)/2 % of the mass off each tail of a signed histogram (ORT's
 * asymmetric percentile), or, for a histogram of |x|, keeps p % of the mass and returns ±threshold.
 */
export function percentileRange(h: Histogram, percentile: number, seen: Range): Range {
  const total = h.counts.reduce((a, b) => a + b, 0);
  if (total === 0) return seen;
  if (h.abs) {
    const t = cumulativeEdge(h, (percentile / 100) * total);
    return clampTo({ min: -t, max: t }, seen);
  }
  const tail = ((100 - percentile) / 200) * total;
  let acc = 0;
  let lo = h.lo;
  for (let b = 0; b < h.bins; b++) {
    acc += h.counts[b]!;
    if (acc > tail) {
      lo = h.lo + b * h.binWidth;
      break;
    }
  }
  const hi = cumulativeEdge(h, total - tail);
  return clampTo({ min: lo, max: hi }, seen);
}

/** The upper edge of the first bin at which the cumulative count reaches `target`. */
function cumulativeEdge(h: Histogram, target: number): number {
  let acc = 0;
  for (let b = 0; b < h.bins; b++) {
    acc += h.counts[b]!;
    if (acc >= target) return h.lo + (b + 1) * h.binWidth;
  }
  return h.hi;
}

function clampTo(r: Range, seen: Range): Range {
  return { min: Math.max(r.min, seen.min), max: Math.min(r.max, seen.max) };
}

/**
 * Entropy (KL) threshold over a histogram of |x| (TensorRT's calibration): for each candidate threshold
 * i ≥ `quantBins` bins, P = the first i bins with the tail folded into the last, Q = P merged into `quantBins`
 * levels and spread back over the non-empty bins; pick the i minimising KL(P‖Q) — but never below the
 * (1 − guard) quantile of the non-zero values (default: clip at most 0.1 % of them). Returns the threshold.
 */
export function entropyThreshold(h: Histogram, quantBins = 128, guard = 1e-3): number {
  const n = h.bins;
  // The spike of exact zeros (post-ReLU) would dominate the divergence and pull the threshold down; like
  // NVIDIA's pytorch-quantization, flatten it to its neighbour before the search.
  const c = Float64Array.from(h.counts);
  if (n > 1) c[0] = c[1]!;
  if (n <= quantBins) return h.hi;
  let best = n;
  let bestKl = Infinity;
  const p = new Float64Array(n);
  const q = new Float64Array(n);
  const suffix = new Float64Array(n + 1);
  for (let i = n - 1; i >= 0; i--) suffix[i] = suffix[i + 1]! + c[i]!;
  for (let i = quantBins; i <= n; i++) {
    for (let j = 0; j < i; j++) p[j] = c[j]!;
    p[i - 1]! += suffix[i]!;
    const total = suffix[0]!;
    if (total === 0) return h.hi;
    // Merge the i bins into quantBins levels, then expand back uniformly over non-empty source bins.
    const per = i / quantBins;
    for (let k = 0; k < quantBins; k++) {
      const start = Math.floor(k * per);
      const end = k === quantBins - 1 ? i : Math.floor((k + 1) * per);
      let sum = 0;
      let nonzero = 0;
      for (let j = start; j < end; j++) {
        sum += c[j]!;
        if (c[j]! !== 0) nonzero++;
      }
      for (let j = start; j < end; j++) q[j] = c[j]! !== 0 && nonzero ? sum / nonzero : 0;
    }
    let kl = 0;
    let pSum = 0;
    let qSum = 0;
    for (let j = 0; j < i; j++) {
      pSum += p[j]!;
      qSum += q[j]!;
    }
    if (qSum === 0) continue;
    for (let j = 0; j < i; j++) {
      const pj = p[j]! / pSum;
      if (pj === 0) continue;
      const qj = q[j]! / qSum;
      kl += qj === 0 ? pj * Math.log(pj / 1e-12) : pj * Math.log(pj / qj);
    }
    if (kl < bestKl) {
      bestKl = kl;
      best = i;
    }
  }
  // Guard: never clip more than `guard` of the non-zero mass. Pure KL weighs values by frequency, so a
  // spike (e.g. the constant response to MNIST's background pixels) pulls the threshold onto it and clips
  // the rare large values that carry the signal.
  let nonzero = 0;
  for (let b = 1; b < n; b++) nonzero += h.counts[b]!;
  let acc = 0;
  let floor = n;
  for (let b = 1; b < n; b++) {
    acc += h.counts[b]!;
    if (acc >= (1 - guard) * nonzero) {
      floor = b + 1;
      break;
    }
  }
  return h.lo + Math.max(best, floor) * h.binWidth;
}
