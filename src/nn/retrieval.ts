/**
 * Retrieval models: biased matrix factorisation (`mf`) and a two-tower model (`two-tower`), as one
 * `Trainable`. Each tower embeds an id (a table gathered straight from the `user` / `item` input, so the
 * sparse-update extension can take it over) and its categorical side features (per-user / per-item
 * category ids baked in as constant lookups, so serving needs only the id), then — two-tower only — an
 * MLP; scores are dot products (or cosines). MF: s(u, i) = p_u·q_i + b_u + b_i + μ.
 *
 * The training graph scores each row's positive (`score`) and, with `negatives` > 0, its sampled
 * negatives (`neg_score`, fed as `neg_item`); it exposes the towers' vectors (`user_vec`, `item_vec`)
 * and the item ids to custom losses (BPR, sampled softmax with logQ, BCE). The inference graph is the
 * retrieval model: `user` [batch, 1] (ids outside 0..users−1 take the cold-start path: the most
 * popular items) and `exclude` [batch, E] (item ids to leave out, −1 = padding; ids outside the
 * catalog are ignored) → `items` [batch, K] (int64) and `scores` [batch, K] from MatMul + TopK over
 * the whole catalog (K fixed at export, default 100: every input is batch-major, so the server's
 * dynamic batching applies and no request's answer depends on another's), plus `user_vector` (the ANN
 * query) and `cold_start`.
 */
