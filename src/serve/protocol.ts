/**
 * Open Inference Protocol (KServe v2) tensors: datatype names, JSON `data` (flat or nested) and the
 * binary tensor data extension (little-endian, row major; BOOL one byte; BYTES 4-byte length + bytes),
 * in both directions. Shared by the server and the client.
 */
import { type DType, type TypedArray, allocate, floatToHalf } from '../onnx/dtype.js';
import { Tensor, sizeOf } from '../onnx/tensor.js';
import { badRequest } from './errors.js';

/** Protocol datatype names, by our dtype. */
export const DATATYPES = {
  bool: 'BOOL',
  uint8: 'UINT8',
  uint16: 'UINT16',
  uint32: 'UINT32',
  uint64: 'UINT64',
  int8: 'INT8',
  int16: 'INT16',
  int32: 'INT32',
  int64: 'INT64',
  float16: 'FP16',
  float32: 'FP32',
  float64: 'FP64',
  bfloat16: 'BF16',
  string: 'BYTES',
} as const satisfies Partial<Record<DType, string>>;

/** A protocol datatype name (`FP32`, `INT64`, `BYTES`, …). */
export type Datatype = (typeof DATATYPES)[keyof typeof DATATYPES];
type ServedDType = keyof typeof DATATYPES;

const BY_NAME = new Map<string, ServedDType>(Object.entries(DATATYPES).map(([k, v]) => [v, k as ServedDType]));

/** Protocol name for a dtype, or undefined when the protocol has none (complex, float8, int4). */
export function datatypeOf(dtype: DType): Datatype | undefined {
  return (DATATYPES as Partial<Record<DType, Datatype>>)[dtype];
}

/** Our dtype for a protocol name, or undefined. */
export function dtypeOf(datatype: string): ServedDType | undefined {
  return BY_NAME.get(datatype);
}

/** Tensor parameters in requests and responses. */
export type Parameters = Record<string, string | number | boolean>;

/** `$request_input` */
export interface RequestInput {
  name: string;
  shape: number[];
  datatype: string;
  parameters?: Parameters;
  data?: unknown;
}

/** `$request_output` */
export interface RequestOutput {
  name: string;
  parameters?: Parameters;
}

/** `$inference_request` */
export interface InferRequest {
  id?: string;
  parameters?: Parameters;
  inputs: RequestInput[];
  outputs?: RequestOutput[];
}

/** `$response_output` */
export interface ResponseOutput {
  name: string;
  shape: number[];
  datatype: string;
  parameters?: Parameters;
  data?: unknown[];
}

/** `$inference_response` */
export interface InferResponse {
  model_name: string;
  model_version?: string;
  id?: string;
  parameters?: Parameters;
  outputs: ResponseOutput[];
}

/** Splits a body into its JSON header and binary part (`Inference-Header-Content-Length`). */
export function splitBody(body: Uint8Array, headerLength: string | undefined): { json: Uint8Array; binary: Uint8Array } {
  if (headerLength === undefined) return { json: body, binary: body.subarray(body.length) };
  const n = Number(headerLength);
  if (!Number.isSafeInteger(n) || n < 0 || n > body.length) {
    throw badRequest(`Inference-Header-Content-Length ${headerLength} is not an integer between 0 and the body size ${body.length}`);
  }
  return { json: body.subarray(0, n), binary: body.subarray(n) };
}

/** Parses JSON bytes; a syntax error becomes a 400 naming the problem. */
export function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (err) {
    throw badRequest(`malformed JSON: ${(err as Error).message}`);
  }
}

/**
 * Checks an inference request's structure and decodes every input into a `Tensor` (binary sections
 * are consumed in input order). Errors are 400s naming the input and the reason.
 */
