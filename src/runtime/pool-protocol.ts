/**
 * The messages `SessionPool` (main thread) and `pool-worker` (worker thread) exchange, and the
 * plain-object form of a tensor that crosses the thread boundary (typed arrays travel by transfer).
 */
import type { DType, TypedArray } from '../onnx/dtype.js';
import { Tensor } from '../onnx/tensor.js';
import type { ModelSource, SessionOptions } from './session.js';

/** A tensor as structured-clone data. */
export interface WireTensor {
  dtype: DType;
  dims: number[];
  data: TypedArray | string[];
}

/** An input or output as the session reports it: dtype and shape (symbolic dims are strings). */
export interface IoMetadata {
  name: string;
  /** Element type, or undefined for a non-tensor value (sequence, map). */
  dtype?: DType;
  /** Dims: numbers, symbolic names, or `null` when unknown. Undefined when the rank is unknown. */
  shape?: (number | string | null)[];
}

/** What the worker receives as `workerData`. */
export interface WorkerInit {
  source: ModelSource;
  options: SessionOptions;
}

/** main → worker */
export type ToWorker =
  | { type: 'run'; id: number; feeds: Record<string, WireTensor>; fetches?: string[] }
  | { type: 'close' }
  /** Fault injection for tests: the worker exits with this code at once. */
  | { type: 'crash'; code: number };

/** worker → main */
export type FromWorker =
  | { type: 'ready'; inputs: IoMetadata[]; outputs: IoMetadata[] }
  | { type: 'init-error'; message: string }
  | { type: 'result'; id: number; outputs: Record<string, WireTensor>; computeMs: number }
  | { type: 'run-error'; id: number; message: string };

/** Tensor → wire form; adds its buffer to `transfer` when the array owns the whole buffer. */
export function toWire(t: Tensor, transfer?: ArrayBuffer[]): WireTensor {
  const data = t.data;
  if (transfer && !Array.isArray(data) && ownsBuffer(data) && !transfer.includes(data.buffer as ArrayBuffer)) {
    transfer.push(data.buffer as ArrayBuffer);
  }
  return { dtype: t.dtype, dims: [...t.dims], data };
}

/** Wire form → Tensor (no copy). */
export function fromWire(w: WireTensor): Tensor {
  return new Tensor(w.dtype, w.dims, w.data);
}

function ownsBuffer(a: TypedArray): boolean {
  return a.buffer instanceof ArrayBuffer && a.byteOffset === 0 && a.byteLength === a.buffer.byteLength;
}
