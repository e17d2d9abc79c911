/**
 * Channel rules for the layers that make channels: Conv (grouped and depthwise too), ConvTranspose, Gemm,
 * MatMul with a weight (and activation×activation MatMul, attention, whose head coordinate couples Q, K
 * and V), and Gather from an embedding table. The table that names them: channel-rules.ts.
 */
import { attrInt } from '../../onnx/ir.js';
import type { Dim } from '../../onnx/ir.js';
import type { RuleContext, Track } from './depgraph.js';
import { type Rule, fixExtra, norm, num, unknownOp } from './channel-rule-kit.js';
export const conv: Rule = (ctx) => {
  const n = ctx.node;
  const w = ctx.init(n.inputs[1]);
  const group = attrInt(n, 'group', 1);
  if (!w || (n.inputs[2] && !ctx.init(n.inputs[2]))) return unknownOp(ctx);
  const M = w.dims[0]!;
  const Cg = w.dims[1]!;
  const inTracks = ctx.in(0);
  for (const t of inTracks) if (!(t.axes.length === 1 && t.axes[0] === 1)) ctx.fix(t.ids, `${ctx.describe()} convolves over their axis`);
  const chIn = inTracks.find((t) => t.axes.length === 1 && t.axes[0] === 1);
  let outIds: Int32Array;
  if (group === 1) {
    outIds = ctx.fresh(M);
    if (chIn) ctx.slice(n.inputs[1]!, [1], chIn.ids, 'in');
  } else if (Cg === 1) {
    // Depthwise (M = group·m): input channel c and its m outputs go together; the group count follows.
    const m = M / group;
    const inIds = chIn?.ids ?? ctx.fresh(group);
    if (!chIn) ctx.fix(inIds, `${ctx.describe()} is depthwise over channels that cannot shrink`);
    outIds = new Int32Array(M);
    for (let o = 0; o < M; o++) outIds[o] = inIds[Math.floor(o / m)]!;
    ctx.fixup((rc, node) => {
      const kept = rc.kept(inIds).reduce((s, x) => s + x, 0);
      node.attributes.group = { type: 'int', value: kept };
    });
  } else {
    // Grouped: channel j of every group goes together (the group count stays).
    const m = M / group;
    const per = ctx.fresh(m);
    outIds = new Int32Array(M);
    for (let o = 0; o < M; o++) outIds[o] = per[o % m]!;
    if (chIn) {
      const inW = ctx.fresh(Cg);
      for (let c = 0; c < chIn.ids.length; c++) ctx.unite(Int32Array.of(chIn.ids[c]!), Int32Array.of(inW[c % Cg]!));
      ctx.slice(n.inputs[1]!, [1], inW, 'in');
    }
  }
  ctx.slice(n.inputs[1]!, [0], outIds, 'out');
  if (n.inputs[2]) ctx.slice(n.inputs[2], [0], outIds, 'bias');
  ctx.out(0, { axes: [1], sizes: [M], ids: outIds });
};

/** ConvTranspose (group 1): weight [C_in, C_out, k…]. */
export const convTranspose: Rule = (ctx) => {
  const n = ctx.node;
  const w = ctx.init(n.inputs[1]);
  if (!w || attrInt(n, 'group', 1) !== 1 || (n.inputs[2] && !ctx.init(n.inputs[2]))) return unknownOp(ctx);
  for (const t of ctx.in(0)) {
    if (t.axes.length === 1 && t.axes[0] === 1) ctx.slice(n.inputs[1]!, [0], t.ids, 'in');
    else ctx.fix(t.ids, `${ctx.describe()} convolves over their axis`);
  }
  const ids = ctx.fresh(w.dims[1]!);
  ctx.slice(n.inputs[1]!, [1], ids, 'out');
  if (n.inputs[2]) ctx.slice(n.inputs[2], [0], ids, 'bias');
  ctx.out(0, { axes: [1], sizes: [w.dims[1]!], ids });
};

/** Gemm with a constant B: output features (axis 1) are made here; A's features are consumed. */
export const gemm: Rule = (ctx) => {
  const n = ctx.node;
  const b = ctx.init(n.inputs[1]);
  if (!b || ctx.init(n.inputs[0])) return unknownOp(ctx);
  const transA = attrInt(n, 'transA', 0) === 1;
  const transB = attrInt(n, 'transB', 0) === 1;
  const kAxis = transA ? 0 : 1;
  for (const t of ctx.in(0)) {
    if (t.axes.length === 1 && t.axes[0] === kAxis) ctx.slice(n.inputs[1]!, [transB ? 1 : 0], t.ids, 'in');
    else ctx.fix(t.ids, `${ctx.describe()} takes them on its batch axis`);
  }
  const N = b.dims[transB ? 0 : 1]!;
  const ids = ctx.fresh(N);
  ctx.slice(n.inputs[1]!, [transB ? 0 : 1], ids, 'out');
  const c = n.inputs[2];
  if (c) {
    const cs = ctx.shape(c);
    const ci = ctx.init(c);
    if (!ci || !cs) ctx.fix(ids, `${ctx.describe()} adds a non-constant C`);
    else if (cs.length >= 1 && cs[cs.length - 1] === N) ctx.slice(c, [cs.length - 1], ids, 'bias');
  }
  ctx.out(0, { axes: [1], sizes: [N], ids });
};

