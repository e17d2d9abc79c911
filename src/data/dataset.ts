/**
 * In-memory labelled datasets and the batcher that copies samples into preallocated buffers. A dataset
 * keeps images as bytes (scaled to [0, 1] when batched) or features as float32; labels are class indices.
 */
import { TrainferError } from '../util/errors.js';
import type { Rng } from '../util/rng.js';

/** A labelled classification dataset held in memory. */
export interface Dataset {
  /** Where it came from (file or built-in name), for messages. */
  source: string;
  /** `image` samples are [C, H, W] pixels; `tabular` samples are [F] features. */
  kind: 'image' | 'tabular';
  /** Shape of one sample, e.g. [1, 28, 28] or [F]. */
  sampleShape: number[];
  /** Samples, row-major, `count × prod(sampleShape)`. Bytes are scaled by `scale` when batched. */
  x: Uint8Array | Float32Array;
  /** Multiplier applied to `x` when batching (1/255 for byte pixels, 1 otherwise). */
  scale: number;
  /** Class index per sample. */
  y: Int32Array;
  /** Number of samples. */
  count: number;
  /** Number of classes (labels lie in [0, numClasses)). */
  numClasses: number;
  /** Names of the classes when the source had them (CSV string labels). */
  classNames?: string[];
  /** Feature names (CSV header). */
  featureNames?: string[];
}

/** Train/validation/test splits of one data source. */
export interface DataSplits {
  train: Dataset;
  /** Held out from the training file for per-epoch validation (absent when the split is 0). */
  validation?: Dataset;
  test: Dataset;
}

/** Number of values in one sample. */
export function sampleSize(d: Pick<Dataset, 'sampleShape'>): number {
  return d.sampleShape.reduce((a, b) => a * b, 1);
}

/** A new dataset holding the samples at `indices` (copied; the input is not modified). */
export function subset(d: Dataset, indices: ArrayLike<number>, source = d.source): Dataset {
  const s = sampleSize(d);
  const x = d.x instanceof Uint8Array ? new Uint8Array(indices.length * s) : new Float32Array(indices.length * s);
  const y = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i]!;
    x.set(d.x.subarray(j * s, (j + 1) * s), i * s);
    y[i] = d.y[j]!;
  }
  return { ...d, source, x, y, count: indices.length };
}

/** The first `n` samples (or all when `n` is larger). */
export function take(d: Dataset, n: number): Dataset {
  if (n >= d.count) return d;
  const s = sampleSize(d);
  return { ...d, x: d.x.slice(0, n * s), y: d.y.slice(0, n), count: n };
}

/**
 * Splits off a seeded random `fraction` of `d` as validation data.
 * Returns `{ train, validation }`; `validation` is undefined when the fraction rounds to zero samples.
 */
export function splitValidation(d: Dataset, fraction: number, rng: Rng): { train: Dataset; validation?: Dataset } {
  if (!(fraction >= 0 && fraction < 1)) throw new TrainferError(`validation split must be in [0, 1), got ${fraction}`);
  const nVal = Math.round(d.count * fraction);
  if (nVal === 0) return { train: d };
  const perm = rng.permutation(d.count);
  const val = perm.subarray(0, nVal).slice().sort();
  const tr = perm.subarray(nVal).slice().sort();
  return { train: subset(d, tr), validation: subset(d, val, `${d.source} (validation split)`) };
}

/** Checks that every label lies in [0, numClasses). Throws a one-line error naming the source and sample. */
export function checkLabels(d: Dataset, numClasses: number): void {
  for (let i = 0; i < d.count; i++) {
    const l = d.y[i]!;
    if (l < 0 || l >= numClasses) {
      throw new TrainferError(`${d.source}: label ${l} of sample ${i} is out of range: the model has ${numClasses} classes (0..${numClasses - 1})`);
    }
  }
}

/**
 * Copies batches of samples into buffers allocated once: `x` (float32, scaled) and `labels` (int64).
 * Nothing is allocated per batch.
 *
 * @example
 * const b = new Batcher({ dataset, batchSize: 128 });
 * b.fill(order, 0); // samples order[0..127] → b.x, b.labels
 */
