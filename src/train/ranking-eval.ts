/**
 * Top-K evaluation of an exported retrieval model (the file users deploy): for every held-out
 * (user, item) pair, the position of the item among all items the user has not interacted with in
 * training, computed inside the model's own graph (its catalog scores after exclusion, a GatherElements
 * and a count), then recall@K, NDCG@K, hit rate, MRR and AUC per user (ranking-metrics.ts). Beside it,
 * the same metrics for the most-popular baseline and — on synthetic data — for the planted-factor
 * oracle (the Bayes-optimal ranking, knowing each user's true factors) and the estimable reference
 * (the same item factors, each user's factors estimated from their training interactions: the best
 * any learner can do from the data), over the same users.
 */
import * as ort from 'onnxruntime-node';
import { cloneGraph } from '../autodiff/index.js';
import { attr } from '../onnx/attr.js';
import { GraphBuilder } from '../onnx/builder.js';
import { Model } from '../onnx/ir.js';
import { eliminateDeadNodes } from '../onnx/passes.js';
import { Session } from '../runtime/session.js';
import { TrainferError, oneLine } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import type { Interactions } from '../data/interactions.js';
import { type UserHistory, userHistory } from '../data/interaction-splits.js';
import type { SyntheticOracle } from '../data/synthetic-interactions.js';
import { RECSYS_METADATA_KEY } from '../nn/retrieval.js';
import { RankingAccumulator, type RankingScalars, positionOf } from './ranking-metrics.js';

/** What a retrieval model's `trainfer.recsys` metadata holds. */
export interface RecsysMetadata {
  kind: string;
  users: number;
  items: number;
  dim: number;
  vectorDim: number;
  catalogScores: string;
  userIds?: string[];
  itemIds?: string[];
  [k: string]: unknown;
}

/** Reads `trainfer.recsys` (undefined for other models). */
export function readRecsysMetadata(model: Model): RecsysMetadata | undefined {
  const v = model.metadata.get(RECSYS_METADATA_KEY);
  if (v === undefined) return undefined;
  try {
    return JSON.parse(v) as RecsysMetadata;
  } catch {
    throw new TrainferError(`model metadata '${RECSYS_METADATA_KEY}' is not valid JSON`);
  }
}

/** Options for `evaluateRetrieval`. */
export interface RetrievalEvalOptions {
  /** An exported retrieval model. */
  model: Model;
  /** Interactions whose items are excluded for each user (training, and validation when held out). */
  seen: readonly Interactions[];
  /** Held-out interactions to rank. */
  test: Interactions;
  /** Cut-offs (default 10, 50). */
  ks?: readonly number[];
  /** Synthetic data: the planted truth, scored over the same users. */
  oracle?: SyntheticOracle;
  /** Evaluate at most this many users (seeded sample; default all). */
  maxUsers?: number;
  seed?: number;
  /** Rows per onnxruntime run (default 256). */
  batchSize?: number;
  threads?: number;
  modelName?: string;
}

/** What `evaluateRetrieval` returns. */
export interface RetrievalEvalResult {
  model: RankingScalars;
  popularity: RankingScalars;
  oracle?: RankingScalars;
  /** Synthetic data: the planted item factors with each user's factors estimated from their training interactions. */
  estimable?: RankingScalars;
  /** Users evaluated; test pairs ranked; pairs skipped because the item was already seen in training. */
  users: number;
  pairs: number;
  skippedSeen: number;
  seconds: number;
}

/** The retrieval model with an extra input `target` [batch, 1] and output `position` [batch, 1]. */
export function positionGraph(model: Model, md: RecsysMetadata): Model {
  const g = cloneGraph(model.graph);
  g.outputs = [];
  const b = new GraphBuilder({ graph: g, prefix: 'eval/' });
  const target = b.input('target', 'int64', ['batch', 1]);
  const catalog = md.catalogScores;
  const pos = b.op1('GatherElements', [catalog, target], { axis: attr.int(1) });
  const above = b.reduceSum(b.cast(b.greater(catalog, pos), 'float32'), [1], true);
  b.output(above, 'position', { dtype: 'float32', shape: ['batch', 1] });
  eliminateDeadNodes(g);
  const m = new Model(g);
  m.opsets = new Map(model.opsets);
  return m;
}

/** Each user's distinct held-out items not already seen, CSR, and how many pairs were dropped as seen. */
function heldOut(test: Interactions, seen: UserHistory): { start: Int32Array; items: Int32Array; skipped: number } {
  const h = userHistory(test);
  const keep: number[] = [];
  const start = new Int32Array(test.users + 1);
  let skipped = 0;
  for (let u = 0; u < test.users; u++) {
    start[u] = keep.length;
    const s = u < seen.start.length - 1 ? seen.items.subarray(seen.start[u]!, seen.start[u + 1]!) : new Int32Array(0);
    for (let k = h.start[u]!; k < h.start[u + 1]!; k++) {
      const it = h.items[k]!;
      if (binaryHas(s, it)) skipped++;
      else keep.push(it);
    }
  }
  start[test.users] = keep.length;
  return { start, items: Int32Array.from(keep), skipped };
}

function binaryHas(a: Int32Array, v: number): boolean {
  let lo = 0;
  let hi = a.length - 1;
  while (lo <= hi) {
    const m = (lo + hi) >>> 1;
    if (a[m] === v) return true;
    if (a[m]! < v) lo = m + 1;
    else hi = m - 1;
  }
  return false;
}

