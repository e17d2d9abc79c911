/**
 * Open Inference Protocol (KServe v2) requests and responses: their JSON structure, the binary tensor
 * data extension's framing (`Inference-Header-Content-Length`), and decoding a request into tensors.
 * Every size is checked before anything is allocated: with the model's expectations, each input's
 * datatype, rank, fixed dims and batch limit are checked from its header alone, then its element count
 * against the bytes (or JSON values) that are really there. Independent of the HTTP framework, so other
 * front ends (gRPC, other worker threads) reuse it. Shared by the server and the client.
 */
import type { DType } from '../onnx/dtype.js';
import type { Tensor } from '../onnx/tensor.js';
import { InferenceError, badRequest } from './errors.js';
import { DATATYPES, ELEMENT_BYTES, type ServedDType, dtypeOf } from './datatypes.js';
import { tensorFromBinary } from './tensor-binary.js';
import { tensorFromJson } from './tensor-json.js';

export { DATATYPES, datatypeOf, dtypeOf } from './datatypes.js';
export type { Datatype } from './datatypes.js';
export { tensorFromJson, tensorToJson } from './tensor-json.js';
export { tensorFromBinary, tensorToBinary } from './tensor-binary.js';

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

/** What a model expects of a request's inputs; checked from the headers, before any tensor is allocated. */
export interface InputExpectations {
  /** Every input the model needs, with `shape` using -1 for dynamic dims (`[]`: any shape). */
  inputs: readonly { name: string; dtype: DType; datatype: string; shape: readonly number[] }[];
  /** Largest dim 0 of one request when the model batches (0: not batched, no limit but the body size). */
  maxBatchSize: number;
}

/** Most dimensions a request tensor may declare. */
export const MAX_RANK = 32;

/** Splits a body into its JSON header and binary part (`Inference-Header-Content-Length`). */
export function splitBody(body: Uint8Array, headerLength: string | undefined): { json: Uint8Array; binary: Uint8Array } {
  if (headerLength === undefined) return { json: body, binary: body.subarray(body.length) };
  const n = /^[0-9]{1,15}$/.test(headerLength) ? Number(headerLength) : NaN;
  if (!(n <= body.length)) {
    throw badRequest(`Inference-Header-Content-Length ${JSON.stringify(headerLength.slice(0, 40))} is not an integer between 0 and the body size ${body.length}`);
  }
  return { json: body.subarray(0, n), binary: body.subarray(n) };
}

/** Parses JSON bytes; a syntax error becomes a 400 naming the problem. */
export function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (err) {
    throw badRequest(`malformed JSON: ${(err as Error).message.slice(0, 200)}`);
  }
}

interface InputHeader {
  name: string;
  dtype: ServedDType;
  shape: number[];
  binarySize?: number;
  data?: unknown;
}

/**
 * Checks an inference request's structure and decodes every input into a `Tensor` (binary sections
 * are consumed in input order). With `expect`, inputs are also checked against the model (names,
 * datatypes, shapes, batch limit) before any is decoded. Errors are 400s naming the input and the reason.
 */
export function decodeInferRequest(body: unknown, binary: Uint8Array, expect?: InputExpectations): { request: InferRequest; tensors: Map<string, Tensor> } {
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
  const headers = (body.inputs as unknown[]).map(inputHeader);
  const seen = new Set<string>();
  for (const h of headers) {
    if (seen.has(h.name)) throw badRequest(`input '${h.name.slice(0, 256)}' appears twice`);
    seen.add(h.name);
  }
  if (expect) checkExpectations(headers, expect);
  let claimed = 0;
  for (const h of headers) {
    if (h.binarySize === undefined) continue;
    if (claimed + h.binarySize > binary.length) throw badRequest(`input '${h.name}': binary_data_size ${h.binarySize} runs past the end of the body (${binary.length - claimed} bytes left)`);
    claimed += h.binarySize;
  }
  if (claimed !== binary.length) throw badRequest(`body has ${binary.length - claimed} bytes of binary data that no input claims`);
  const tensors = new Map<string, Tensor>();
  let offset = 0;
  for (const h of headers) {
    if (h.binarySize !== undefined) {
      tensors.set(h.name, tensorFromBinary(h.name, h.dtype, h.shape, binary.subarray(offset, offset + h.binarySize)));
      offset += h.binarySize;
    } else {
      tensors.set(h.name, tensorFromJson(h.name, h.dtype, h.shape, h.data));
    }
  }
  return { request: body as unknown as InferRequest, tensors };
}

