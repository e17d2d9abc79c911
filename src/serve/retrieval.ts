/**
 * Top-K retrieval from an exported retrieval model (MF or two-tower): raw ids ↔ indices through the
 * vocabularies in its `trainfer.recsys` metadata, and two ways to answer — `exact` (the model itself:
 * user tower, MatMul over the whole catalog, exclusion, TopK, one onnxruntime run) and `ann` (the user
 * tower alone, then an approximate nearest-neighbour index over the catalog's item vectors, over-fetched
 * by the number of excluded items and filtered). Unknown users take the documented cold-start path:
 * the most popular items (the model's own fallback), flagged `coldStart`.
 */
import * as ort from 'onnxruntime-node';
import { Graph, Model } from '../onnx/ir.js';
import { eliminateDeadNodes } from '../onnx/passes.js';
import { halfToFloat } from '../onnx/dtype.js';
import { Session } from '../runtime/session.js';
import { TrainferError, oneLine } from '../util/errors.js';
import { type AnnIndex, type AnnKind, type AnnQuantization, type AnnSpace, buildAnnIndex } from './ann.js';

/** The `trainfer.recsys` metadata key (written by the trainer's retrieval export). */
const RECSYS_KEY = 'trainfer.recsys';

/** What serving reads from a retrieval model's metadata. */
export interface RetrievalInfo {
  kind: string;
  users: number;
  items: number;
  vectorDim: number;
  /** The K of the model's TopK (a request takes any k ≤ K: a prefix). */
  topK: number;
  userIds?: string[];
  itemIds?: string[];
}

/** The retrieval metadata of a model, or a one-line error for models that are not retrieval models. */
export function retrievalInfo(model: Model, name = 'model'): RetrievalInfo {
  return parseRetrievalInfo({ metadata: model.metadata, inputs: model.graph.inputs.map((i) => i.name), name });
}

/** True when a model's metadata says it is a top-K retrieval model (mf or two-tower) with `user` and `exclude` inputs. */
export function isRetrievalModel(o: { metadata: ReadonlyMap<string, string>; inputs: readonly string[] }): boolean {
  const raw = o.metadata.get(RECSYS_KEY);
  if (raw === undefined || !o.inputs.includes('user') || !o.inputs.includes('exclude')) return false;
  try {
    const kind = (JSON.parse(raw) as { kind?: unknown }).kind;
    return kind === 'mf' || kind === 'two-tower';
  } catch {
    return false;
  }
}

/** `retrievalInfo` from a model's metadata and input names (the server reads them without decoding the weights). */
export function parseRetrievalInfo(o: { metadata: ReadonlyMap<string, string>; inputs: readonly string[]; name?: string }): RetrievalInfo {
  const name = o.name ?? 'model';
  const raw = o.metadata.get(RECSYS_KEY);
  if (raw === undefined) throw new TrainferError(`${name}: not a retrieval model (no '${RECSYS_KEY}' metadata): train one with trainfer train --model mf|two-tower`);
  let info: RetrievalInfo;
  try {
    info = JSON.parse(raw) as RetrievalInfo;
  } catch (err) {
    throw new TrainferError(`${name}: its '${RECSYS_KEY}' metadata is not JSON: ${oneLine(err)}`);
  }
  if (info.kind !== 'mf' && info.kind !== 'two-tower') throw new TrainferError(`${name}: a ${info.kind} model ranks given (user, item) pairs; top-K retrieval needs --model mf or two-tower`);
  for (const k of ['user', 'exclude']) if (!o.inputs.includes(k)) throw new TrainferError(`${name}: has no '${k}' input; is it a trainfer retrieval model?`);
  for (const k of ['users', 'items', 'vectorDim', 'topK'] as const) {
    if (!(Number.isInteger(info[k]) && info[k] >= 1)) throw new TrainferError(`${name}: its '${RECSYS_KEY}' metadata has no valid '${k}'`);
  }
  return info;
}

