/**
 * Messages between `InProcessSut` (main thread) and `ort-worker` (one worker thread per session):
 * queries travel as sample indices into the shared sample library, never as tensors.
 */
import type { ModelSource, SessionOptions } from '../../runtime/session.js';
import type { DType, TypedArray } from '../../onnx/dtype.js';
import type { SampleLibraryData } from '../qsl.js';

/** `workerData` of a bench worker. */
export interface OrtWorkerInit {
  source: ModelSource;
  session: SessionOptions;
  library: SampleLibraryData;
  /** Post every batch's outputs back (accuracy checks); default off so performance runs copy nothing. */
  returnOutputs: boolean;
}

/** An output tensor as structured-clone data. */
export interface WireOutput {
  name: string;
  dtype: DType;
  dims: number[];
  data: TypedArray | string[];
}

/** main → worker */
export type ToOrtWorker = { type: 'run'; id: number; indices: Int32Array; batches: number[] } | { type: 'close' };

/** worker → main */
export type FromOrtWorker =
  | { type: 'ready'; inputs: { name: string; dims: (number | string | null)[] }[] }
  | { type: 'init-error'; message: string }
  /** `outputs`: one list per batch, when `returnOutputs`. */
  | { type: 'done'; id: number; computeMs: number; outputs?: WireOutput[][] }
  | { type: 'run-error'; id: number; message: string };

/**
 * The batch size the model's inputs fix in their first dim (every batch is padded to it), or
 * undefined when the batch dim is dynamic.
 */
export function fixedBatchOf(inputs: readonly { dims: readonly (number | string | null)[] }[]): number | undefined {
  const firsts = inputs.map((i) => i.dims[0]);
  if (firsts.length === 0 || firsts.some((d) => typeof d !== 'number')) return undefined;
  return firsts[0] as number;
}