import type { Buffer } from '../autodiff/types.js';
import { attr } from '../onnx/attr.js';
import { GraphBuilder } from '../onnx/builder.js';
import type { Model } from '../onnx/ir.js';
import { eliminateDeadNodes } from '../onnx/passes.js';
import { Tensor } from '../onnx/tensor.js';
import { TrainferError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import type { FeedSpec } from '../data/feed-plan.js';
import { type ForwardContext, ParamStore, initWeight } from './layer.js';
import { Linear, ReLU } from './layers-dense.js';
import { type HeadValue, attachLosses } from './loss.js';
import type { ModelHead, ModelInput, TrainingGraph, TrainingGraphOptions } from './network.js';

/** A categorical side feature of a tower: the category of every user (or item). */
export interface TowerFeature {
  name: string;
  /** Per user/item index: category id in 0..categories−1. */
  values: Int32Array;
  categories: number;
  /** Embedding width (default min(16, dim)). */
  dim?: number;
}

/** Options for `RetrievalModel`. */
export interface RetrievalModelOptions {
  kind: 'mf' | 'two-tower';
  users: number;
  items: number;
  /** Width of the id embeddings and (two-tower) of the towers' outputs. */
  dim: number;
  /** Two-tower: hidden sizes of each tower's MLP (default [2·dim]). */
  hidden?: readonly number[];
  userFeatures?: readonly TowerFeature[];
  itemFeatures?: readonly TowerFeature[];
  /** `dot` (default) or `cosine` (towers' outputs L2-normalised). */
  score?: 'dot' | 'cosine';
  /** Sampled negatives per row in the training graph (a `neg_item` input; 0 = none). */
  negatives?: number;
  /** Training interactions per item: the cold-start ranking (most popular first). */
  popularity?: ArrayLike<number>;
  seed?: number;
  name?: string;
}

/** Metadata key describing a retrieval model (JSON: kind, users, items, dim, ids, inputs/outputs). */
export const RECSYS_METADATA_KEY = 'trainfer.recsys';

/** MF or two-tower retrieval model. */
export class RetrievalModel {
  readonly store = new ParamStore();
  readonly name: string;
  readonly inputs: ModelInput[];
  readonly heads: ModelHead[];
  /** Width of the vectors compared at retrieval (MF: dim + 2, for the biases). */
  readonly vectorDim: number;
  private readonly towers: { user: Tower; item: Tower };
  private readonly popularity: Float32Array;

  constructor(readonly options: RetrievalModelOptions) {
    const o = options;
    for (const [k, v] of [['users', o.users], ['items', o.items], ['dim', o.dim]] as const) {
      if (!(Number.isInteger(v) && v >= 1)) throw new TrainferError(`${o.kind}: ${k} must be a positive integer, got ${v}`);
    }
    if (o.kind === 'mf' && o.hidden?.length) throw new TrainferError('mf has no MLP; use --model two-tower for hidden layers');
    this.name = o.name ?? o.kind.replace('-', '_');
    const rng = Rng.fromSeed(o.seed ?? 0);
    const mlp = o.kind === 'two-tower' ? [...(o.hidden ?? [2 * o.dim])] : [];
    this.towers = {
      user: new Tower('user', o.users, o.dim, o.userFeatures ?? [], mlp, o.kind, this.store, rng),
      item: new Tower('item', o.items, o.dim, o.itemFeatures ?? [], mlp, o.kind, this.store, rng),
    };
    if (o.kind === 'mf') {
      this.store.params.set('user_bias', new Tensor('float32', [o.users, 1], new Float32Array(o.users)));
      this.store.params.set('item_bias', new Tensor('float32', [o.items, 1], new Float32Array(o.items)));
      this.store.params.set('global_bias', new Tensor('float32', [1], new Float32Array(1)));
    }
    this.vectorDim = o.kind === 'mf' ? o.dim + 2 : o.dim;
    const pop = o.popularity ?? new Float64Array(o.items).fill(1);
    if (pop.length !== o.items) throw new TrainferError(`${o.kind}: popularity has ${pop.length} entries for ${o.items} items`);
    this.popularity = Float32Array.from(pop, (c) => Math.log1p(c));
    this.inputs = [
      { name: 'user', dtype: 'int64', shape: [1] },
      { name: 'item', dtype: 'int64', shape: [1] },
    ];
    this.heads = [{ name: 'score', task: 'binary', shape: [1], output: 'score' }];
  }

  /** Trainable scalars. */
  parameterCount(): number {
    return this.store.parameterCount();
  }

  private context(g: GraphBuilder, training: boolean): ForwardContext {
    return {
      g,
      training,
      value: (name) => {
        if (!this.store.params.has(name)) throw new Error(`unknown parameter ${name}`);
        return name;
      },
      updateBuffer: () => {
        throw new Error('retrieval towers have no buffers');
      },
      uniformInput: () => {
        throw new Error('retrieval towers have no dropout');
      },
      input: (name) => {
        throw new Error(`retrieval towers have no context input '${name}'`);
      },
      memo: (_key, make) => make(),
    };
  }

  /** [M, vectorDim] vectors of `side` for int64 ids of any shape (flattened), with the MF bias columns. */
  private vectors(ctx: ForwardContext, side: 'user' | 'item', ids: string): string {
    const { g } = ctx;
    let v = this.towers[side].forward(ctx, ids);
    if (this.options.score === 'cosine') v = l2Normalize(g, v);
    if (this.options.kind === 'mf') {
      // user: [p_u, b_u + μ, 1]; item: [q_i, 1, b_i] → their dot product is the full MF score.
      const bias = g.reshape(g.gather(ctx.value(`${side}_bias`), ids, 0), [-1, 1]);
      const ones = g.add(g.mul(bias, g.scalar(0)), g.scalar(1));
      v = side === 'user' ? g.concat([v, g.add(bias, ctx.value('global_bias')), ones], -1) : g.concat([v, ones, bias], -1);
    }
    return v;
  }

  /** Forward in training mode + the losses (custom losses see `score`, `neg_score`, `user_vec`, `item_vec`, `item_ids`). */
  trainingGraph(options: TrainingGraphOptions): TrainingGraph {
    const g = new GraphBuilder({ name: `${this.name}_train` });
    const user = g.input('user', 'int64', ['batch', 1]);
    const item = g.input('item', 'int64', ['batch', 1]);
    const feeds: FeedSpec[] = [
      { name: 'user', dtype: 'int64', shape: [1], role: 'input' },
      { name: 'item', dtype: 'int64', shape: [1], role: 'input' },
    ];
    for (const [k, t] of this.store.params) g.initializer(k, t);
    const ctx = this.context(g, true);
    const u = this.vectors(ctx, 'user', user);
    const i = this.vectors(ctx, 'item', item);
    const score = g.reduceSum(g.mul(u, i), [1], true);
    const heads: HeadValue[] = [
      { name: 'score', value: score, task: 'binary', shape: [1] },
      { name: 'user_vec', value: u, task: 'regression', shape: [this.vectorDim] },
      { name: 'item_vec', value: i, task: 'regression', shape: [this.vectorDim] },
      { name: 'item_ids', value: item, task: 'regression', shape: [1] },
    ];
    const n = this.options.negatives ?? 0;
    if (n > 0) {
      const neg = g.input('neg_item', 'int64', ['batch', n]);
      feeds.push({ name: 'neg_item', dtype: 'int64', shape: [n], role: 'input' });
      const nv = g.reshape(this.vectors(ctx, 'item', neg), [-1, n, this.vectorDim]);
      const negScore = g.reduceSum(g.mul(g.unsqueeze(u, [1]), nv), [2], false);
      heads.push({ name: 'neg_score', value: negScore, task: 'binary', shape: [n] });
    }
    const losses = options.losses ?? (options.loss ? [{ loss: options.loss }] : undefined);
    if (!losses?.length) throw new TrainferError(`${this.name}: give a loss (bpr, softmax, bce or mse; see docs/recommenders.md)`);
    const { loss, targets } = attachLosses(g, { heads, losses });
    g.output(loss, loss, { dtype: 'float32', shape: [] });
    for (const t of targets) feeds.push({ name: t.name, dtype: t.dtype, shape: t.shape, role: 'target', ...(t.head ? { head: t.head } : {}) });
    const buffers: Buffer[] = [];
    return { graph: g.graph, loss, feeds, heads, params: [...this.store.params.keys()], buffers, random: [] };
  }

  /** An item-tower model: `item` [M, 1] → `item_vectors` [M, vectorDim] (to precompute the catalog). */
  itemTowerGraph(options: { weights?: ReadonlyMap<string, Tensor> } = {}): Model {
    const g = new GraphBuilder({ name: `${this.name}_items` });
    this.bake(g, options.weights);
    const item = g.input('item', 'int64', ['batch', 1]);
    g.output(this.vectors(this.context(g, false), 'item', item), 'item_vectors', { dtype: 'float32', shape: ['batch', this.vectorDim] });
    return g.toModel({ opset: 21 });
  }

  /**
   * The retrieval model. `itemVectors` [items, vectorDim] is the precomputed catalog (what export
   * writes); without it the item tower runs over every item inside the graph (onnxruntime folds it once
   * at load).
   */
  inferenceGraph(options: { weights?: ReadonlyMap<string, Tensor>; itemVectors?: Tensor; topK?: number } = {}): Model {
    const g = new GraphBuilder({ name: this.name });
    this.bake(g, options.weights);
    const ctx = this.context(g, false);
    const user = g.input('user', 'int64', ['batch', 1]);
    const topK = Math.min(options.topK ?? 100, this.options.items);
    if (!(Number.isInteger(topK) && topK >= 1)) throw new TrainferError(`top-K must be a positive integer, got ${options.topK}`);
    const k = g.constant(Tensor.i64([1], [topK]), 'top_k');
    const exclude = g.input('exclude', 'int64', ['batch', 'excluded']);
    const I = this.options.items;
    // Unknown users (outside 0..users−1) take the cold-start path: the most popular items.
    const known = g.op1('And', [g.op1('GreaterOrEqual', [user, g.constant(Tensor.i64([], [0]), 'zero')]), g.less(user, g.constant(Tensor.i64([], [this.options.users]), 'users'))]);
    const safe = g.where(known, user, g.constant(Tensor.i64([], [0]), 'zero'));
    const uv = this.vectors(ctx, 'user', safe);
    let catalogT: string;
    if (options.itemVectors) {
      const t = options.itemVectors;
      if (t.dims[0] !== I || t.dims[1] !== this.vectorDim) throw new TrainferError(`item vectors have shape [${t.dims.join(', ')}], expected [${I}, ${this.vectorDim}]`);
      catalogT = g.constant(transpose2d(t), 'item_matrix_t');
    } else {
      const all = g.constant(Tensor.i64([I, 1], Array.from({ length: I }, (_, j) => j)), 'all_items');
      catalogT = g.transpose(this.vectors(ctx, 'item', all), [1, 0]);
    }
    const modelScores = g.matMul(uv, catalogT);
    const pop = g.constant(Tensor.f32([1, I], this.popularity), 'popularity');
    const scores = g.where(known, modelScores, g.add(g.mul(modelScores, g.scalar(0)), pop));
    return retrievalHead(g, { scores, k, topK, exclude, items: I, userVector: uv, known, vectorDim: this.vectorDim, name: this.name, metadata: this.metadata() });
  }

  private bake(g: GraphBuilder, weights?: ReadonlyMap<string, Tensor>): void {
    for (const [k, t] of this.store.params) g.initializer(k, weights?.get(k) ?? t);
  }

  /** What the exported model's `trainfer.recsys` metadata says about it. */
  metadata(): Record<string, unknown> {
    const o = this.options;
    return { kind: o.kind, users: o.users, items: o.items, dim: o.dim, vectorDim: this.vectorDim, score: o.score ?? 'dot', hidden: o.kind === 'two-tower' ? [...(o.hidden ?? [2 * o.dim])] : [], userFeatures: (o.userFeatures ?? []).map((f) => f.name), itemFeatures: (o.itemFeatures ?? []).map((f) => f.name) };
  }

  /** Replaces parameter values by name. */
  setWeights(weights: ReadonlyMap<string, Tensor>): void {
    for (const [k, t] of weights) {
      const old = this.store.params.get(k);
      if (!old) continue;
      if (old.dims.join(',') !== t.dims.join(',')) throw new TrainferError(`weight '${k}' has shape [${t.dims.join(', ')}], expected [${old.dims.join(', ')}]`);
      this.store.params.set(k, t);
    }
  }
}

/**
 * The serving tail shared by every retrieval model: excluded items to −∞ (ScatterElements through a
 * sentinel column), TopK, and the outputs `items`, `scores`, `user_vector`, `cold_start`. `scores`
 * holds the catalog scores [batch, items].
 */
export function retrievalHead(g: GraphBuilder, o: { scores: string; k: string; topK: number; exclude: string; items: number; userVector: string; known: string; vectorDim: number; name: string; metadata: Record<string, unknown> }): Model {
  const I = o.items;
  const NEG = -3.0e38;
  const sentinel = g.add(g.mul(g.slice(o.scores, [0], [1], [1]), g.scalar(0)), g.scalar(NEG));
  const padded = g.concat([o.scores, sentinel], 1);
  const target = g.where(g.less(o.exclude, g.constant(Tensor.i64([], [0]), 'zero')), g.constant(Tensor.i64([], [I]), 'sentinel'), g.op1('Min', [o.exclude, g.constant(Tensor.i64([], [I]), 'sentinel')]));
  const fill = g.expand(g.scalar(NEG), g.shape(target));
  const masked = g.slice(g.op1('ScatterElements', [padded, target, fill], { axis: attr.int(1) }), [0], [I], [1]);
  const catalog = g.identity(masked);
  g.graph.valueInfo.set(catalog, { name: catalog, type: { dtype: 'float32', shape: ['batch', I] } });
  const [values, indices] = g.op('TopK', [catalog, o.k], { axis: attr.int(1), largest: attr.int(1), sorted: attr.int(1) }, { outputs: 2 }) as [string, string];
  g.output(indices, 'items', { dtype: 'int64', shape: ['batch', o.topK] });
  g.output(values, 'scores', { dtype: 'float32', shape: ['batch', o.topK] });
  g.output(o.userVector, 'user_vector', { dtype: 'float32', shape: ['batch', o.vectorDim] });
  g.output(g.not(o.known), 'cold_start', { dtype: 'bool', shape: ['batch', 1] });
  eliminateDeadNodes(g.graph); // tables only the catalog needed (e.g. the item tower's) leave the file
  const model = g.toModel({ opset: 21 });
  model.producerName = 'trainfer';
  model.metadata.set(RECSYS_METADATA_KEY, JSON.stringify({ ...o.metadata, catalogScores: catalog, topK: o.topK }));
  return model;
}

/** x / max(‖x‖₂, 1e-6) over the last axis. */
function l2Normalize(g: GraphBuilder, x: string): string {
  const n = g.sqrt(g.add(g.op1('ReduceSumSquare', [x, g.int64s([-1])], { keepdims: attr.int(1) }), g.scalar(1e-12)));
  return g.div(x, n);
}

function transpose2d(t: Tensor): Tensor {
  const [r, c] = t.dims as [number, number];
  const src = t.data as Float32Array;
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = src[i * c + j]!;
  return new Tensor('float32', [c, r], out);
}

/** One tower: an id embedding, side-feature embeddings through constant per-id lookups, and an MLP. */
class Tower {
  private readonly table: string;
  private readonly features: { lookup: Tensor; table: string; dim: number }[];
  private readonly layers: (Linear | ReLU)[] = [];

  constructor(readonly side: 'user' | 'item', readonly count: number, readonly dim: number, features: readonly TowerFeature[], mlp: readonly number[], kind: 'mf' | 'two-tower', store: ParamStore, rng: Rng) {
    this.table = `${side}_embedding`;
    // MF: N(0, 0.1²) as common MF practice; towers: N(0, 1/dim) so initial dot products are O(1).
    const std = kind === 'mf' ? 0.1 : 1 / Math.sqrt(dim);
    store.params.set(this.table, gaussian([count, dim], std, rng));
    this.features = features.map((f) => {
      if (f.values.length !== count) throw new TrainferError(`${side} feature '${f.name}' has ${f.values.length} values for ${count} ${side}s`);
      const d = f.dim ?? Math.min(16, dim);
      const table = `${side}_${f.name}_embedding`;
      store.params.set(table, gaussian([f.categories, d], 1 / Math.sqrt(d), rng));
      return { lookup: Tensor.i64([count], f.values), table, dim: d };
    });
    if (kind === 'mf' && features.length) throw new TrainferError('mf takes ids only; side features need --model two-tower');
    let width = dim + this.features.reduce((s, f) => s + f.dim, 0);
    const ctx = { store, rng, scope: (() => { let n = 0; return (type: string) => `${side}_tower.${type}${++n}`; })() };
    // No hidden layers: with side features, one Linear projects [id, features] to dim (both towers must
    // end at the same width for their dot product).
    for (const h of [...mlp, ...(mlp.length || this.features.length ? [dim] : [])]) {
      const lin = new Linear({ outFeatures: h, init: 'he-normal' });
      lin.build(ctx, [width]);
      this.layers.push(lin);
      if (this.layers.length < 2 * mlp.length + 1) this.layers.push(new ReLU());
      width = h;
    }
  }

  /** ids (int64, any shape) → [M, out]. */
  forward(ctx: ForwardContext, ids: string): string {
    const { g } = ctx;
    const parts = [g.reshape(g.gather(ctx.value(this.table), ids, 0), [-1, this.dim])];
    for (const f of this.features) {
      const cat = g.gather(g.constant(f.lookup, `${f.table}_lookup`), ids, 0);
      parts.push(g.reshape(g.gather(ctx.value(f.table), cat, 0), [-1, f.dim]));
    }
    let x = parts.length === 1 ? parts[0]! : g.concat(parts, -1);
    for (const l of this.layers) x = l.forward(ctx, x);
    return x;
  }
}

function gaussian(dims: number[], std: number, rng: Rng): Tensor {
  return initWeight({ dims, fanIn: 2 / (std * std), fanOut: 0, scheme: 'he-normal', rng });
}
