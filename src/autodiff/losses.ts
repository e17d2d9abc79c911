/**
 * Loss functions as graph nodes. Each takes a `GraphBuilder`, adds its nodes and returns the name of a
 * float scalar (the batch mean), ready for `gradients` / `buildTrainStep`. Classification:
 * `softmaxCrossEntropy` (label smoothing, class weights), `binaryCrossEntropy` (from logits, positive
 * weights; binary and multi-label). Regression: `mse`, `mae`, `huber` (residuals optionally divided by a
 * per-target scale). Distillation: `klDivergence`.
 */
import { attr } from '../onnx/attr.js';
import type { GraphBuilder } from '../onnx/builder.js';
import type { DType } from '../onnx/dtype.js';
import { Tensor } from '../onnx/tensor.js';
import { TrainferError } from '../util/errors.js';

function dtypeLike(g: GraphBuilder, like: string): DType {
  return g.graph.typeOf(like)?.dtype === 'float64' ? 'float64' : 'float32';
}

function c(g: GraphBuilder, v: number, like: string): string {
  return g.constant(Tensor.scalar(dtypeLike(g, like), v), 'c');
}

function vec(g: GraphBuilder, values: readonly number[], like: string, base: string): string {
  const dims = [values.length];
  return g.constant(dtypeLike(g, like) === 'float64' ? Tensor.f64(dims, values) : Tensor.f32(dims, values), base);
}

/** A per-last-axis constant (one value broadcasts to all), or undefined when absent / all ones. */
function perTarget(g: GraphBuilder, v: number | readonly number[] | undefined, like: string, base: string, what: string): string | undefined {
  if (v === undefined) return undefined;
  const values = typeof v === 'number' ? [v] : [...v];
  if (values.some((x) => !(Number.isFinite(x) && x > 0))) throw new TrainferError(`${what} must be positive numbers, got [${values.join(', ')}]`);
  if (values.every((x) => x === 1)) return undefined;
  return values.length === 1 ? c(g, values[0]!, like) : vec(g, values, like, base);
}

/** Options for `softmaxCrossEntropy`. */
export interface SoftmaxCrossEntropyOptions {
  /** Unnormalised scores: [N, C] (or [N, C, d…]). */
  logits: string;
  /** Class indices, int64 [N] (or [N, d…]). */
  labels: string;
  /** Label smoothing ε in [0, 1): targets become (1-ε)·onehot + ε/C. Default 0. */
  labelSmoothing?: number;
  /**
   * Per-class weights w[C] (as PyTorch's `CrossEntropyLoss(weight=…)`): the loss is
   * Σᵢ w[yᵢ]·ℓᵢ / Σᵢ w[yᵢ]; with smoothing the ε term weighs each class by its own w.
   */
  classWeights?: readonly number[];
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
  const cw = o.classWeights;
  if (cw && cw.some((w) => !(Number.isFinite(w) && w >= 0))) throw new TrainferError(`class weights must be non-negative numbers, got [${cw.join(', ')}]`);
  const w = cw ? vec(g, cw, o.logits, 'class_weights') : undefined;
  const [nll, logp] = g.op('SoftmaxCrossEntropyLoss', w ? [o.logits, o.labels, w] : [o.logits, o.labels], { reduction: attr.string('mean') }, { outputs: 2 }) as [string, string];
  if (eps === 0) return nll;
  let smooth: string;
  if (!w) {
    // mean_N(mean_C(-log p))
    smooth = g.neg(g.reduceMean(g.reduceMean(logp, [1], false), undefined, false));
  } else {
    // -Σᵢ Σ_c w_c log p_ic / C / Σᵢ w[yᵢ]   (logp [N, C] · w [C] broadcast over the class axis)
    const classes = cw!.length;
    const rank = g.graph.typeOf(o.logits)?.shape?.length ?? 2;
    const wc = rank > 2 ? g.reshape(w, [classes, ...Array.from({ length: rank - 2 }, () => 1)]) : w;
    const denom = g.reduceSum(g.gather(w, o.labels, 0), undefined, false);
    smooth = g.neg(g.div(g.reduceSum(g.mul(logp, wc), undefined, false), g.mul(denom, c(g, classes, o.logits))));
  }
  // (1 - ε) · nll + ε · smooth
  return g.add(g.mul(nll, c(g, 1 - eps, o.logits)), g.mul(smooth, c(g, eps, o.logits)));
}

