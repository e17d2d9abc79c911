/**
 * Loss functions as graph nodes. Each takes a `GraphBuilder`, adds its nodes and returns the name of a
 * float scalar (the batch mean), ready for `gradients` / `buildTrainStep`.
 */
import { attr } from '../onnx/attr.js';
import type { GraphBuilder } from '../onnx/builder.js';
import type { DType } from '../onnx/dtype.js';
import { Tensor } from '../onnx/tensor.js';
import { TrainferError } from '../util/errors.js';

function c(g: GraphBuilder, v: number, like: string): string {
  const dt: DType = g.graph.typeOf(like)?.dtype === 'float64' ? 'float64' : 'float32';
  return g.constant(Tensor.scalar(dt, v), 'c');
}

/** Options for `softmaxCrossEntropy`. */
export interface SoftmaxCrossEntropyOptions {
  /** Unnormalised scores: [N, C] (or [N, C, d…]). */
  logits: string;
  /** Class indices, int64 [N] (or [N, d…]). */
  labels: string;
  /** Label smoothing ε in [0, 1): targets become (1-ε)·onehot + ε/C. Default 0. */
  labelSmoothing?: number;
}

/**
 * Mean softmax cross-entropy: one `SoftmaxCrossEntropyLoss` node (plus a smoothing term).
 *
 * @example
 * const loss = softmaxCrossEntropy(g, { logits: 'logits', labels: 'labels', labelSmoothing: 0.1 });
 */
export function softmaxCrossEntropy(g: GraphBuilder, o: SoftmaxCrossEntropyOptions): string {
  const eps = o.labelSmoothing ?? 0;
  if (!(eps >= 0 && eps < 1)) throw new TrainferError(`softmaxCrossEntropy: labelSmoothing must be in [0, 1), got ${eps}`);
  const [nll, logp] = g.op('SoftmaxCrossEntropyLoss', [o.logits, o.labels], { reduction: attr.string('mean') }, { outputs: 2 }) as [string, string];
  if (eps === 0) return nll;
  // ε · mean_N(mean_C(-log p)) + (1 - ε) · nll
  const smooth = g.neg(g.reduceMean(g.reduceMean(logp, [1], false), undefined, false));
  return g.add(g.mul(nll, c(g, 1 - eps, o.logits)), g.mul(smooth, c(g, eps, o.logits)));
}

/** Mean squared error over all elements: mean((pred - target)²). */
export function mse(g: GraphBuilder, o: { pred: string; target: string }): string {
  const d = g.sub(o.pred, o.target);
  return g.reduceMean(g.mul(d, d), undefined, false);
}

/**
 * Binary cross-entropy from logits, numerically stable: mean(max(x, 0) - x·t + log(1 + exp(-|x|))).
 * `target` holds probabilities in [0, 1] with the shape of `logits`.
 */
export function binaryCrossEntropy(g: GraphBuilder, o: { logits: string; target: string }): string {
  const x = o.logits;
  const softplus = g.log(g.add(c(g, 1, x), g.exp(g.neg(g.abs(x)))));
  return g.reduceMean(g.add(g.sub(g.relu(x), g.mul(x, o.target)), softplus), undefined, false);
}

/** Options for `klDivergence`. */
export interface KlDivergenceOptions {
  /** Student scores [N, C] (trained). */
  studentLogits: string;
  /** Teacher scores [N, C] (usually a fed or frozen value). */
  teacherLogits: string;
  /** Softening temperature T > 0 (Hinton et al. use 2–20). */
  temperature: number;
}

/**
 * Distillation loss (Hinton et al. 2015): T² · KL(softmax(t/T) ‖ softmax(s/T)), summed over classes and
 * averaged over the batch. The T² keeps gradient magnitudes comparable across temperatures.
 */
export function klDivergence(g: GraphBuilder, o: KlDivergenceOptions): string {
  const T = o.temperature;
  if (!(T > 0)) throw new TrainferError(`klDivergence: temperature must be > 0, got ${T}`);
  const s = o.studentLogits;
  const logPs = g.logSoftmax(T === 1 ? s : g.div(s, c(g, T, s)), -1);
  const logPt = g.logSoftmax(T === 1 ? o.teacherLogits : g.div(o.teacherLogits, c(g, T, s)), -1);
  const pt = g.exp(logPt);
  const perSample = g.reduceSum(g.mul(pt, g.sub(logPt, logPs)), [-1], false);
  return g.mul(g.reduceMean(perSample, undefined, false), c(g, T * T, s));
}
