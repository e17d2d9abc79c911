/**
 * The single-tensor classification view of data (`Dataset`: one sample array + class labels), kept for
 * code that feeds one float input (quantization calibration and measurements), and its conversion to and
 * from tables. New code uses `Table` (src/data/table.ts), which any number of typed columns share.
 */
import { TrainferError } from '../util/errors.js';
import type { Rng } from '../util/rng.js';
import { type Column, type Table, type TableSplits, columnSize, columnToFloat64, getColumn } from './table.js';

/** A labelled classification dataset held in memory (one sample array; see `Table` for the general form). */
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

/** Column names taken as the label when none is named (in this order). */
export const DEFAULT_TARGET_NAMES = ['label', 'labels', 'class', 'target', 'y'];

/** The default target column of a table: one named label/labels/class/target/y (any case), else the last. */
export function defaultTargetColumn(t: Pick<Table, 'columns'>): string {
  for (const n of DEFAULT_TARGET_NAMES) {
    const c = t.columns.find((k) => k.name.toLowerCase() === n);
    if (c) return c.name;
  }
  return t.columns[t.columns.length - 1]!.name;
}

/**
 * The `Dataset` view of a table: `target` (default `defaultTargetColumn`) gives the class labels; the
 * other columns (numeric, or one image column) are the samples. Categorical and text feature columns
 * have no single-tensor form and are an error.
 */
export function datasetFromTable(t: Table, options: { target?: string } = {}): Dataset {
  const target = getColumn(t, options.target ?? defaultTargetColumn(t));
  if (target.kind === 'text' || target.shape.length > 0) throw new TrainferError(`${t.source}: column '${target.name}' cannot be a class label`);
  const labels = columnToFloat64(target);
  const y = new Int32Array(t.count);
  let max = -1;
  for (let i = 0; i < t.count; i++) {
    const v = labels[i]!;
    if (!Number.isInteger(v) || v < 0) throw new TrainferError(`${t.source}: label ${v} of sample ${i} (column '${target.name}') is not a class index`);
    y[i] = v;
    max = Math.max(max, v);
  }
  const features = t.columns.filter((c) => c !== target);
  const numClasses = target.vocabulary?.length ?? max + 1;
  const classNames = target.vocabulary ? [...target.vocabulary] : undefined;
  const image = features.length === 1 && features[0]!.kind === 'image' ? features[0]! : undefined;
  if (image) {
    const bytes = image.dtype === 'uint8';
    const x = bytes ? (image.data as Uint8Array) : Float32Array.from(columnToFloat64(image));
    return { source: t.source, kind: 'image', sampleShape: [...image.shape], x, scale: bytes ? (image.scale ?? 1) : 1, y, count: t.count, numClasses, classNames };
  }
  const bad = features.find((c) => c.kind !== 'numeric');
  if (bad) throw new TrainferError(`${t.source}: column '${bad.name}' is ${bad.kind}; only numeric columns form a single feature vector`);
  const width = features.reduce((s, c) => s + columnSize(c), 0);
  const x = new Float32Array(t.count * width);
  let off = 0;
  for (const c of features) {
    const v = columnToFloat64(c);
    const s = columnSize(c);
    for (let i = 0; i < t.count; i++) for (let k = 0; k < s; k++) x[i * width + off + k] = v[i * s + k]!;
    off += s;
  }
  return { source: t.source, kind: 'tabular', sampleShape: [width], x, scale: 1, y, count: t.count, numClasses, classNames, featureNames: features.map((c) => c.name) };
}

/** The `DataSplits` view of table splits (see `datasetFromTable`); the class count is the larger of train's and test's. */
export function dataSplitsFromTables(s: TableSplits, options: { target?: string } = {}): DataSplits {
  const train = datasetFromTable(s.train, options);
  const test = datasetFromTable(s.test, options);
  const validation = s.validation ? datasetFromTable(s.validation, options) : undefined;
  const numClasses = Math.max(train.numClasses, test.numClasses, validation?.numClasses ?? 0);
  return { train: { ...train, numClasses }, validation: validation && { ...validation, numClasses }, test: { ...test, numClasses } };
}

/**
 * A table with the dataset's samples (`pixels` for images, `features` otherwise) and its labels
 * (`label`, int64; categorical with the class names when the dataset has them).
 */
export function tableFromDataset(d: Dataset): Table {
  const samples: Column = d.x instanceof Uint8Array
    ? { name: d.kind === 'image' ? 'pixels' : 'features', dtype: 'uint8', shape: [...d.sampleShape], data: d.x, kind: d.kind === 'image' ? 'image' : 'numeric', scale: d.scale }
    : { name: d.kind === 'image' ? 'pixels' : 'features', dtype: 'float32', shape: [...d.sampleShape], data: d.scale === 1 ? d.x : d.x.map((v) => v * d.scale), kind: d.kind === 'image' ? 'image' : 'numeric' };
  const y = new BigInt64Array(d.count);
  for (let i = 0; i < d.count; i++) y[i] = BigInt(d.y[i]!);
  const label: Column = d.classNames
    ? { name: 'label', dtype: 'int64', shape: [], data: y, kind: 'categorical', vocabulary: [...d.classNames] }
    : { name: 'label', dtype: 'int64', shape: [], data: y, kind: 'numeric' };
  return { source: d.source, count: d.count, columns: [samples, label] };
}

/** The first `n` samples of a dataset as float32 (bytes × scale) and their labels. */
export function datasetSamples(d: Dataset, n = d.count): { x: Float32Array; labels: Int32Array } {
  const count = Math.min(n, d.count);
  const size = sampleSize(d) * count;
  const x = new Float32Array(size);
  for (let i = 0; i < size; i++) x[i] = d.x[i]! * d.scale;
  return { x, labels: d.y.slice(0, count) };
}

/**
 * The per-sample dims to feed a model input of `modelShape` ([batch, ...]) with samples of `dataShape`:
 * the data's own shape when it fits, the model's when both are fixed and hold the same number of values
 * (e.g. 28×28 images into a flat [784] input). Throws a one-line error naming both otherwise.
 */
export function checkInputShape(o: { modelShape?: readonly (number | string | null)[]; dataShape: readonly number[]; modelName: string; dataName: string }): number[] {
  const ms = o.modelShape;
  if (!ms) return [...o.dataShape];
  const per = ms.slice(1);
  const fmt = (s: readonly (number | string | null)[]): string => `[${s.map((d) => (typeof d === 'number' && d >= 0 ? d : '?')).join(', ')}]`;
  if (per.length === o.dataShape.length && per.every((d, i) => typeof d !== 'number' || d < 0 || d === o.dataShape[i])) return [...o.dataShape];
  const size = (s: readonly (number | string | null)[]) => s.reduce<number>((a, d) => a * (typeof d === 'number' ? d : NaN), 1);
  if (per.every((d) => typeof d === 'number' && d >= 0) && size(per) === size(o.dataShape)) return per as number[];
  throw new TrainferError(`${o.modelName} expects samples of shape ${fmt(per)} but ${o.dataName} has samples of shape ${fmt(o.dataShape)}`);
}
