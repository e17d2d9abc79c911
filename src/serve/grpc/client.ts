/**
 * `GrpcInferenceClient`: a typed KServe v2 gRPC client (`inference.GRPCInferenceService`) on
 * `@grpc/grpc-js`, built from the same vendored `.proto` as the server. Works against `trainfer serve
 * --grpc-port`, Triton, KServe or any v2 gRPC server. Tensors travel in `raw_input_contents` /
 * `raw_output_contents` (exact for every datatype); a failed call is an `InferenceError` whose status is
 * the HTTP status the gRPC code stands for (INVALID_ARGUMENT → 400, NOT_FOUND → 404, UNAVAILABLE → 503, …).
 */
import { type Client, Metadata, type ServiceError, credentials, status as GrpcStatus } from '@grpc/grpc-js';
import type { Tensor } from '../../onnx/tensor.js';
import { dtypeOf } from '../datatypes.js';
import { InferenceError } from '../errors.js';
import { type Parameters, datatypeOf, tensorToBinary } from '../protocol.js';
import { tensorFromBinary } from '../tensor-binary.js';
import type { ModelMetadata, ServerMetadata } from '../client.js';
import { type GrpcParameter, grpcParameters, plainParameters } from './codec.js';
import { inferenceService } from './proto.js';

/** Options for one `GrpcInferenceClient.infer` call. */
export interface GrpcInferOptions {
  inputs: Record<string, Tensor>;
  /** Outputs to return (default all). */
  outputs?: string[];
  /** Model version (default: the server's choice, the highest). */
  version?: string;
  /** Request id, echoed by the server. */
  id?: string;
  /** Deadline for the call in ms from now. */
  timeoutMs?: number;
  /** Request parameters (e.g. a retrieval model's `{ mode: 'ann', k: 10 }`). */
  parameters?: Record<string, string | number | boolean>;
}

/** The result of `GrpcInferenceClient.infer`. */
export interface GrpcInferResult {
  modelName: string;
  modelVersion: string;
  id: string;
  outputs: Record<string, Tensor>;
  /** The response's parameters (raw text: `truncated`, `truncated_rows`, `max_tokens`), when it has any. */
  parameters?: Parameters;
}

/** What a failed call carries: the gRPC code, and the HTTP status it stands for. */
export const GRPC_TO_HTTP: Partial<Record<GrpcStatus, number>> = {
  [GrpcStatus.INVALID_ARGUMENT]: 400,
  [GrpcStatus.NOT_FOUND]: 404,
  [GrpcStatus.DEADLINE_EXCEEDED]: 504,
  [GrpcStatus.RESOURCE_EXHAUSTED]: 413,
  [GrpcStatus.CANCELLED]: 499,
  [GrpcStatus.UNAVAILABLE]: 503,
  [GrpcStatus.FAILED_PRECONDITION]: 400,
  [GrpcStatus.INTERNAL]: 500,
};

type Unary = (req: unknown, meta: Metadata, opts: { deadline?: number }, cb: (err: ServiceError | null, res: unknown) => void) => void;

/**
 * A gRPC client for one server.
 *
 * @example
 * const client = new GrpcInferenceClient('127.0.0.1:8001');
 * const { outputs } = await client.infer('mnist', { inputs: { pixels: Tensor.f32([1, 1, 28, 28], image) } });
 * client.close();
 */
export class GrpcInferenceClient {
  private readonly client: Client & Record<string, Unary>;

  /** `address`: `host:port` (no scheme). `maxMessageBytes` bounds messages both ways (default 64 MiB). */
  constructor(address: string, options: { maxMessageBytes?: number } = {}) {
    const Ctor = inferenceService();
    const max = options.maxMessageBytes ?? 64 * 1024 * 1024;
    this.client = new Ctor(address, credentials.createInsecure(), { 'grpc.max_receive_message_length': max, 'grpc.max_send_message_length': max }) as unknown as Client & Record<string, Unary>;
  }

