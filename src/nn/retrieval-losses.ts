/**
 * The losses a retrieval model trains with, as custom `LossSpec`s over the values its training graph
 * exposes (`score`, `neg_score`, `user_vec`, `item_vec`, `item_ids`): `bpr` (pairwise, sampled
 * negatives), `softmax` (in-batch sampled softmax with logQ correction and accidental hits removed),
 * `bce` (pointwise: positives 1, sampled negatives 0) and `mse` (explicit ratings). The math lives in
 * src/autodiff (ranking-losses.ts, losses.ts).
 */
import { bprLoss, sampledSoftmaxLoss, softplus } from '../autodiff/ranking-losses.js';
import { mse } from '../autodiff/losses.js';
import { TrainferError } from '../util/errors.js';
import type { LossSpec } from './loss.js';

/** Retrieval loss names. */
export const RETRIEVAL_LOSSES = ['bpr', 'softmax', 'bce', 'mse'] as const;
/** A retrieval loss name. */
export type RetrievalLossName = (typeof RETRIEVAL_LOSSES)[number];

/** Options for `retrievalLoss`. */
export interface RetrievalLossOptions {
  /** softmax: logits are dot products / temperature (default 1; 0.05–0.1 for cosine scores). */
  temperature?: number;
  /** softmax: subtract log q(item) (fed as the `item_logq` target; default true). */
  logQ?: boolean;
}

/** Whether a loss needs sampled negatives (`neg_item`). */
export function needsNegatives(name: RetrievalLossName): boolean {
  return name === 'bpr' || name === 'bce';
}

/**
 * The `LossSpec` of a retrieval loss.
 *
 * @example
 * await fit({ model, train, losses: [{ loss: retrievalLoss('bpr') }], feeds: { neg_item: { provider: negativeSampler({ items }) } } });
 */
export function retrievalLoss(name: RetrievalLossName, o: RetrievalLossOptions = {}): LossSpec {
  const need = (outputs: Readonly<Record<string, string>>, k: string): string => {
    const v = outputs[k];
    if (!v) throw new TrainferError(`loss ${name} needs the model's '${k}'${k === 'neg_score' ? ' (train with negatives > 0)' : ''}`);
    return v;
  };
  switch (name) {
    case 'bpr':
      return { type: 'custom', name: 'bpr', targets: [], fn: (g, { outputs }) => bprLoss(g, { positive: need(outputs, 'score'), negative: need(outputs, 'neg_score') }) };
    case 'bce':
      return {
        type: 'custom', name: 'bce-sampled', targets: [],
        // positives → 1, negatives → 0: softplus(−s⁺) and softplus(s⁻), averaged over every score.
        fn: (g, { outputs }) => g.reduceMean(g.concat([softplus(g, g.neg(need(outputs, 'score'))), softplus(g, need(outputs, 'neg_score'))], 1), undefined, false),
      };
    case 'softmax': {
      const logQ = o.logQ ?? true;
      return {
        type: 'custom', name: `sampled-softmax${logQ ? '-logq' : ''}${o.temperature ? `-t${o.temperature}` : ''}`,
        targets: logQ ? [{ name: 'item_logq', dtype: 'float32', shape: [1] }] : [],
        fn: (g, { outputs, targets }) => sampledSoftmaxLoss(g, { query: need(outputs, 'user_vec'), candidate: need(outputs, 'item_vec'), logQ: logQ ? targets.item_logq : undefined, candidateIds: need(outputs, 'item_ids'), temperature: o.temperature }),
      };
    }
    case 'mse':
      return { type: 'custom', name: 'rating-mse', targets: [{ name: 'rating', dtype: 'float32', shape: [1] }], fn: (g, { outputs, targets }) => mse(g, { pred: need(outputs, 'score'), target: targets.rating! }) };
  }
}
