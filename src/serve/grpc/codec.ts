/**
 * `ModelInferRequest` ⇄ the protocol's own request structure, so gRPC requests pass exactly the checks
 * REST requests pass (`prepareInference`): `raw_input_contents` become binary sections (one per input,
 * in input order), typed `contents` become `data` (64-bit integers as exact decimal strings, BYTES as
 * length-prefixed binary so UTF-8 and NUL are checked as in REST). Outputs go back as
 * `raw_output_contents`. `InferenceError` statuses map onto gRPC status codes.
 */
import { status as GrpcStatus } from '@grpc/grpc-js';
import { InferenceError, badRequest } from '../errors.js';
import type { AnsweredOutput } from '../infer.js';
import type { Parameters } from '../protocol.js';
import { tensorToBinary } from '../protocol.js';

/** An `InferParameter` / `ModelRepositoryParameter` as proto-loader gives it (`oneofs: true`). */
export interface GrpcParameter {
  parameter_choice?: string;
  bool_param?: boolean;
  int64_param?: string;
  string_param?: string;
  double_param?: number;
  uint64_param?: string;
  bytes_param?: Buffer;
}

/** `InferTensorContents` as proto-loader gives it. */
export interface GrpcContents {
  bool_contents?: boolean[];
  int_contents?: number[];
  int64_contents?: string[];
  uint_contents?: number[];
  uint64_contents?: string[];
  fp32_contents?: number[];
  fp64_contents?: number[];
  bytes_contents?: Buffer[];
}

/** `ModelInferRequest` as proto-loader gives it. */
export interface GrpcInferRequest {
  model_name: string;
  model_version: string;
  id: string;
  parameters?: Record<string, GrpcParameter>;
  inputs?: { name: string; datatype: string; shape: string[]; parameters?: Record<string, GrpcParameter>; contents?: GrpcContents | null }[];
  outputs?: { name: string; parameters?: Record<string, GrpcParameter> }[];
  raw_input_contents?: Buffer[];
}

/** Which `InferTensorContents` field carries each datatype. */
const CONTENTS_FIELD: Record<string, keyof GrpcContents> = {
  BOOL: 'bool_contents', INT8: 'int_contents', INT16: 'int_contents', INT32: 'int_contents', INT64: 'int64_contents',
  UINT8: 'uint_contents', UINT16: 'uint_contents', UINT32: 'uint_contents', UINT64: 'uint64_contents',
  FP32: 'fp32_contents', FP64: 'fp64_contents', BYTES: 'bytes_contents',
};

/** A parameter's value (int64/uint64 as numbers when safe, else their decimal string). */
function parameterValue(p: GrpcParameter): string | number | boolean | undefined {
  switch (p.parameter_choice) {
    case 'bool_param': return p.bool_param;
    case 'string_param': return p.string_param;
    case 'double_param': return p.double_param;
    case 'int64_param':
    case 'uint64_param': {
      const s = p[p.parameter_choice]!;
      const n = Number(s);
      return Number.isSafeInteger(n) ? n : s;
    }
    default: return undefined;
  }
}

