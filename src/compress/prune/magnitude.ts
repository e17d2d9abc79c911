/**
 * Unstructured magnitude pruning: which initializers are prunable weights (the weights of Conv,
 * ConvTranspose, Gemm and MatMul — biases, normalisation parameters and other constants never), and 0/1
 * masks that zero the smallest |w|, per tensor (`layer`) or with one threshold over all of them
 * (`global`). Weights already zero count as pruned, so masks only ever grow sparser.
 */
import type { Graph, Model } from '../../onnx/ir.js';
import type { Tensor } from '../../onnx/tensor.js';
import { TrainferError } from '../../util/errors.js';

/** A weight tensor magnitude pruning may zero. */
export interface PrunableWeight {
  /** Initializer name. */
  name: string;
  /** The node that uses it as a weight. */
  node: string;
  opType: string;
  dims: readonly number[];
}

const WEIGHT_INPUT: Readonly<Record<string, readonly number[]>> = { Conv: [1], ConvTranspose: [1], Gemm: [0, 1], MatMul: [0, 1] };

/** The weight initializers of Conv/ConvTranspose/Gemm/MatMul nodes (float, rank ≥ 2), in node order. */
export function prunableWeights(target: Model | Graph): PrunableWeight[] {
  const g = 'graph' in target ? target.graph : target;
  const out: PrunableWeight[] = [];
  const seen = new Set<string>();
  for (const n of g.nodes) {
    for (const k of WEIGHT_INPUT[n.opType] ?? []) {
      const name = n.inputs[k];
      const t = name ? g.initializers.get(name) : undefined;
      if (!name || !t || seen.has(name) || t.dims.length < 2 || (t.dtype !== 'float32' && t.dtype !== 'float64')) continue;
      seen.add(name);
      out.push({ name, node: n.name, opType: n.opType, dims: t.dims });
    }
  }
  return out;
}

/** Options for `magnitudeMasks`. */
export interface MagnitudeMaskOptions {
  /** Current weights by name (at least every entry of `names`). */
  weights: ReadonlyMap<string, Tensor>;
  /** The tensors to prune. */
  names: readonly string[];
  /** Fraction of their elements to zero, in [0, 1). */
  sparsity: number;
  /** `layer`: each tensor at `sparsity`; `global`: one magnitude threshold over all of them. Default `layer`. */
  scope?: 'layer' | 'global';
}

/** 0/1 masks (float32, the weight's shape) zeroing the smallest-magnitude weights; ties broken by position. */
export function magnitudeMasks(o: MagnitudeMaskOptions): Map<string, Float32Array> {
  if (!(o.sparsity >= 0 && o.sparsity < 1)) throw new TrainferError(`sparsity must be in [0, 1), got ${o.sparsity}`);
  const arrays = o.names.map((n) => {
    const t = o.weights.get(n);
    if (!t) throw new TrainferError(`magnitude pruning: no weight named '${n}'`);
    return t.data as Float32Array | Float64Array;
  });
  const masks = new Map<string, Float32Array>();
  if ((o.scope ?? 'layer') === 'layer') {
    o.names.forEach((n, i) => masks.set(n, maskBelow([arrays[i]!], o.sparsity)[0]!));
  } else {
    const ms = maskBelow(arrays, o.sparsity);
    o.names.forEach((n, i) => masks.set(n, ms[i]!));
  }
  return masks;
}

/** Masks zeroing exactly round(sparsity · total) elements of smallest |x| over all `arrays` together. */
function maskBelow(arrays: readonly (Float32Array | Float64Array)[], sparsity: number): Float32Array[] {
  const total = arrays.reduce((s, a) => s + a.length, 0);
  const k = Math.round(sparsity * total);
  const masks = arrays.map((a) => new Float32Array(a.length).fill(1));
  if (k === 0) return masks;
  const abs = new Float32Array(total);
  let off = 0;
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++) abs[off + i] = Math.abs(a[i]!);
    off += a.length;
  }
  const sorted = abs.slice().sort();
  const th = sorted[k - 1]!;
  let below = 0;
  for (let i = 0; i < total; i++) if (abs[i]! < th) below++;
  let ties = k - below;
  off = 0;
  arrays.forEach((a, j) => {
    const m = masks[j]!;
    for (let i = 0; i < a.length; i++) {
      const v = abs[off + i]!;
      if (v < th) m[i] = 0;
      else if (v === th && ties > 0) {
        m[i] = 0;
        ties--;
      }
    }
    off += a.length;
  });
  return masks;
}

/** Zero count and size of a tensor. */
export function countZeros(t: Tensor): { zeros: number; total: number } {
  const d = t.data as Float32Array;
  let zeros = 0;
  for (let i = 0; i < d.length; i++) if (d[i] === 0) zeros++;
  return { zeros, total: d.length };
}
