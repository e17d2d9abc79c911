/**
 * VJP rules for arithmetic with numpy broadcasting and simple unary math. Every broadcast input's
 * gradient is summed back to that input's shape (`unbroadcast`).
 */
import { attr } from '../../onnx/attr.js';
import { dtypeToOnnx } from '../../onnx/dtype.js';
import { type VjpContext, type VjpRule, dtypeOf, scalarLike, unbroadcast } from '../rule-context.js';

/** Unbroadcasts `g` to input i unless that input needs no gradient. */
function toInput(ctx: VjpContext, i: number, g: () => string): string | undefined {
  if (!ctx.needs[i]) return undefined;
  return unbroadcast(ctx, g(), ctx.node.inputs[i]!, ctx.node.outputs[0]!);
}

/** Arithmetic, unary math, Where/Clip/Cast/Identity. */
export const ELEMENTWISE_RULES = {
  // y = a + b (broadcast) → da = Σ dy, db = Σ dy
  Add: (ctx) => {
    const dy = ctx.dy[0]!;
    return [toInput(ctx, 0, () => dy), toInput(ctx, 1, () => dy)];
  },
  // y = a - b → da = dy, db = -dy
  Sub: (ctx) => {
    const dy = ctx.dy[0]!;
    return [toInput(ctx, 0, () => dy), toInput(ctx, 1, () => ctx.b.neg(dy))];
  },
  // y = a · b → da = dy · b, db = dy · a
  Mul: (ctx) => {
    const [a, b] = ctx.node.inputs as [string, string];
    const dy = ctx.dy[0]!;
    return [toInput(ctx, 0, () => ctx.b.mul(dy, b)), toInput(ctx, 1, () => ctx.b.mul(dy, a))];
  },
  // y = a / b → da = dy / b, db = -dy · y / b
  Div: (ctx) => {
    const b = ctx.node.inputs[1]!;
    const y = ctx.node.outputs[0]!;
    const dy = ctx.dy[0]!;
    return [toInput(ctx, 0, () => ctx.b.div(dy, b)), toInput(ctx, 1, () => ctx.b.neg(ctx.b.div(ctx.b.mul(dy, y), b)))];
  },
  // y = a ^ b → da = dy · b · a^(b-1), db = dy · y · log(a)
  Pow: (ctx) => {
    const [a, e] = ctx.node.inputs as [string, string];
    const y = ctx.node.outputs[0]!;
    const dy = ctx.dy[0]!;
    const b = ctx.b;
    const eCast = dtypeOf(ctx, e) === dtypeOf(ctx, a) ? e : b.cast(e, dtypeOf(ctx, a));
    return [
      toInput(ctx, 0, () => b.mul(dy, b.mul(eCast, b.pow(a, b.sub(eCast, scalarLike(ctx, 1, a)))))),
      toInput(ctx, 1, () => b.mul(dy, b.mul(y, b.log(a)))),
    ];
  },
  // y = -x → dx = -dy
  Neg: (ctx) => [ctx.b.neg(ctx.dy[0]!)],
  // y = exp(x) → dx = dy · y
  Exp: (ctx) => [ctx.b.mul(ctx.dy[0]!, ctx.node.outputs[0]!)],
  // y = log(x) → dx = dy / x
  Log: (ctx) => [ctx.b.div(ctx.dy[0]!, ctx.node.inputs[0]!)],
  // y = √x → dx = dy · 0.5 / y
  Sqrt: (ctx) => [ctx.b.div(ctx.b.mul(ctx.dy[0]!, scalarLike(ctx, 0.5, ctx.node.outputs[0]!)), ctx.node.outputs[0]!)],
  // y = 1/x → dx = -dy · y²
  Reciprocal: (ctx) => {
    const y = ctx.node.outputs[0]!;
    return [ctx.b.neg(ctx.b.mul(ctx.dy[0]!, ctx.b.mul(y, y)))];
  },
  // y = |x| → dx = dy · sign(x)
  Abs: (ctx) => [ctx.b.mul(ctx.dy[0]!, ctx.b.op1('Sign', [ctx.node.inputs[0]!]))],
  // y = x → dx = dy
  Identity: (ctx) => [ctx.dy[0]!],
  // y = cast(x, to) → dx = cast(dy, dtype(x)); integer inputs get no gradient
  Cast: (ctx) => {
    const x = ctx.node.inputs[0]!;
    const from = dtypeOf(ctx, x);
    if (!ctx.needs[0]) return [undefined];
    if (from === dtypeOf(ctx, ctx.node.outputs[0]!)) return [ctx.dy[0]!];
    return [ctx.b.op1('Cast', [ctx.dy[0]!], { to: attr.int(dtypeToOnnx(from)) })];
  },
  // y = Σ xᵢ (broadcast) → dxᵢ = Σ dy
  Sum: (ctx) => ctx.node.inputs.map((_, i) => toInput(ctx, i, () => ctx.dy[0]!)),
  // y = where(c, a, b) → da = where(c, dy, 0), db = where(c, 0, dy)
  Where: (ctx) => {
    const [c, a] = ctx.node.inputs as [string, string, string];
    const dy = ctx.dy[0]!;
    const zero = scalarLike(ctx, 0, a);
    return [undefined, toInput(ctx, 1, () => ctx.b.where(c, dy, zero)), toInput(ctx, 2, () => ctx.b.where(c, zero, dy))];
  },
  // y = clip(x, lo, hi) → dx = dy where lo ≤ x ≤ hi, else 0 (no gradient to the bounds)
  Clip: (ctx) => {
    const [x, lo, hi] = ctx.node.inputs;
    const b = ctx.b;
    let inside: string | undefined;
    if (lo) inside = b.op1('GreaterOrEqual', [x!, lo]);
    if (hi) {
      const le = b.op1('LessOrEqual', [x!, hi]);
      inside = inside ? b.op1('And', [inside, le]) : le;
    }
    return [inside ? b.where(inside, ctx.dy[0]!, scalarLike(ctx, 0, x!)) : ctx.dy[0]!];
  },
} satisfies Record<string, VjpRule>;
