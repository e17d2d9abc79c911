/**
 * The inference endpoint's work, independent of the transport: decode a request (JSON, binary extension,
 * or a gRPC message turned into the same structure) against the model's expectations, queue it on the
 * model version's batcher through `submit` (in this thread or another), and encode the response. The
 * REST app in every thread and the gRPC service share it.
 */
import type { Tensor } from '../onnx/tensor.js';
import type { BatchRequest, BatchResult, CancelSignal } from './batcher.js';
import { InferenceError, badRequest } from './errors.js';
import { type InferRequest, type InferResponse, type ResponseOutput, datatypeOf, decodeInferRequest, encodeInferResponse, firstNonFinite, parseJson, scalarParameters, splitBody, tensorToBinary, tensorToJson } from './protocol.js';
import type { ServedModel } from './served-model.js';

/** What a REST front end hands to `runInference`. */
export interface InferCall {
  model: ServedModel;
  /** Queues the decoded request on the model version's batcher. */
  submit: (req: BatchRequest) => Promise<BatchResult>;
  body: Uint8Array | undefined;
  headerLength: string | undefined;
  signal: CancelSignal;
  /** The transport's request id, for logs. */
  requestId?: string;
}

/** What `runInference` returns to the REST front end. */
export interface InferAnswer {
  body: Buffer;
  /** Set when the body carries binary outputs after the JSON header. */
  headerLength?: number;
  queueMs: number;
  computeMs: number;
}

/** A request decoded and checked, ready for the batcher. */
export interface PreparedInference {
  request: InferRequest;
  feeds: Record<string, Tensor>;
  /** Size along dim 0 (1 when the model is not batched). */
  batch: number;
  /** The outputs to return, in order, and whether each goes binary (REST). */
  wanted: { name: string; binary: boolean }[];
}

/** One output of a finished request, checked. */
export interface AnsweredOutput {
  name: string;
  datatype: string;
  tensor: Tensor;
  binary: boolean;
}

/** Runs one REST inference request end to end. Throws `InferenceError`s with their HTTP status. */
export async function runInference(call: InferCall): Promise<InferAnswer> {
  const mv = call.model;
  if (!call.body || call.body.length === 0) throw badRequest('empty request body: expected an inference request');
  const { json, binary } = splitBody(call.body, call.headerLength);
  const p = prepareInference(mv, parseJson(json), binary);
  const parameters = scalarParameters(p.request.parameters);
  const result = await call.submit({ feeds: p.feeds, batch: p.batch, fetches: p.request.outputs ? p.wanted.map((w) => w.name) : undefined, signal: call.signal, id: call.requestId, ...(parameters ? { parameters } : {}) });

  const outputs: ResponseOutput[] = [];
  const binaries: Uint8Array[] = [];
  for (const o of answeredOutputs(mv, p.wanted, result.outputs)) {
    if (o.binary) {
      const bytes = tensorToBinary(o.tensor);
      binaries.push(bytes);
      outputs.push({ name: o.name, datatype: o.datatype, shape: [...o.tensor.dims], parameters: { binary_data_size: bytes.byteLength } });
    } else {
      outputs.push({ name: o.name, datatype: o.datatype, shape: [...o.tensor.dims], data: tensorToJson(o.tensor) });
    }
  }
  const resp: InferResponse = { model_name: mv.name, model_version: mv.version, outputs };
  if (p.request.id !== undefined) resp.id = p.request.id;
  // Raw text: which texts were cut to the tokenizer's maximum length (the model saw only their start).
  if (result.parameters) resp.parameters = result.parameters;
  const { body, headerLength } = encodeInferResponse(resp, binaries);
  return { body, headerLength, queueMs: result.queueMs, computeMs: result.computeMs };
}

/**
 * Decodes an inference request given as the protocol's JSON structure (`binary`: the binary sections its
 * inputs claim, in input order) and checks it against the model. Throws 400 `InferenceError`s.
 */
export function prepareInference(mv: ServedModel, body: unknown, binary: Uint8Array): PreparedInference {
  const { request, tensors } = decodeInferRequest(body, binary, mv.expectations);
  const { feeds, batch } = collectFeeds(mv, tensors);
  return { request, feeds, batch, wanted: wantedOutputs(mv, request) };
}

