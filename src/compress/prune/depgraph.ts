/**
 * The ONE dependency analysis every structured pruning method shares (the idea of Torch-Pruning's
 * DepGraph, on ONNX graphs). Every layer that makes channels — a Conv's output channels, a Gemm/MatMul's
 * output features, an embedding table's columns — gets one id per channel, and those ids are *tracked*
 * through the graph on the axes that carry them (a track: value, axes, one id per element of those axes).
 * Per-op rules (channel-rules.ts) move tracks through elementwise ops, normalisations, pools, Transpose,
 * Reshape/Flatten, Concat/Split and activation×activation MatMuls (attention), and *unite* ids that must
 * be removed together: both sides of a residual Add, the head coordinate of Q, K, V and the output
 * projection, a depthwise Conv's input and output channel. Every initializer slice that carries channel
 * ids (producer rows, consumer columns, biases, BatchNorm/LayerNorm parameters) is registered, so the
 * rewrite knows what to cut. An op the rules do not know, a graph output, or a value that cannot shrink
 * *fixes* the ids that reach it; ops that mix channels without weights (LayerNorm over them, Softmax
 * over them) mark them *lossy*.
 *
 * The result lists *groups*: sets of coupled channels ("atoms") that share the same weight slices; a
 * pruner ranks the atoms of each group and removes some, and `rewriteChannels` cuts every registered
 * slice and fixes up reshapes, split sizes and depthwise group counts.
 */
import type { Dim, Graph, Model, Node } from '../../onnx/ir.js';
import { foldConstants, topoSort } from '../../onnx/passes.js';
import { inferTypes } from '../../onnx/shape-infer.js';
import type { Tensor } from '../../onnx/tensor.js';
import { cloneGraph } from '../../autodiff/train-step.js';
import { UnionFind } from './union-find.js';
import { CHANNEL_RULES, unknownOp } from './channel-rules.js';

/** Channel ids carried by some axes of a value: `ids[k]` for the k-th element (row-major over `axes`). */
export interface Track {
  axes: number[];
  sizes: number[];
  ids: Int32Array;
}

/** What a registered initializer slice is, for importance criteria. */
export type SliceRole = 'out' | 'in' | 'bias' | 'norm-scale' | 'norm-bias' | 'norm-stat' | 'param';

/** An initializer whose elements along `axes` carry channel ids. */
export interface ParamSlice {
  init: string;
  axes: number[];
  ids: Int32Array;
  role: SliceRole;
  /** The node that uses it this way. */
  node: string;
}

/** Context a rewrite step gets: which ids are kept, and graph edits that copy shared tensors. */
export interface RewriteContext {
  graph: Graph;
  /** 1 where the element's channel is kept. */
  kept(ids: Int32Array): Uint8Array;
  /** Replaces input `index` of `node` by a tensor (a new initializer when the old one is shared). */
  setInputTensor(node: Node, index: number, t: Tensor): void;
}

/** A node edit the rewrite must make besides cutting slices (reshape targets, split sizes, groups); `node` is the rewritten copy. */
export interface Fixup {
  node: Node;
  apply(ctx: RewriteContext, node: Node): void;
}

/** A removal the rewrite cannot express (e.g. a reshape into ragged heads): the pruner keeps these channels and retries. */
export class RewriteConflict extends Error {
  constructor(readonly ids: Int32Array, message: string) {
    super(message);
  }
}

/** A set of coupled channels: what a structured pruner removes as one unit. */
export interface Atom {
  /** Union–find root. */
  id: number;
  /** Why it cannot be removed, if it cannot. */
  fixed?: string;
  /** Why removing it changes the function even when it is zero (e.g. a LayerNorm normalises over it). */
  lossy?: string;
}

