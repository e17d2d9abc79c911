/**
 * Column type detection for text sources (CSV cells, JSONL values): one `ColumnSniffer` per column sees
 * every value once and decides the column's dtype, shape and kind (numeric int64/float32, bool,
 * categorical with a sorted vocabulary, text, fixed-shape arrays), then `encodeValue` writes values with
 * that schema. Mixed columns (one `n/a` among numbers, an empty numeric cell, ragged arrays) are errors
 * naming the line and column, never a silent change of type.
 */
import { FileFormatError } from '../util/errors.js';
import type { ColumnDType, ColumnKind } from './table.js';

/** A type the caller forces on a column (CSV `--column-type name=…`). */
export type ColumnTypeHint = 'float32' | 'int64' | 'bool' | 'categorical' | 'text';

/** Known type hints, for flag parsing. */
export const COLUMN_TYPE_HINTS: readonly ColumnTypeHint[] = ['float32', 'int64', 'bool', 'categorical', 'text'];

/** What a column was detected to be, plus facts later checks use (target analysis). */
export interface ColumnSchema {
  name: string;
  dtype: ColumnDType;
  shape: number[];
  kind: ColumnKind;
  vocabulary?: string[];
  /** Facts about numeric scalar columns. */
  numeric?: NumericFacts;
}

/** Facts about a numeric column gathered while sniffing (used to infer a task from a target column). */
export interface NumericFacts {
  /** Every value is an integer. */
  integral: boolean;
  /** Number of values. */
  values: number;
  /** Values that are not integers: how many, and the first (line, text). */
  nonIntegral: number;
  firstNonIntegral?: { line: number; text: string };
  /** Distinct values, sorted, when there are at most `DISTINCT_CAP` of them (else undefined). */
  distinct?: number[];
  /** Distinct integer values, sorted, when at most `DISTINCT_CAP` (ignores non-integers). */
  distinctIntegers?: number[];
  min: number;
  max: number;
  /** Mean and standard deviation of the values (what a streamed file's standardisation uses). */
  mean: number;
  std: number;
}

/** Distinct values tracked per column (beyond this a column counts as "many valued"). */
export const DISTINCT_CAP = 4096;

const INT_RE = /^[+-]?\d+$/;
const BOOL_WORDS: Record<string, number> = { true: 1, false: 0 };

/** A value as read: CSV cells are strings; JSONL gives numbers, booleans, strings, arrays. */
export type RawValue = string | number | boolean | null | RawValue[];

/** Accumulates one column's values and decides its schema. */
export class ColumnSniffer {
  private rows = 0;
  private numbers = 0;
  private integers = 0;
  private bools = 0;
  private strings = 0;
  private arrays = 0;
  private firstText?: { line: number; text: string };
  private firstEmpty?: number;
  private empties = 0;
  private firstNonIntegral?: { line: number; text: string };
  private nonIntegral = 0;
  private readonly distinct = new Map<string, number>();
  private readonly distinctInts = new Set<number>();
  private distinctOverflow = false;
  private min = Infinity;
  private max = -Infinity;
  private sum = 0;
  private sumSq = 0;
  private spaced = 0;
  private textChars = 0;
  private arrayShape?: number[];
  private arrayInts = true;
  private arrayLine = 0;

  constructor(readonly name: string, readonly file: string, readonly hint?: ColumnTypeHint) {}

  /** Sees one value (`line` is the 1-based line in the file, for messages). */
  add(v: RawValue, line: number): void {
    this.rows++;
    if (Array.isArray(v)) return this.addArray(v, line);
    if (v === null) {
      this.empties++;
      this.firstEmpty ??= line;
      return;
    }
    if (typeof v === 'boolean') {
      this.bools++;
      this.note(v ? 'true' : 'false');
      return;
    }
    const text = typeof v === 'number' ? String(v) : v;
    const t = typeof v === 'number' ? text : text.trim();
    if (t === '') {
      this.empties++;
      this.firstEmpty ??= line;
      this.note('');
      return;
    }
    const num = typeof v === 'number' ? v : Number(t);
    if (Number.isFinite(num) && (typeof v === 'number' || !/^0x/i.test(t))) {
      this.numbers++;
      const isInt = typeof v === 'number' ? Number.isInteger(v) : INT_RE.test(t);
      if (isInt) {
        this.integers++;
        if (this.distinctInts.size <= DISTINCT_CAP) this.distinctInts.add(num);
      } else {
        this.nonIntegral++;
        this.firstNonIntegral ??= { line, text: t };
      }
      if (num < this.min) this.min = num;
      if (num > this.max) this.max = num;
      this.sum += num;
      this.sumSq += num * num;
      this.note(t, num);
      return;
    }
    if (t.toLowerCase() in BOOL_WORDS) {
      this.bools++;
      this.note(t.toLowerCase());
      return;
    }
    this.strings++;
    this.firstText ??= { line, text: t };
    if (/\s/.test(t)) this.spaced++;
    this.textChars += t.length;
    this.note(t);
  }

