/**
 * The inference endpoint's work, independent of the HTTP framework (a gRPC front end or another HTTP
 * worker reuses it): decode a JSON or binary request against the model's expectations, queue it on the
 * model version's batcher, and encode the response (JSON or binary, per output).
 */
import type { Tensor } from '../onnx/tensor.js';
import type { CancelSignal } from './batcher.js';
import { InferenceError, badRequest } from './errors.js';
import { type InferRequest, type InferResponse, type ResponseOutput, datatypeOf, decodeInferRequest, encodeInferResponse, firstNonFinite, parseJson, splitBody, tensorToBinary, tensorToJson } from './protocol.js';
import type { ModelVersion } from './repository.js';

/** What the HTTP layer hands to `runInference`. */
export interface InferCall {
  model: ModelVersion;
  body: Uint8Array | undefined;
  headerLength: string | undefined;
  signal: CancelSignal;
  /** The transport's request id, for logs. */
  requestId?: string;
}

/** What `runInference` returns to the HTTP layer. */
export interface InferAnswer {
  body: Buffer;
  /** Set when the body carries binary outputs after the JSON header. */
  headerLength?: number;
  queueMs: number;
  computeMs: number;
}

/** Runs one inference request end to end. Throws `InferenceError`s with their HTTP status. */
export async function runInference(call: InferCall): Promise<InferAnswer> {
  const mv = call.model;
  if (!call.body || call.body.length === 0) throw badRequest('empty request body: expected an inference request');
  const { json, binary } = splitBody(call.body, call.headerLength);
  const { request, tensors } = decodeInferRequest(parseJson(json), binary, mv.expectations);
  const encoded = mv.text ? await mv.text.encode(tensors.get(mv.inputs[0]!.name)) : undefined;
  const { feeds, batch } = encoded ? { feeds: encoded.feeds, batch: mv.batching ? encoded.feeds[mv.text!.modelInputs[0]!.name]!.dims[0]! : 1 } : collectFeeds(mv, tensors);
  const wanted = wantedOutputs(mv, request);
  const result = await mv.batcher.submit({ feeds, batch, fetches: request.outputs ? wanted.map((w) => w.name) : undefined, signal: call.signal, id: call.requestId });

  const outputs: ResponseOutput[] = [];
  const binaries: Uint8Array[] = [];
  for (const w of wanted) {
    const t = result.outputs[w.name];
    if (!t) throw new InferenceError(`the model did not produce output '${w.name}'`, 500);
    const datatype = datatypeOf(t.dtype);
    if (!datatype) throw new InferenceError(`output '${w.name}' has type ${t.dtype}, which the protocol cannot carry`, 500);
    if (w.binary) {
      const bytes = tensorToBinary(t);
      binaries.push(bytes);
      outputs.push({ name: w.name, datatype, shape: [...t.dims], parameters: { binary_data_size: bytes.byteLength } });
    } else {
      outputs.push({ name: w.name, datatype, shape: [...t.dims], data: tensorToJson(t) });
    }
  }
  const resp: InferResponse = { model_name: mv.name, model_version: mv.version, outputs };
  if (request.id !== undefined) resp.id = request.id;
  // Raw text: which texts were cut to the tokenizer's maximum length (the model saw only their start).
  if (encoded) resp.parameters = { truncated: encoded.truncated.length, ...(encoded.truncated.length ? { truncated_rows: encoded.truncated.join(','), max_tokens: mv.text!.maxLength } : {}) };
  const { body, headerLength } = encodeInferResponse(resp, binaries);
  return { body, headerLength, queueMs: result.queueMs, computeMs: result.computeMs };
}

/** The outputs to return, in order, and whether each goes binary. */
function wantedOutputs(mv: ModelVersion, request: InferRequest): { name: string; binary: boolean }[] {
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
function collectFeeds(mv: ModelVersion, tensors: Map<string, Tensor>): { feeds: Record<string, Tensor>; batch: number } {
  const feeds: Record<string, Tensor> = {};
  for (const spec of mv.inputs) {
    const t = tensors.get(spec.name)!;
    if (!mv.config.allowNonFinite) {
      const i = firstNonFinite(t);
      if (i >= 0) throw badRequest(`input '${spec.name}': element ${i} is NaN or infinite (set allowNonFinite in config.json to accept)`);
    }
    feeds[spec.name] = t;
  }
  return { feeds, batch: mv.batching ? feeds[mv.inputs[0]!.name]!.dims[0]! : 1 };
}
