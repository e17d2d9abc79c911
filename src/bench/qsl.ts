/**
 * `TensorSampleLibrary`: the samples a model-backed SUT reads, one contiguous [count, …sample dims]
 * block per model input in shared memory, so worker threads read them in place and queries carry only
 * indices (MLPerf's QSL loads samples before the timed run; nothing is loaded or copied per query
 * except into the batch buffer). Built from tensors (a test split, token ids, user features, raw texts
 * for a served model that tokenizes) or synthesised for any model from its input types. String samples
 * (BYTES) live in an ordinary array: they are copied, not shared, when the library crosses into a worker.
 */
import { type DType, type TypedArray, byteLength, storageLength, viewBytes } from '../onnx/dtype.js';
import type { Model } from '../onnx/ir.js';
import { Tensor } from '../onnx/tensor.js';
import { sampleFeeds } from '../runtime/sample-feeds.js';
import { TrainferError } from '../util/errors.js';
import type { QuerySampleLibrary } from './loadgen/types.js';

/** One model input's samples. `data` lives in a SharedArrayBuffer. */
export interface SampleInput {
  name: string;
  dtype: DType;
  /** Dims of one sample (the model's input dims without the batch dim). */
  sampleDims: number[];
  /** Elements per sample. */
  sampleSize: number;
  /** Shared typed storage, or (dtype `string`) the strings themselves. */
  data: TypedArray | string[];
}

/** The plain-data form that crosses into worker threads (shared buffers are not copied). */
export interface SampleLibraryData {
  name: string;
  count: number;
  inputs: SampleInput[];
}

/** Options for `TensorSampleLibrary.fromTensors`. */
export interface FromTensorsOptions {
  name: string;
  /** One tensor per model input; the first dim indexes samples and must agree across inputs. */
  inputs: Record<string, Tensor>;
  /** Class labels per sample, for accuracy checks. */
  labels?: Int32Array;
}

/** Options for `TensorSampleLibrary.synthetic`. */
export interface SyntheticSamplesOptions {
  model: Model;
  /** Samples to make (default 256). */
  count?: number;
  /** Sizes for symbolic non-batch dims by name (e.g. `{ seq: 128 }`), as `sampleFeeds` takes them. */
  dims?: Readonly<Record<string, number>>;
}

/**
 * Samples held in memory for a run.
 *
 * @example
 * const qsl = TensorSampleLibrary.fromTensors({ name: 'mnist-test', inputs: { pixels: x } });
 * const feeds = qsl.batch([0, 5, 9]); // { pixels: Tensor [3, 1, 28, 28] }
 */
export class TensorSampleLibrary implements QuerySampleLibrary {
  readonly name: string;
  readonly totalSampleCount: number;
  readonly performanceSampleCount: number;
  readonly inputs: readonly SampleInput[];
  readonly labels?: Int32Array;

  private constructor(d: SampleLibraryData, labels?: Int32Array) {
    this.name = d.name;
    this.totalSampleCount = d.count;
    this.performanceSampleCount = d.count;
    this.inputs = d.inputs;
    this.labels = labels;
  }

  /** Copies `inputs` into shared memory. */
  static fromTensors(o: FromTensorsOptions): TensorSampleLibrary {
    const entries = Object.entries(o.inputs);
    if (entries.length === 0) throw new TrainferError(`${o.name}: a sample library needs at least one input`);
    const count = entries[0]![1].dims[0] ?? 0;
    if (!(count > 0)) throw new TrainferError(`${o.name}: no samples (the first dim of '${entries[0]![0]}' is ${count})`);
    const inputs = entries.map(([name, t]) => {
      if (t.dims[0] !== count) throw new TrainferError(`${o.name}: input '${name}' has ${t.dims[0]} samples, '${entries[0]![0]}' has ${count}`);
      const sampleDims = t.dims.slice(1);
      const sampleSize = sampleDims.reduce((a, b) => a * b, 1);
      if (t.dtype === 'string') return { name, dtype: t.dtype, sampleDims, sampleSize, data: [...(t.data as string[])] };
      if (storageLength(t.dtype, sampleSize) !== sampleSize) throw new TrainferError(`${o.name}: input '${name}' is ${t.dtype}, whose samples are not whole typed-array elements`);
      const sab = new SharedArrayBuffer(byteLength(t.dtype, count * sampleSize));
      const data = viewBytes(t.dtype, new Uint8Array(sab), count * sampleSize);
      (data as Float32Array).set(t.data as Float32Array);
      return { name, dtype: t.dtype, sampleDims, sampleSize, data };
    });
    if (o.labels && o.labels.length !== count) throw new TrainferError(`${o.name}: ${o.labels.length} labels for ${count} samples`);
    return new TensorSampleLibrary({ name: o.name, count, inputs }, o.labels);
  }