/** The catalog's item vectors [items, vectorDim] as float32, read from the model (fp32, fp16 or row-wise int8). */
export function catalogVectors(model: Model, info: RetrievalInfo): Float32Array {
  const I = info.items;
  const D = info.vectorDim;
  const t = model.graph.initializers.get('item_matrix_t');
  const out = new Float32Array(I * D);
  if (t) {
    const src = t.data;
    for (let d = 0; d < D; d++) {
      for (let i = 0; i < I; i++) {
        const v = t.dtype === 'float16' ? halfToFloat((src as Uint16Array)[d * I + i]!) : (src as Float32Array)[d * I + i]!;
        out[i * D + d] = v;
      }
    }
    return out;
  }
  const q = model.graph.initializers.get('item_matrix_q');
  const s = model.graph.initializers.get('item_matrix_scale');
  if (!q || !s) throw new TrainferError('the model holds no item catalog (item_matrix_t or item_matrix_q); re-export it with trainfer train');
  const qd = q.data as Int8Array;
  const sd = s.dtype === 'float16' ? Float32Array.from(s.data as Uint16Array, halfToFloat) : (s.data as Float32Array);
  for (let d = 0; d < D; d++) for (let i = 0; i < I; i++) out[i * D + d] = qd[d * I + i]! * sd[i]!;
  return out;
}

/** One user's answer. */
export interface Recommendation {
  items: number[];
  scores: number[];
  coldStart: boolean;
  /** The user tower's vector (ANN mode only). */
  vector?: Float32Array;
}

/** Options for `Recommender.load`. */
export interface RecommenderOptions {
  /** onnxruntime intra-op threads per session (default 1). */
  threads?: number;
  /** Threads that build the ANN index (default `threads`; 0 = every core). */
  buildThreads?: number;
  /** Build an ANN index too (for `mode: 'ann'`). */
  ann?: AnnKind;
  /** ANN settings: graph degree (default 16), build and search beam widths (default 128 and 128). */
  connectivity?: number;
  expansionAdd?: number;
  expansionSearch?: number;
  /** ANN search space (default `ip`; `augment`: the MIPS → cosine reduction) and usearch's stored element type (default f32). */
  space?: AnnSpace;
  quantization?: AnnQuantization;
  name?: string;
}

/** ANN recall against exact top-k on a sample of users, and the ANN path's latency on them. */
export interface AnnRecall {
  /** Mean |ANN top-k ∩ exact top-k| / k over the sampled (known) users. */
  recall: number;
  k: number;
  users: number;
  /** ANN path (user tower + search) per single-user query, milliseconds. */
  p50Ms: number;
  p99Ms: number;
}

/** A loaded retrieval model answering top-K queries. */
export class Recommender {
  private userIndex?: Map<string, number>;
  private constructor(
    readonly info: RetrievalInfo,
    private readonly exact: Session,
    private readonly tower: Session,
    readonly ann: AnnIndex | undefined,
    /** The catalog's item vectors [items, vectorDim] (with an index: completes a short ANN answer). */
    private readonly vectors?: Float32Array,
  ) {}

  /** Loads the model (and builds the ANN index when asked). */
  static async load(model: Model, o: RecommenderOptions = {}): Promise<Recommender> {
    const info = retrievalInfo(model, o.name);
    const open = async (m: Model, what: string) => Session.create({ model: m }, { intraOpThreads: o.threads ?? 1 }).catch((err: unknown) => {
      throw new TrainferError(`${o.name ?? 'model'}: onnxruntime cannot load its ${what}: ${oneLine(err)}`, { cause: err });
    });
    const exact = await open(model, 'retrieval graph');
    const tower = await open(userTowerGraph(model), 'user tower');
    const vectors = o.ann ? catalogVectors(model, info) : undefined;
    const ann = o.ann ? await buildAnnIndex({ kind: o.ann, vectors: vectors!, dims: info.vectorDim, connectivity: o.connectivity, expansionAdd: o.expansionAdd, expansionSearch: o.expansionSearch, space: o.space, quantization: o.quantization, threads: o.buildThreads ?? o.threads }) : undefined;
    return new Recommender(info, exact, tower, ann, vectors);
  }

  /** The index of a raw user id, or −1 (unknown: the cold-start path). */
  user(raw: string): number {
    if (!this.info.userIds) {
      const n = Number(raw);
      return Number.isInteger(n) && n >= 0 && n < this.info.users ? n : -1;
    }
    this.userIndex ??= new Map(this.info.userIds.map((s, i) => [s, i]));
    return this.userIndex.get(raw) ?? -1;
  }