/** A parameters map as the protocol's plain object. */
export function plainParameters(map: Record<string, GrpcParameter> | undefined): Parameters | undefined {
  if (!map) return undefined;
  const out: Parameters = {};
  for (const [k, p] of Object.entries(map)) {
    const v = parameterValue(p);
    if (v !== undefined) out[k] = v;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** A gRPC shape (int64s as strings) as numbers; anything not a safe integer stays visible to the checks as NaN. */
function shapeOf(shape: string[]): number[] {
  return shape.map((d) => (/^-?[0-9]{1,16}$/.test(d) ? Number(d) : NaN));
}

/**
 * A `ModelInferRequest` as the protocol's request structure plus its binary sections. Structural problems
 * (raw and typed contents mixed, a raw entry per input missing, contents in the wrong field) are 400s.
 */
export function requestFromGrpc(m: GrpcInferRequest): { body: Record<string, unknown>; binary: Uint8Array } {
  const inputs = m.inputs ?? [];
  const raw = m.raw_input_contents ?? [];
  const sections: Uint8Array[] = [];
  if (raw.length > 0) {
    if (inputs.some((i) => i.contents)) throw badRequest('an input has typed contents while raw_input_contents is set; use one or the other');
    if (raw.length !== inputs.length) throw badRequest(`raw_input_contents has ${raw.length} entries for ${inputs.length} inputs`);
  }
  const body = {
    ...(m.id ? { id: m.id } : {}),
    ...(plainParameters(m.parameters) ? { parameters: plainParameters(m.parameters) } : {}),
    inputs: inputs.map((i, k) => {
      const parameters = { ...plainParameters(i.parameters) };
      delete parameters.binary_data_size;
      const base = { name: i.name, datatype: i.datatype, shape: shapeOf(i.shape) };
      if (raw.length > 0) {
        sections.push(raw[k]!);
        return { ...base, parameters: { ...parameters, binary_data_size: raw[k]!.length } };
      }
      const c = i.contents ?? {};
      const field = CONTENTS_FIELD[i.datatype];
      const filled = (Object.keys(c) as (keyof GrpcContents)[]).filter((f) => (c[f]?.length ?? 0) > 0);
      if (filled.some((f) => f !== field)) {
        throw badRequest(`input '${i.name.slice(0, 256)}': ${i.datatype.slice(0, 40)} data must be in ${field ?? 'raw_input_contents'}, got ${filled.join(', ')}`);
      }
      if (field === undefined) {
        if (i.datatype === 'FP16' || i.datatype === 'BF16') throw badRequest(`input '${i.name.slice(0, 256)}': ${i.datatype} has no typed contents field; send it in raw_input_contents`);
        // an unknown datatype, which the checks name
        return { ...base, parameters, data: [] };
      }
      if (field === 'bytes_contents') {
        const els = c.bytes_contents ?? [];
        const framed = Buffer.concat(els.flatMap((e) => [Buffer.from(Uint32Array.of(e.length).buffer), e]));
        sections.push(framed);
        return { ...base, parameters: { ...parameters, binary_data_size: framed.length } };
      }
      return { ...base, parameters, data: c[field] ?? [] };
    }),
    ...(m.outputs && m.outputs.length > 0 ? { outputs: m.outputs.map((o) => ({ name: o.name, ...(plainParameters(o.parameters) ? { parameters: plainParameters(o.parameters) } : {}) })) } : {}),
  };
  // Sections must follow the inputs' order: typed inputs take none, raw and BYTES ones take theirs.
  return { body, binary: sections.length === 1 ? sections[0]! : Buffer.concat(sections) };
}

/** A protocol parameters object as an `InferParameter` map (integers as int64, other numbers as double). */
export function grpcParameters(p: Parameters | undefined): Record<string, GrpcParameter> {
  const out: Record<string, GrpcParameter> = {};
  for (const [k, v] of Object.entries(p ?? {})) {
    if (typeof v === 'boolean') out[k] = { bool_param: v };
    else if (typeof v === 'number') out[k] = Number.isSafeInteger(v) ? { int64_param: String(v) } : { double_param: v };
    else if (typeof v === 'string') out[k] = { string_param: v };
  }
  return out;
}

/** The `ModelInferResponse` for a finished request: every output raw; `parameters` as the REST response has them (raw text: `truncated`, …). */
export function responseToGrpc(o: { model: string; version: string; id: string | undefined; outputs: AnsweredOutput[]; parameters?: Parameters }) {
  return {
    model_name: o.model,
    model_version: o.version,
    id: o.id ?? '',
    parameters: grpcParameters(o.parameters),
    outputs: o.outputs.map((x) => ({ name: x.name, datatype: x.datatype, shape: x.tensor.dims.map(String), parameters: {} })),
    raw_output_contents: o.outputs.map((x) => tensorToBinary(x.tensor)),
  };
}

/** The gRPC status of an `InferenceError` (400 INVALID_ARGUMENT, 404 NOT_FOUND, 503 UNAVAILABLE, …). */
export function grpcCode(err: unknown): GrpcStatus {
  if (!(err instanceof InferenceError)) return GrpcStatus.INTERNAL;
  switch (err.status) {
    case 400: return GrpcStatus.INVALID_ARGUMENT;
    case 404: return GrpcStatus.NOT_FOUND;
    case 408: return GrpcStatus.DEADLINE_EXCEEDED;
    case 413: return GrpcStatus.RESOURCE_EXHAUSTED;
    case 499: return GrpcStatus.CANCELLED;
    case 503: return GrpcStatus.UNAVAILABLE;
    case 504: return GrpcStatus.DEADLINE_EXCEEDED;
    default: return err.status >= 400 && err.status < 500 ? GrpcStatus.FAILED_PRECONDITION : GrpcStatus.INTERNAL;
  }
}
