/**
 * `synthetic:users=U,items=I,…`: interactions drawn from a planted latent-factor model whose true
 * preferences are known, so a recommender's quality can be compared with the best possible (the oracle)
 * without any download.
 *
 * The model (a non-negative rank-K factorisation P = Θ·Φ with power-law popularity): each item has a
 * Zipf popularity q_j ∝ rank^−zipf, a primary topic and, with probability 0.3, a secondary one (weight
 * 0.3); topic k draws items with p(j | k) ∝ φ_jk·q_j. Each user has topic affinities θ_u ~ Dirichlet(α)
 * (small α: a few topics each) and a log-normal activity; an interaction draws a topic from θ_u, then an
 * item from p(· | topic), distinct items per user, at increasing timestamps. The oracle score of user u
 * for item j is the true p(j | u) = Σ_k θ_uk·p(j | k): ranking unseen items by it is the Bayes-optimal
 * top-K for the held-out interaction. Items carry a `item_genre` side feature (their primary topic) and
 * users a `user_segment` (their strongest topic, revealed for a third of the users — noisy metadata).
 * Beside the oracle, `estimableScores` is the best a learner can do from the data: the same item
 * factors, but θ_u replaced by its posterior mean given the user's own interactions — the reference
 * that shows how much of the oracle's recall is knowable from ~20 interactions per user at all.
 */