/** Options shared by the regression losses. */
export interface RegressionLossOptions {
  /** Predictions, any shape. */
  pred: string;
  /** Targets, same shape as `pred`. */
  target: string;
  /**
   * Residuals are divided by this (one value, or one per element of the last axis) before the loss:
   * with the targets' standard deviation, the loss is in standardised units whatever the targets' scale.
   */
  scale?: number | readonly number[];
}

/** (pred − target) / scale. */
function residual(g: GraphBuilder, o: RegressionLossOptions, what: string): string {
  const d = g.sub(o.pred, o.target);
  const s = perTarget(g, o.scale, o.pred, 'target_scale', `${what}: scale`);
  return s ? g.div(d, s) : d;
}

/** Mean squared error over all elements: mean(((pred − target)/scale)²). */
export function mse(g: GraphBuilder, o: RegressionLossOptions): string {
  const d = residual(g, o, 'mse');
  return g.reduceMean(g.mul(d, d), undefined, false);
}

/** Mean absolute error over all elements: mean(|pred − target| / scale). */
export function mae(g: GraphBuilder, o: RegressionLossOptions): string {
  return g.reduceMean(g.abs(residual(g, o, 'mae')), undefined, false);
}

/**
 * Huber loss (PyTorch's `HuberLoss`): with r = (pred − target)/scale, ½r² where |r| ≤ δ, else
 * δ·(|r| − ½δ); mean over all elements. δ defaults to 1.
 */
export function huber(g: GraphBuilder, o: RegressionLossOptions & { delta?: number }): string {
  const delta = o.delta ?? 1;
  if (!(delta > 0)) throw new TrainferError(`huber: delta must be > 0, got ${delta}`);
  const r = residual(g, o, 'huber');
  const a = g.abs(r);
  const small = g.op1('LessOrEqual', [a, c(g, delta, o.pred)]);
  const quad = g.mul(g.mul(r, r), c(g, 0.5, o.pred));
  const lin = g.mul(g.sub(a, c(g, 0.5 * delta, o.pred)), c(g, delta, o.pred));
  return g.reduceMean(g.where(small, quad, lin), undefined, false);
}

/** Options for `binaryCrossEntropy`. */
export interface BinaryCrossEntropyOptions {
  /** Scores before the sigmoid, any shape ([N, 1] binary, [N, K] multi-label). */
  logits: string;
  /** Targets in [0, 1], same shape as `logits`. */
  target: string;
  /**
   * Weight of positive examples (PyTorch's `pos_weight`): one value or one per label (last axis).
   * > 1 raises recall on rare positives.
   */
  posWeight?: number | readonly number[];
}

/**
 * Binary cross-entropy from logits, numerically stable: mean over all elements of
 * (1 − t)·x + (1 + (pw − 1)·t)·softplus(−x), softplus(−x) = log(1 + exp(−|x|)) + max(−x, 0).
 * With pw = 1 this is −[t·log σ(x) + (1 − t)·log(1 − σ(x))].
 */
export function binaryCrossEntropy(g: GraphBuilder, o: BinaryCrossEntropyOptions): string {
  const x = o.logits;
  const t = o.target;
  const softplusNeg = g.add(g.log(g.add(c(g, 1, x), g.exp(g.neg(g.abs(x))))), g.relu(g.neg(x)));
  const pw = perTarget(g, o.posWeight, x, 'pos_weight', 'binaryCrossEntropy: posWeight');
  const neg = g.mul(g.sub(c(g, 1, x), t), x);
  const coef = pw ? g.add(c(g, 1, x), g.mul(g.sub(pw, c(g, 1, x)), t)) : undefined;
  return g.reduceMean(g.add(neg, coef ? g.mul(coef, softplusNeg) : softplusNeg), undefined, false);
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