export function decodeInferRequest(body: unknown, binary: Uint8Array): { request: InferRequest; tensors: Map<string, Tensor> } {
  if (!isObject(body)) throw badRequest('inference request must be a JSON object');
  if (body.id !== undefined && typeof body.id !== 'string') throw badRequest("'id' must be a string");
  if (body.parameters !== undefined && !isObject(body.parameters)) throw badRequest("'parameters' must be an object");
  if (!Array.isArray(body.inputs) || body.inputs.length === 0) throw badRequest("'inputs' must be a non-empty array");
  if (body.outputs !== undefined) {
    if (!Array.isArray(body.outputs)) throw badRequest("'outputs' must be an array");
    for (const o of body.outputs) {
      if (!isObject(o) || typeof o.name !== 'string') throw badRequest("each of 'outputs' needs a string 'name'");
      if (o.parameters !== undefined && !isObject(o.parameters)) throw badRequest(`output '${o.name}': 'parameters' must be an object`);
    }
  }
  const tensors = new Map<string, Tensor>();
  let offset = 0;
  for (const raw of body.inputs as unknown[]) {
    if (!isObject(raw) || typeof raw.name !== 'string') throw badRequest("each of 'inputs' needs a string 'name'");
    const name = raw.name;
    if (tensors.has(name)) throw badRequest(`input '${name}' appears twice`);
    if (typeof raw.datatype !== 'string') throw badRequest(`input '${name}': 'datatype' must be a string`);
    if (!Array.isArray(raw.shape) || !raw.shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      throw badRequest(`input '${name}': 'shape' must be an array of non-negative integers`);
    }
    if (raw.parameters !== undefined && !isObject(raw.parameters)) throw badRequest(`input '${name}': 'parameters' must be an object`);
    const dtype = dtypeOf(raw.datatype);
    if (!dtype) throw badRequest(`input '${name}': unknown datatype '${raw.datatype}'`);
    const shape = raw.shape as number[];
    const size = (raw.parameters as Parameters | undefined)?.binary_data_size;
    if (size !== undefined) {
      if (!Number.isSafeInteger(size) || (size as number) < 0) throw badRequest(`input '${name}': binary_data_size must be a non-negative integer`);
      if (raw.data !== undefined) throw badRequest(`input '${name}': has both 'data' and binary_data_size`);
      const end = offset + (size as number);
      if (end > binary.length) throw badRequest(`input '${name}': binary_data_size ${size} runs past the end of the body (${binary.length - offset} bytes left)`);
      tensors.set(name, tensorFromBinary(name, dtype, shape, binary.subarray(offset, end)));
      offset = end;
    } else {
      if (raw.data === undefined) throw badRequest(`input '${name}': no 'data' and no binary_data_size`);
      tensors.set(name, tensorFromJson(name, dtype, shape, raw.data));
    }
  }
  if (offset !== binary.length) throw badRequest(`body has ${binary.length - offset} bytes of binary data that no input claims`);
  return { request: body as unknown as InferRequest, tensors };
}

/** Decodes JSON `data` (flat or nested) of `datatype` into a tensor of `shape`. */
export function tensorFromJson(name: string, dtype: ServedDType, shape: number[], data: unknown): Tensor {
  const flat = flatten(data);
  const n = sizeOf(shape);
  if (flat.length !== n) throw badRequest(`input '${name}': shape [${shape.join(', ')}] needs ${n} elements, 'data' has ${flat.length}`);
  const what = DATATYPES[dtype];
  const bad = (i: number, want: string) => badRequest(`input '${name}': element ${i} (${JSON.stringify(flat[i])}) is not ${want} for ${what}`);
  if (dtype === 'string') {
    for (let i = 0; i < n; i++) if (typeof flat[i] !== 'string') throw bad(i, 'a string');
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
    const conv = dtype === 'float16' ? floatToHalf : dtype === 'bfloat16' ? floatToBf16 : (v: number) => v;
    for (let i = 0; i < n; i++) {
      const v = flat[i];
      if (typeof v !== 'number') throw bad(i, 'a number');
      out[i] = conv(v);
    }
  } else {
    const [lo, hi] = INT_RANGE[dtype];
    const big = dtype === 'int64' || dtype === 'uint64';
    for (let i = 0; i < n; i++) {
      const v = flat[i];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw bad(i, 'an integer in range');
      (out as unknown as (number | bigint)[])[i] = big ? BigInt(v) : v;
    }
  }
  return new Tensor(dtype, shape, out);
}

const INT_RANGE = {
  uint8: [0, 255], int8: [-128, 127], uint16: [0, 65535], int16: [-32768, 32767],
  uint32: [0, 4294967295], int32: [-2147483648, 2147483647],
  int64: [-Number.MAX_VALUE, Number.MAX_VALUE], uint64: [0, Number.MAX_VALUE],
} as const satisfies Record<string, readonly [number, number]>;

