/**
 * The messages between the main thread (repository, batchers, session pools) and the HTTP front-end
 * worker threads, and the wire form of tensors between them (typed arrays travel by transfer, never
 * copied twice: a view that does not own its buffer is compacted first, so structured clone never copies
 * a whole shared buffer).
 */
import type { Tensor } from '../../onnx/tensor.js';
import { type WireTensor, fromWire, toWire } from '../../runtime/pool-protocol.js';
import type { CatalogEntry } from '../repository.js';
import type { ControlAnswer, ControlRequest } from '../served-model.js';

export type { WireTensor } from '../../runtime/pool-protocol.js';

/** Where a front end listens: a fresh socket, or one another thread already listens on (shared). */
export type ListenSpec = { host: string; port: number } | { fd: number };

/** `workerData` of a front-end worker. */
export interface FrontendInit {
  index: number;
  count: number;
  http: ListenSpec;
  /** gRPC listener (absent: no gRPC). */
  grpc?: ListenSpec;
  logLevel: string;
  /** Send log lines to the main thread (a `logDestination` was given) instead of writing fd 1. */
  forwardLogs: boolean;
  bodyLimit: number;
  requestTimeoutMs: number;
  maxUploads: number;
  /** The server-wide count of large bodies arriving (shared memory). */
  uploads: Int32Array;
  grpcMaxMessageBytes: number;
  catalog: CatalogEntry[];
  repositoryRoot: string;
}

/** An error as it crosses threads. */
export interface WireError {
  message: string;
  status: number;
  headers: Record<string, string>;
}

/** front end → main */
export type FromFrontend =
  | { t: 'listening'; httpFd: number; httpUrl: string; grpcFd?: number; grpcUrl?: string }
  | { t: 'start-error'; message: string }
  | { t: 'infer'; id: number; name: string; version: string; uid: number; feeds: Record<string, WireTensor>; batch: number; fetches?: string[]; rid: string; parameters?: Record<string, string | number | boolean> }
  | { t: 'cancel'; id: number }
  | { t: 'control'; id: number; req: ControlRequest }
  | { t: 'log'; line: string }
  | { t: 'metrics'; id: number; json: unknown[] }
  | { t: 'stopped' };

/** main → front end */
export type ToFrontend =
  | { t: 'result'; id: number; outputs: Record<string, WireTensor>; queueMs: number; computeMs: number; batchSize: number; parameters?: Record<string, string | number | boolean> }
  | { t: 'control-result'; id: number; answer: ControlAnswer }
  | { t: 'error'; id: number; error: WireError }
  | { t: 'catalog'; entries: CatalogEntry[] }
  | { t: 'closing' }
  | { t: 'pull-metrics'; id: number }
  /** Stop accepting, answer what is in flight (new requests on open connections get 503), then report `stopped`. */
  | { t: 'stop' }
  /** The drain deadline passed: close every connection now. */
  | { t: 'force-close' };

/** Tensors → wire form, every buffer transferable (views are compacted); the buffers to transfer are added to `transfer`. */
export function tensorsToWire(tensors: Record<string, Tensor>, transfer: ArrayBuffer[]): Record<string, WireTensor> {
  const out: Record<string, WireTensor> = {};
  for (const [k, t] of Object.entries(tensors)) {
    const d = t.data;
    if (Array.isArray(d) || (d.byteOffset === 0 && d.buffer instanceof ArrayBuffer && d.byteLength === d.buffer.byteLength)) {
      out[k] = toWire(t, transfer);
    } else {
      const copy = d.slice();
      transfer.push(copy.buffer as ArrayBuffer);
      out[k] = { dtype: t.dtype, dims: [...t.dims], data: copy };
    }
  }
  return out;
}

/** Wire form → tensors (no copy). */
export function tensorsFromWire(wire: Record<string, WireTensor>): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [k, w] of Object.entries(wire)) out[k] = fromWire(w);
  return out;
}
