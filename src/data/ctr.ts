/**
 * Click-through data from interactions, for rankers (DLRM): each interaction is a positive row (click 1)
 * and, for implicit feedback, `negatives` rows of the same user with items sampled by popularity^0.75
 * (click 0), drawn once with a seed (a fixed data set, as offline CTR logs are). Click logs (a 0/1 click
 * column) are used as they are. Columns: `user`, `item` (int64 ids), each side feature (int64
 * categorical), `user_activity` and `item_popularity` (log1p of training counts, float32) and `click`.
 */
import { TrainferError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import type { Interactions } from './interactions.js';
import { AliasTable } from './negatives.js';
import type { Column, Table } from './table.js';

/** Options for `ctrTable`. */
export interface CtrTableOptions {
  /** Negatives per positive for implicit feedback (default 4). */
  negatives?: number;
  /** Training interactions per item and per user (the dense features, and the negatives' distribution). */
  itemCounts: ArrayLike<number>;
  userCounts: ArrayLike<number>;
  seed?: number;
  /** Sampling exponent on item counts (default 0.75). */
  power?: number;
}

/** The CTR rows of `d` and, per row, the sampling weight its item had (for the oracle's likelihood ratio). */
export function ctrTable(d: Interactions, o: CtrTableOptions): Table {
  const neg = d.labelKind === 'click' ? 0 : (o.negatives ?? 4);
  if (!(Number.isInteger(neg) && neg >= 0)) throw new TrainferError(`CTR negatives must be a non-negative integer, got ${neg}`);
  const power = o.power ?? 0.75;
  const alias = neg > 0 ? new AliasTable(Array.from(o.itemCounts, (c) => Math.pow(c + 1, power))) : undefined;
  const rng = Rng.fromSeed(o.seed ?? 0);
  const n = d.count * (1 + neg);
  const user = new BigInt64Array(n);
  const item = new BigInt64Array(n);
  const click = new Float32Array(n);
  let w = 0;
  for (let i = 0; i < d.count; i++) {
    const u = d.user[i]!;
    user[w] = BigInt(u);
    item[w] = BigInt(d.item[i]!);
    click[w++] = d.labelKind === 'click' ? d.label[i]! : 1;
    for (let k = 0; k < neg; k++) {
      let j = alias!.sample(rng);
      for (let t = 0; j === d.item[i] && t < 16; t++) j = alias!.sample(rng);
      user[w] = BigInt(u);
      item[w] = BigInt(j);
      click[w++] = 0;
    }
  }
  const ids = (name: string, data: BigInt64Array): Column => ({ name, dtype: 'int64', shape: [], data, kind: 'numeric' });
  const columns: Column[] = [ids('user', user), ids('item', item)];
  const side = (name: string, values: Int32Array, owner: BigInt64Array, vocabulary: string[]): Column => {
    const data = new BigInt64Array(n);
    for (let r = 0; r < n; r++) data[r] = BigInt(values[Number(owner[r]!)]!);
    return { name, dtype: 'int64', shape: [], data, kind: 'categorical', vocabulary };
  };
  for (const f of d.userFeatures) columns.push(side(f.name, f.values, user, f.vocabulary));
  for (const f of d.itemFeatures) columns.push(side(f.name, f.values, item, f.vocabulary));
  const dense = (name: string, counts: ArrayLike<number>, owner: BigInt64Array): Column => {
    const data = new Float32Array(n);
    for (let r = 0; r < n; r++) data[r] = Math.log1p(counts[Number(owner[r]!)] ?? 0);
    return { name, dtype: 'float32', shape: [], data, kind: 'numeric' };
  };
  columns.push(dense('user_activity', o.userCounts, user), dense('item_popularity', o.itemCounts, item));
  columns.push({ name: 'click', dtype: 'float32', shape: [], data: click, kind: 'numeric' });
  return { source: `${d.source} (CTR rows${neg ? `, ${neg} sampled negatives per positive` : ''})`, count: n, columns };
}

/** Interactions per user over `d`. */
export function userCounts(d: Interactions): Float64Array {
  const c = new Float64Array(d.users);
  for (let i = 0; i < d.count; i++) c[d.user[i]!]!++;
  return c;
}