/** Concatenated interactions (same id spaces). */
function concat(parts: readonly Interactions[]): Interactions {
  const first = parts[0]!;
  const n = parts.reduce((s, p) => s + p.count, 0);
  const user = new Int32Array(n);
  const item = new Int32Array(n);
  let o = 0;
  for (const p of parts) {
    user.set(p.user, o);
    item.set(p.item, o);
    o += p.count;
  }
  return { ...first, count: n, user, item, label: new Float32Array(n), time: new Float64Array(n) };
}

/**
 * Ranks held-out items with the model, the popularity baseline and (optionally) the oracle.
 *
 * @example
 * const r = await evaluateRetrieval({ model: readModel('tt.onnx'), seen: [splits.train], test: splits.test, oracle });
 * console.log(r.model['recall@10'], r.oracle?.['recall@10']);
 */
export async function evaluateRetrieval(o: RetrievalEvalOptions): Promise<RetrievalEvalResult> {
  const t0 = performance.now();
  const md = readRecsysMetadata(o.model);
  const name = o.modelName ?? 'model';
  if (!md) throw new TrainferError(`${name}: not a retrieval model (no '${RECSYS_METADATA_KEY}' metadata); train one with --model mf|two-tower`);
  if (o.test.items !== md.items || o.test.users !== md.users) {
    throw new TrainferError(`${name}: was trained on ${md.users} users × ${md.items} items but the test data has ${o.test.users} × ${o.test.items}`);
  }
  const seen = userHistory(concat(o.seen.length ? o.seen : [o.test]));
  const held = heldOut(o.test, seen);
  let users = Array.from({ length: o.test.users }, (_, u) => u).filter((u) => held.start[u + 1]! > held.start[u]!);
  if (users.length === 0) throw new TrainferError(`${o.test.source}: no held-out interaction with an item the user has not seen in training`);
  if (o.maxUsers && users.length > o.maxUsers) {
    const rng = Rng.fromSeed(o.seed ?? 0);
    users = Array.from(rng.permutation(users.length).subarray(0, o.maxUsers)).sort((a, b) => a - b).map((i) => users[i]!);
  }
  const ks = o.ks ?? [10, 50];
  const acc = { model: new RankingAccumulator(ks), popularity: new RankingAccumulator(ks), oracle: new RankingAccumulator(ks), estimable: new RankingAccumulator(ks) };
  const I = md.items;
  const seenOf = (u: number) => seen.items.subarray(seen.start[u]!, seen.start[u + 1]!);
  const heldOf = (u: number) => held.items.subarray(held.start[u]!, held.start[u + 1]!);

  // The model: positions from its own graph, batches of (user, item) rows.
  const session = await Session.create({ model: positionGraph(o.model, md) }, { intraOpThreads: o.threads }).catch((err: unknown) => {
    throw new TrainferError(`${name}: onnxruntime cannot load its ranking graph: ${oneLine(err)}`, { cause: err });
  });
  let pairs = 0;
  try {
    const bs = o.batchSize ?? 256;
    const rows: { u: number; item: number }[] = [];
    const positions = new Map<number, number[]>();
    const flush = async (): Promise<void> => {
      if (rows.length === 0) return;
      const B = rows.length;
      const E = Math.max(1, ...rows.map((r) => seenOf(r.u).length));
      const user = new BigInt64Array(B);
      const target = new BigInt64Array(B);
      const exclude = new BigInt64Array(B * E).fill(-1n);
      rows.forEach((r, i) => {
        user[i] = BigInt(r.u);
        target[i] = BigInt(r.item);
        seenOf(r.u).forEach((it, k) => (exclude[i * E + k] = BigInt(it)));
      });
      let out: ort.InferenceSession.OnnxValueMapType;
      try {
        out = await session.ort.run({
          user: new ort.Tensor('int64', user, [B, 1]), target: new ort.Tensor('int64', target, [B, 1]),
          exclude: new ort.Tensor('int64', exclude, [B, E]),
        }, ['position']);
      } catch (err) {
        throw new TrainferError(`${name}: ranking failed in onnxruntime: ${oneLine(err)}`, { cause: err });
      }
      const p = out.position!.data as Float32Array;
      rows.forEach((r, i) => {
        const list = positions.get(r.u) ?? [];
        list.push(p[i]!);
        positions.set(r.u, list);
      });
      pairs += B;
      rows.length = 0;
    };
    for (const u of users) {
      for (const it of heldOf(u)) {
        rows.push({ u, item: it });
        if (rows.length >= bs) await flush();
      }
    }
    await flush();
    for (const u of users) acc.model.update(positions.get(u)!, I - seenOf(u).length);
  } finally {
    await session.release();
  }

  // Popularity baseline (training counts; ties count as not above) and the oracle, in JS.
  const counts = new Float32Array(I);
  for (const part of o.seen) for (let i = 0; i < part.count; i++) counts[part.item[i]!]!++;
  const scores = new Float32Array(I);
  for (const u of users) {
    const ex = seenOf(u);
    const cand = I - ex.length;
    acc.popularity.update(Array.from(heldOf(u), (it) => positionOf(counts, counts[it]!, ex)), cand);
    if (o.oracle) {
      o.oracle.scores(u, scores);
      acc.oracle.update(Array.from(heldOf(u), (it) => positionOf(scores, scores[it]!, ex)), cand);
      o.oracle.estimableScores(ex, scores);
      acc.estimable.update(Array.from(heldOf(u), (it) => positionOf(scores, scores[it]!, ex)), cand);
    }
  }
  return {
    model: acc.model.result(),
    popularity: acc.popularity.result(),
    ...(o.oracle ? { oracle: acc.oracle.result(), estimable: acc.estimable.result() } : {}),
    users: users.length,
    pairs,
    skippedSeen: held.skipped,
    seconds: (performance.now() - t0) / 1000,
  };
}
