/**
 * Optimizer updates as graph nodes: given a parameter, its gradient and the shared scalars (learning rate,
 * bias corrections), emit the new parameter and new optimizer state. Semantics follow PyTorch's
 * `torch.optim.SGD`, `Adam` and `AdamW` (dampening 0, no amsgrad) so results can be compared step by step.
 */
import type { GraphBuilder } from '../onnx/builder.js';
import type { DType } from '../onnx/dtype.js';
import { Tensor } from '../onnx/tensor.js';
import { TrainferError } from '../util/errors.js';
import type { OptimizerConfig } from './types.js';

/** One optimizer-state tensor of a parameter: zeros of the parameter's shape initially. */
export interface StateTensor {
  /** Role, e.g. `momentum`, `exp_avg`, `exp_avg_sq`. */
  role: string;
  input: string;
  output: string;
}

/** Scalars shared by every parameter's update (float32 scalars in the graph). */
export interface UpdateScalars {
  lr: string;
  /** Adam: lr / (1 - β1^t). */
  stepSize?: string;
  /** Adam: 1 / √(1 - β2^t). */
  invSqrtBc2?: string;
}

/** Validates hyper-parameters; throws a one-line `TrainferError` naming the bad field. */
export function checkOptimizer(o: OptimizerConfig): void {
  const bad = (field: string, v: unknown, want: string): never => {
    throw new TrainferError(`optimizer ${o.type}: ${field} must be ${want}, got ${String(v)}`);
  };
  if (o.weightDecay !== undefined && !(o.weightDecay >= 0)) bad('weightDecay', o.weightDecay, '>= 0');
  if (o.type === 'sgd') {
    if (o.momentum !== undefined && !(o.momentum >= 0 && o.momentum < 1)) bad('momentum', o.momentum, 'in [0, 1)');
    if (o.nesterov && !(o.momentum && o.momentum > 0)) bad('nesterov', o.nesterov, 'used with momentum > 0');
  } else {
    if (o.beta1 !== undefined && !(o.beta1 >= 0 && o.beta1 < 1)) bad('beta1', o.beta1, 'in [0, 1)');
    if (o.beta2 !== undefined && !(o.beta2 >= 0 && o.beta2 < 1)) bad('beta2', o.beta2, 'in [0, 1)');
    if (o.epsilon !== undefined && !(o.epsilon > 0)) bad('epsilon', o.epsilon, '> 0');
  }
}

/** Emits the scalars Adam's bias correction needs from the fed step count `t` (float32 scalar). */
export function adamScalars(b: GraphBuilder, o: OptimizerConfig, lr: string, step: string): UpdateScalars {
  if (o.type === 'sgd') return { lr };
  const beta1 = o.beta1 ?? 0.9;
  const beta2 = o.beta2 ?? 0.999;
  const one = b.scalar(1);
  const bc1 = b.sub(one, b.pow(b.scalar(beta1), step));
  const bc2 = b.sub(one, b.pow(b.scalar(beta2), step));
  return { lr, stepSize: b.div(lr, bc1), invSqrtBc2: b.reciprocal(b.sqrt(bc2)) };
}

/**
 * Emits one parameter's update. `p`/`g` are the parameter and its (clipped) gradient; `state` names the
 * optimizer-state inputs (created by the caller from `stateRoles`). Returns the new parameter and new state.
 */
export function emitUpdate(b: GraphBuilder, o: { config: OptimizerConfig; p: string; g: string; dtype: DType; scalars: UpdateScalars; state: Record<string, string> }): { param: string; state: Record<string, string> } {
  const { config, p, scalars, state } = o;
  const k = (v: number): string => b.constant(Tensor.scalar(o.dtype, v), 'c');
  const cast = (s: string): string => (o.dtype === 'float32' ? s : b.cast(s, o.dtype));
  let g = o.g;
  const wd = config.weightDecay ?? 0;
  if (config.type === 'sgd') {
    // g ← g + wd·p ; v ← μ·v + g ; d = g + μ·v (Nesterov) or v ; p ← p − lr·d
    if (wd) g = b.add(g, b.mul(p, k(wd)));
    const mu = config.momentum ?? 0;
    let d = g;
    const next: Record<string, string> = {};
    if (mu) {
      const v = b.add(b.mul(state.momentum!, k(mu)), g);
      next.momentum = v;
      d = config.nesterov ? b.add(g, b.mul(v, k(mu))) : v;
    }
    return { param: b.sub(p, b.mul(d, cast(scalars.lr))), state: next };
  }
  // Adam: g ← g + wd·p (adam only) ; m ← β1·m + (1−β1)·g ; v ← β2·v + (1−β2)·g²
  //       p ← p − (lr/bc1) · m / (√v/√bc2 + ε)     AdamW first decays p ← p − lr·wd·p
  const beta1 = config.beta1 ?? 0.9;
  const beta2 = config.beta2 ?? 0.999;
  const eps = config.epsilon ?? 1e-8;
  if (config.type === 'adam' && wd) g = b.add(g, b.mul(p, k(wd)));
  const m = b.add(b.mul(state.exp_avg!, k(beta1)), b.mul(g, k(1 - beta1)));
  const v = b.add(b.mul(state.exp_avg_sq!, k(beta2)), b.mul(b.mul(g, g), k(1 - beta2)));
  const denom = b.add(b.mul(b.sqrt(v), cast(scalars.invSqrtBc2!)), k(eps));
  let base = p;
  if (config.type === 'adamw' && wd) base = b.sub(p, b.mul(p, cast(b.mul(scalars.lr, b.scalar(wd)))));
  const param = b.sub(base, b.mul(b.div(m, denom), cast(scalars.stepSize!)));
  return { param, state: { exp_avg: m, exp_avg_sq: v } };
}

/** State tensors an optimizer keeps per parameter. */
export function stateRoles(o: OptimizerConfig): string[] {
  if (o.type === 'sgd') return o.momentum ? ['momentum'] : [];
  return ['exp_avg', 'exp_avg_sq'];
}
