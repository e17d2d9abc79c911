/**
 * `Tensor`: a named, typed, shaped block of elements — what initializers, constants and runtime feeds are.
 * Conversion to and from ONNX `TensorProto` (raw, typed fields and external data) lives here too.
 */
import { create } from '@bufbuild/protobuf';
import { type TensorProto, TensorProtoSchema, TensorProto_DataLocation } from './gen/onnx_pb.js';
import { type DType, type TypedArray, allocate, dtypeFromOnnx, dtypeToOnnx, halfToFloat, storageLength, viewBytes, DTYPES } from './dtype.js';

/** A dense tensor. `data` length is `storageLength(dtype, size)`; int4/uint4 are packed two per byte. */
export class Tensor {
  readonly dtype: DType;
  readonly dims: readonly number[];
  readonly data: TypedArray | string[];

  constructor(dtype: DType, dims: readonly number[], data?: TypedArray | string[]) {
    for (const d of dims) {
      if (!Number.isInteger(d) || d < 0) throw new RangeError(`tensor dims must be non-negative integers, got [${dims.join(', ')}]`);
    }
    this.dtype = dtype;
    this.dims = [...dims];
    const n = sizeOf(dims);
    this.data = data ?? allocate(dtype, n);
    const want = storageLength(dtype, n);
    if (this.data.length !== want) {
      throw new RangeError(`${dtype} tensor of shape [${dims.join(', ')}] needs ${want} elements, got ${this.data.length}`);
    }
  }

  /** Number of elements. */
  get size(): number {
    return sizeOf(this.dims);
  }

  /** Bytes the elements occupy. */
  get byteLength(): number {
    return Array.isArray(this.data) ? this.data.reduce((s, x) => s + Buffer.byteLength(x), 0) : this.data.byteLength;
  }

  /** Elements as plain numbers (int64 via Number; float16/bfloat16 decoded). */
  toNumbers(): number[] {
    if (Array.isArray(this.data)) throw new TypeError('string tensor has no numeric values');
    if (this.dtype === 'float16') {
      return Array.from(this.data as Uint16Array, (h) => halfToFloat(h));
    }
    if (this.dtype === 'bfloat16') {
      const out = new Float32Array(this.data.length);
      const bits = new Uint32Array(out.buffer);
      (this.data as Uint16Array).forEach((h, i) => (bits[i] = h << 16));
      return Array.from(out);
    }
    return Array.from(this.data as ArrayLike<number | bigint>, (x) => Number(x));
  }

  /** A deep copy (never shares storage with this tensor). */
  clone(): Tensor {
    const data = Array.isArray(this.data) ? [...this.data] : this.data.slice();
    return new Tensor(this.dtype, this.dims, data);
  }

  /** float32 tensor from numbers. */
  static f32(dims: readonly number[], values: ArrayLike<number>): Tensor {
    return new Tensor('float32', dims, Float32Array.from(values));
  }
  /** float64 tensor from numbers. */
  static f64(dims: readonly number[], values: ArrayLike<number>): Tensor {
    return new Tensor('float64', dims, Float64Array.from(values));
  }
  /** int64 tensor from numbers. */
  static i64(dims: readonly number[], values: ArrayLike<number | bigint>): Tensor {
    return new Tensor('int64', dims, BigInt64Array.from(Array.from(values, (v) => BigInt(v))));
  }
  /** int32 tensor from numbers. */
  static i32(dims: readonly number[], values: ArrayLike<number>): Tensor {
    return new Tensor('int32', dims, Int32Array.from(values));
  }
  /** A scalar (rank 0) of the given dtype. */
  static scalar(dtype: DType, value: number): Tensor {
    const t = new Tensor(dtype, []);
    (t.data as TypedArray)[0] = (DTYPES[dtype].array.startsWith('Big') ? BigInt(value) : value) as never;
    return t;
  }
}

/** Product of dims (1 for a scalar). */
export function sizeOf(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** Loads external data bytes for a tensor: `(location, offset, length) → bytes`. */
export type ExternalDataLoader = (location: string, offset: number, length: number | undefined) => Uint8Array;

/**
 * Decodes a `TensorProto` into a `Tensor`. Raw data is viewed without copying when aligned.
 * Throws a plain `Error` with the reason; callers add the file and tensor name.
 */
export function tensorFromProto(p: TensorProto, loadExternal?: ExternalDataLoader): Tensor {
  const dtype = dtypeFromOnnx(p.dataType);
  if (dtype === undefined) throw new Error(`unknown data_type ${p.dataType}`);
  const dims = p.dims.map((d) => {
    const n = Number(d);
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`invalid dim ${d}`);
    return n;
  });
  const count = sizeOf(dims);
  if (count > 2 ** 31) throw new Error(`tensor of ${count} elements is too large`);
  if (p.dataLocation === TensorProto_DataLocation.EXTERNAL) {
    if (!loadExternal) throw new Error('tensor data is external but no model directory is known');
    const kv = new Map(p.externalData.map((e) => [e.key, e.value]));
    const location = kv.get('location');
    if (!location) throw new Error('external data has no location');
    const offset = Number(kv.get('offset') ?? 0);
    const lengthStr = kv.get('length');
    const length = lengthStr === undefined ? undefined : Number(lengthStr);
    if (!Number.isSafeInteger(offset) || offset < 0 || (length !== undefined && (!Number.isSafeInteger(length) || length < 0))) {
      throw new Error(`external data offset/length is invalid`);
    }
    const bytes = loadExternal(location, offset, length);
    return new Tensor(dtype, dims, viewBytes(dtype, bytes, count));
  }
  if (dtype === 'string') {
    if (p.stringData.length !== count) throw new Error(`expected ${count} strings, found ${p.stringData.length}`);
    const dec = new TextDecoder();
    return new Tensor(dtype, dims, p.stringData.map((b) => dec.decode(b)));
  }
  if (p.rawData.byteLength > 0 || typedFieldLength(p) === 0) {
    if (count === 0) return new Tensor(dtype, dims);
    return new Tensor(dtype, dims, viewBytes(dtype, p.rawData, count));
  }
  const src: ArrayLike<number | bigint> =
    p.floatData.length ? p.floatData : p.int32Data.length ? p.int32Data : p.int64Data.length ? p.int64Data : p.doubleData.length ? p.doubleData : p.uint64Data;
  // Check before allocating: a corrupt file must not make us allocate what its dims claim.
  const want = storageLength(dtype, count);
  if (src.length !== want) throw new Error(`expected ${want} values, found ${src.length}`);
  const out = allocate(dtype, count) as TypedArray;
  const big = out instanceof BigInt64Array || out instanceof BigUint64Array;
  for (let i = 0; i < out.length; i++) {
    const v = src[i]!;
    (out as unknown as (number | bigint)[])[i] = big ? BigInt(v) : Number(v);
  }
  return new Tensor(dtype, dims, out);
}

function typedFieldLength(p: TensorProto): number {
  return p.floatData.length + p.int32Data.length + p.int64Data.length + p.doubleData.length + p.uint64Data.length + p.stringData.length;
}

/** Encodes a tensor as a `TensorProto` with `raw_data` (strings use `string_data`). */
export function tensorToProto(t: Tensor, name = ''): TensorProto {
  const p = create(TensorProtoSchema, { name, dims: t.dims.map((d) => BigInt(d)), dataType: dtypeToOnnx(t.dtype) });
  if (Array.isArray(t.data)) {
    const enc = new TextEncoder();
    p.stringData = t.data.map((s) => enc.encode(s));
  } else {
    p.rawData = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  }
  return p;
}