/** The outputs of a finished request in the order asked for; a missing or uncarriable output is a 500. */
export function answeredOutputs(mv: ServedModel, wanted: PreparedInference['wanted'], outputs: Record<string, Tensor>): AnsweredOutput[] {
  return wanted.map((w) => {
    const t = outputs[w.name];
    if (!t) throw new InferenceError(`the model did not produce output '${w.name}'`, 500);
    const datatype = datatypeOf(t.dtype);
    if (!datatype) throw new InferenceError(`output '${w.name}' has type ${t.dtype}, which the protocol cannot carry`, 500);
    return { name: w.name, datatype, tensor: t, binary: w.binary };
  });
}

/** The outputs to return, in order, and whether each goes binary. */
function wantedOutputs(mv: ServedModel, request: InferRequest): { name: string; binary: boolean }[] {
  const binaryDefault = request.parameters?.binary_data_output;
  if (binaryDefault !== undefined && typeof binaryDefault !== 'boolean') throw badRequest('binary_data_output must be true or false');
  const wanted = (request.outputs ?? mv.outputs.map((o) => ({ name: o.name, parameters: undefined }))).map((o) => {
    if (!mv.outputs.some((s) => s.name === o.name)) throw badRequest(`unknown output '${o.name.slice(0, 256)}' (model outputs: ${mv.outputs.map((s) => s.name).join(', ')})`);
    const flag = o.parameters?.binary_data;
    if (flag !== undefined && typeof flag !== 'boolean') throw badRequest(`output '${o.name}': binary_data must be true or false`);
    return { name: o.name, binary: flag ?? binaryDefault ?? false };
  });
  if (new Set(wanted.map((w) => w.name)).size !== wanted.length) throw badRequest('an output is requested twice');
  return wanted;
}

/** Feeds in the model's input order, finiteness checked; the batch size (1 when the model is not batched). */
function collectFeeds(mv: ServedModel, tensors: Map<string, Tensor>): { feeds: Record<string, Tensor>; batch: number } {
  const feeds: Record<string, Tensor> = {};
  for (const spec of mv.inputs) {
    const t = tensors.get(spec.name)!;
    if (!mv.allowNonFinite) {
      const i = firstNonFinite(t);
      if (i >= 0) throw badRequest(`input '${spec.name}': element ${i} is NaN or infinite (set allowNonFinite in config.json to accept)`);
    }
    feeds[spec.name] = t;
  }
  return { feeds, batch: mv.batching ? feeds[mv.inputs[0]!.name]!.dims[0]! : 1 };
}

/**
 * Checks feeds decoded against an earlier load of a model version against `mv` (the version was reloaded
 * while the request travelled between threads): names, datatypes, shapes and the batch limit. Returns the
 * batch size. Throws 400s.
 */
export function recheckFeeds(mv: ServedModel, feeds: Record<string, Tensor>): number {
  const names = Object.keys(feeds);
  if (names.length !== mv.inputs.length) throw badRequest(`the model was reloaded with inputs ${mv.inputs.map((s) => s.name).join(', ')}; send the request again`);
  for (const spec of mv.inputs) {
    const t = feeds[spec.name];
    if (!t) throw badRequest(`missing input '${spec.name}' (the model was reloaded)`);
    const fits = t.dtype === spec.dtype && (spec.shape.length === 0 || (t.dims.length === spec.shape.length && spec.shape.every((d, i) => d === -1 || d === t.dims[i])));
    if (!fits) throw badRequest(`input '${spec.name}': datatype or shape does not match the reloaded model's ${spec.datatype} [${spec.shape.join(', ')}]`);
  }
  const batch = mv.batching ? feeds[mv.inputs[0]!.name]!.dims[0]! : 1;
  if (mv.expectations.maxBatchSize > 0 && batch > mv.expectations.maxBatchSize) throw badRequest(`batch size ${batch} exceeds the model's maxBatchSize ${mv.expectations.maxBatchSize}`);
  return batch;
}
