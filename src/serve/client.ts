/**
 * `InferenceClient`: a typed Open Inference Protocol (KServe v2) REST client on Node's built-in fetch.
 * Works against `trainfer serve`, Triton, KServe or any v2 server; tensors go as JSON or, with
 * `binary: true`, through the binary tensor data extension.
 */
import { InferenceError } from './errors.js';
import type { Tensor } from '../onnx/tensor.js';
import { type InferRequest, type InferResponse, datatypeOf, decodeInferResponse, tensorToBinary, tensorToJson } from './protocol.js';

/** Server metadata (`GET /v2`). */
export interface ServerMetadata {
  name: string;
  version: string;
  extensions: string[];
}

/** One input or output in model metadata; `shape` has -1 for dynamic dims. */
export interface TensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

/** Model metadata (`GET /v2/models/{name}`). */
export interface ModelMetadata {
  name: string;
  versions?: string[];
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

/** Options for one `infer` call. */
export interface InferOptions {
  /** Inputs by name. */
  inputs: Record<string, Tensor>;
  /** Outputs to return (default all). */
  outputs?: string[];
  /** Model version (default: the server's choice, the highest). */
  version?: string;
  /** Send inputs and ask for outputs in the binary tensor data extension (needed for exact FP16/INT64). */
  binary?: boolean;
  /** Request id, echoed by the server. */
  id?: string;
  /** Abort the request (e.g. a client-side timeout: `AbortSignal.timeout(1000)`). */
  signal?: AbortSignal;
  /** Request parameters (e.g. a retrieval model's `{ mode: 'ann', k: 10 }`). */
  parameters?: Record<string, string | number | boolean>;
}

/** The result of `infer`. */
export interface InferResult {
  modelName: string;
  modelVersion?: string;
  id?: string;
  outputs: Record<string, Tensor>;
  /** The response as the server sent it (outputs in binary have no `data`). */
  raw: InferResponse;
}

/**
 * A client for one server.
 *
 * @example
 * const client = new InferenceClient('http://127.0.0.1:8000');
 * const { outputs } = await client.infer('mnist', { inputs: { pixels: Tensor.f32([1, 1, 28, 28], image) } });
 */
export class InferenceClient {
  private readonly base: string;

  constructor(baseUrl: string) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  /** `GET /v2/health/live` → true when the server answers 200. */
  async live(): Promise<boolean> {
    return (await this.fetch('GET', '/v2/health/live', undefined, false)).ok;
  }

  /** `GET /v2/health/ready`. */
  async ready(): Promise<boolean> {
    return (await this.fetch('GET', '/v2/health/ready', undefined, false)).ok;
  }

  /** `GET /v2/models/{name}[/versions/{v}]/ready`. */
  async modelReady(name: string, version?: string): Promise<boolean> {
    return (await this.fetch('GET', `${modelPath(name, version)}/ready`, undefined, false)).ok;
  }

  /** `GET /v2`. */
  async serverMetadata(): Promise<ServerMetadata> {
    return (await this.fetch('GET', '/v2')).json() as Promise<ServerMetadata>;
  }

  /** `GET /v2/models/{name}[/versions/{v}]`. */
  async modelMetadata(name: string, version?: string): Promise<ModelMetadata> {
    return (await this.fetch('GET', modelPath(name, version))).json() as Promise<ModelMetadata>;
  }

  /** `POST /v2/repository/index`. */
  async repositoryIndex(options: { ready?: boolean } = {}): Promise<{ name: string; version?: string; state: string; reason: string }[]> {
    const body = options.ready === undefined ? undefined : JSON.stringify({ ready: options.ready });
    return (await this.fetch('POST', '/v2/repository/index', body)).json() as Promise<{ name: string; version?: string; state: string; reason: string }[]>;
  }

  /** `POST /v2/repository/models/{name}/load`. */
  async loadModel(name: string): Promise<void> {
    await this.fetch('POST', `/v2/repository/models/${encodeURIComponent(name)}/load`);
  }

  /** `POST /v2/repository/models/{name}/unload`. */
  async unloadModel(name: string): Promise<void> {
    await this.fetch('POST', `/v2/repository/models/${encodeURIComponent(name)}/unload`);
  }

  /** `GET /metrics` as Prometheus text. */
  async metrics(): Promise<string> {
    return (await this.fetch('GET', '/metrics')).text();
  }

  /** `POST /v2/models/{name}[/versions/{v}]/infer`. Errors are `InferenceError`s with the server's status. */
  async infer(model: string, o: InferOptions): Promise<InferResult> {
    const request = buildRequest(o);
    const res = await this.fetch('POST', `${modelPath(model, o.version)}/infer`, request.body, true, request.headers, o.signal);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const { response, tensors } = decodeInferResponse(bytes, res.headers.get('inference-header-content-length') ?? undefined);
    return { modelName: response.model_name, modelVersion: response.model_version, id: response.id, outputs: Object.fromEntries(tensors), raw: response };
  }

  private async fetch(method: string, path: string, body?: Uint8Array | string, check = true, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(this.base + path, { method, body, headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers }, signal });
    } catch (err) {
      const cause = (err as { cause?: Error }).cause?.message ?? (err as Error).message;
      throw new InferenceError(`${method} ${this.base}${path}: ${cause}`, 0);
    }
    if (check && !res.ok) {
      const text = await res.text();
      let msg = text;
      try {
        msg = (JSON.parse(text) as { error?: string }).error ?? text;
      } catch {
        // not JSON: keep the text
      }
      const headers: Record<string, string> = {};
      const retry = res.headers.get('retry-after');
      if (retry) headers['Retry-After'] = retry;
      throw new InferenceError(`server answered ${res.status}: ${msg.split('\n')[0] || res.statusText}`, res.status, headers);
    }
    return res;
  }
}

/** Builds the request body (JSON, or JSON header + binary tensors) and its headers. */
export function buildRequest(o: InferOptions): { body: Uint8Array | string; headers: Record<string, string>; json: InferRequest } {
  const binaries: Uint8Array[] = [];
  const inputs = Object.entries(o.inputs).map(([name, t]) => {
    const datatype = datatypeOf(t.dtype);
    if (!datatype) throw new InferenceError(`input '${name}' has type ${t.dtype}, which the inference protocol cannot carry`, 400);
    if (o.binary) {
      const bytes = tensorToBinary(t);
      binaries.push(bytes);
      return { name, shape: [...t.dims], datatype, parameters: { binary_data_size: bytes.byteLength } };
    }
    return { name, shape: [...t.dims], datatype, data: tensorToJson(t) };
  });
  const json: InferRequest = { inputs };
  if (o.id !== undefined) json.id = o.id;
  if (o.outputs) json.outputs = o.outputs.map((name) => (o.binary ? { name, parameters: { binary_data: true } } : { name }));
  if (o.binary || o.parameters) json.parameters = { ...o.parameters, ...(o.binary ? { binary_data_output: true } : {}) };
  const text = JSON.stringify(json);
  if (!o.binary) return { body: text, headers: {}, json };
  const head = Buffer.from(text, 'utf8');
  return { body: Buffer.concat([head, ...binaries]), headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(head.length) }, json };
}

function modelPath(name: string, version?: string): string {
  return `/v2/models/${encodeURIComponent(name)}${version === undefined ? '' : `/versions/${encodeURIComponent(version)}`}`;
}