  private note(key: string, num?: number): void {
    if (this.distinctOverflow) return;
    this.distinct.set(key, num ?? NaN);
    if (this.distinct.size > DISTINCT_CAP) this.distinctOverflow = true;
  }

  private addArray(v: RawValue[], line: number): void {
    this.arrays++;
    const shape: number[] = [];
    let cur: RawValue = v;
    while (Array.isArray(cur)) {
      shape.push(cur.length);
      cur = cur[0] ?? 0;
    }
    if (!this.arrayShape) {
      this.arrayShape = shape;
      this.arrayLine = line;
    } else if (shape.join('x') !== this.arrayShape.join('x')) {
      throw new FileFormatError(this.file, `line ${line}, key '${this.name}': array of shape [${shape.join(', ')}] but line ${this.arrayLine} has [${this.arrayShape.join(', ')}] (arrays must have one fixed shape)`);
    }
    const walk = (x: RawValue): void => {
      if (Array.isArray(x)) {
        for (const e of x) walk(e);
        return;
      }
      if (typeof x === 'boolean') return;
      if (typeof x !== 'number' || !Number.isFinite(x)) throw new FileFormatError(this.file, `line ${line}, key '${this.name}': array element ${JSON.stringify(x)} is not a number`);
      if (!Number.isInteger(x)) this.arrayInts = false;
    };
    walk(v);
  }

  /** The column's schema; throws a one-line error when its values do not form one type. */
  schema(): ColumnSchema {
    const { name, file, hint } = this;
    if (this.arrays > 0) {
      if (this.arrays !== this.rows) throw new FileFormatError(file, `key '${name}': mixes arrays and single values`);
      return { name, dtype: hint === 'float32' || !this.arrayInts ? 'float32' : 'int64', shape: this.arrayShape!, kind: 'numeric' };
    }
    if (hint === 'text') return { name, dtype: 'string', shape: [], kind: 'text' };
    if (hint === 'categorical') return { name, dtype: 'int64', shape: [], kind: 'categorical', vocabulary: this.vocabulary() };
    const nonEmpty = this.rows - this.empties;
    if (hint === 'bool' || (this.bools > 0 && this.bools === nonEmpty && this.rows > 0)) {
      this.requireNoEmpty('booleans');
      const bad = [...this.distinct.keys()].find((k) => !(k in BOOL_WORDS) && k !== '0' && k !== '1');
      if (bad !== undefined) throw new FileFormatError(file, `column '${name}': '${bad}' is not a boolean (true/false/0/1)`);
      return { name, dtype: 'bool', shape: [], kind: 'numeric' };
    }
    const numericShare = nonEmpty > 0 ? this.numbers / nonEmpty : 0;
    if (hint === 'float32' || hint === 'int64' || (this.numbers > 0 && this.strings === 0 && this.bools === 0) || numericShare >= 0.9) {
      if (this.firstText) {
        throw new FileFormatError(file, `line ${this.firstText.line}, column '${name}': '${this.firstText.text}' is not a number (the column's other values are numeric; fix the value, or pass --column-type ${name}=categorical)`);
      }
      if (this.bools > 0) throw new FileFormatError(file, `column '${name}': mixes numbers and true/false`);
      this.requireNoEmpty('numbers');
      if (hint === 'int64' && this.firstNonIntegral) {
        throw new FileFormatError(file, `line ${this.firstNonIntegral.line}, column '${name}': '${this.firstNonIntegral.text}' is not an integer`);
      }
      const integral = this.nonIntegral === 0;
      const dtype: ColumnDType = hint === 'float32' ? 'float32' : integral ? 'int64' : 'float32';
      const distinct = this.distinctOverflow ? undefined : [...this.distinct.values()].sort((a, b) => a - b);
      const distinctIntegers = this.distinctInts.size > DISTINCT_CAP ? undefined : [...this.distinctInts].sort((a, b) => a - b);
      return { name, dtype, shape: [], kind: 'numeric', numeric: { integral, values: this.numbers, nonIntegral: this.nonIntegral, firstNonIntegral: this.firstNonIntegral, distinct, distinctIntegers, min: this.min, max: this.max, ...meanStd(this.sum, this.sumSq, this.numbers) } };
    }
    if (this.strings === 0) throw new FileFormatError(file, `column '${name}' has no values`);
    const text = this.spaced * 2 >= this.strings || this.textChars / this.strings > 30;
    if (text) return { name, dtype: 'string', shape: [], kind: 'text' };
    if (this.distinctOverflow) {
      throw new FileFormatError(file, `column '${name}' has more than ${DISTINCT_CAP} distinct values; pass --column-type ${name}=text (free text) or ${name}=categorical`);
    }
    return { name, dtype: 'int64', shape: [], kind: 'categorical', vocabulary: this.vocabulary() };
  }

