/**
 * Tensors as JSON `data`, in both directions, losslessly. JSON numbers cannot carry NaN/±Inf or
 * 64-bit integers beyond ±2^53, so — as the proto3 JSON mapping does — those travel as strings:
 * `"NaN"`, `"Infinity"`, `"-Infinity"` for floats and decimal strings (`"9007199254740993"`) for
 * INT64/UINT64. Outputs use the strings only where a number would be wrong; inputs accept both, and a
 * JSON number beyond ±2^53 for a 64-bit integer is refused (it was already rounded by the parser).
 * `data` is flat (row-major) or nested exactly to the shape: ragged nesting is refused, and the walk is
 * iterative, so no nesting depth can overflow the stack.
 */
import { type TypedArray, allocate, floatToHalf } from '../onnx/dtype.js';
import { Tensor, sizeOf } from '../onnx/tensor.js';
import { badRequest } from './errors.js';
import { DATATYPES, type ServedDType } from './datatypes.js';

const INT_RANGE = {
  uint8: [0, 255], int8: [-128, 127], uint16: [0, 65535], int16: [-32768, 32767],
  uint32: [0, 4294967295], int32: [-2147483648, 2147483647],
} as const satisfies Record<string, readonly [number, number]>;
const BIG_RANGE = { int64: [-(2n ** 63n), 2n ** 63n - 1n], uint64: [0n, 2n ** 64n - 1n] } as const;
const SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const NON_FINITE: Readonly<Record<string, number>> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };

/** A short, safe description of a JSON value for error messages (never serialises nested values). */
export function preview(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return JSON.stringify(v.length > 32 ? `${v.slice(0, 32)}…` : v);
  return String(v);
}

/**
 * The elements of JSON `data` for a tensor of `shape`: `data` itself when flat, else the leaves of a
 * nesting that matches `shape` level by level. Throws 400s naming the input and where it went wrong.
 */
export function jsonElements(name: string, shape: readonly number[], data: unknown): unknown[] {
  const n = sizeOf(shape);
  if (!Array.isArray(data)) {
    if (n === 1) return [data];
    throw badRequest(`input '${name}': 'data' must be an array`);
  }
  const nested = data.length > 0 && Array.isArray(data[0]);
  if (!nested) {
    if (data.length !== n) throw badRequest(`input '${name}': shape [${shape.join(', ')}] needs ${n} elements, 'data' has ${data.length}`);
    return data;
  }
  const rank = shape.length;
  const ragged = (path: number[], got: string, want: string) =>
    badRequest(`input '${name}': 'data' is nested but does not match shape [${shape.join(', ')}]: data${path.map((i) => `[${i}]`).join('')} ${got}, expected ${want}`);
  if (rank < 2) throw ragged([0], 'is an array', 'a value');
  if (data.length !== shape[0]) throw ragged([], `has ${data.length} elements`, `${shape[0]}`);
  const out = new Array<unknown>(n);
  let k = 0;
  // Iterative depth-first walk; the stack never grows past the tensor's rank.
  const arrays: unknown[][] = [data];
  const index: number[] = [0];
  while (arrays.length > 0) {
    const d = arrays.length - 1;
    const a = arrays[d]!;
    const i = index[d]!;
    if (i === a.length) {
      arrays.pop();
      index.pop();
      continue;
    }
    index[d] = i + 1;
    const v = a[i];
    if (d === rank - 1) {
      if (Array.isArray(v)) throw ragged([...index.slice(0, d).map((x) => x - 1), i], 'is an array', 'a value');
      out[k++] = v;
    } else {
      if (!Array.isArray(v)) throw ragged([...index.slice(0, d).map((x) => x - 1), i], `is ${preview(v)}`, `an array of ${shape[d + 1]}`);
      if (v.length !== shape[d + 1]) throw ragged([...index.slice(0, d).map((x) => x - 1), i], `has ${v.length} elements`, `${shape[d + 1]}`);
      arrays.push(v);
      index.push(0);
    }
  }
  return out;
}

