/**
 * Ranking losses for recommenders, as graph nodes (each returns a float scalar, the batch mean):
 * `bprLoss` (Rendle et al. 2009, −log σ(s⁺ − s⁻) over sampled negatives) and `sampledSoftmaxLoss`
 * (in-batch negatives with the logQ correction of Yi et al. 2019 and accidental hits removed, as in
 * TensorFlow Recommenders' `Retrieval` task). Pointwise BCE with sampled negatives uses
 * `binaryCrossEntropy` (losses.ts). Each is checked against central finite differences in the tests.
 */
import { attr } from '../onnx/attr.js';
import type { GraphBuilder } from '../onnx/builder.js';
import { Tensor } from '../onnx/tensor.js';
import { TrainferError } from '../util/errors.js';

/** softplus(x) = log(1 + eˣ), stable: log(1 + e^−|x|) + max(x, 0). `like` (default x) gives the float type. */
export function softplus(g: GraphBuilder, x: string, like = x): string {
  const dt = g.graph.typeOf(like)?.dtype === 'float64' ? 'float64' : 'float32';
  return g.add(g.log(g.add(g.constant(Tensor.scalar(dt, 1), 'one'), g.exp(g.neg(g.abs(x))))), g.relu(x));
}

/** Options for `bprLoss`. */
export interface BprLossOptions {
  /** Scores of the positive items, [N, 1]. */
  positive: string;
  /** Scores of sampled negatives, [N, n] (broadcast against the positive). */
  negative: string;
}

/** Bayesian personalised ranking: mean over rows and negatives of softplus(s⁻ − s⁺) = −log σ(s⁺ − s⁻). */
export function bprLoss(g: GraphBuilder, o: BprLossOptions): string {
  return g.reduceMean(softplus(g, g.sub(o.negative, o.positive), o.positive), undefined, false);
}

/** Options for `sampledSoftmaxLoss`. */
export interface SampledSoftmaxOptions {
  /** Query (user) vectors [N, D]. */
  query: string;
  /** Candidate (positive item) vectors [N, D]; row i is query i's positive, every other row a negative. */
  candidate: string;
  /** log q(item) of each row's candidate, [N, 1]: subtracted from its column's logits (logQ correction). */
  logQ?: string;
  /** Candidate ids [N, 1] (int64): a column holding the same item as the row's positive is masked out. */
  candidateIds?: string;
  /** Logits are dot products divided by this (default 1). */
  temperature?: number;
}

/**
 * In-batch sampled softmax: logits = q·cᵀ/τ − log q(c_j) over the batch's candidates, cross-entropy
 * against the diagonal. The logQ correction and the accidental-hit mask are one additive bias fed to
 * the Gemm's C, so no [N, N] Sub or Where sits on the gradient path (nothing flows back through the
 * bias unless log q itself is differentiated); the cross-entropy keeps its `log_prob` output, which
 * its gradient rule reuses instead of recomputing the softmax.
 */
export function sampledSoftmaxLoss(g: GraphBuilder, o: SampledSoftmaxOptions): string {
  const t = o.temperature ?? 1;
  if (!(t > 0)) throw new TrainferError(`sampled softmax: temperature must be > 0, got ${t}`);
  const dt = g.graph.typeOf(o.query)?.dtype === 'float64' ? 'float64' : 'float32';
  // Row labels 0..N-1 from the batch size.
  const n = g.squeeze(g.op1('Shape', [o.query], { start: attr.int(0), end: attr.int(1) }), [0]);
  const labels = g.op1('Range', [g.constant(Tensor.i64([], [0]), 'zero'), n, g.constant(Tensor.i64([], [1]), 'one_i')]);
  // bias: [1, N] (−log q of each column) or, with the mask, [N, N].
  let bias: string | undefined = o.logQ ? g.neg(g.transpose(o.logQ, [1, 0])) : undefined;
  if (o.candidateIds) {
    const same = g.equal(o.candidateIds, g.transpose(o.candidateIds, [1, 0]));
    const diag = g.equal(g.unsqueeze(labels, [1]), g.unsqueeze(labels, [0]));
    const hit = g.op1('And', [same, g.not(diag)]);
    bias = g.where(hit, g.constant(Tensor.scalar(dt, -1e9), 'masked'), bias ?? g.constant(Tensor.scalar(dt, 0), 'zero_f'));
  }
  const logits = g.gemm(o.query, o.candidate, bias, { transB: true, ...(t === 1 ? {} : { alpha: 1 / t }) });
  const [loss] = g.op('SoftmaxCrossEntropyLoss', [logits, labels], { reduction: attr.string('mean') }, { outputs: 2 }) as [string, string];
  return loss;
}