  private requireNoEmpty(what: string): void {
    if (this.firstEmpty !== undefined) {
      throw new FileFormatError(this.file, `line ${this.firstEmpty}, column '${this.name}': empty value in a column of ${what} (missing values are not supported: fill them or drop the rows)`);
    }
  }

  /** Distinct values, sorted numerically when all are numbers, else as strings. */
  private vocabulary(): string[] {
    if (this.distinctOverflow) throw new FileFormatError(this.file, `column '${this.name}' has more than ${DISTINCT_CAP} distinct values, too many for a categorical column`);
    return sortVocabulary([...this.distinct.keys()]);
  }
}

function meanStd(sum: number, sumSq: number, n: number): { mean: number; std: number } {
  const mean = sum / Math.max(1, n);
  return { mean, std: Math.sqrt(Math.max(0, sumSq / Math.max(1, n) - mean * mean)) };
}

/** Sorts category names: numerically when every name is a number, otherwise by code unit. */
export function sortVocabulary(names: readonly string[]): string[] {
  const allNum = names.length > 0 && names.every((n) => n.trim() !== '' && Number.isFinite(Number(n)));
  return allNum ? [...names].sort((a, b) => Number(a) - Number(b)) : [...names].sort();
}

/** Writes `v` at `data[k]` with the column's schema; `index` maps categories to ids (unknown → `index.size`). */
export function encodeScalar(s: ColumnSchema, v: RawValue, data: unknown, k: number, index: Map<string, number> | undefined, where: () => string): void {
  if (Array.isArray(v)) throw new FileFormatError(where(), `column '${s.name}' holds single values, found an array`);
  const text = v === null ? '' : typeof v === 'string' ? v.trim() : String(v);
  switch (s.dtype) {
    case 'float32': {
      const n = typeof v === 'number' ? v : Number(text);
      if (text === '' || !Number.isFinite(n)) throw new FileFormatError(where(), `column '${s.name}': '${text}' is not a number`);
      (data as Float32Array)[k] = n;
      return;
    }
    case 'bool': {
      const low = text.toLowerCase();
      const b = low in BOOL_WORDS ? BOOL_WORDS[low]! : low === '1' ? 1 : low === '0' ? 0 : NaN;
      if (Number.isNaN(b)) throw new FileFormatError(where(), `column '${s.name}': '${text}' is not a boolean`);
      (data as Uint8Array)[k] = b;
      return;
    }
    case 'int64': {
      if (s.kind === 'categorical') {
        const id = index!.get(text);
        (data as BigInt64Array)[k] = BigInt(id ?? index!.size);
        return;
      }
      if (typeof v === 'number' ? !Number.isInteger(v) : !INT_RE.test(text)) throw new FileFormatError(where(), `column '${s.name}': '${text}' is not an integer`);
      (data as BigInt64Array)[k] = BigInt(text);
      return;
    }
    case 'string':
      (data as string[])[k] = typeof v === 'string' ? v : text;
      return;
    default:
      throw new FileFormatError(where(), `column '${s.name}': cannot read ${s.dtype} from text`);
  }
}

/** Writes a (nested) array value flat at `data[k…]`. */
export function encodeArray(s: ColumnSchema, v: RawValue, data: unknown, k: number, where: () => string): void {
  let i = k;
  const size = s.shape.reduce((a, b) => a * b, 1);
  const walk = (x: RawValue): void => {
    if (Array.isArray(x)) {
      for (const e of x) walk(e);
      return;
    }
    const n = typeof x === 'boolean' ? (x ? 1 : 0) : Number(x);
    if (s.dtype === 'int64') (data as BigInt64Array)[i++] = BigInt(n);
    else (data as Float32Array)[i++] = n;
  };
  if (!Array.isArray(v)) throw new FileFormatError(where(), `column '${s.name}' holds arrays of shape [${s.shape.join(', ')}], found ${JSON.stringify(v)}`);
  walk(v);
  if (i - k !== size) throw new FileFormatError(where(), `column '${s.name}': array has ${i - k} values, expected [${s.shape.join(', ')}]`);
}

/** The id index of a categorical schema's vocabulary. */
export function vocabularyIndex(s: ColumnSchema): Map<string, number> | undefined {
  return s.vocabulary ? new Map(s.vocabulary.map((n, i) => [n, i])) : undefined;
}