/** One input's header (name, datatype, shape, where its data is), checked; nothing is allocated. */
function inputHeader(raw: unknown): InputHeader {
  if (!isObject(raw) || typeof raw.name !== 'string') throw badRequest("each of 'inputs' needs a string 'name'");
  const name = raw.name;
  const shown = name.length > 256 ? `${name.slice(0, 256)}…` : name;
  if (typeof raw.datatype !== 'string') throw badRequest(`input '${shown}': 'datatype' must be a string`);
  const shape = raw.shape;
  if (!Array.isArray(shape) || shape.length > MAX_RANK || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw badRequest(`input '${shown}': 'shape' must be an array of at most ${MAX_RANK} non-negative integers`);
  }
  if (raw.parameters !== undefined && !isObject(raw.parameters)) throw badRequest(`input '${shown}': 'parameters' must be an object`);
  const dtype = dtypeOf(raw.datatype);
  if (!dtype) throw badRequest(`input '${shown}': unknown datatype ${JSON.stringify(raw.datatype.slice(0, 40))}`);
  let n = 1;
  for (const d of shape as number[]) n *= d;
  if (!Number.isSafeInteger(n * Math.max(1, ELEMENT_BYTES[dtype]))) throw badRequest(`input '${shown}': shape [${shape.join(', ')}] declares more elements than a request can carry`);
  const size = (raw.parameters as Parameters | undefined)?.binary_data_size;
  if (size !== undefined) {
    if (!Number.isSafeInteger(size) || (size as number) < 0) throw badRequest(`input '${shown}': binary_data_size must be a non-negative integer`);
    if (raw.data !== undefined) throw badRequest(`input '${shown}': has both 'data' and binary_data_size`);
    return { name, dtype, shape: shape as number[], binarySize: size as number };
  }
  if (raw.data === undefined) throw badRequest(`input '${shown}': no 'data' and no binary_data_size`);
  return { name, dtype, shape: shape as number[], data: raw.data };
}

function checkExpectations(headers: InputHeader[], expect: InputExpectations): void {
  const names = () => expect.inputs.map((s) => s.name).join(', ');
  for (const h of headers) if (!expect.inputs.some((s) => s.name === h.name)) throw badRequest(`unknown input '${h.name.slice(0, 256)}' (model inputs: ${names()})`);
  let batch: number | undefined;
  for (const spec of expect.inputs) {
    const h = headers.find((x) => x.name === spec.name);
    if (!h) throw badRequest(`missing input '${spec.name}'`);
    if (h.dtype !== spec.dtype) throw badRequest(`input '${spec.name}': datatype ${DATATYPES[h.dtype]} does not match the model's ${spec.datatype}`);
    const fits = spec.shape.length === 0 || (h.shape.length === spec.shape.length && spec.shape.every((d, i) => d === -1 || d === h.shape[i]));
    if (!fits) throw badRequest(`input '${spec.name}': shape [${h.shape.join(', ')}] does not match the model's [${spec.shape.join(', ')}]`);
    if (expect.maxBatchSize > 0) {
      const b = h.shape[0]!;
      if (b > expect.maxBatchSize) throw badRequest(`input '${spec.name}': batch size ${b} exceeds the model's maxBatchSize ${expect.maxBatchSize}`);
      if (batch !== undefined && b !== batch) throw badRequest(`input '${spec.name}': batch size ${b} differs from the other inputs' ${batch}`);
      batch = b;
    }
    if (h.binarySize !== undefined && spec.dtype !== 'string') {
      const need = h.shape.reduce((a, d) => a * d, 1) * ELEMENT_BYTES[h.dtype];
      if (need !== h.binarySize) throw badRequest(`input '${spec.name}': shape [${h.shape.join(', ')}] of ${spec.datatype} needs ${need} bytes, binary_data_size is ${h.binarySize}`);
    }
  }
}

/**
 * The request-level parameters a model version may read (a retrieval model's `mode` and `k`): the
 * top-level string, number and boolean values. Anything else — nested objects of any depth, arrays,
 * null — is ignored, as KServe v2 lets servers ignore parameters they do not know, and never crosses
 * a thread boundary. Undefined when none is left.
 */
export function scalarParameters(p: Parameters | undefined): Parameters | undefined {
  if (!p) return undefined;
  const out: Parameters = {};
  // The declared type is what a well-formed request holds; the JSON itself may hold anything.
  for (const [k, v] of Object.entries(p as Record<string, unknown>)) if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
  return Object.keys(out).length ? out : undefined;
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

/**
 * Decodes a binary-or-JSON response body into per-output tensors, reading the lossless JSON forms
 * (`"NaN"`, `"Infinity"`, 64-bit integers as strings). A malformed response is an `InferenceError`
 * with status 0 (the server answered, but not with a valid response).
 */
export function decodeInferResponse(body: Uint8Array, headerLength: string | undefined): { response: InferResponse; tensors: Map<string, Tensor> } {
  try {
    const { json, binary } = splitBody(body, headerLength);
    const response = parseJson(json) as InferResponse;
    if (!isObject(response) || !Array.isArray(response.outputs)) throw badRequest("the response has no 'outputs' array");
    const tensors = new Map<string, Tensor>();
    let offset = 0;
    for (const o of response.outputs) {
      const dtype = dtypeOf(o.datatype);
      if (!dtype) throw badRequest(`output '${o.name}': unknown datatype '${o.datatype}'`);
      if (!Array.isArray(o.shape) || !o.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw badRequest(`output '${o.name}': bad shape`);
      const size = o.parameters?.binary_data_size;
      if (typeof size === 'number') {
        if (offset + size > binary.length) throw badRequest(`output '${o.name}': binary_data_size ${size} runs past the end of the body`);
        tensors.set(o.name, tensorFromBinary(o.name, dtype, o.shape, binary.subarray(offset, offset + size), 'output'));
        offset += size;
      } else {
        tensors.set(o.name, tensorFromJson(o.name, dtype, o.shape, o.data ?? []));
      }
    }
    return { response, tensors };
  } catch (err) {
    if (err instanceof InferenceError) throw new InferenceError(`malformed inference response: ${err.message}`, 0);
    throw err;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
