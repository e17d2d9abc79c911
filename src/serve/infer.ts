/**
 * The inference endpoint's work: decode a JSON or binary request, check it against the model's inputs,
 * queue it on the model version's batcher, and encode the response (JSON or binary, per output).
 */
import type { Tensor } from '../onnx/tensor.js';
import type { CancelSignal } from './batcher.js';
import { InferenceError, badRequest } from './errors.js';
import { type InferResponse, type ResponseOutput, datatypeOf, decodeInferRequest, encodeInferResponse, firstNonFinite, parseJson, splitBody, tensorToBinary, tensorToJson } from './protocol.js';
import type { ModelVersion } from './repository.js';

/** What the HTTP layer hands to `runInference`. */
export interface InferCall {
  model: ModelVersion;
  body: Uint8Array | undefined;
  headerLength: string | undefined;
  signal: CancelSignal;
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
  const { request, tensors } = decodeInferRequest(parseJson(json), binary);
  const { feeds, batch } = checkInputs(mv, tensors);

  const binaryDefault = request.parameters?.binary_data_output === true;
  const wanted = (request.outputs ?? mv.outputs.map((o) => ({ name: o.name, parameters: undefined }))).map((o) => {
    if (!mv.outputs.some((s) => s.name === o.name)) throw badRequest(`unknown output '${o.name}' (model outputs: ${mv.outputs.map((s) => s.name).join(', ')})`);
    const flag = o.parameters?.binary_data;
    if (flag !== undefined && typeof flag !== 'boolean') throw badRequest(`output '${o.name}': binary_data must be true or false`);
    return { name: o.name, binary: flag ?? binaryDefault };
  });
  if (new Set(wanted.map((w) => w.name)).size !== wanted.length) throw badRequest('an output is requested twice');

  const result = await mv.batcher.submit({ feeds, batch, fetches: request.outputs ? wanted.map((w) => w.name) : undefined, signal: call.signal });

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
  const { body, headerLength } = encodeInferResponse(resp, binaries);
  return { body, headerLength, queueMs: result.queueMs, computeMs: result.computeMs };
}

/** Checks names, datatypes, shapes and finiteness against the model; returns the feeds and the batch size. */
function checkInputs(mv: ModelVersion, tensors: Map<string, Tensor>): { feeds: Record<string, Tensor>; batch: number } {
  for (const name of tensors.keys()) {
    if (!mv.inputs.some((s) => s.name === name)) throw badRequest(`unknown input '${name}' (model inputs: ${mv.inputs.map((s) => s.name).join(', ')})`);
  }
  const feeds: Record<string, Tensor> = {};
  let batch: number | undefined;
  for (const spec of mv.inputs) {
    const t = tensors.get(spec.name);
    if (!t) throw badRequest(`missing input '${spec.name}'`);
    if (t.dtype !== spec.dtype) throw badRequest(`input '${spec.name}': datatype ${datatypeOf(t.dtype)} does not match the model's ${spec.datatype}`);
    const fits = spec.shape.length === 0 ? true : t.dims.length === spec.shape.length && spec.shape.every((d, i) => d === -1 || d === t.dims[i]);
    if (!fits) throw badRequest(`input '${spec.name}': shape [${t.dims.join(', ')}] does not match the model's [${spec.shape.join(', ')}]`);
    if (!mv.config.allowNonFinite) {
      const i = firstNonFinite(t);
      if (i >= 0) throw badRequest(`input '${spec.name}': element ${i} is NaN or infinite (set allowNonFinite in config.json to accept)`);
    }
    if (mv.batching) {
      if (batch !== undefined && t.dims[0] !== batch) throw badRequest(`input '${spec.name}': batch size ${t.dims[0]} differs from the other inputs' ${batch}`);
      batch = t.dims[0];
    }
    feeds[spec.name] = t;
  }
  return { feeds, batch: batch ?? 1 };
}
