/**
 * Feed providers for recommender training. `negativeSampler` fills an int64 `[batch, n]` feed with
 * sampled negative items per row — uniform, or by popularity^power (word2vec's 0.75 smooths the head)
 * through Walker's alias table (O(1) per draw) — from its own seeded RNG, whose state goes into
 * checkpoints so a resumed run draws the same negatives; the row's own positive is redrawn.
 * `itemLogQ` fills a float `[batch, 1]` feed with log q(item) of each row's item — the sampling
 * probability of in-batch negatives, for the logQ correction of a sampled softmax.
 */
import { TrainferError } from '../util/errors.js';
import { Rng, type RngState } from '../util/rng.js';
import type { FeedProvider, ProviderBatch } from './feed-plan.js';

/** Walker's alias table over non-negative weights. */
export class AliasTable {
  private readonly prob: Float64Array;
  private readonly alias: Int32Array;
  constructor(weights: ArrayLike<number>) {
    const n = weights.length;
    let sum = 0;
    for (let i = 0; i < n; i++) {
      if (!(weights[i]! >= 0)) throw new TrainferError(`sampling weight ${i} is ${weights[i]}; weights must be ≥ 0`);
      sum += weights[i]!;
    }
    if (!(sum > 0)) throw new TrainferError('sampling weights are all zero');
    this.prob = new Float64Array(n);
    this.alias = new Int32Array(n);
    const scaled = Float64Array.from({ length: n }, (_, i) => (weights[i]! * n) / sum);
    const small: number[] = [];
    const large: number[] = [];
    for (let i = 0; i < n; i++) (scaled[i]! < 1 ? small : large).push(i);
    while (small.length && large.length) {
      const s = small.pop()!;
      const l = large[large.length - 1]!;
      this.prob[s] = scaled[s]!;
      this.alias[s] = l;
      scaled[l] = scaled[l]! + scaled[s]! - 1;
      if (scaled[l]! < 1) {
        large.pop();
        small.push(l);
      }
    }
    for (const i of [...small, ...large]) {
      this.prob[i] = 1;
      this.alias[i] = i;
    }
  }
  /** One draw. */
  sample(rng: Rng): number {
    const n = this.prob.length;
    const x = rng.uniform() * n;
    const i = Math.min(n - 1, Math.floor(x));
    return x - i < this.prob[i]! ? i : this.alias[i]!;
  }
}

/** Options for `negativeSampler`. */
export interface NegativeSamplerOptions {
  /** Catalog size: items are 0..items-1. */
  items: number;
  /** `uniform` (default) or `popularity` (∝ count^power). */
  distribution?: 'uniform' | 'popularity';
  /** Interactions per item (for `popularity`). */
  counts?: ArrayLike<number>;
  /** Exponent on counts (default 0.75). */
  power?: number;
  seed?: number;
  /** The batch feed holding each row's positive item, redrawn when hit (default `item`). */
  positive?: string;
}

/**
 * A provider of sampled negatives: fills its int64 feed ([batch] or [batch, n]) each batch.
 *
 * @example
 * await fit({ model, train, feeds: { neg_item: { provider: negativeSampler({ items: 5000, seed: 1 }) } }, … });
 */
export function negativeSampler(o: NegativeSamplerOptions): FeedProvider & { describe(): string } {
  if (!(Number.isInteger(o.items) && o.items >= 2)) throw new TrainferError(`negative sampling needs at least 2 items, got ${o.items}`);
  const power = o.power ?? 0.75;
  let alias: AliasTable | undefined;
  if (o.distribution === 'popularity') {
    if (!o.counts || o.counts.length !== o.items) throw new TrainferError(`popularity sampling needs one count per item (${o.items})`);
    alias = new AliasTable(Array.from(o.counts, (c) => Math.pow(c, power)));
  }
  let rng = Rng.fromSeed(o.seed ?? 0);
  const positive = o.positive ?? 'item';
  const draw = (): number => (alias ? alias.sample(rng) : rng.int(o.items));
  return {
    fill(b: ProviderBatch): void {
      const out = b.out as BigInt64Array;
      const per = b.shape.reduce((x, y) => x * y, 1);
      const pos = b.feeds.get(positive)?.data as BigInt64Array | undefined;
      for (let i = 0; i < b.size; i++) {
        const p = pos ? Number(pos[i]!) : -1;
        for (let k = 0; k < per; k++) {
          let j = draw();
          for (let t = 0; j === p && t < 16; t++) j = draw();
          out[i * per + k] = BigInt(j);
        }
      }
    },
    state: () => rng.state(),
    restore: (s: unknown) => {
      rng = Rng.fromState(s as RngState);
    },
    describe: () => (alias ? `popularity^${power}` : 'uniform'),
  };
}

/**
 * A provider writing log q(item) of each row's item ([batch] or [batch, 1]) — q = the item's share of
 * training interactions, i.e. how often in-batch sampling draws it as a negative.
 */
export function itemLogQ(o: { counts: ArrayLike<number>; item?: string }): FeedProvider {
  let total = 0;
  for (let i = 0; i < o.counts.length; i++) total += o.counts[i]!;
  const logq = Float32Array.from(o.counts, (c) => Math.log(Math.max(c, 0.5) / total));
  const name = o.item ?? 'item';
  return {
    fill(b: ProviderBatch): void {
      const items = b.feeds.get(name)?.data as BigInt64Array | undefined;
      if (!items) throw new TrainferError(`logQ correction reads the batch's '${name}' feed, which this model does not take`);
      const out = b.out as Float32Array;
      for (let i = 0; i < b.size; i++) out[i] = logq[Number(items[i]!)] ?? 0;
    },
  };
}