  /** The raw id of item index `i`. */
  itemId(i: number): string {
    return this.info.itemIds?.[i] ?? String(i);
  }

  /**
   * Top-`k` distinct items for each user index (−1: cold start), leaving out `exclude[b]` (item
   * indices). `mode` `exact` (default) runs the model; `ann` the user tower + the index.
   */
  async recommend(o: { users: readonly number[]; k: number; exclude?: readonly (readonly number[])[]; mode?: 'exact' | 'ann' }): Promise<Recommendation[]> {
    const B = o.users.length;
    const K = this.info.topK;
    const ex = o.exclude ?? [];
    if (o.mode === 'ann') {
      if (!(Number.isInteger(o.k) && o.k >= 1 && o.k <= this.info.items)) throw new TrainferError(`k must be an integer in 1..${this.info.items} (the catalog's size), got ${o.k}`);
      return this.recommendAnn(o.users, o.k, ex);
    }
    if (!(Number.isInteger(o.k) && o.k >= 1 && o.k <= K)) throw new TrainferError(`k must be an integer in 1..${K} (the model's top-K; export with a larger --top-k for more), got ${o.k}`);
    const E = Math.max(1, ...Array.from({ length: B }, (_, b) => ex[b]?.length ?? 0));
    const exclude = new BigInt64Array(B * E).fill(-1n);
    for (let b = 0; b < B; b++) (ex[b] ?? []).forEach((it, j) => (exclude[b * E + j] = BigInt(it)));
    const out = await this.run(this.exact, {
      user: new ort.Tensor('int64', BigInt64Array.from(o.users, (u) => BigInt(u)), [B, 1]),
      exclude: new ort.Tensor('int64', exclude, [B, E]),
    }, ['items', 'scores', 'cold_start']);
    const items = out.items!.data as BigInt64Array;
    const scores = out.scores!.data as Float32Array;
    const cold = out.cold_start!.data as Uint8Array;
    return Array.from({ length: B }, (_, b) => {
      const r: Recommendation = { items: [], scores: [], coldStart: !!cold[b] };
      for (let j = 0; j < o.k; j++) {
        const s = scores[b * K + j]!;
        if (s <= -1e38) break; // fewer than k items left after exclusion
        r.items.push(Number(items[b * K + j]!));
        r.scores.push(s);
      }
      return r;
    });
  }

  private async recommendAnn(users: readonly number[], k: number, ex: readonly (readonly number[])[]): Promise<Recommendation[]> {
    if (!this.ann) throw new TrainferError('this recommender was loaded without an ANN index (pass ann: usearch or hnswlib)');
    const B = users.length;
    const out = await this.run(this.tower, { user: new ort.Tensor('int64', BigInt64Array.from(users, (u) => BigInt(u)), [B, 1]) }, ['user_vector', 'cold_start']);
    const vec = out.user_vector!.data as Float32Array;
    const cold = out.cold_start!.data as Uint8Array;
    const D = this.info.vectorDim;
    const results: Recommendation[] = [];
    const coldRows: number[] = [];
    for (let b = 0; b < B; b++) {
      if (cold[b]) {
        coldRows.push(b);
        results.push({ items: [], scores: [], coldStart: true });
        continue;
      }
      const skip = new Set(ex[b] ?? []);
      const hits = this.ann.search(vec.subarray(b * D, b * D + D), Math.min(this.info.items, k + skip.size));
      const r: Recommendation = { items: [], scores: [], coldStart: false, vector: vec.slice(b * D, b * D + D) };
      for (let j = 0; j < hits.ids.length && r.items.length < k; j++) {
        if (skip.has(hits.ids[j]!)) continue;
        r.items.push(hits.ids[j]!);
        r.scores.push(hits.scores[j]!);
      }
      // HNSW may return fewer hits than asked (a k near the catalog's size): complete the row exactly.
      if (r.items.length < k && this.info.items - skip.size > r.items.length) this.completeExactly(r, vec.subarray(b * D, b * D + D), k, skip);
      results.push(r);
    }
    if (coldRows.length) {
      // The model's own fallback (most popular items) answers at most its top-K.
      const fallback = await this.recommend({ users: coldRows.map(() => -1), k: Math.min(k, this.info.topK), exclude: coldRows.map((b) => ex[b] ?? []) });
      coldRows.forEach((b, i) => (results[b] = { ...fallback[i]!, vector: vec.slice(b * D, b * D + D) }));
    }
    return results;
  }

