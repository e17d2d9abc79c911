/**
 * Importance of the atoms (coupled channels) of a pruning group, from the slices that carry them:
 * `l1` / `l2` — Σ|w| / Σw² over every weight slice of the atom (its producers' rows and consumers'
 * columns), `bn` — Σ|γ| of the BatchNorm/LayerNorm scales it passes (L1 where a group has none),
 * `taylor` — Σ over weight slices of |Σ w · ∂L/∂w| per channel, with gradients accumulated over training batches
 * (Molchanov et al. 2019's first-order criterion). Larger is more important.
 */
import type { TypedArray } from '../../onnx/dtype.js';
import type { Tensor } from '../../onnx/tensor.js';
import type { DependencyGraph, ParamSlice, PruningGroup } from './depgraph.js';

/** Importance criteria. */
export type Importance = 'l1' | 'l2' | 'bn' | 'taylor';

/** Importance criteria names, for flags. */
export const IMPORTANCES: readonly Importance[] = ['l1', 'l2', 'bn', 'taylor'];

/** Adds f(w[e], g[e]) of every element of `s` into its atom's score. */
function accumulate(dg: DependencyGraph, s: ParamSlice, t: Tensor, grad: Tensor | undefined, f: (w: number, g: number) => number, post: (x: number) => number, scores: Map<number, number>): void {
  const d = t.data as TypedArray as Float32Array;
  const gd = grad?.data as Float32Array | undefined;
  const dims = t.dims;
  const strides = dims.map((_, a) => dims.slice(a + 1).reduce((x, y) => x * y, 1));
  const sizes = s.axes.map((a) => dims[a]!);
  const perId = new Float64Array(s.ids.length);
  for (let e = 0; e < d.length; e++) {
    let k = 0;
    for (let i = 0; i < s.axes.length; i++) k = k * sizes[i]! + (Math.floor(e / strides[s.axes[i]!]!) % dims[s.axes[i]!]!);
    perId[k]! += f(d[e]!, gd ? gd[e]! : 0);
  }
  for (let k = 0; k < perId.length; k++) {
    const r = dg.uf.find(s.ids[k]!);
    scores.set(r, (scores.get(r) ?? 0) + post(perId[k]!));
  }
}

/** Options for `atomImportance`. */
export interface ImportanceOptions {
  criterion: Importance;
  /** ∂L/∂w by initializer name (taylor). */
  gradients?: ReadonlyMap<string, Tensor>;
}

/** Scores of every atom of `group` (by atom id). */
export function atomImportance(dg: DependencyGraph, group: PruningGroup, o: ImportanceOptions): Map<number, number> {
  const scores = new Map<number, number>(group.atoms.map((a) => [a.id, 0]));
  const inits = dg.model.graph.initializers;
  const weights = group.slices.filter((s) => s.role === 'out' || s.role === 'in');
  let criterion = o.criterion;
  const scalesOf = group.slices.filter((s) => s.role === 'norm-scale');
  if (criterion === 'bn' && scalesOf.length === 0) criterion = 'l1';
  if (criterion === 'taylor' && !o.gradients) criterion = 'l1';
  const use = criterion === 'bn' ? scalesOf : weights;
  // taylor: |Σ w·∂L/∂w| per channel slice (the first-order change of the loss when it is removed).
  const f = criterion === 'l2' ? (w: number) => w * w : criterion === 'taylor' ? (w: number, g: number) => w * g : (w: number) => Math.abs(w);
  const post = criterion === 'taylor' ? Math.abs : (x: number) => x;
  for (const s of use) {
    const grad = criterion === 'taylor' ? o.gradients?.get(s.init) : undefined;
    if (criterion === 'taylor' && !grad) continue;
    accumulate(dg, s, inits.get(s.init)!, grad, f, post, scores);
  }
  return scores;
}
