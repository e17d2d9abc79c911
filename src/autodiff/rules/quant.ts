/**
 * Straight-through-estimator rules for quantization-aware training: a QuantizeLinear → DequantizeLinear
 * fake-quant pair passes dy through where x is representable and zero where it saturates. Integer
 * outputs of QuantizeLinear carry gradients (gradients.ts treats them as differentiable).
 */
import { attrInt } from '../../onnx/ir.js';
import type { DType } from '../../onnx/dtype.js';
import { type VjpContext, type VjpRule, dtypeOf, scalarLike, shapeOf } from '../rule-context.js';
import { normAxis } from '../shapes.js';

const RANGES: Partial<Record<DType, [number, number]>> = {
  uint8: [0, 255], int8: [-128, 127], uint16: [0, 65535], int16: [-32768, 32767],
  uint4: [0, 15], int4: [-8, 7], int32: [-(2 ** 31), 2 ** 31 - 1],
};

/** A per-axis 1-D scale/zero point reshaped to broadcast against x along `axis`; scalars unchanged. */
function alongAxis(ctx: VjpContext, v: string, x: string): string {
  const s = ctx.types.get(v)?.shape;
  if (!s || s.length === 0 || (s.length === 1 && s[0] === 1)) return v;
  const rank = shapeOf(ctx, x).length;
  const axis = normAxis(attrInt(ctx.node, 'axis', 1), rank);
  return ctx.b.reshape(v, Array.from({ length: rank }, (_, i) => (i === axis ? -1 : 1)));
}

/** QuantizeLinear / DequantizeLinear. */
export const QUANT_RULES = {
  // q = saturate(round(x/s) + zp) → dx = dq/s where qmin ≤ round(x/s) + zp ≤ qmax, else 0 (STE)
  QuantizeLinear: (ctx) => {
    const [x, scale, zp] = ctx.node.inputs as [string, string, string | undefined];
    const b = ctx.b;
    const q = ctx.node.outputs[0]!;
    const s = alongAxis(ctx, scale, x);
    const qdt = dtypeOf(ctx, q);
    const [lo, hi] = RANGES[qdt] ?? [0, 255];
    let v = b.op1('Round', [b.div(x, s)]);
    if (zp) v = b.add(v, b.cast(alongAxis(ctx, zp, x), dtypeOf(ctx, x)));
    const inside = b.op1('And', [b.op1('GreaterOrEqual', [v, scalarLike(ctx, lo, x)]), b.op1('LessOrEqual', [v, scalarLike(ctx, hi, x)])]);
    const dq = ctx.dy[0]!;
    return [b.where(inside, b.div(dq, s), scalarLike(ctx, 0, x)), undefined, undefined];
  },
  // y = (q - zp)·s → dq = dy·s (a float gradient for the integer q, consumed by QuantizeLinear's rule)
  DequantizeLinear: (ctx) => {
    const [q, scale] = ctx.node.inputs as [string, string];
    return [ctx.b.mul(ctx.dy[0]!, alongAxis(ctx, scale, q)), undefined, undefined];
  },
} satisfies Record<string, VjpRule>;