/** Channels that share weight slices (a layer's output channels with everything coupled to them). */
export interface PruningGroup {
  index: number;
  atoms: Atom[];
  /** Slices carrying this group's channels. */
  slices: ParamSlice[];
  /** e.g. `Conv conv1 → BatchNormalization bn1 → Conv conv2 (32 channels)`. */
  description: string;
}

/** The analysis of one model. */
export interface DependencyGraph {
  /** The analysed graph: a copy of the model's graph with Constant nodes folded and nodes sorted. */
  model: Model;
  groups: PruningGroup[];
  /** Channel tracks by value name (after the analysis). */
  tracks: Map<string, Track[]>;
  slices: ParamSlice[];
  fixups: Fixup[];
  uf: UnionFind;
}

/** Options for `analyzeDependencies`. */
export interface AnalyzeOptions {
  /** Dim sizes for symbolic input dims other than the batch (e.g. `{ seq: 16 }`); tracked axes must be static anyway. */
  dims?: Readonly<Record<string, number>>;
}

/** What a channel rule sees and can do at one node. */
export class RuleContext {
  constructor(
    readonly node: Node,
    private readonly a: Analysis,
  ) {}

  get graph(): Graph {
    return this.a.graph;
  }

  /** Tracks on input `k` (empty when none or the input is absent). */
  in(k: number): Track[] {
    const v = this.node.inputs[k];
    return v ? (this.a.tracks.get(v) ?? []) : [];
  }

  /** Every track on any input, with the input index. */
  allInputs(): { k: number; t: Track }[] {
    return this.node.inputs.flatMap((_, k) => this.in(k).map((t) => ({ k, t })));
  }

  /** Static dims of a value (undefined when unknown). */
  shape(v: string | undefined): Dim[] | undefined {
    if (!v) return undefined;
    const init = this.a.graph.initializers.get(v);
    if (init) return [...init.dims];
    return this.a.types.get(v)?.shape;
  }

  /** Statically known small integer values (shape vectors, axes). */
  known(v: string | undefined): number[] | undefined {
    if (!v) return undefined;
    const init = this.a.graph.initializers.get(v);
    if (init && init.size <= 64 && init.dtype !== 'string') return init.toNumbers();
    const k = this.a.values.get(v)?.values;
    return k && k.every((x) => typeof x === 'number') ? (k as number[]) : undefined;
  }

  init(v: string | undefined): Tensor | undefined {
    return v ? this.a.graph.initializers.get(v) : undefined;
  }

  fresh(n: number): Int32Array {
    return this.a.uf.make(n);
  }

  unite(a: Int32Array, b: Int32Array): void {
    for (let i = 0; i < a.length; i++) this.a.uf.union(a[i]!, b[i]!);
  }

  fix(ids: Int32Array, why: string): void {
    for (const id of ids) this.a.uf.fix(id, why);
  }

  lossy(ids: Int32Array, why: string): void {
    for (const id of ids) this.a.uf.markLossy(id, why);
  }

  /** Fixes every track on every input (an op the rules do not handle this way). */
  fixInputs(why: string): void {
    for (const { t } of this.allInputs()) this.fix(t.ids, why);
  }

  /** Adds a track to output `k`; two tracks on the same axes are united into one. */
  out(k: number, t: Track): void {
    const v = this.node.outputs[k];
    if (!v) return;
    let list = this.a.tracks.get(v);
    if (!list) this.a.tracks.set(v, (list = []));
    const same = list.find((x) => x.axes.join() === t.axes.join());
    if (same) this.unite(same.ids, t.ids);
    else list.push(t);
  }

  /** Registers an initializer slice; a second registration of the same tensor and axes is united with the first. */
  slice(init: string, axes: number[], ids: Int32Array, role: SliceRole): void {
    const key = `${init}|${axes.join(',')}`;
    const prev = this.a.sliceByKey.get(key);
    if (prev) {
      if (prev.ids.length === ids.length) this.unite(prev.ids, ids);
      else this.fix(ids, `initializer '${init}' is used with different channel counts`);
      return;
    }
    const s: ParamSlice = { init, axes, ids, role, node: this.node.name };
    this.a.sliceByKey.set(key, s);
    this.a.slices.push(s);
  }

