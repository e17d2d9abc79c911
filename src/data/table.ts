/**
 * Data as records of named, typed columns. A `Table` holds `count` rows; each `Column` has a dtype, a
 * per-row shape and one typed array with `count × prod(shape)` values. Categorical columns are int64 ids
 * with their vocabulary; text columns hold strings for a tokenizer; byte columns carry a scale (pixels
 * are bytes × 1/255). Every source (IDX, CSV, JSONL, built-in generators, streams) produces tables, and
 * the feed plan (feed-plan.ts) maps columns onto model inputs and loss targets.
 */
import { createHash } from 'node:crypto';
import { halfToFloat } from '../onnx/dtype.js';
import { TrainferError } from '../util/errors.js';
import type { Rng } from '../util/rng.js';
import type { NumericFacts } from './sniff.js';

/** Element types a column can hold. */
export type ColumnDType = 'float32' | 'float16' | 'float64' | 'int64' | 'int32' | 'bool' | 'uint8' | 'string';

/** The storage of each column dtype (float16 as raw half bits). */
export interface ColumnStorage {
  float32: Float32Array;
  float16: Uint16Array;
  float64: Float64Array;
  int64: BigInt64Array;
  int32: Int32Array;
  bool: Uint8Array;
  uint8: Uint8Array;
  string: string[];
}

/** Values of a column, row-major. */
export type ColumnData = ColumnStorage[ColumnDType];

/** What a column's values mean. */
export type ColumnKind = 'numeric' | 'categorical' | 'text' | 'image';

/** One named, typed column of a table. */
export interface Column {
  name: string;
  dtype: ColumnDType;
  /** Shape of one row's value ([] for a scalar, [1, 28, 28] for an image, [L] for a fixed-length array). */
  shape: number[];
  /** `count × prod(shape)` values, row-major. */
  data: ColumnData;
  kind: ColumnKind;
  /** uint8 columns: read as float, a value is byte × scale (1/255 for pixels). Default 1. */
  scale?: number;
  /**
   * Categorical columns (int64 ids): `vocabulary[id]` is the category. Saved in exported models'
   * metadata so evaluation and serving encode the same strings to the same ids.
   */
  vocabulary?: string[];
  /**
   * Text columns: what the strings are. `email`: raw RFC 822 messages (headers, MIME parts), which a
   * text model reads through the `email` preparation by default (src/data/email-text.ts).
   */
  textKind?: 'email';
  /**
   * What a text reader saw in a numeric column over the whole file (distinct values, the first
   * non-integer and its line): kept by row subsets, so a split's target is judged by the file.
   */
  facts?: NumericFacts;
}

/** Rows of named, typed columns held in memory. */
export interface Table {
  /** Where the rows came from (a file, `mnist`, a built-in name), for messages. */
  source: string;
  /** Number of rows. */
  count: number;
  columns: Column[];
}

/** Train / validation / test tables of one source. */
export interface TableSplits {
  train: Table;
  /** Held out from the training rows for validation after every epoch (absent when the split is 0). */
  validation?: Table;
  test: Table;
}

/** Values per row of a column. */
export function columnSize(c: Pick<Column, 'shape'>): number {
  return c.shape.reduce((a, b) => a * b, 1);
}

/** A column by name, or a one-line error naming the source and the columns it has. */
export function getColumn(t: Pick<Table, 'source' | 'columns'>, name: string): Column {
  const c = t.columns.find((k) => k.name === name);
  if (!c) throw new TrainferError(`${t.source}: no column named '${name}' (columns: ${t.columns.map((k) => k.name).join(', ')})`);
  return c;
}

/** Allocates zeroed storage for `n` values of `dtype`. */
export function allocateColumn<D extends ColumnDType>(dtype: D, n: number): ColumnStorage[D] {
  const make: { [K in ColumnDType]: (n: number) => ColumnStorage[K] } = {
    float32: (k) => new Float32Array(k),
    float16: (k) => new Uint16Array(k),
    float64: (k) => new Float64Array(k),
    int64: (k) => new BigInt64Array(k),
    int32: (k) => new Int32Array(k),
    bool: (k) => new Uint8Array(k),
    uint8: (k) => new Uint8Array(k),
    string: (k) => new Array<string>(k).fill(''),
  };
  return make[dtype](n);
}

/** A column's values as float64 (bytes multiplied by their scale). */
export function columnToFloat64(c: Column): Float64Array {
  const n = c.data.length;
  const out = new Float64Array(n);
  const d = c.data;
  if (d instanceof BigInt64Array) for (let i = 0; i < n; i++) out[i] = Number(d[i]!);
  else if (c.dtype === 'float16') for (let i = 0; i < n; i++) out[i] = halfToFloat((d as Uint16Array)[i]!);
  else if (Array.isArray(d)) throw new TrainferError(`column '${c.name}' holds text, not numbers`);
  else {
    const s = c.dtype === 'uint8' ? (c.scale ?? 1) : 1;
    for (let i = 0; i < n; i++) out[i] = (d as Float32Array)[i]! * s;
  }
  return out;
}