  /** Synthetic samples for any model (floats uniform in [0, 1), integer ids 0): benchmarks without data. */
  static synthetic(o: SyntheticSamplesOptions): TensorSampleLibrary {
    const count = o.count ?? 256;
    const feedsPer = Array.from({ length: count }, (_, i) => sampleFeeds({ model: o.model, dims: o.dims, defaultDim: 1, seed: i + 1 }));
    const inputs: Record<string, Tensor> = {};
    for (const name of Object.keys(feedsPer[0]!)) {
      const first = feedsPer[0]![name]!;
      if (first.dims.length === 0) throw new TrainferError(`model input '${name}' is a scalar; it has no batch dimension to benchmark over`);
      const per = first.data.length / first.dims[0]!;
      const t = new Tensor(first.dtype, [count * first.dims[0]!, ...first.dims.slice(1)]);
      for (let i = 0; i < count; i++) (t.data as Float32Array).set(feedsPer[i]![name]!.data as Float32Array, i * per * first.dims[0]!);
      inputs[name] = t;
    }
    return TensorSampleLibrary.fromTensors({ name: `synthetic:${count}`, inputs });
  }

  /** Rebuilds a library from `data()` (in a worker thread; the buffers are shared, not copied). */
  static fromData(d: SampleLibraryData): TensorSampleLibrary {
    return new TensorSampleLibrary(d);
  }

  /** The plain-data form for `workerData`. */
  data(): SampleLibraryData {
    return { name: this.name, count: this.totalSampleCount, inputs: [...this.inputs] };
  }

  /** Bytes of one sample over all inputs (what a request carries per sample; strings: their mean UTF-8 size). */
  get sampleBytes(): number {
    return this.inputs.reduce((s, i) => s + (i.dtype === 'string' ? meanUtf8Bytes(i.data as string[]) * i.sampleSize : byteLength(i.dtype, i.sampleSize)), 0);
  }

  loadSamples(indices: readonly number[]): void {
    for (const i of indices) if (!(i >= 0 && i < this.totalSampleCount)) throw new TrainferError(`${this.name}: sample ${i} is out of range`);
  }

  unloadSamples(): void {}

  /** A new batch of the samples at `indices`, padded to `padTo` samples by repeating the first. */
  batch(indices: ArrayLike<number>, padTo = indices.length): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const inp of this.inputs) {
      const t = new Tensor(inp.dtype, [padTo, ...inp.sampleDims]);
      fillBatch(inp, indices, t.data, padTo);
      out[inp.name] = t;
    }
    return out;
  }
}

/** Copies the samples at `indices` into `out` (padded to `padTo` samples with the first). */
export function fillBatch(inp: SampleInput, indices: ArrayLike<number>, out: TypedArray | string[], padTo = indices.length): void {
  const s = inp.sampleSize;
  if (inp.dtype === 'string') {
    const src = inp.data as string[];
    const dst = out as string[];
    for (let k = 0; k < padTo; k++) {
      const i = indices[k < indices.length ? k : 0]!;
      for (let j = 0; j < s; j++) dst[k * s + j] = src[i * s + j]!;
    }
    return;
  }
  const src = inp.data as Float32Array;
  const dst = out as Float32Array;
  for (let k = 0; k < padTo; k++) {
    const i = indices[k < indices.length ? k : 0]!;
    dst.set(src.subarray(i * s, (i + 1) * s), k * s);
  }
}

/** Mean UTF-8 bytes of the strings (0 for none). */
function meanUtf8Bytes(texts: readonly string[]): number {
  if (texts.length === 0) return 0;
  let sum = 0;
  for (const t of texts) sum += Buffer.byteLength(t, 'utf8');
  return sum / texts.length;
}