  fixup(apply: Fixup['apply']): void {
    this.a.fixups.push({ node: this.node, apply });
  }

  /**
   * Ids over a subset of a track's axes (row-major in `axes` order): one fresh id per projected index,
   * united with every element of the track that projects onto it.
   */
  project(t: Track, axes: readonly number[]): Int32Array {
    if (axes.join() === t.axes.join()) return t.ids;
    const pos = axes.map((a) => t.axes.indexOf(a));
    const sizes = pos.map((p) => t.sizes[p]!);
    const n = sizes.reduce((x, y) => x * y, 1);
    const out = this.fresh(n);
    const coords = new Array<number>(t.axes.length).fill(0);
    for (let e = 0; e < t.ids.length; e++) {
      let rem = e;
      for (let i = t.axes.length - 1; i >= 0; i--) {
        coords[i] = rem % t.sizes[i]!;
        rem = Math.floor(rem / t.sizes[i]!);
      }
      let k = 0;
      for (let i = 0; i < pos.length; i++) k = k * sizes[i]! + coords[pos[i]!]!;
      this.a.uf.union(out[k]!, t.ids[e]!);
    }
    return out;
  }

  /** A track's ids re-ordered for the same axes listed in another order (`axes` a permutation of `t.axes`). */
  reorder(t: Track, axes: readonly number[]): Int32Array {
    if (axes.join() === t.axes.join()) return t.ids;
    const pos = axes.map((a) => t.axes.indexOf(a));
    const sizes = pos.map((p) => t.sizes[p]!);
    const out = new Int32Array(t.ids.length);
    const coords = new Array<number>(t.axes.length).fill(0);
    for (let e = 0; e < t.ids.length; e++) {
      let rem = e;
      for (let i = t.axes.length - 1; i >= 0; i--) {
        coords[i] = rem % t.sizes[i]!;
        rem = Math.floor(rem / t.sizes[i]!);
      }
      let k = 0;
      for (let i = 0; i < pos.length; i++) k = k * sizes[i]! + coords[pos[i]!]!;
      out[k] = t.ids[e]!;
    }
    return out;
  }

  /** `node 'name' (Op)` for messages. */
  describe(): string {
    return `${this.node.opType} node '${this.node.name || this.node.outputs[0]}'`;
  }
}

/** Analysis state shared by the rules. */
interface Analysis {
  graph: Graph;
  uf: UnionFind;
  tracks: Map<string, Track[]>;
  slices: ParamSlice[];
  sliceByKey: Map<string, ParamSlice>;
  fixups: Fixup[];
  types: Map<string, { dtype: string; shape?: Dim[] }>;
  values: Map<string, { values: (number | string)[] }>;
}

/** A working copy of a model: Constant nodes folded into initializers, nodes topologically sorted. */
export function workingCopy(model: Model): Model {
  const g = cloneGraph(model.graph);
  g.proto = model.graph.proto;
  foldConstants(g);
  topoSort(g);
  const m = model.withGraph(g);
  return m;
}

/**
 * Analyses the channel dependencies of a model (never modified).
 *
 * @example
 * const dg = analyzeDependencies(readModel('cnn.onnx'));
 * for (const g of dg.groups) console.log(g.description, g.atoms.filter((a) => !a.fixed).length);
 */