/** Copies rows `indices` of every column into a new table (the input is not modified). */
export function selectRows(t: Table, indices: ArrayLike<number>, source = t.source): Table {
  const columns = t.columns.map((c) => {
    const s = columnSize(c);
    const data = allocateColumn(c.dtype, indices.length * s);
    if (Array.isArray(data)) {
      const src = c.data as string[];
      for (let i = 0; i < indices.length; i++) for (let k = 0; k < s; k++) data[i * s + k] = src[indices[i]! * s + k]!;
    } else {
      const src = c.data as Float32Array;
      const dst = data as Float32Array;
      for (let i = 0; i < indices.length; i++) {
        const j = indices[i]!;
        if (s === 1) dst[i] = src[j]!;
        else dst.set(src.subarray(j * s, (j + 1) * s), i * s);
      }
    }
    return { ...c, data };
  });
  return { source, count: indices.length, columns };
}

/** The first `n` rows (the table itself when it has no more). */
export function headRows(t: Table, n: number): Table {
  if (n >= t.count) return t;
  return { ...t, count: n, columns: t.columns.map((c) => ({ ...c, data: c.data.slice(0, n * columnSize(c)) })) };
}

/**
 * Splits off a seeded random `fraction` of the rows: `{ rest, held }` (held undefined when the fraction
 * rounds to zero rows). Both keep the original row order.
 */
export function splitRows(t: Table, fraction: number, rng: Rng, heldSource: string): { rest: Table; held?: Table } {
  if (!(fraction >= 0 && fraction < 1)) throw new TrainferError(`split fraction must be in [0, 1), got ${fraction}`);
  const n = Math.round(t.count * fraction);
  if (n === 0) return { rest: t };
  const perm = rng.permutation(t.count);
  const held = perm.subarray(0, n).slice().sort();
  const rest = perm.subarray(n).slice().sort();
  return { rest: selectRows(t, rest), held: selectRows(t, held, heldSource) };
}

/**
 * A content hash of a table (column names, dtypes, shapes, vocabularies and every value): the data
 * identity a checkpoint's fingerprint records, so a resume on different data is refused.
 */
export function tableHash(t: Table): string {
  const h = createHash('sha256');
  h.update(`${t.count}\n`);
  for (const c of t.columns) {
    h.update(`${c.name}|${c.dtype}|${c.shape.join('x')}|${c.scale ?? ''}|${c.vocabulary ? c.vocabulary.join('\u0001') : ''}\n`);
    if (Array.isArray(c.data)) for (const s of c.data) h.update(`${s}\u0000`);
    else h.update(new Uint8Array(c.data.buffer, c.data.byteOffset, c.data.byteLength));
  }
  return h.digest('hex').slice(0, 32);
}

function sumRows(count: number, s: number, sum: Float64Array, sq: Float64Array, at: (idx: number) => number): void {
  for (let i = 0; i < count; i++) {
    for (let k = 0; k < s; k++) {
      const v = at(i * s + k);
      sum[k] += v;
      sq[k] += v * v;
    }
  }
}
function sumBytes(d: Uint8Array, count: number, s: number, scale: number, sum: Float64Array, sq: Float64Array): void {
  for (let i = 0; i < count; i++) {
    for (let k = 0; k < s; k++) {
      const v = d[i * s + k]! * scale;
      sum[k] += v;
      sq[k] += v * v;
    }
  }
}
function sumNumbers(d: Float32Array, count: number, s: number, scale: number, sum: Float64Array, sq: Float64Array): void {
  for (let i = 0; i < count; i++) {
    for (let k = 0; k < s; k++) {
      const v = d[i * s + k]! * scale;
      sum[k] += v;
      sq[k] += v * v;
    }
  }
}

/**
 * Per-element mean and standard deviation of a numeric column over its `count` rows (float64 sums;
 * std ≥ 1e-6). A column with no rows in memory (a stream's schema) uses what the reader saw in the file.
 */
export function columnStats(c: Column, count: number): { mean: Float64Array; std: Float64Array } {
  const s = columnSize(c);
  if (count === 0 && c.facts && s === 1) return { mean: Float64Array.of(c.facts.mean), std: Float64Array.of(Math.max(1e-6, c.facts.std)) };
  const sum = new Float64Array(s);
  const sq = new Float64Array(s);
  const scale = c.dtype === 'uint8' ? (c.scale ?? 1) : 1;
  const d = c.data;
  if (Array.isArray(d)) throw new TrainferError(`column '${c.name}' holds text; it has no mean`);
  // One loop per element type (the type test hoisted out of the per-value loop: ~10× faster on images).
  if (d instanceof BigInt64Array) sumRows(count, s, sum, sq, (idx) => Number(d[idx]!));
  else if (c.dtype === 'float16') sumRows(count, s, sum, sq, (idx) => halfToFloat((d as Uint16Array)[idx]!));
  else if (d instanceof Uint8Array) sumBytes(d, count, s, scale, sum, sq);
  else sumNumbers(d as Float32Array, count, s, scale, sum, sq);
  const mean = new Float64Array(s);
  const std = new Float64Array(s);
  for (let k = 0; k < s; k++) {
    const m = sum[k]! / Math.max(1, count);
    mean[k] = m;
    std[k] = Math.max(1e-6, Math.sqrt(Math.max(0, sq[k]! / Math.max(1, count) - m * m)));
  }
  return { mean, std };
}

/** A one-line description of a column, e.g. `price float32` or `city categorical (12 values)`. */
export function describeColumn(c: Column): string {
  const shape = c.shape.length ? ` [${c.shape.join(', ')}]` : '';
  if (c.kind === 'categorical') return `${c.name} categorical (${c.vocabulary?.length ?? '?'} values)${shape}`;
  if (c.kind === 'text') return `${c.name} text${shape}`;
  return `${c.name} ${c.dtype}${shape}`;
}