/** Decodes JSON `data` (flat or nested) of `dtype` into a tensor of `shape`. Errors are 400s. */
export function tensorFromJson(name: string, dtype: ServedDType, shape: readonly number[], data: unknown): Tensor {
  const flat = jsonElements(name, shape, data);
  const n = flat.length;
  const what = DATATYPES[dtype];
  const bad = (i: number, want: string) => badRequest(`input '${name}': element ${i} (${preview(flat[i])}) is not ${want} for ${what}`);
  if (dtype === 'string') {
    for (let i = 0; i < n; i++) {
      const v = flat[i];
      if (typeof v !== 'string') throw bad(i, 'a string');
      // onnxruntime carries strings as UTF-8: a lone surrogate would silently become U+FFFD.
      if (!(v as unknown as { isWellFormed(): boolean }).isWellFormed()) throw bad(i, 'well-formed Unicode (it has a lone surrogate)');
      if (v.includes('\u0000')) throw bad(i, 'a string without NUL characters (onnxruntime would cut it there)');
    }
    return new Tensor('string', shape, flat as string[]);
  }
  const out = allocate(dtype, n) as TypedArray;
  if (dtype === 'bool') {
    for (let i = 0; i < n; i++) {
      const v = flat[i];
      if (typeof v !== 'boolean') throw bad(i, 'true or false');
      out[i] = v ? 1 : 0;
    }
  } else if (dtype === 'float16' || dtype === 'bfloat16' || dtype === 'float32' || dtype === 'float64') {
    const conv = dtype === 'float16' ? floatToHalf : dtype === 'bfloat16' ? floatToBf16 : undefined;
    for (let i = 0; i < n; i++) {
      let v = flat[i];
      if (typeof v !== 'number') {
        if (typeof v !== 'string' || !(v in NON_FINITE)) throw bad(i, 'a number (or "NaN", "Infinity", "-Infinity")');
        v = NON_FINITE[v]!;
      }
      out[i] = conv ? conv(v as number) : (v as number);
    }
  } else if (dtype === 'int64' || dtype === 'uint64') {
    const [lo, hi] = BIG_RANGE[dtype];
    const big = out as BigInt64Array | BigUint64Array;
    for (let i = 0; i < n; i++) {
      const v = flat[i];
      let b: bigint;
      if (typeof v === 'number') {
        if (!Number.isInteger(v)) throw bad(i, 'an integer');
        if (!Number.isSafeInteger(v)) {
          throw badRequest(`input '${name}': element ${i} (${v}) of ${what} is beyond ±2^53, where JSON numbers are not exact; send such values as decimal strings ("9007199254740993") or in binary`);
        }
        b = BigInt(v);
      } else if (typeof v === 'string' && /^-?[0-9]{1,20}$/.test(v)) {
        b = BigInt(v);
      } else {
        throw bad(i, 'an integer (or a decimal string)');
      }
      if (b < lo || b > hi) throw bad(i, 'an integer in range');
      big[i] = b;
    }
  } else {
    const [lo, hi] = INT_RANGE[dtype];
    for (let i = 0; i < n; i++) {
      const v = flat[i];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw bad(i, 'an integer in range');
      out[i] = v;
    }
  }
  return new Tensor(dtype, shape, out);
}

/**
 * Elements of a tensor as JSON values: numbers, booleans for BOOL, strings for BYTES; NaN/±Inf as
 * `"NaN"`/`"Infinity"`/`"-Infinity"`, 64-bit integers beyond ±2^53 as decimal strings.
 */
export function tensorToJson(t: Tensor): unknown[] {
  const d = t.data;
  if (Array.isArray(d)) return d;
  switch (t.dtype) {
    case 'bool':
      return Array.from(d as Uint8Array, (v) => v !== 0);
    case 'int64':
    case 'uint64':
      return Array.from(d as BigInt64Array, (v) => (v >= -SAFE && v <= SAFE ? Number(v) : v.toString()));
    case 'float32':
    case 'float64':
      return nonFiniteAsStrings(Array.from(d as Float32Array));
    case 'float16':
    case 'bfloat16':
      return nonFiniteAsStrings(t.toNumbers());
    default:
      return Array.from(d as ArrayLike<number>);
  }
}

function nonFiniteAsStrings(a: (number | string)[]): (number | string)[] {
  for (let i = 0; i < a.length; i++) {
    const v = a[i] as number;
    if (!Number.isFinite(v)) a[i] = Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
  }
  return a;
}

const bf = new Float32Array(1);
const bfBits = new Uint32Array(bf.buffer);
/** float → bfloat16 bits, rounding to nearest even (NaN stays NaN). */
export function floatToBf16(v: number): number {
  bf[0] = v;
  const x = bfBits[0]!;
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return (x >>> 16) | 0x40;
  return (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
}
