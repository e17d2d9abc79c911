/**
 * VJP rules for MatMul (batched, broadcasting, 1-D operands) and Gemm. The 2-D cases use Gemm with
 * transA/transB so no Transpose node is emitted (dW = Xᵀ·dY is one Gemm with transA=1).
 */
import { attr } from '../../onnx/attr.js';
import { type Attribute, attrFloat, attrInt } from '../../onnx/ir.js';
import { type VjpContext, type VjpRule, reshapeTo, scalarLike, unbroadcast } from '../rule-context.js';
import { shapeOf } from '../rule-context.js';

function gemm(ctx: VjpContext, a: string, b: string, o: { transA?: boolean; transB?: boolean; alpha?: number }): string {
  const at: Record<string, Attribute> = {};
  if (o.transA) at.transA = attr.int(1);
  if (o.transB) at.transB = attr.int(1);
  if (o.alpha !== undefined && o.alpha !== 1) at.alpha = attr.float(o.alpha);
  return ctx.b.op1('Gemm', [a, b], at);
}

/** Swaps the last two axes of a rank-r value. */
function swapLast(ctx: VjpContext, x: string, rank: number): string {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 1] = rank - 2;
  perm[rank - 2] = rank - 1;
  return ctx.b.transpose(x, perm);
}

/** MatMul and Gemm. */
export const LINALG_RULES = {
  // y[..., M, N] = a[..., M, K] · b[..., K, N]
  MatMul: (ctx) => {
    const [a, b] = ctx.node.inputs as [string, string];
    const dy = ctx.dy[0]!;
    const sa = shapeOf(ctx, a);
    const sb = shapeOf(ctx, b);
    const B = ctx.b;
    if (sa.length === 2 && sb.length === 2) {
      // da[M, K] = dy[M, N] · bᵀ ; db[K, N] = aᵀ · dy
      return [ctx.needs[0] ? gemm(ctx, dy, b, { transB: true }) : undefined, ctx.needs[1] ? gemm(ctx, a, dy, { transA: true }) : undefined];
    }
    if (sa.length > 2 && sb.length === 2) {
      // a: [*, M, K] with a shared weight b: [K, N] (a Linear on a sequence): fold the batch dims into M.
      const k = sa[sa.length - 1]!;
      const n = sb[1]!;
      const da = ctx.needs[0] ? B.matMul(dy, B.transpose(b, [1, 0])) : undefined;
      const db = ctx.needs[1]
        ? gemm(ctx, B.reshape(a, [-1, typeof k === 'number' ? k : -1]), B.reshape(dy, [-1, typeof n === 'number' ? n : -1]), { transA: true })
        : undefined;
      return [da, db];
    }
    // General case: promote 1-D operands, batched MatMul, then undo broadcasting of the batch dims.
    const a2 = sa.length === 1 ? B.unsqueeze(a, [0]) : a;
    const b2 = sb.length === 1 ? B.unsqueeze(b, [1]) : b;
    let dy2 = dy;
    if (sa.length === 1 && sb.length === 1) dy2 = B.reshape(dy, [1, 1]);
    else if (sb.length === 1) dy2 = B.unsqueeze(dy, [-1]);
    else if (sa.length === 1) dy2 = B.unsqueeze(dy, [-2]);
    const ra = Math.max(sa.length, 2);
    const rb = Math.max(sb.length, 2);
    const out: (string | undefined)[] = [undefined, undefined];
    const rank = Math.max(ra, rb); // rank of the promoted product
    if (ctx.needs[0]) {
      let da = B.matMul(dy2, swapLast(ctx, b2, rb)); // [..., M, K]
      if (sa.length === 1) da = B.reduceSum(da, Array.from({ length: rank - 1 }, (_, i) => i), false); // [K]
      else da = unbroadcastBatch(ctx, da, a, sa.length);
      out[0] = da;
    }
    if (ctx.needs[1]) {
      let db = B.matMul(swapLast(ctx, a2, ra), dy2); // [..., K, N]
      if (sb.length === 1) db = B.reshape(B.reduceSum(db, [...Array.from({ length: rank - 2 }, (_, i) => i), rank - 1], true), [-1]); // [K]
      else db = unbroadcastBatch(ctx, db, b, sb.length);
      out[1] = db;
    }
    return out;
  },
  // y[M, N] = alpha · a'[M, K] · b'[K, N] + beta · c (a' = aᵀ if transA, b' = bᵀ if transB)
  Gemm: (ctx) => {
    const [a, b, c] = ctx.node.inputs as [string, string, string | undefined];
    const dy = ctx.dy[0]!;
    const ta = attrInt(ctx.node, 'transA', 0) === 1;
    const tb = attrInt(ctx.node, 'transB', 0) === 1;
    const alpha = attrFloat(ctx.node, 'alpha', 1);
    const beta = attrFloat(ctx.node, 'beta', 1);
    let da: string | undefined;
    let db: string | undefined;
    let dc: string | undefined;
    if (ctx.needs[0]) {
      // da' = alpha · dy · b'ᵀ ; da = da'ᵀ when transA
      da = ta ? gemm(ctx, b, dy, { transA: tb, transB: true, alpha }) : gemm(ctx, dy, b, { transB: !tb, alpha });
    }
    if (ctx.needs[1]) {
      // db' = alpha · a'ᵀ · dy ; db = db'ᵀ when transB
      db = tb ? gemm(ctx, dy, a, { transA: true, transB: ta, alpha }) : gemm(ctx, a, dy, { transA: !ta, alpha });
    }
    if (c && ctx.needs[2]) {
      const scaled = beta === 1 ? dy : ctx.b.mul(dy, scalarLike(ctx, beta, ctx.node.outputs[0]!));
      dc = unbroadcast(ctx, scaled, c, ctx.node.outputs[0]!);
    }
    return [da, db, dc];
  },
} satisfies Record<string, VjpRule>;

/** Sums a batched-MatMul gradient [...batch, r, c] over batch dims the operand broadcast over. */
function unbroadcastBatch(ctx: VjpContext, g: string, operand: string, rank: number): string {
  const y = ctx.node.outputs[0]!;
  const sy = ctx.types.get(y)?.shape;
  const so = ctx.types.get(operand)!.shape!;
  if (!sy) return reshapeTo(ctx, g, operand);
  const batchY = sy.length - 2;
  const batchO = rank - 2;
  const lead = batchY - batchO;
  const axes: number[] = [];
  for (let i = 0; i < batchY; i++) if (i < lead || (so[i - lead] === 1 && sy[i] !== 1)) axes.push(i);
  if (axes.length === 0) return g;
  return reshapeTo(ctx, ctx.b.reduceSum(g, axes, true), operand);
}