  /** Adds the best-scoring items not yet in `r` nor in `skip` until it holds `k` (a brute-force pass over the catalog). */
  private completeExactly(r: Recommendation, query: Float32Array, k: number, skip: ReadonlySet<number>): void {
    const v = this.vectors!;
    const D = this.info.vectorDim;
    const have = new Set(r.items);
    const rest: { id: number; score: number }[] = [];
    for (let i = 0; i < this.info.items; i++) {
      if (have.has(i) || skip.has(i)) continue;
      let s = 0;
      for (let d = 0; d < D; d++) s += v[i * D + d]! * query[d]!;
      rest.push({ id: i, score: s });
    }
    rest.sort((a, b) => b.score - a.score || a.id - b.id);
    const merged = r.items.map((id, j) => ({ id, score: r.scores[j]! })).concat(rest.slice(0, k - r.items.length));
    merged.sort((a, b) => b.score - a.score || a.id - b.id);
    r.items = merged.map((m) => m.id);
    r.scores = merged.map((m) => m.score);
  }

  /**
   * Measures the ANN index against exact top-`k` on `sample` users spread evenly over the user range
   * (deterministic), one user per query as a served request runs.
   */
  async measureAnnRecall(o: { sample: number; k?: number }): Promise<AnnRecall> {
    if (!this.ann) throw new TrainferError('this recommender was loaded without an ANN index');
    const k = Math.min(o.k ?? 10, this.info.topK, this.info.items);
    const n = Math.max(1, Math.min(o.sample, this.info.users));
    const users = Array.from({ length: n }, (_, i) => Math.floor(((i + 0.5) * this.info.users) / n));
    const exact: Recommendation[] = [];
    // A batch's scores are [batch, items] floats: 8 users of a 1M catalog are 32 MB.
    for (let i = 0; i < n; i += 8) exact.push(...(await this.recommend({ users: users.slice(i, i + 8), k })));
    const ms: number[] = [];
    let hits = 0;
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const [r] = await this.recommend({ users: [users[i]!], k, mode: 'ann' });
      ms.push(performance.now() - t0);
      const want = new Set(exact[i]!.items);
      hits += r!.items.filter((x) => want.has(x)).length;
    }
    ms.sort((a, b) => a - b);
    return { recall: hits / (n * k), k, users: n, p50Ms: ms[Math.floor(n * 0.5)]!, p99Ms: ms[Math.min(n - 1, Math.floor(n * 0.99))]! };
  }

  private async run(s: Session, feeds: Record<string, ort.Tensor>, names: string[]): Promise<ort.InferenceSession.OnnxValueMapType> {
    try {
      return await s.ort.run(feeds, names);
    } catch (err) {
      throw new TrainferError(`retrieval failed in onnxruntime: ${oneLine(err)}`, { cause: err });
    }
  }

  /** Releases the sessions. */
  async close(): Promise<void> {
    await this.exact.release();
    await this.tower.release();
  }
}

/** The part of a retrieval model that computes `user_vector` and `cold_start` from `user` (no catalog). */
export function userTowerGraph(model: Model): Model {
  const src = model.graph;
  const g = new Graph(`${src.name}_user_tower`);
  g.nodes = src.nodes.map((n) => ({ ...n }));
  g.initializers = new Map(src.initializers);
  g.valueInfo = new Map(src.valueInfo);
  g.outputs = src.outputs.filter((o) => o.name === 'user_vector' || o.name === 'cold_start');
  g.inputs = src.inputs.filter((i) => i.name === 'user' || src.initializers.has(i.name));
  eliminateDeadNodes(g);
  const m = new Model(g);
  m.opsets = new Map(model.opsets);
  return m;
}