import { TrainferError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import type { Interactions } from './interactions.js';

/** Settings of the generator (every field has a default but `users` and `items`). */
export interface SyntheticSpec {
  users: number;
  items: number;
  /** Mean interactions per user (default 20; each user's count is log-normal around it, at least 3). */
  interactions: number;
  /** Planted topics K (default 16). */
  topics: number;
  /** Dirichlet concentration of users' topic affinities (default 0.1). */
  alpha: number;
  /** Zipf exponent of item popularity (default 1.0). */
  zipf: number;
  seed: number;
}

const KEYS: readonly (keyof SyntheticSpec)[] = ['users', 'items', 'interactions', 'topics', 'alpha', 'zipf', 'seed'];

/** True for `synthetic:…` sources. */
export function isSyntheticSource(s: string): boolean {
  return s === 'synthetic' || s.startsWith('synthetic:');
}

/** Parses `synthetic:users=U,items=I[,interactions=N][,topics=K][,alpha=A][,zipf=Z][,seed=S]`. */
export function parseSyntheticSpec(text: string): SyntheticSpec {
  const body = text.startsWith('synthetic:') ? text.slice('synthetic:'.length) : '';
  const spec: Partial<SyntheticSpec> = {};
  for (const part of body.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [k, v] = part.split('=').map((s) => s.trim());
    if (!KEYS.includes(k as keyof SyntheticSpec)) throw new TrainferError(`--data ${text}: unknown setting '${k}' (expected ${KEYS.join(', ')})`);
    const n = Number(v);
    if (v === undefined || v === '' || !Number.isFinite(n)) throw new TrainferError(`--data ${text}: '${k}' needs a number, got '${v ?? ''}'`);
    spec[k as keyof SyntheticSpec] = n;
  }
  if (spec.users === undefined || spec.items === undefined) throw new TrainferError(`--data ${text}: give users and items, e.g. synthetic:users=1000,items=500`);
  const s: SyntheticSpec = { interactions: 20, topics: 16, alpha: 0.1, zipf: 1.0, seed: 0, ...spec } as SyntheticSpec;
  const int = (k: keyof SyntheticSpec, min: number) => {
    if (!Number.isInteger(s[k]) || s[k] < min) throw new TrainferError(`--data ${text}: ${k} must be an integer ≥ ${min}, got ${s[k]}`);
  };
  int('users', 2);
  int('items', 10);
  int('topics', 1);
  int('seed', 0);
  if (!(s.interactions >= 3)) throw new TrainferError(`--data ${text}: interactions (per user) must be ≥ 3, got ${s.interactions}`);
  if (s.interactions > s.items / 2) throw new TrainferError(`--data ${text}: interactions per user (${s.interactions}) must be at most half the items (${s.items})`);
  if (!(s.alpha > 0)) throw new TrainferError(`--data ${text}: alpha must be > 0`);
  if (!(s.zipf >= 0)) throw new TrainferError(`--data ${text}: zipf must be ≥ 0`);
  return s;
}

/** The planted truth: scores any user's items exactly as the generator drew them. */
export class SyntheticOracle {
  constructor(
    readonly spec: SyntheticSpec,
    /** θ [users, K] row-major. */
    private readonly theta: Float32Array,
    /** Per item: its topics and p(j | topic) for each (≤ 2). */
    private readonly itemTopic: Int32Array,
    private readonly itemTopic2: Int32Array,
    private readonly pGiven: Float32Array,
    private readonly pGiven2: Float32Array,
  ) {}

  /** True p(j | u) for every item j, written into `out` (length items). */
  scores(user: number, out: Float32Array): Float32Array {
    const K = this.spec.topics;
    const th = this.theta.subarray(user * K, user * K + K);
    for (let j = 0; j < out.length; j++) {
      const t2 = this.itemTopic2[j]!;
      out[j] = th[this.itemTopic[j]!]! * this.pGiven[j]! + (t2 >= 0 ? th[t2]! * this.pGiven2[j]! : 0);
    }
    return out;
  }

  /**
   * The Bayes-estimable reference for `user`: true item factors, θ_u replaced by its posterior mean
   * given the items the user was seen with (`seen`), E[θ_k | seen] = (α + n_k) / (Kα + |seen|), where
   * n_k counts the seen items' topic responsibilities r_jk ∝ θ̂_k·p(j | k) (a few fixed-point
   * iterations; items of one topic count whole). Scores Σ_k θ̂_k·p(j | k) are written into `out`.
   */
  estimableScores(seen: ArrayLike<number>, out: Float32Array): Float32Array {
    const K = this.spec.topics;
    const a = this.spec.alpha;
    const th = new Float64Array(K);
    const n = new Float64Array(K);
    for (let k = 0; k < K; k++) th[k] = 1 / K;
    for (let iter = 0; iter < 20; iter++) {
      n.fill(0);
      for (let i = 0; i < seen.length; i++) {
        const j = seen[i]!;
        const t1 = this.itemTopic[j]!;
        const t2 = this.itemTopic2[j]!;
        if (t2 < 0) {
          n[t1]! += 1;
          continue;
        }
        const w1 = th[t1]! * this.pGiven[j]!;
        const w2 = th[t2]! * this.pGiven2[j]!;
        const r = w1 + w2 > 0 ? w1 / (w1 + w2) : 0.5;
        n[t1]! += r;
        n[t2]! += 1 - r;
      }
      for (let k = 0; k < K; k++) th[k] = (a + n[k]!) / (K * a + seen.length);
    }
    for (let j = 0; j < out.length; j++) {
      const t2 = this.itemTopic2[j]!;
      out[j] = th[this.itemTopic[j]!]! * this.pGiven[j]! + (t2 >= 0 ? th[t2]! * this.pGiven2[j]! : 0);
    }
    return out;
  }
}

/** Gamma(shape, 1) (Marsaglia–Tsang; shape < 1 through the boost U^{1/shape}). */
function gamma(rng: Rng, shape: number): number {
  if (shape < 1) return gamma(rng, shape + 1) * Math.pow(Math.max(rng.uniform(), 1e-300), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = rng.normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng.uniform();
    if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** Cumulative sums for sampling by binary search. */
function cumulative(w: Float64Array): Float64Array {
  const c = new Float64Array(w.length);
  let s = 0;
  for (let i = 0; i < w.length; i++) c[i] = s += w[i]!;
  return c;
}

function drawFrom(c: Float64Array, rng: Rng): number {
  const x = rng.uniform() * c[c.length - 1]!;
  let lo = 0;
  let hi = c.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (c[mid]! > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Generates interactions from the planted model (deterministic given the spec's seed) and its oracle.
 *
 * @example
 * const { interactions, oracle } = generateInteractions(parseSyntheticSpec('synthetic:users=1000,items=500'));
 */
export function generateInteractions(spec: SyntheticSpec): { interactions: Interactions; oracle: SyntheticOracle } {
  const { users: U, items: I, topics: K } = spec;
  const rng = Rng.fromSeed(spec.seed * 7919 + 17);
  // Items: popularity by a random rank, topics.
  const rank = rng.permutation(I);
  const q = new Float64Array(I);
  for (let j = 0; j < I; j++) q[j] = 1 / Math.pow(rank[j]! + 1, spec.zipf);
  const t1 = new Int32Array(I);
  const t2 = new Int32Array(I).fill(-1);
  const w1 = new Float64Array(I).fill(1);
  for (let j = 0; j < I; j++) {
    t1[j] = rng.int(K);
    if (K > 1 && rng.uniform() < 0.3) {
      let s = rng.int(K - 1);
      if (s >= t1[j]!) s++;
      t2[j] = s;
      w1[j] = 0.7;
    }
  }
  // Per topic: items and weights φ_jk·q_j → p(j | k).
  const members: number[][] = Array.from({ length: K }, () => []);
  const weights: number[][] = Array.from({ length: K }, () => []);
  for (let j = 0; j < I; j++) {
    members[t1[j]!]!.push(j);
    weights[t1[j]!]!.push(w1[j]! * q[j]!);
    if (t2[j]! >= 0) {
      members[t2[j]!]!.push(j);
      weights[t2[j]!]!.push(0.3 * q[j]!);
    }
  }
  const pGiven = new Float32Array(I);
  const pGiven2 = new Float32Array(I);
  const cum: Float64Array[] = [];
  const topicItems: Int32Array[] = [];
  for (let k = 0; k < K; k++) {
    if (members[k]!.length === 0) {
      // An empty topic: fall back to the most popular item so draws stay defined.
      members[k]!.push(0);
      weights[k]!.push(q[0]!);
    }
    const w = Float64Array.from(weights[k]!);
    const c = cumulative(w);
    const z = c[c.length - 1]!;
    cum.push(c);
    topicItems.push(Int32Array.from(members[k]!));
    members[k]!.forEach((j, i) => {
      if (t1[j] === k) pGiven[j] = w[i]! / z;
      else pGiven2[j] = w[i]! / z;
    });
  }
  // Users: affinities, activity, interactions.
  const theta = new Float32Array(U * K);
  const counts = new Int32Array(U);
  let total = 0;
  const maxPerUser = Math.floor(I / 2);
  for (let u = 0; u < U; u++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += theta[u * K + k] = gamma(rng, spec.alpha);
    for (let k = 0; k < K; k++) theta[u * K + k] = s > 0 ? theta[u * K + k]! / s : 1 / K;
    counts[u] = Math.min(maxPerUser, Math.max(3, Math.round(spec.interactions * Math.exp(0.5 * rng.normal() - 0.125))));
    total += counts[u]!;
  }
  const user = new Int32Array(total);
  const item = new Int32Array(total);
  const time = new Float64Array(total);
  const segments = new Int32Array(U);
  const seen = new Int32Array(I).fill(-1);
  let w = 0;
  for (let u = 0; u < U; u++) {
    const th = theta.subarray(u * K, u * K + K);
    const tc = cumulative(Float64Array.from(th));
    let best = 0;
    for (let k = 1; k < K; k++) if (th[k]! > th[best]!) best = k;
    segments[u] = rng.uniform() < 1 / 3 ? best + 1 : 0;
    let t = 1_600_000_000 + rng.int(10_000_000);
    for (let n = 0; n < counts[u]!; n++) {
      let j = -1;
      for (let tries = 0; tries < 64; tries++) {
        const k = drawFrom(tc, rng);
        const cand = topicItems[k]![drawFrom(cum[k]!, rng)]!;
        if (seen[cand] !== u) {
          j = cand;
          break;
        }
      }
      if (j < 0) {
        // The user's topics are exhausted: any unseen item, by popularity order.
        for (let r = 0; r < I && j < 0; r++) if (seen[r] !== u) j = r;
      }
      seen[j] = u;
      user[w] = u;
      item[w] = j;
      t += 60 + rng.int(86_400);
      time[w] = t;
      w++;
    }
  }
  const genres = Array.from({ length: K }, (_, k) => `g${k}`);
  const interactions: Interactions = {
    source: `synthetic:users=${U},items=${I},interactions=${spec.interactions},topics=${K},alpha=${spec.alpha},zipf=${spec.zipf},seed=${spec.seed}`,
    count: total,
    user,
    item,
    label: new Float32Array(total).fill(1),
    time,
    labelKind: 'implicit',
    users: U,
    items: I,
    userFeatures: [{ name: 'user_segment', values: segments, vocabulary: ['unknown', ...genres] }],
    itemFeatures: [{ name: 'item_genre', values: t1, vocabulary: genres }],
  };
  return { interactions, oracle: new SyntheticOracle(spec, theta, t1, t2, pGiven, pGiven2) };
}
