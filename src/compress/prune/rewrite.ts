/**
 * Applying a channel removal found on a dependency graph: every registered initializer slice is cut to
 * the kept channels, node edits run (reshape targets, split sizes, depthwise group counts), and stale
 * value types are dropped, giving a smaller model that computes exactly what the original computes with
 * the removed channels zeroed (`zeroChannels` builds that reference; the tests compare the two).
 */
import { Graph, Model, type Node } from '../../onnx/ir.js';
import { Tensor } from '../../onnx/tensor.js';
import type { TypedArray } from '../../onnx/dtype.js';
import { RewriteConflict, type DependencyGraph, type ParamSlice, type RewriteContext } from './depgraph.js';

/** A copy of the analysed model whose graph lists can be edited (tensors shared until replaced). */
function editableCopy(m: Model): { model: Model; nodeMap: Map<Node, Node> } {
  const src = m.graph;
  const g = new Graph(src.name);
  const nodeMap = new Map<Node, Node>();
  g.nodes = src.nodes.map((n) => {
    const c = { ...n, inputs: [...n.inputs], outputs: [...n.outputs], attributes: { ...n.attributes } };
    nodeMap.set(n, c);
    return c;
  });
  g.inputs = src.inputs.map((v) => ({ ...v }));
  g.outputs = src.outputs.map((v) => ({ ...v }));
  g.initializers = new Map(src.initializers);
  g.valueInfo = new Map(src.valueInfo);
  g.proto = src.proto;
  const out = m.withGraph(g);
  return { model: out, nodeMap };
}

/** Per axis of an initializer, the indices to keep (an axis absent from the map keeps everything). */
function keptIndices(dg: DependencyGraph, slices: readonly ParamSlice[], dims: readonly number[], removed: ReadonlySet<number>): Map<number, number[]> {
  const keepAxis = new Map<number, Uint8Array>();
  for (const s of slices) {
    const sizes = s.axes.map((a) => dims[a]!);
    const seen = s.axes.map((_, i) => new Uint8Array(sizes[i]!));
    let kept = 0;
    for (let e = 0; e < s.ids.length; e++) {
      if (removed.has(dg.uf.find(s.ids[e]!))) continue;
      kept++;
      let rem = e;
      for (let i = s.axes.length - 1; i >= 0; i--) {
        seen[i]![rem % sizes[i]!] = 1;
        rem = Math.floor(rem / sizes[i]!);
      }
    }
    const product = seen.reduce((p, x) => p * x.reduce((a, b) => a + b, 0), 1);
    if (product !== kept) throw new RewriteConflict(s.ids, `initializer '${s.init}' would need a ragged cut`);
    s.axes.forEach((a, i) => {
      const prev = keepAxis.get(a);
      if (prev) for (let k = 0; k < prev.length; k++) prev[k] = prev[k]! & seen[i]![k]!;
      else keepAxis.set(a, seen[i]!);
    });
  }
  const out = new Map<number, number[]>();
  for (const [a, m] of keepAxis) {
    const idx: number[] = [];
    m.forEach((v, k) => v && idx.push(k));
    if (idx.length !== m.length) out.set(a, idx);
  }
  return out;
}

/** `t` restricted to the given indices along some axes. */
export function takeAlong(t: Tensor, keep: ReadonlyMap<number, readonly number[]>): Tensor {
  if (!keep.size) return t;
  const dims = [...t.dims];
  const newDims = dims.map((d, a) => keep.get(a)?.length ?? d);
  const src = t.data as TypedArray;
  const out = new (src.constructor as new (n: number) => TypedArray)(newDims.reduce((x, y) => x * y, 1));
  const strides = dims.map((_, a) => dims.slice(a + 1).reduce((x, y) => x * y, 1));
  const lists = newDims.map((d, a) => keep.get(a) ?? Array.from({ length: d }, (_, i) => i));
  const r = dims.length;
  const idx = new Array<number>(r).fill(0);
  for (let o = 0; o < out.length; o++) {
    let s = 0;
    for (let a = 0; a < r; a++) s += lists[a]![idx[a]!]! * strides[a]!;
    out[o] = src[s]!;
    for (let a = r - 1; a >= 0; a--) {
      if (++idx[a]! < newDims[a]!) break;
      idx[a] = 0;
    }
  }
  return new Tensor(t.dtype, newDims, out);
}

