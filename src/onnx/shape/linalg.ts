/**
 * Shape inference for matrix products (MatMul, Gemm, Einsum and their integer/QLinear forms) and for
 * the quantisation ops around them (QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear).
 */
import type { Dim, ValueType } from '../ir.js';
import { attrInt, attrString } from '../ir.js';
import { dtypeFromOnnx } from '../dtype.js';
import { type ShapeContext, type ShapeFn, ShapeError, broadcastShapes, dt, fmtShape, sameDType, withShape } from './types.js';

/** numpy.matmul shape rule with symbolic dims. */
export function matmulShape(a: readonly Dim[], b: readonly Dim[]): Dim[] {
  if (a.length === 0 || b.length === 0) throw new ShapeError('MatMul inputs must have rank >= 1');
  const aa = a.length === 1 ? [1, a[0]!] : [...a];
  const bb = b.length === 1 ? [b[0]!, 1] : [...b];
  const k1 = aa[aa.length - 1]!;
  const k2 = bb[bb.length - 2]!;
  if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) {
    throw new ShapeError(`inner dims differ: ${fmtShape(a)} × ${fmtShape(b)}`);
  }
  const batch = broadcastShapes([aa.slice(0, -2), bb.slice(0, -2)]);
  const out = [...batch];
  if (a.length !== 1) out.push(aa[aa.length - 2]!);
  if (b.length !== 1) out.push(bb[bb.length - 1]!);
  return out;
}

function matmulOf(ctx: ShapeContext, ia: number, ib: number, dtype: ValueType['dtype'] | undefined): ValueType | undefined {
  const a = ctx.input(ia)?.shape;
  const b = ctx.input(ib)?.shape;
  return withShape(dtype, a && b ? matmulShape(a, b) : undefined);
}

const gemm: ShapeFn = (ctx) => {
  sameDType(ctx, [0, 1, 2]);
  const a = ctx.input(0)?.shape;
  const b = ctx.input(1)?.shape;
  const dtype = dt(ctx, 0);
  if (!a || !b) return [withShape(dtype, undefined)];
  if (a.length !== 2 || b.length !== 2) throw new ShapeError(`Gemm inputs must be 2-D, got ${fmtShape(a)} and ${fmtShape(b)}`);
  const [m, ka] = attrInt(ctx.node, 'transA', 0) ? [a[1]!, a[0]!] : [a[0]!, a[1]!];
  const [kb, n] = attrInt(ctx.node, 'transB', 0) ? [b[1]!, b[0]!] : [b[0]!, b[1]!];
  if (typeof ka === 'number' && typeof kb === 'number' && ka !== kb) throw new ShapeError(`Gemm inner dims differ: ${ka} vs ${kb}`);
  const c = ctx.input(2)?.shape;
  if (c) broadcastShapes([[m, n], c]); // C must broadcast to [M, N]
  return [{ dtype: dtype!, shape: [m, n] }];
};

/** Einsum: letters map to dims; `...` broadcasts; implicit output is the sorted once-only letters. */
const einsum: ShapeFn = (ctx) => {
  const eq = attrString(ctx.node, 'equation', '').replace(/\s+/g, '');
  const dtype = dt(ctx, 0);
  const [lhs, rhs] = eq.split('->') as [string, string | undefined];
  const terms = lhs.split(',');
  if (terms.length !== ctx.inputCount) throw new ShapeError(`equation '${eq}' has ${terms.length} operands but the node has ${ctx.inputCount} inputs`);
  const letters = new Map<string, Dim>();
  const counts = new Map<string, number>();
  const ellipses: Dim[][] = [];
  for (let i = 0; i < terms.length; i++) {
    const shape = ctx.input(i)?.shape;
    const term = terms[i]!;
    const parts = term.split('...');
    const labels = parts.join('');
    for (const ch of labels) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    if (!shape) continue;
    const ell = parts.length > 1 ? shape.length - labels.length : 0;
    const before = parts[0]!.length;
    if (parts.length > 1) ellipses.push(shape.slice(before, before + ell));
    [...labels].forEach((ch, k) => {
      const d = shape[k < before ? k : k + ell]!;
      const prev = letters.get(ch);
      if (prev === undefined || prev === null || prev === 1) letters.set(ch, d);
    });
  }
  const out = rhs ?? '...' + [...counts].filter(([, c]) => c === 1).map(([ch]) => ch).sort().join('');
  const shape: Dim[] = [];
  const ellShape = ellipses.length ? broadcastShapes(ellipses) : [];
  const parts = out.split('...');
  for (const ch of parts[0]!) shape.push(letters.get(ch) ?? null);
  if (parts.length > 1) {
    shape.push(...ellShape);
    for (const ch of parts[1]!) shape.push(letters.get(ch) ?? null);
  }
  const allKnown = terms.every((_, i) => ctx.input(i)?.shape);
  return [withShape(dtype, allKnown ? shape : undefined)];
};

const quantizeLinear: ShapeFn = (ctx) => {
  const outAttr = attrInt(ctx.node, 'output_dtype', 0);
  const dtype = (outAttr ? dtypeFromOnnx(outAttr) : undefined) ?? (ctx.has(2) ? dt(ctx, 2) : 'uint8');
  return [withShape(dtype, ctx.input(0)?.shape)];
};

/** Matrix-product and quantisation inference functions. */
export const LINALG_SHAPES = {
  MatMul: (ctx) => {
    sameDType(ctx, [0, 1]);
    return [matmulOf(ctx, 0, 1, dt(ctx, 0))];
  },
  MatMulInteger: (ctx) => [matmulOf(ctx, 0, 1, 'int32')],
  QLinearMatMul: (ctx) => [matmulOf(ctx, 0, 3, dt(ctx, 7) ?? dt(ctx, 0))],
  Gemm: gemm,
  Einsum: einsum,
  QuantizeLinear: quantizeLinear,
  DequantizeLinear: (ctx) => [withShape(dt(ctx, 1) ?? 'float32', ctx.input(0)?.shape)],
  DynamicQuantizeLinear: (ctx) => [withShape('uint8', ctx.input(0)?.shape), { dtype: 'float32', shape: [] }, { dtype: 'uint8', shape: [] }],
} satisfies Record<string, ShapeFn>;