  /** Calls one unary RPC by name with a plain request object (proto field names). */
  call<T>(rpc: string, request: unknown, timeoutMs?: number): Promise<T> {
    const fn = this.client[rpc];
    if (typeof fn !== 'function') throw new InferenceError(`no such RPC: ${rpc}`, 400);
    return new Promise<T>((resolve, reject) => {
      fn.call(this.client, request, new Metadata(), timeoutMs === undefined ? {} : { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err) reject(new InferenceError(`gRPC ${rpc}: ${GrpcStatus[err.code] ?? err.code}: ${err.details}`, GRPC_TO_HTTP[err.code as GrpcStatus] ?? 500));
        else resolve(res as T);
      });
    });
  }

  async live(): Promise<boolean> {
    return (await this.call<{ live: boolean }>('ServerLive', {})).live;
  }

  async ready(): Promise<boolean> {
    return (await this.call<{ ready: boolean }>('ServerReady', {})).ready;
  }

  async modelReady(name: string, version?: string): Promise<boolean> {
    return (await this.call<{ ready: boolean }>('ModelReady', { name, version: version ?? '' })).ready;
  }

  async serverMetadata(): Promise<ServerMetadata> {
    return this.call<ServerMetadata>('ServerMetadata', {});
  }

  /** Model metadata, shapes as numbers (-1 dynamic). */
  async modelMetadata(name: string, version?: string): Promise<ModelMetadata> {
    const m = await this.call<{ name: string; versions: string[]; platform: string; inputs: { name: string; datatype: string; shape: string[] }[]; outputs: { name: string; datatype: string; shape: string[] }[] }>('ModelMetadata', { name, version: version ?? '' });
    const io = (t: { name: string; datatype: string; shape: string[] }) => ({ name: t.name, datatype: t.datatype, shape: t.shape.map(Number) });
    return { name: m.name, versions: m.versions, platform: m.platform, inputs: m.inputs.map(io), outputs: m.outputs.map(io) };
  }

  async repositoryIndex(options: { ready?: boolean } = {}): Promise<{ name: string; version: string; state: string; reason: string }[]> {
    return (await this.call<{ models: { name: string; version: string; state: string; reason: string }[] }>('RepositoryIndex', { ready: options.ready ?? false })).models;
  }

  async loadModel(name: string): Promise<void> {
    await this.call('RepositoryModelLoad', { model_name: name });
  }

  async unloadModel(name: string): Promise<void> {
    await this.call('RepositoryModelUnload', { model_name: name });
  }

  /** `ModelInfer` with every input in `raw_input_contents`; outputs decoded from `raw_output_contents`. */
  async infer(model: string, o: GrpcInferOptions): Promise<GrpcInferResult> {
    const res = await this.call<{ model_name: string; model_version: string; id: string; parameters?: Record<string, GrpcParameter>; outputs: { name: string; datatype: string; shape: string[] }[]; raw_output_contents: Buffer[] }>('ModelInfer', inferRequest(model, o), o.timeoutMs);
    const outputs: Record<string, Tensor> = {};
    res.outputs.forEach((out, i) => {
      outputs[out.name] = tensorFromRaw(out.name, out.datatype, out.shape.map(Number), res.raw_output_contents[i]);
    });
    const parameters = plainParameters(res.parameters);
    return { modelName: res.model_name, modelVersion: res.model_version, id: res.id, outputs, ...(parameters ? { parameters } : {}) };
  }

  /** Closes the channel. */
  close(): void {
    this.client.close();
  }
}

/** The `ModelInferRequest` for `o` (every input raw). */
export function inferRequest(model: string, o: GrpcInferOptions): Record<string, unknown> {
  const names = Object.keys(o.inputs);
  return {
    model_name: model,
    model_version: o.version ?? '',
    id: o.id ?? '',
    parameters: grpcParameters(o.parameters),
    inputs: names.map((name) => {
      const t = o.inputs[name]!;
      const datatype = datatypeOf(t.dtype);
      if (!datatype) throw new InferenceError(`input '${name}' has type ${t.dtype}, which the inference protocol cannot carry`, 400);
      return { name, datatype, shape: t.dims.map(String) };
    }),
    outputs: (o.outputs ?? []).map((name) => ({ name })),
    raw_input_contents: names.map((name) => Buffer.from(tensorToBinary(o.inputs[name]!))),
  };
}

/** One raw output as a tensor, checked against its declared datatype and shape. */
function tensorFromRaw(name: string, datatype: string, dims: number[], raw: Buffer | undefined): Tensor {
  if (!raw) throw new InferenceError(`output '${name}' has no raw_output_contents entry`, 500);
  const dtype = dtypeOf(datatype);
  if (!dtype) throw new InferenceError(`output '${name}' has datatype ${datatype}, which this client cannot decode`, 500);
  return tensorFromBinary(name, dtype, dims, raw, 'output');
}
