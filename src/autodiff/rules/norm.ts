/**
 * VJP rules for normalisation and dropout: BatchNormalization (training mode with batch statistics, and
 * inference mode), LayerNormalization and the ONNX Dropout op (the nn layers emit dropout as a plain Mul
 * by a fed mask, which the Mul rule already covers).
 */
import { attrFloat, attrInt } from '../../onnx/ir.js';
import { Tensor } from '../../onnx/tensor.js';
import { type VjpContext, type VjpRule, dtypeOf, scalarLike, shapeOf, unbroadcast } from '../rule-context.js';
import { normAxis } from '../shapes.js';

const range = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => i + from);

/** 1 / (number of elements reduced per channel), static when possible, else Size(x)/Size(stat). */
function invCount(ctx: VjpContext, x: string, axes: number[], stat: string): string {
  const s = shapeOf(ctx, x);
  const dims = axes.map((a) => s[a]);
  if (dims.every((d) => typeof d === 'number')) return scalarLike(ctx, 1 / (dims as number[]).reduce((p, d) => p * d, 1), x);
  const b = ctx.b;
  const size = (v: string): string => b.cast(b.op1('Size', [v]), dtypeOf(ctx, x));
  return b.div(size(stat), size(x));
}

/** Normalisation and dropout. */
export const NORM_RULES = {
  // y = γ·(x - μ)/√(σ² + ε) + β over x[N, C, *S] per channel; training mode uses the batch μ, σ²
  BatchNormalization: (ctx) => {
    const [x, gamma, , mean, variance] = ctx.node.inputs as [string, string, string, string, string];
    const b = ctx.b;
    const dy = ctx.dy[0]!;
    const rank = shapeOf(ctx, x).length;
    const axes = [0, ...range(rank - 2, 2)]; // reduce over N and spatial axes
    const chan = [1, -1, ...range(rank - 2).map(() => 1)]; // [C] → [1, C, 1, …]
    const eps = scalarLike(ctx, attrFloat(ctx.node, 'epsilon', 1e-5), x);
    const training = attrInt(ctx.node, 'training_mode', 0) === 1;
    const gammaR = b.reshape(gamma, chan);
    let xhat: string;
    let invstd: string;
    if (training) {
      const mu = b.reduceMean(x, axes, true); // [1, C, 1, 1]
      const xc = b.sub(x, mu);
      invstd = b.reciprocal(b.sqrt(b.add(b.reduceMean(b.mul(xc, xc), axes, true), eps)));
      xhat = b.mul(xc, invstd);
    } else {
      invstd = b.reciprocal(b.sqrt(b.add(b.reshape(variance, chan), eps)));
      xhat = b.mul(b.sub(x, b.reshape(mean, chan)), invstd);
    }
    const sdy = b.reduceSum(dy, axes, true); // Σ dy       [1, C, 1, 1]
    const sdyx = b.reduceSum(b.mul(dy, xhat), axes, true); // Σ dy·x̂  [1, C, 1, 1]
    let dx: string | undefined;
    if (ctx.needs[0]) {
      const gi = b.mul(gammaR, invstd);
      if (training) {
        // dx = γ/σ · (dy - mean(dy) - x̂·mean(dy·x̂))
        const inv = invCount(ctx, x, axes, sdy);
        dx = b.mul(gi, b.sub(b.sub(dy, b.mul(sdy, inv)), b.mul(xhat, b.mul(sdyx, inv))));
      } else dx = b.mul(dy, gi); // dx = dy·γ/σ
    }
    const dgamma = ctx.needs[1] ? b.reshape(sdyx, [-1]) : undefined;
    const dbeta = ctx.needs[2] ? b.reshape(sdy, [-1]) : undefined;
    return [dx, dgamma, dbeta, undefined, undefined];
  },
  // y = γ·(x - μ)/σ + β, μ/σ over axes [axis, rank) of x; γ, β broadcast over those axes
  LayerNormalization: (ctx) => {
    const n = ctx.node;
    const [x, gamma, beta] = n.inputs as [string, string, string | undefined];
    const b = ctx.b;
    const dy = ctx.dy[0]!;
    const rank = shapeOf(ctx, x).length;
    const axis = normAxis(attrInt(n, 'axis', -1), rank);
    const normAxes = range(rank - axis, axis);
    let mu: string;
    let invstd: string;
    if (dtypeOf(ctx, x) === 'float32') {
      // Reuse the statistics the forward op computes (add its Mean/InvStdDev outputs when absent).
      if (!n.outputs[1]) n.outputs[1] = b.fresh('ln_mean');
      if (!n.outputs[2]) n.outputs[2] = b.fresh('ln_invstd');
      mu = n.outputs[1];
      invstd = n.outputs[2];
    } else {
      // Other dtypes: recompute in x's precision (ORT stashes the statistics in float32).
      mu = b.reduceMean(x, normAxes, true);
      const xc0 = b.sub(x, mu);
      invstd = b.reciprocal(b.sqrt(b.add(b.reduceMean(b.mul(xc0, xc0), normAxes, true), scalarLike(ctx, attrFloat(n, 'epsilon', 1e-5), x))));
    }
    const xhat = b.mul(b.sub(x, mu), invstd);
    let dx: string | undefined;
    if (ctx.needs[0]) {
      // dx = σ⁻¹ · (g - mean(g) - x̂·mean(g·x̂)), g = dy·γ
      const g = b.mul(dy, gamma);
      dx = b.mul(invstd, b.sub(b.sub(g, b.reduceMean(g, normAxes, true)), b.mul(xhat, b.reduceMean(b.mul(g, xhat), normAxes, true))));
    }
    const y = n.outputs[0]!;
    const dgamma = ctx.needs[1] ? unbroadcast(ctx, b.mul(dy, xhat), gamma, y) : undefined;
    const dbeta = beta && ctx.needs[2] ? unbroadcast(ctx, dy, beta, y) : undefined;
    return [dx, dgamma, dbeta];
  },
  // [y, mask] = dropout(x, ratio, training_mode): y = x·mask/(1 - ratio) in training, x otherwise
  Dropout: (ctx) => {
    const n = ctx.node;
    const [x, ratio, trainingMode] = n.inputs;
    const b = ctx.b;
    const dy = ctx.dy[0]!;
    const tm = trainingMode ? ctx.inits.get(trainingMode) : undefined;
    if (!trainingMode || (tm && !tm.toNumbers()[0])) return [dy];
    if (!n.outputs[1]) n.outputs[1] = b.fresh('dropout_mask');
    const r = ratio ? ctx.inits.get(ratio) : undefined;
    let scale: string;
    if (!ratio) scale = scalarLike(ctx, 2, x!);
    else if (r) scale = scalarLike(ctx, 1 / (1 - r.toNumbers()[0]!), x!);
    else scale = b.reciprocal(b.sub(b.constant(Tensor.scalar(dtypeOf(ctx, ratio), 1), 'one'), ratio));
    if (!tm) scale = b.where(trainingMode, scale, b.constant(Tensor.scalar(dtypeOf(ctx, x!), 1), 'one'));
    if (dtypeOf(ctx, scale) !== dtypeOf(ctx, x!) && ratio && !r) scale = b.cast(scale, dtypeOf(ctx, x!));
    return [b.mul(b.mul(dy, b.cast(n.outputs[1], dtypeOf(ctx, x!))), scale)];
  },
} satisfies Record<string, VjpRule>;