export class Batcher {
  /** Batch of samples: `batchSize × prod(sampleShape)` float32. */
  readonly x: Float32Array;
  /** Batch of labels as int64 (what SoftmaxCrossEntropyLoss takes). */
  readonly labels: BigInt64Array;
  readonly batchSize: number;
  private readonly d: Dataset;
  private readonly s: number;
  private readonly chunk: number;
  private readonly mul: Float32Array;
  private readonly add: Float32Array;
  private readonly plain: boolean;

  constructor(options: { dataset: Dataset; batchSize: number; normalize?: { mean: readonly number[]; std: readonly number[] } }) {
    this.d = options.dataset;
    this.batchSize = options.batchSize;
    this.s = sampleSize(this.d);
    this.x = new Float32Array(this.batchSize * this.s);
    this.labels = new BigInt64Array(this.batchSize);
    // y = raw·scale·(1/std_c) − mean_c/std_c, per channel (axis 0 of the sample) or one for all.
    const nz = options.normalize;
    const c = nz ? nz.mean.length : 1;
    if (this.s % c !== 0) throw new TrainferError(`normalisation has ${c} channels but samples have ${this.s} values`);
    this.chunk = this.s / c;
    this.mul = Float32Array.from({ length: c }, (_, k) => this.d.scale / (nz ? nz.std[k]! : 1));
    this.add = Float32Array.from({ length: c }, (_, k) => (nz ? -nz.mean[k]! / nz.std[k]! : 0));
    this.plain = !nz && this.d.scale === 1 && this.d.x instanceof Float32Array;
  }

  /**
   * Fills the buffers with samples `order[start .. start + count)` (count ≤ batchSize, default a full batch).
   * Returns the number of samples copied.
   */
  fill(order: ArrayLike<number> | null, start: number, count = this.batchSize): number {
    const { d, s, x, labels, chunk, mul, add } = this;
    const n = Math.min(count, (order ? order.length : d.count) - start);
    const y = d.y;
    for (let i = 0; i < n; i++) {
      const j = order ? order[start + i]! : start + i;
      if (this.plain) x.set((d.x as Float32Array).subarray(j * s, j * s + s), i * s);
      else {
        for (let c = 0; c < mul.length; c++) {
          const from = j * s + c * chunk;
          const to = i * s + c * chunk;
          if (d.x instanceof Uint8Array) affineU8(d.x, from, x, to, chunk, mul[c]!, add[c]!);
          else affineF32(d.x, from, x, to, chunk, mul[c]!, add[c]!);
        }
      }
      labels[i] = BigInt(y[j]!);
    }
    return n;
  }
}

// Monomorphic copy loops, one element type each, so V8 keeps them fast (the batch copy runs every step).
function affineU8(src: Uint8Array, from: number, dst: Float32Array, to: number, n: number, mul: number, add: number): void {
  for (let k = 0; k < n; k++) dst[to + k] = src[from + k]! * mul + add;
}
function affineF32(src: Float32Array, from: number, dst: Float32Array, to: number, n: number, mul: number, add: number): void {
  for (let k = 0; k < n; k++) dst[to + k] = src[from + k]! * mul + add;
}

/** Per-feature mean and standard deviation over a dataset (features as float64, std floored at 1e-6). */
export function featureStats(d: Dataset): { mean: Float32Array; std: Float32Array } {
  const s = sampleSize(d);
  const sum = new Float64Array(s);
  const sq = new Float64Array(s);
  for (let i = 0; i < d.count; i++) {
    for (let k = 0; k < s; k++) {
      const v = d.x[i * s + k]! * d.scale;
      sum[k] += v;
      sq[k] += v * v;
    }
  }
  const mean = new Float32Array(s);
  const std = new Float32Array(s);
  for (let k = 0; k < s; k++) {
    const m = sum[k]! / Math.max(1, d.count);
    mean[k] = m;
    std[k] = Math.max(1e-6, Math.sqrt(Math.max(0, sq[k]! / Math.max(1, d.count) - m * m)));
  }
  return { mean, std };
}