export function analyzeDependencies(model: Model, o: AnalyzeOptions = {}): DependencyGraph {
  const m = workingCopy(model);
  const g = m.graph;
  const inputShapes: Record<string, Dim[]> = {};
  for (const v of g.feedInputs()) {
    const s = v.type?.shape;
    if (s) inputShapes[v.name] = s.map((d, i) => (typeof d === 'string' && o.dims?.[d] !== undefined ? o.dims[d]! : i === 0 && typeof d !== 'number' ? 'batch' : d));
  }
  const inf = inferTypes(m, { inputShapes });
  const a: Analysis = { graph: g, uf: new UnionFind(), tracks: new Map(), slices: [], sliceByKey: new Map(), fixups: [], types: inf.types as Analysis['types'], values: inf.values as unknown as Analysis['values'] };
  for (const node of g.nodes) {
    const ctx = new RuleContext(node, a);
    const rule = node.domain === '' || node.domain === 'ai.onnx' ? CHANNEL_RULES[node.opType] : undefined;
    (rule ?? unknownOp)(ctx);
  }
  // Graph outputs keep their shapes.
  for (const out of g.outputs) for (const t of a.tracks.get(out.name) ?? []) for (const id of t.ids) a.uf.fix(id, `reaches graph output '${out.name}'`);
  return { model: m, groups: buildGroups(a), tracks: a.tracks, slices: a.slices, fixups: a.fixups, uf: a.uf };
}

/**
 * Groups: the atoms of one producer's output slice (with everything united to them: residual partners,
 * norms, flattened features) form a group; a consumer reading several producers' channels (after a
 * Concat) does not merge their groups. Atoms no producer makes (fixed parts of a Concat) group by slice.
 */
function buildGroups(a: Analysis): PruningGroup[] {
  const uf = a.uf;
  const groupOf = new Map<number, number>(); // atom root → group root (a second union–find over atoms)
  const gp = new Map<number, number>();
  const gfind = (x: number): number => {
    while (gp.get(x) !== x) x = gp.get(x)!;
    return x;
  };
  const join = (slices: readonly ParamSlice[], skipGrouped: boolean) => {
    for (const s of slices) {
      let first = -1;
      for (const id of s.ids) {
        const r = uf.find(id);
        if (skipGrouped && gp.has(r)) continue;
        if (!gp.has(r)) gp.set(r, r);
        if (first < 0) first = r;
        else {
          const x = gfind(first);
          const y = gfind(r);
          if (x !== y) gp.set(y, x);
        }
      }
    }
  };
  join(a.slices.filter((s) => s.role === 'out'), false);
  join(a.slices.filter((s) => s.role !== 'out'), true);
  for (const r of gp.keys()) groupOf.set(r, gfind(r));
  const byGroup = new Map<number, { atoms: Map<number, Atom>; slices: ParamSlice[] }>();
  for (const s of a.slices) {
    const seenGroups = new Set<number>();
    for (const id of s.ids) {
      const r = uf.find(id);
      const gid = groupOf.get(r)!;
      let e = byGroup.get(gid);
      if (!e) byGroup.set(gid, (e = { atoms: new Map(), slices: [] }));
      if (!seenGroups.has(gid)) {
        seenGroups.add(gid);
        e.slices.push(s);
      }
      if (!e.atoms.has(r)) {
        const atom: Atom = { id: r };
        const f = uf.fixedReason(r);
        const l = uf.lossyReason(r);
        if (f) atom.fixed = f;
        if (l) atom.lossy = l;
        e.atoms.set(r, atom);
      }
    }
  }
  const nodeOp = new Map(a.graph.nodes.map((n) => [n.name, n.opType]));
  return [...byGroup.values()].map((e, index) => {
    const label = (s: ParamSlice) => `${nodeOp.get(s.node) ?? '?'}(${s.init})`;
    const made = [...new Set(e.slices.filter((s) => s.role === 'out').map(label))];
    const used = [...new Set(e.slices.filter((s) => s.role === 'in').map(label))];
    const atoms = [...e.atoms.values()].sort((x, y) => x.id - y.id);
    const what = `${made.join(' + ') || 'fixed channels'}${used.length ? ` → ${used.join(', ')}` : ''}`;
    return { index, atoms, slices: e.slices, description: `${what} (${atoms.length} channels)` };
  });
}
