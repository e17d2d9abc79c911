/**
 * Element types: our names (as onnxruntime-node spells them), the ONNX enum values, byte sizes and the
 * typed arrays that hold them. One static table; every other module asks here.
 */

/** Element types Trainfer names. Names follow onnxruntime-node's `Tensor.Type`. */
export type DType =
  | 'float32'
  | 'uint8'
  | 'int8'
  | 'uint16'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'string'
  | 'bool'
  | 'float16'
  | 'float64'
  | 'uint32'
  | 'uint64'
  | 'complex64'
  | 'complex128'
  | 'bfloat16'
  | 'float8e4m3fn'
  | 'float8e4m3fnuz'
  | 'float8e5m2'
  | 'float8e5m2fnuz'
  | 'uint4'
  | 'int4'
  | 'float4e2m1';

/** A typed array holding tensor elements (strings use `string[]`). */
export type TypedArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

interface DTypeInfo {
  /** ONNX TensorProto.DataType value. */
  readonly onnx: number;
  /** Bits per element (0 for strings). */
  readonly bits: number;
  /** Typed array that stores elements in memory (sub-byte and 8-bit floats use Uint8Array). */
  readonly array: 'Float32Array' | 'Float64Array' | 'Int8Array' | 'Uint8Array' | 'Int16Array' | 'Uint16Array' | 'Int32Array' | 'Uint32Array' | 'BigInt64Array' | 'BigUint64Array' | 'string';
}

/** The dtype table. `satisfies` keeps it exhaustive over `DType`. */
export const DTYPES = {
  float32: { onnx: 1, bits: 32, array: 'Float32Array' },
  uint8: { onnx: 2, bits: 8, array: 'Uint8Array' },
  int8: { onnx: 3, bits: 8, array: 'Int8Array' },
  uint16: { onnx: 4, bits: 16, array: 'Uint16Array' },
  int16: { onnx: 5, bits: 16, array: 'Int16Array' },
  int32: { onnx: 6, bits: 32, array: 'Int32Array' },
  int64: { onnx: 7, bits: 64, array: 'BigInt64Array' },
  string: { onnx: 8, bits: 0, array: 'string' },
  bool: { onnx: 9, bits: 8, array: 'Uint8Array' },
  float16: { onnx: 10, bits: 16, array: 'Uint16Array' },
  float64: { onnx: 11, bits: 64, array: 'Float64Array' },
  uint32: { onnx: 12, bits: 32, array: 'Uint32Array' },
  uint64: { onnx: 13, bits: 64, array: 'BigUint64Array' },
  complex64: { onnx: 14, bits: 64, array: 'Float32Array' },
  complex128: { onnx: 15, bits: 128, array: 'Float64Array' },
  bfloat16: { onnx: 16, bits: 16, array: 'Uint16Array' },
  float8e4m3fn: { onnx: 17, bits: 8, array: 'Uint8Array' },
  float8e4m3fnuz: { onnx: 18, bits: 8, array: 'Uint8Array' },
  float8e5m2: { onnx: 19, bits: 8, array: 'Uint8Array' },
  float8e5m2fnuz: { onnx: 20, bits: 8, array: 'Uint8Array' },
  uint4: { onnx: 21, bits: 4, array: 'Uint8Array' },
  int4: { onnx: 22, bits: 4, array: 'Uint8Array' },
  float4e2m1: { onnx: 23, bits: 4, array: 'Uint8Array' },
} as const satisfies Record<DType, DTypeInfo>;

const BY_ONNX = new Map<number, DType>(Object.entries(DTYPES).map(([k, v]) => [v.onnx, k as DType]));

/** ONNX enum value → dtype name; undefined for unknown values. */
export function dtypeFromOnnx(value: number): DType | undefined {
  return BY_ONNX.get(value);
}

/** dtype name → ONNX enum value. */
export function dtypeToOnnx(dtype: DType): number {
  return DTYPES[dtype].onnx;
}

/** True when `s` is a dtype name. */
export function isDType(s: string): s is DType {
  return Object.prototype.hasOwnProperty.call(DTYPES, s);
}

/** Bytes needed to store `count` elements (sub-byte types pack two per byte). */
export function byteLength(dtype: DType, count: number): number {
  return Math.ceil((DTYPES[dtype].bits * count) / 8);
}

/** Number of typed-array slots for `count` elements (int4 packs two per byte; complex is two floats). */
export function storageLength(dtype: DType, count: number): number {
  if (DTYPES[dtype].bits === 4) return Math.ceil(count / 2);
  if (dtype === 'complex64' || dtype === 'complex128') return count * 2;
  return count;
}

/** Allocates zeroed storage for `count` elements. */
export function allocate(dtype: DType, count: number): TypedArray | string[] {
  const len = storageLength(dtype, count);
  switch (DTYPES[dtype].array) {
    case 'Float32Array': return new Float32Array(len);
    case 'Float64Array': return new Float64Array(len);
    case 'Int8Array': return new Int8Array(len);
    case 'Uint8Array': return new Uint8Array(len);
    case 'Int16Array': return new Int16Array(len);
    case 'Uint16Array': return new Uint16Array(len);
    case 'Int32Array': return new Int32Array(len);
    case 'Uint32Array': return new Uint32Array(len);
    case 'BigInt64Array': return new BigInt64Array(len);
    case 'BigUint64Array': return new BigUint64Array(len);
    case 'string': return new Array<string>(len).fill('');
  }
}

/** Views `bytes` (little-endian) as the dtype's typed array, copying only when misaligned. */
export function viewBytes(dtype: DType, bytes: Uint8Array, count: number): TypedArray {
  const kind = DTYPES[dtype].array;
  if (kind === 'string') throw new Error('string tensors have no byte view');
  const len = storageLength(dtype, count);
  const bpe = kind === 'Uint8Array' || kind === 'Int8Array' ? 1 : kind.includes('16') ? 2 : kind.includes('64') ? 8 : 4;
  const need = len * bpe;
  if (bytes.byteLength < need) throw new RangeError(`expected ${need} bytes of ${dtype} data, found ${bytes.byteLength}`);
  let buf = bytes.buffer;
  let off = bytes.byteOffset;
  if (off % bpe !== 0) {
    const copy = new Uint8Array(need);
    copy.set(bytes.subarray(0, need));
    buf = copy.buffer;
    off = 0;
  }
  switch (kind) {
    case 'Float32Array': return new Float32Array(buf, off, len);
    case 'Float64Array': return new Float64Array(buf, off, len);
    case 'Int8Array': return new Int8Array(buf, off, len);
    case 'Uint8Array': return new Uint8Array(buf, off, len);
    case 'Int16Array': return new Int16Array(buf, off, len);
    case 'Uint16Array': return new Uint16Array(buf, off, len);
    case 'Int32Array': return new Int32Array(buf, off, len);
    case 'Uint32Array': return new Uint32Array(buf, off, len);
    case 'BigInt64Array': return new BigInt64Array(buf, off, len);
    case 'BigUint64Array': return new BigUint64Array(buf, off, len);
  }
}

/** True for the float element types (those a gradient can flow through). */
export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64' || dtype === 'float16' || dtype === 'bfloat16';
}

/** Converts an IEEE half (as uint16 bits) to a number. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** Converts a number to IEEE half bits, rounding to nearest even. */
export function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}