/** MatMul: with a constant rank-2 weight a producer/consumer; of two activations, attention-style coupling. */
export const matMul: Rule = (ctx) => {
  const n = ctx.node;
  const w = ctx.init(n.inputs[1]);
  const xs = ctx.shape(n.inputs[0]);
  if (ctx.init(n.inputs[0])) return unknownOp(ctx);
  if (w) {
    if (w.dims.length !== 2 || !xs) return unknownOp(ctx);
    const r = xs.length;
    for (const t of ctx.in(0)) {
      if (t.axes.length === 1 && t.axes[0] === r - 1) ctx.slice(n.inputs[1]!, [0], t.ids, 'in');
      else if (!t.axes.includes(r - 1) && r >= 2) ctx.out(0, t); // batch / row axes pass
      else ctx.fix(t.ids, `${ctx.describe()} contracts them together with other axes`);
    }
    const ids = ctx.fresh(w.dims[1]!);
    ctx.slice(n.inputs[1]!, [1], ids, 'out');
    ctx.out(0, { axes: [Math.max(r, 2) - 1], sizes: [w.dims[1]!], ids });
    return;
  }
  matMulActivations(ctx);
};

/** Activation × activation MatMul (attention scores and context): contracted and batch coordinates are coupled. */
function matMulActivations(ctx: RuleContext): void {
  const n = ctx.node;
  const sa = ctx.shape(n.inputs[0]);
  const sb = ctx.shape(n.inputs[1]);
  if (!sa || !sb || sa.length < 2 || sb.length < 2) return unknownOp(ctx);
  const ra = sa.length;
  const rb = sb.length;
  const r = Math.max(ra, rb);
  const K = r; // the contracted logical axis
  const logA = (a: number) => (a === ra - 1 ? K : a === ra - 2 ? r - 2 : a + (r - ra));
  const logB = (b: number) => (b === rb - 2 ? K : b === rb - 1 ? r - 1 : b + (r - rb));
  /** The operand's dim on a logical axis (undefined where it has none: A has no N axis, B no M axis). */
  const dimOf = (which: 0 | 1, l: number): Dim | undefined => {
    if (which === 0) {
      if (l === r - 1) return undefined;
      const a = l === K ? ra - 1 : l === r - 2 ? ra - 2 : l - (r - ra);
      return a >= 0 ? sa[a] : undefined;
    }
    if (l === r - 2) return undefined;
    const b = l === K ? rb - 2 : l === r - 1 ? rb - 1 : l - (r - rb);
    return b >= 0 ? sb[b] : undefined;
  };
  type LT = { which: 0 | 1; t: Track; logical: number[] };
  const lts: LT[] = [...ctx.in(0).map((t) => ({ which: 0 as const, t, logical: t.axes.map(logA) })), ...ctx.in(1).map((t) => ({ which: 1 as const, t, logical: t.axes.map(logB) }))];
  for (const x of lts) {
    const other: 0 | 1 = x.which === 0 ? 1 : 0;
    const partners = lts.filter((y) => y.which === other);
    // Logical axes the other operand also has at full size: the contracted one and shared batch axes.
    const shared = x.logical.filter((l) => l === K || (l < r - 2 && num(dimOf(other, l)) !== 1 && dimOf(other, l) !== undefined));
    if (!shared.length) continue;
    const partner = partners.find((y) => shared.every((l) => y.logical.includes(l)));
    if (!partner) {
      ctx.fix(x.t.ids, `${ctx.describe()} multiplies them with an operand whose matching axis cannot shrink`);
      continue;
    }
    const axesX = shared.map((l) => x.t.axes[x.logical.indexOf(l)]!);
    const axesY = shared.map((l) => partner.t.axes[partner.logical.indexOf(l)]!);
    ctx.unite(ctx.project(x.t, axesX), ctx.project(partner.t, axesY));
  }
  // Output tracks: the non-contracted coordinates; a coarser track covered by a finer one is dropped.
  const outs = lts.map((x) => {
    const keep = x.logical.filter((l) => l !== K);
    if (!keep.length) return undefined;
    const local = keep.map((l) => x.t.axes[x.logical.indexOf(l)]!);
    return { axes: keep, sizes: local.map((a) => x.t.sizes[x.t.axes.indexOf(a)]!), ids: ctx.project(x.t, local) };
  }).filter((x): x is Track => !!x);
  for (const t of outs) {
    const finer = outs.find((u) => u !== t && u.axes.length > t.axes.length && t.axes.every((a) => u.axes.includes(a)));
    if (finer) continue;
    const clash = outs.find((u) => u !== t && u.axes.join() !== t.axes.join() && u.axes.some((a) => t.axes.includes(a)) && !(u.axes.length > t.axes.length && t.axes.every((a) => u.axes.includes(a))) && !(t.axes.length > u.axes.length && u.axes.every((a) => t.axes.includes(a))));
    if (clash) ctx.fix(t.ids, `${ctx.describe()} mixes differently tracked channels`);
    else ctx.out(0, t);
  }
}

/** Gather: from a constant [V, D] table by fed ids (embedding: D is made here), or along an untracked axis. */
export const gather: Rule = (ctx) => {
  const n = ctx.node;
  const data = ctx.init(n.inputs[0]);
  const axis = attrInt(n, 'axis', 0);
  const is = ctx.shape(n.inputs[1]);
  if (data && data.dims.length === 2 && axis === 0 && is && !ctx.init(n.inputs[1])) {
    const ids = ctx.fresh(data.dims[1]!);
    ctx.slice(n.inputs[0]!, [1], ids, 'out');
    ctx.out(0, { axes: [is.length], sizes: [data.dims[1]!], ids });
    return;
  }
  const r = ctx.shape(n.inputs[0])?.length;
  if (!is || r === undefined) return unknownOp(ctx);
  const ax = norm(axis, r);
  for (const t of ctx.in(0)) {
    if (t.axes.includes(ax)) ctx.fix(t.ids, `${ctx.describe()} indexes into them`);
    else ctx.out(0, { ...t, axes: t.axes.map((a) => (a < ax ? a : a + is.length - 1)) });
  }
  fixExtra(ctx, 1);
};

