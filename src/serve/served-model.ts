/**
 * What a front end (the REST app in any thread, the gRPC service) knows of a served model version, and
 * how it reaches the version's batcher: `ServedModel` (public inputs and outputs, the checks a request
 * must pass before its tensors are allocated) and `ServeBackend` (resolve a name, submit a decoded
 * request, answer everything that is not inference). The main thread's backend is the repository itself;
 * an HTTP worker thread's backend forwards to the main thread. Front ends import only these types, so a
 * model kind that pre- or post-processes inside the session worker (tokenizing BYTES, an ANN index after a
 * tower) declares its public inputs/outputs on its `ModelVersion` and needs no front-end change.
 */
import type { BatchRequest, BatchResult } from './batcher.js';
import type { InputExpectations } from './protocol.js';
import type { TensorSpec } from './repository.js';

/** A served model version as front ends see it. */
export interface ServedModel {
  readonly name: string;
  readonly version: string;
  /** Changes whenever the version is (re)loaded: a request decoded against an older load is checked again. */
  readonly uid: number;
  /** The inputs and outputs clients see (-1 for dynamic dims). */
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  /** What a request's inputs must be, checked from the request's headers before anything is allocated. */
  readonly expectations: InputExpectations;
  /** True when requests are concatenated into batches (the batch size is then dim 0 of the inputs). */
  readonly batching: boolean;
  /** Accept NaN/±Inf in float inputs. */
  readonly allowNonFinite: boolean;
}

/** One non-inference operation: health, metadata, configuration, repository, metrics. */
export type ControlRequest =
  | { op: 'server-ready' }
  | { op: 'model-metadata' | 'model-ready' | 'model-config'; name: string; version?: string }
  | { op: 'repository-index'; readyOnly: boolean }
  | { op: 'repository-load' | 'repository-unload'; name: string }
  | { op: 'metrics' };

/** The answer to a `ControlRequest`: a JSON value, or text with its content type. */
export interface ControlAnswer {
  json?: unknown;
  text?: string;
  contentType?: string;
}

/** Where a front end sends what it decoded. */
export interface ServeBackend {
  /** The repository root (removed from error messages). */
  readonly root: string;
  /** The version a request names (the highest when `version` is undefined). Throws 400/404/503 `InferenceError`s. */
  resolve(name: string, version: string | undefined): ServedModel;
  /** Queues a request decoded against `model` on that version's batcher. */
  submit(model: ServedModel, req: BatchRequest): Promise<BatchResult>;
  /** Everything but inference. Throws `InferenceError`s. */
  control(req: ControlRequest): Promise<ControlAnswer>;
  /** True once the server has begun to shut down. */
  closing(): boolean;
}
