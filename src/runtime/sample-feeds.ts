/**
 * Synthetic feeds for any model: one tensor per graph input the caller must feed, of the input's dtype,
 * with symbolic or unknown dims resolved from `dims` (by dim name or by input name + axis) or a default.
 * Used to run a model once before a file is committed, and wherever a model has to be run without data.
 */
import type { DType } from '../onnx/dtype.js';
import type { Dim, Model } from '../onnx/ir.js';
import { Tensor } from '../onnx/tensor.js';
import { TrainferError } from '../util/errors.js';

/** Options for `sampleFeeds`. */
export interface SampleFeedsOptions {
  model: Model;
  /** Sizes for symbolic dims, by dim name (`batch`, `seq`, …) — e.g. from `--dim name=N`. */
  dims?: Readonly<Record<string, number>>;
  /** Size used for any dim still unknown (default 1). */
  defaultDim?: number;
  /** Seed of the float values (default 1). */
  seed?: number;
}

/**
 * One synthetic tensor per feed input of `model`: floats uniform in [0, 1), integer inputs 0 (a valid
 * index for every Gather/Embedding), bools true, strings `""`. Dims named in `dims` take that size,
 * other unknown dims `defaultDim`.
 *
 * @example
 * const feeds = sampleFeeds({ model, dims: { batch: 4 } });
 * await session.run(feeds);
 */
export function sampleFeeds(o: SampleFeedsOptions): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  let s = (o.seed ?? 1) >>> 0 || 1;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  for (const inp of o.model.graph.feedInputs()) {
    const type = inp.type;
    if (!type) throw new TrainferError(`model input '${inp.name}' has no type; cannot build a sample for it`);
    const shape = (type.shape ?? []).map((d) => resolveDim(d, o.dims, o.defaultDim ?? 1));
    out[inp.name] = fill(type.dtype, shape, next, inp.name);
  }
  return out;
}

function resolveDim(d: Dim, named: Readonly<Record<string, number>> | undefined, dflt: number): number {
  if (typeof d === 'number' && d >= 0) return d;
  if (typeof d === 'string' && named && named[d] !== undefined) return named[d]!;
  return dflt;
}

function fill(dtype: DType, shape: number[], next: () => number, name: string): Tensor {
  const t = new Tensor(dtype, shape);
  const data = t.data;
  if (Array.isArray(data)) data.fill('');
  else if (dtype === 'float32' || dtype === 'float64') for (let i = 0; i < data.length; i++) (data as Float32Array)[i] = next();
  else if (dtype === 'float16' || dtype === 'bfloat16') (data as Uint16Array).fill(dtype === 'float16' ? 0x3800 : 0x3f00); // 0.5
  else if (dtype === 'bool') (data as Uint8Array).fill(1);
  else if (data instanceof BigInt64Array || data instanceof BigUint64Array) data.fill(0n);
  else if (/^(u?int(8|16|32))$/.test(dtype)) (data as Int32Array).fill(0);
  else throw new TrainferError(`model input '${name}' has element type ${dtype}, which cannot be sampled`);
  return t;
}
