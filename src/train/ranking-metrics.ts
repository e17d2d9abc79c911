/**
 * Top-K ranking metrics as a streaming accumulator (part of the metrics module, beside metrics.ts's
 * per-row accumulators). Each update is one user: the 0-based positions of their relevant (held-out)
 * items in the ranked list of candidates (every item not excluded, e.g. not already seen), and how many
 * candidates there were. From those: recall@K = hits in the top K / relevant; hit rate@K = 1 if any
 * hit; NDCG@K with binary gains, DCG / ideal DCG; MRR = 1 / (1 + position of the first relevant item);
 * AUC = the share of (relevant, non-relevant) candidate pairs ranked correctly. Averages are over users.
 */
import { TrainferError } from '../util/errors.js';

/** Scalars by name: `recall@10`, `ndcg@10`, `hit_rate@10`, …, `mrr`, `auc`, and `users`. */
export type RankingScalars = Record<string, number>;

/** Streaming top-K metrics over users. */
export class RankingAccumulator {
  private users = 0;
  private readonly sums = new Map<string, number>();
  readonly ks: number[];

  /** `ks`: the cut-offs to report (default 10, 50). */
  constructor(ks: readonly number[] = [10, 50]) {
    if (ks.length === 0 || ks.some((k) => !(Number.isInteger(k) && k > 0))) throw new TrainferError(`ranking metrics: K values must be positive integers, got [${ks.join(', ')}]`);
    this.ks = [...new Set(ks)].sort((a, b) => a - b);
  }

  private add(k: string, v: number): void {
    this.sums.set(k, (this.sums.get(k) ?? 0) + v);
  }

  /**
   * One user: `positions` of each relevant item in the ranked candidates (0 = first; ties count the
   * items scored strictly higher), `candidates` = how many items were ranked.
   */
  update(positions: ArrayLike<number>, candidates: number): void {
    const n = positions.length;
    if (n === 0) return;
    const pos = Float64Array.from(positions).sort();
    this.users++;
    for (const k of this.ks) {
      let hits = 0;
      let dcg = 0;
      for (let i = 0; i < n; i++) {
        if (pos[i]! < k) {
          hits++;
          dcg += 1 / Math.log2(pos[i]! + 2);
        }
      }
      let ideal = 0;
      for (let i = 0; i < Math.min(n, k); i++) ideal += 1 / Math.log2(i + 2);
      this.add(`recall@${k}`, hits / n);
      this.add(`hit_rate@${k}`, hits > 0 ? 1 : 0);
      this.add(`ndcg@${k}`, dcg / ideal);
    }
    this.add('mrr', 1 / (pos[0]! + 1));
    // AUC: for the i-th relevant item (sorted), the non-relevant items above it are pos[i] − i.
    const negatives = candidates - n;
    if (negatives > 0) {
      let correct = 0;
      for (let i = 0; i < n; i++) correct += negatives - Math.min(negatives, Math.max(0, pos[i]! - i));
      this.add('auc', correct / (n * negatives));
    } else this.add('auc', 1);
  }

  /** Averages over the users seen (NaN before any). */
  result(): RankingScalars {
    const out: RankingScalars = { users: this.users };
    for (const [k, v] of this.sums) out[k] = this.users ? v / this.users : NaN;
    if (!this.users) for (const k of this.ks) out[`recall@${k}`] = NaN;
    return out;
  }
}

/** The position of `score` among `scores` (how many are strictly higher), skipping `excluded` (sorted ids). */
export function positionOf(scores: ArrayLike<number>, score: number, excluded: ArrayLike<number>): number {
  let above = 0;
  for (let j = 0; j < scores.length; j++) if (scores[j]! > score) above++;
  for (let e = 0; e < excluded.length; e++) if (scores[excluded[e]!]! > score) above--;
  return above;
}
