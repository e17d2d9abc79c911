/**
 * VJP rules for reductions: the gradient of a sum/mean is dy broadcast back over the reduced axes; of a
 * log-sum-exp, dy times the softmax over the reduced axes (exp(x − y)).
 */
import { attrInt } from '../../onnx/ir.js';
import { type VjpContext, type VjpRule, dtypeOf, scalarLike, shapeOf } from '../rule-context.js';
import { reduceAxes } from '../shapes.js';
import { TrainferError } from '../../util/errors.js';

/** dy broadcast back to x's shape: unsqueeze the reduced axes (keepdims=0), then Expand. */
function spread(ctx: VjpContext): { dx: string; count: number | undefined } {
  const x = ctx.node.inputs[0]!;
  const s = shapeOf(ctx, x);
  const axes = reduceAxes(ctx.node, s.length, ctx.inits);
  if (!axes) throw new TrainferError(`autodiff: ${ctx.node.opType} node '${ctx.node.name}' has non-constant axes`);
  const b = ctx.b;
  let dy = ctx.dy[0]!;
  if (axes.length === 0) return { dx: dy, count: 1 };
  if (attrInt(ctx.node, 'keepdims', 1) === 0) dy = b.unsqueeze(dy, axes);
  const known = s.every((d) => typeof d === 'number');
  const target = known ? b.int64s(s as number[]) : b.shape(x);
  let count: number | undefined = 1;
  for (const a of axes) count = typeof s[a] === 'number' && count !== undefined ? count * (s[a] as number) : undefined;
  return { dx: b.expand(dy, target), count };
}

/** ReduceSum, ReduceMean, ReduceSumSquare, ReduceLogSumExp. */
export const REDUCE_RULES = {
  // y = Σ_axes x → dx[x-shape] = expand(dy)
  ReduceSum: (ctx) => [spread(ctx).dx, undefined],
  // y = mean_axes x → dx = expand(dy) / count
  ReduceMean: (ctx) => {
    const { dx, count } = spread(ctx);
    const x = ctx.node.inputs[0]!;
    if (count !== undefined) return [count === 1 ? dx : ctx.b.mul(dx, scalarLike(ctx, 1 / count, x)), undefined];
    // Unknown reduced size: count = size(x) / size(y).
    const b = ctx.b;
    const size = (v: string): string => b.cast(b.op1('Size', [v]), dtypeOf(ctx, x));
    return [b.div(dx, b.div(size(x), size(ctx.node.outputs[0]!))), undefined];
  },
  // y = Σ_axes x² → dx = 2x · expand(dy)
  ReduceSumSquare: (ctx) => {
    const x = ctx.node.inputs[0]!;
    return [ctx.b.mul(spread(ctx).dx, ctx.b.mul(x, scalarLike(ctx, 2, x))), undefined];
  },
  // y = log Σ_axes exp(x) → dx = dy · exp(x − y), y and dy broadcast over the reduced axes (no Expand:
  // the Mul broadcasts, three elementwise passes over x in all)
  ReduceLogSumExp: (ctx) => {
    const x = ctx.node.inputs[0]!;
    const s = shapeOf(ctx, x);
    const axes = reduceAxes(ctx.node, s.length, ctx.inits);
    if (!axes) throw new TrainferError(`autodiff: ReduceLogSumExp node '${ctx.node.name}' has non-constant axes`);
    const b = ctx.b;
    let y = ctx.node.outputs[0]!;
    let dy = ctx.dy[0]!;
    if (axes.length && attrInt(ctx.node, 'keepdims', 1) === 0) {
      y = b.unsqueeze(y, axes);
      dy = b.unsqueeze(dy, axes);
    }
    return [b.mul(dy, b.exp(b.sub(x, y))), undefined];
  },
} satisfies Record<string, VjpRule>;
