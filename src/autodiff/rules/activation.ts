/**
 * VJP rules for activations and (log-)softmax. Rules reuse the forward output where the derivative is
 * cheaper from it (sigmoid, tanh, exp, softmax) instead of recomputing.
 */
import { attrFloat, attrInt, attrString } from '../../onnx/ir.js';
import { type VjpRule, dtypeOf, scalarLike } from '../rule-context.js';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** Activations. */
export const ACTIVATION_RULES = {
  // y = max(x, 0) → dx = dy · [y > 0] (x: any shape). Mul by a cast mask runs ~3× faster than Where in ORT.
  Relu: (ctx) => {
    const y = ctx.node.outputs[0]!;
    const b = ctx.b;
    return [b.mul(ctx.dy[0]!, b.cast(b.greater(y, scalarLike(ctx, 0, y)), dtypeOf(ctx, y)))];
  },
  // y = x if x > 0 else α·x → dx = dy or α·dy
  LeakyRelu: (ctx) => {
    const x = ctx.node.inputs[0]!;
    const dy = ctx.dy[0]!;
    const alpha = attrFloat(ctx.node, 'alpha', 0.01);
    return [ctx.b.where(ctx.b.greater(x, scalarLike(ctx, 0, x)), dy, ctx.b.mul(dy, scalarLike(ctx, alpha, x)))];
  },
  // y = σ(x) → dx = dy · y · (1 - y)
  Sigmoid: (ctx) => {
    const y = ctx.node.outputs[0]!;
    const b = ctx.b;
    return [b.mul(ctx.dy[0]!, b.mul(y, b.sub(scalarLike(ctx, 1, y), y)))];
  },
  // y = tanh(x) → dx = dy · (1 - y²)
  Tanh: (ctx) => {
    const y = ctx.node.outputs[0]!;
    const b = ctx.b;
    return [b.mul(ctx.dy[0]!, b.sub(scalarLike(ctx, 1, y), b.mul(y, y)))];
  },
  // y = erf(x) → dx = dy · 2/√π · exp(-x²)
  Erf: (ctx) => {
    const x = ctx.node.inputs[0]!;
    const b = ctx.b;
    const e = b.exp(b.neg(b.mul(x, x)));
    return [b.mul(ctx.dy[0]!, b.mul(e, scalarLike(ctx, 2 / Math.sqrt(Math.PI), x)))];
  },
  // exact:  y = x·Φ(x)            → dx = dy · (Φ(x) + x·φ(x)),  Φ(x) = ½(1 + erf(x/√2)), φ = N(0,1) pdf
  // tanh:   y = ½x(1 + tanh(u)), u = √(2/π)(x + 0.044715x³)
  //         → dx = dy · (½(1 + t) + ½x(1 - t²)·√(2/π)(1 + 3·0.044715x²)), t = tanh(u)
  Gelu: (ctx) => {
    const x = ctx.node.inputs[0]!;
    const b = ctx.b;
    const c = (v: number): string => scalarLike(ctx, v, x);
    const x2 = b.mul(x, x);
    if (attrString(ctx.node, 'approximate', 'none') === 'tanh') {
      const u = b.mul(c(SQRT_2_OVER_PI), b.add(x, b.mul(c(0.044715), b.mul(x2, x))));
      const t = b.tanh(u);
      const left = b.mul(c(0.5), b.add(c(1), t));
      const du = b.mul(c(SQRT_2_OVER_PI), b.add(c(1), b.mul(c(3 * 0.044715), x2)));
      const right = b.mul(b.mul(c(0.5), x), b.mul(b.sub(c(1), b.mul(t, t)), du));
      return [b.mul(ctx.dy[0]!, b.add(left, right))];
    }
    const cdf = b.mul(c(0.5), b.add(c(1), b.erf(b.mul(x, c(Math.SQRT1_2)))));
    const pdf = b.mul(c(INV_SQRT_2PI), b.exp(b.mul(x2, c(-0.5))));
    return [b.mul(ctx.dy[0]!, b.add(cdf, b.mul(x, pdf)))];
  },
  // y = softmax(x, axis) → dx = y · (dy - Σ_axis(dy · y))
  Softmax: (ctx) => {
    const y = ctx.node.outputs[0]!;
    const axis = attrInt(ctx.node, 'axis', -1);
    const b = ctx.b;
    const s = b.reduceSum(b.mul(ctx.dy[0]!, y), [axis], true);
    return [b.mul(y, b.sub(ctx.dy[0]!, s))];
  },
  // y = log_softmax(x, axis) → dx = dy - exp(y) · Σ_axis dy
  LogSoftmax: (ctx) => {
    const y = ctx.node.outputs[0]!;
    const axis = attrInt(ctx.node, 'axis', -1);
    const b = ctx.b;
    return [b.sub(ctx.dy[0]!, b.mul(b.exp(y), b.reduceSum(ctx.dy[0]!, [axis], true)))];
  },
} satisfies Record<string, VjpRule>;
