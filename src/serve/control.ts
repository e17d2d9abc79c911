/**
 * The non-inference operations of the protocol, framework-free, as the main thread answers them for every
 * front end (the REST app here or in an HTTP worker thread, the gRPC service): server readiness, model
 * metadata, readiness and Triton-schema configuration, the repository index, load and unload. `metrics`
 * is answered by the server, which knows where its metric registries are.
 */
import { InferenceError } from './errors.js';
import type { ModelRepository } from './repository.js';
import type { ControlAnswer, ControlRequest } from './served-model.js';
import { tritonModelConfig } from './triton-config.js';

/** Model metadata as `GET /v2/models/{name}` answers it. */
export interface ModelMetadataAnswer {
  name: string;
  versions: string[];
  platform: 'onnxruntime_onnx';
  inputs: { name: string; datatype: string; shape: number[] }[];
  outputs: { name: string; datatype: string; shape: number[] }[];
}

/** Answers `req` from the repository (every op but `metrics`). Throws `InferenceError`s. */
export async function answerControl(repo: ModelRepository, closing: boolean, req: Exclude<ControlRequest, { op: 'metrics' }>): Promise<ControlAnswer> {
  switch (req.op) {
    case 'server-ready':
      return { json: repo.ready && !closing };
    case 'model-metadata': {
      const mv = repo.resolve(req.name, req.version);
      const versions = repo.loaded().filter((v) => v.name === mv.name).map((v) => v.version).sort((a, b) => Number(a) - Number(b));
      const io = (s: (typeof mv.inputs)[number]) => ({ name: s.name, datatype: s.datatype, shape: s.shape });
      const answer: ModelMetadataAnswer = { name: mv.name, versions, platform: 'onnxruntime_onnx', inputs: mv.inputs.map(io), outputs: mv.outputs.map(io) };
      return { json: answer };
    }
    case 'model-ready': {
      const mv = repo.resolve(req.name, req.version);
      if (mv.unavailable) throw new InferenceError(`model '${mv.name}' version ${mv.version} is not ready: ${mv.unavailable}`, 503);
      return { json: true };
    }
    case 'model-config':
      return { json: tritonModelConfig(repo.resolve(req.name, req.version)) };
    case 'repository-index':
      return { json: repo.index({ readyOnly: req.readyOnly }) };
    case 'repository-load':
      await repo.load(req.name);
      return {};
    case 'repository-unload':
      await repo.unload(req.name);
      return {};
  }
}