/** Decodes binary tensor bytes. The result never shares memory with `bytes`. */
export function tensorFromBinary(name: string, dtype: ServedDType, shape: number[], bytes: Uint8Array): Tensor {
  const n = sizeOf(shape);
  if (dtype === 'string') {
    const out: string[] = [];
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let p = 0;
    while (p < bytes.length) {
      if (p + 4 > bytes.length) throw badRequest(`input '${name}': BYTES element ${out.length} has a truncated length prefix`);
      const len = view.getUint32(p, true);
      if (p + 4 + len > bytes.length) throw badRequest(`input '${name}': BYTES element ${out.length} runs past its binary data`);
      out.push(Buffer.from(bytes.buffer, bytes.byteOffset + p + 4, len).toString('utf8'));
      p += 4 + len;
    }
    if (out.length !== n) throw badRequest(`input '${name}': shape [${shape.join(', ')}] needs ${n} elements, binary data has ${out.length}`);
    return new Tensor('string', shape, out);
  }
  const arr = allocate(dtype, n) as TypedArray;
  if (bytes.length !== arr.byteLength) {
    throw badRequest(`input '${name}': shape [${shape.join(', ')}] of ${DATATYPES[dtype]} needs ${arr.byteLength} bytes, binary_data_size is ${bytes.length}`);
  }
  new Uint8Array(arr.buffer).set(bytes);
  if (dtype === 'bool') for (let i = 0; i < n; i++) if (arr[i]! > 1) throw badRequest(`input '${name}': BOOL element ${i} is ${arr[i]}, not 0 or 1`);
  return new Tensor(dtype, shape, arr);
}

/** Elements of a tensor as JSON values (int64 as numbers; FP16/BF16 decoded; BOOL as booleans). */
export function tensorToJson(t: Tensor): unknown[] {
  if (Array.isArray(t.data)) return t.data;
  if (t.dtype === 'bool') return Array.from(t.data as Uint8Array, (v) => v !== 0);
  return t.toNumbers();
}

/** A tensor's binary form. Numeric tensors are viewed without copying. */
export function tensorToBinary(t: Tensor): Uint8Array {
  if (!Array.isArray(t.data)) return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const parts = t.data.map((s) => Buffer.from(s, 'utf8'));
  const out = Buffer.allocUnsafe(parts.reduce((n, b) => n + 4 + b.length, 0));
  let p = 0;
  for (const b of parts) {
    out.writeUInt32LE(b.length, p);
    b.copy(out, p + 4);
    p += 4 + b.length;
  }
  return out;
}

/** Index of the first NaN or ±Inf element of a float tensor, or -1. */
export function firstNonFinite(t: Tensor): number {
  const d = t.data;
  if (t.dtype === 'float32' || t.dtype === 'float64') {
    const a = d as Float32Array | Float64Array;
    for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) return i;
  } else if (t.dtype === 'float16' || t.dtype === 'bfloat16') {
    const a = d as Uint16Array;
    const mask = t.dtype === 'float16' ? 0x7c00 : 0x7f80;
    for (let i = 0; i < a.length; i++) if ((a[i]! & mask) === mask) return i;
  }
  return -1;
}

/** Encodes a response: JSON alone, or JSON header + binary sections (returns the header length). */
export function encodeInferResponse(resp: InferResponse, binaries: Uint8Array[]): { body: Buffer; headerLength?: number } {
  const json = Buffer.from(JSON.stringify(resp), 'utf8');
  if (binaries.length === 0) return { body: json };
  return { body: Buffer.concat([json, ...binaries]), headerLength: json.length };
}

/** Decodes a binary-or-JSON response body into per-output tensors. */
export function decodeInferResponse(body: Uint8Array, headerLength: string | undefined): { response: InferResponse; tensors: Map<string, Tensor> } {
  const { json, binary } = splitBody(body, headerLength);
  const response = parseJson(json) as InferResponse;
  const tensors = new Map<string, Tensor>();
  let offset = 0;
  for (const o of response.outputs ?? []) {
    const dtype = dtypeOf(o.datatype);
    if (!dtype) throw badRequest(`output '${o.name}': unknown datatype '${o.datatype}'`);
    const size = o.parameters?.binary_data_size;
    if (typeof size === 'number') {
      tensors.set(o.name, tensorFromBinary(o.name, dtype, o.shape, binary.subarray(offset, offset + size)));
      offset += size;
    } else {
      tensors.set(o.name, tensorFromJson(o.name, dtype, o.shape, o.data ?? []));
    }
  }
  return { response, tensors };
}

function flatten(data: unknown): unknown[] {
  if (!Array.isArray(data)) return [data];
  if (!data.some(Array.isArray)) return data;
  const out: unknown[] = [];
  const walk = (a: unknown[]) => {
    for (const v of a) if (Array.isArray(v)) walk(v); else out.push(v);
  };
  walk(data);
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const bf = new Float32Array(1);
const bfBits = new Uint32Array(bf.buffer);
function floatToBf16(v: number): number {
  bf[0] = v;
  const x = bfBits[0]!;
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return (x >>> 16) | 0x40;
  return (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
}