function rewriteContext(dg: DependencyGraph, g: Graph, removed: ReadonlySet<number>): RewriteContext {
  return {
    graph: g,
    kept: (ids) => {
      const k = new Uint8Array(ids.length);
      for (let i = 0; i < ids.length; i++) k[i] = removed.has(dg.uf.find(ids[i]!)) ? 0 : 1;
      return k;
    },
    setInputTensor: (node, index, t) => {
      const old = node.inputs[index]!;
      const users = g.nodes.filter((n) => n !== node && n.inputs.includes(old)).length + (node.inputs.filter((i) => i === old).length > 1 ? 1 : 0);
      if (users === 0 && !g.outputs.some((o) => o.name === old) && !g.inputs.some((v) => v.name === old)) {
        g.initializers.set(old, t);
        return;
      }
      const name = g.uniqueName(`${old}_pruned`);
      g.initializers.set(name, t);
      node.inputs[index] = name;
    },
  };
}

/**
 * The model with the channels of `removed` atoms (union–find roots from `dg`) cut out. Throws
 * `RewriteConflict` when a removal cannot be expressed (the caller keeps those channels and retries).
 */
export function rewriteChannels(dg: DependencyGraph, removed: ReadonlySet<number>): Model {
  const { model, nodeMap } = editableCopy(dg.model);
  const g = model.graph;
  const byInit = new Map<string, ParamSlice[]>();
  for (const s of dg.slices) {
    let l = byInit.get(s.init);
    if (!l) byInit.set(s.init, (l = []));
    l.push(s);
  }
  const newTensors = new Map<string, Tensor>();
  for (const [name, slices] of byInit) {
    const t = g.initializers.get(name)!;
    const keep = keptIndices(dg, slices, t.dims, removed);
    if (!keep.size) continue;
    if ([...keep.values()].some((l) => l.length === 0)) throw new RewriteConflict(slices[0]!.ids, `initializer '${name}' would lose every channel`);
    newTensors.set(name, takeAlong(t, keep));
  }
  const ctx = rewriteContext(dg, g, removed);
  for (const f of dg.fixups) f.apply(ctx, nodeMap.get(f.node)!);
  for (const [name, t] of newTensors) g.initializers.set(name, t);
  // Initializers also listed as graph inputs (older exports) get their new shapes.
  g.inputs = g.inputs.map((v) => {
    const t = newTensors.get(v.name);
    return t && v.type ? { ...v, type: { ...v.type, shape: [...t.dims] } } : v;
  });
  g.valueInfo = new Map();
  return model;
}

/**
 * The analysed model with every slice of the `removed` atoms set to zero (same shapes): the reference a
 * rewrite must match exactly.
 */
export function zeroChannels(dg: DependencyGraph, removed: ReadonlySet<number>): Model {
  const { model } = editableCopy(dg.model);
  const g = model.graph;
  for (const s of dg.slices) {
    if (s.role === 'norm-stat') continue; // γ = β = 0 already zero the channel
    const t = g.initializers.get(s.init)!;
    const d = (t.data as TypedArray).slice() as TypedArray;
    const dims = t.dims;
    const sizes = s.axes.map((a) => dims[a]!);
    const strides = dims.map((_, a) => dims.slice(a + 1).reduce((x, y) => x * y, 1));
    for (let e = 0; e < d.length; e++) {
      let k = 0;
      for (let i = 0; i < s.axes.length; i++) k = k * sizes[i]! + (Math.floor(e / strides[s.axes[i]!]!) % dims[s.axes[i]!]!);
      if (removed.has(dg.uf.find(s.ids[k]!))) d[e] = (typeof d[e] === 'bigint' ? 0n : 0) as never;
    }
    g.initializers.set(s.init, new Tensor(t.dtype, t.dims, d));
  }
  return model;
}
