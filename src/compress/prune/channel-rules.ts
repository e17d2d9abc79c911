/**
 * Channel rules: one entry per op type in one static table, each saying how channel tracks pass through
 * the op, which ids it couples, which initializer slices carry them and which node edits a removal needs
 * (depgraph.ts explains the model). Layers that make channels: Conv (grouped and depthwise too),
 * ConvTranspose, Gemm, MatMul with a weight, Gather from an embedding table. Everything else moves tracks:
 * elementwise ops with broadcasting (residual Add couples both sides), normalisations, pools, Transpose,
 * Reshape/Flatten (merging channels into features, splitting them into heads), (Un)Squeeze, Concat, Split,
 * and activation×activation MatMul (attention: the head coordinate of Q, K and V is coupled, so heads go
 * whole). An op not in the table fixes the channels that reach it.
 */
import { attrInt, attrInts } from '../../onnx/ir.js';
import { Tensor } from '../../onnx/tensor.js';
import type { Dim, Node } from '../../onnx/ir.js';
import { type RewriteContext, type RuleContext, type Track, RewriteConflict } from './depgraph.js';
import { reshapeBlocks } from './reshape-map.js';

type Rule = (ctx: RuleContext) => void;

const norm = (a: number, r: number): number => (a < 0 ? a + r : a);
const num = (d: Dim | undefined): number | undefined => (typeof d === 'number' && d >= 0 ? d : undefined);

/** An op the rules do not know: the channels reaching it stay. */
export const unknownOp: Rule = (ctx) => ctx.fixInputs(`passes through ${ctx.describe()}, which structured pruning does not handle`);

/** Output 0 carries input 0's tracks unchanged. */
const passThrough: Rule = (ctx) => {
  for (const t of ctx.in(0)) ctx.out(0, t);
  fixExtra(ctx, 1);
};

/** Fixes tracks on inputs from `from` on (scalars like Clip's min/max never carry any). */
function fixExtra(ctx: RuleContext, from: number): void {
  for (let k = from; k < ctx.node.inputs.length; k++) for (const t of ctx.in(k)) ctx.fix(t.ids, `is a secondary input of ${ctx.describe()}`);
}

/**
 * Elementwise ops with numpy broadcasting: tracks on the same output axes are united across inputs
 * (a residual Add couples both branches); an initializer with full size on tracked axes is sliced with
 * them (a bias, a per-channel scale); an activation with full size there but no track fixes them.
 */
const broadcast: Rule = (ctx) => {
  const n = ctx.node;
  const outShape = ctx.shape(n.outputs[0]);
  const r = outShape?.length ?? Math.max(...n.inputs.map((v) => ctx.shape(v)?.length ?? 0));
  const present = n.inputs.map((v, k) => ({ v, k })).filter((x) => x.v);
  const offset = (k: number) => r - (ctx.shape(n.inputs[k])?.length ?? r);
  // Output-axis sets with a track, and the reference ids for each.
  const sets = new Map<string, { axes: number[]; sizes: number[]; ids: Int32Array }>();
  for (const { k } of present) {
    for (const t of ctx.in(k)) {
      const axes = t.axes.map((a) => a + offset(k));
      const key = axes.join();
      const s = sets.get(key);
      if (s) ctx.unite(s.ids, t.ids);
      else sets.set(key, { axes, sizes: t.sizes, ids: t.ids });
    }
  }
  const keys = [...sets.keys()];
  for (const s of sets.values()) {
    const overlap = keys.some((k) => k !== s.axes.join() && sets.get(k)!.axes.some((a) => s.axes.includes(a)));
    if (overlap) {
      ctx.fix(s.ids, `meets differently tracked channels at ${ctx.describe()}`);
      continue;
    }
    for (const { v, k } of present) {
      if (ctx.in(k).some((t) => t.axes.map((a) => a + offset(k)).join() === s.axes.join())) continue;
      const shape = ctx.shape(v);
      const local = s.axes.map((a) => a - offset(k));
      const full = local.filter((a, i) => a >= 0 && shape && num(shape[a]) !== 1 && shape[a] !== undefined && (num(shape[a]) === s.sizes[i] || typeof shape[a] !== 'number'));
      if (!shape) {
        ctx.fix(s.ids, `meets a value of unknown shape at ${ctx.describe()}`);
        continue;
      }
      if (full.length === 0) continue; // broadcast over the channels
      const init = ctx.init(v);
      if (init && full.every((a) => num(shape[a]) !== undefined)) {
        const ids = full.length === local.length ? s.ids : ctx.project({ axes: local, sizes: s.sizes, ids: s.ids }, full);
        ctx.slice(v, full, ids, 'param');
      } else ctx.fix(s.ids, `${ctx.describe()} combines them with '${v}', which cannot shrink`);
    }
    ctx.out(0, s);
  }
};

/** Normalisations with per-channel parameters on axis 1 (BatchNorm, InstanceNorm): exact. */
const channelNorm: Rule = (ctx) => {
  const n = ctx.node;
  for (const t of ctx.in(0)) {
    if (t.axes.length === 1 && t.axes[0] === 1) {
      const roles = ['norm-scale', 'norm-bias', 'norm-stat', 'norm-stat'] as const;
      for (let k = 1; k < n.inputs.length; k++) {
        const v = n.inputs[k];
        if (v && ctx.init(v)) ctx.slice(v, [0], t.ids, roles[k - 1] ?? 'param');
        else if (v) ctx.fix(t.ids, `${ctx.describe()} has a non-constant parameter '${v}'`);
      }
      ctx.out(0, t);
    } else if (!t.axes.includes(1)) ctx.out(0, t);
    else ctx.fix(t.ids, `${ctx.describe()} normalises them together with other axes`);
  }
  fixExtra(ctx, 1);
};

/** LayerNormalization over axes ≥ axis: parameters sliced with the tracked axes; lossy (the statistics change). */
const layerNorm: Rule = (ctx) => {
  const n = ctx.node;
  const r = ctx.shape(n.inputs[0])?.length ?? 0;
  const axis = norm(attrInt(n, 'axis', -1), r);
  for (const t of ctx.in(0)) {
    const inside = t.axes.filter((a) => a >= axis);
    if (inside.length === 0) {
      ctx.out(0, t);
      continue;
    }
    if (inside.length !== t.axes.length) {
      ctx.fix(t.ids, `${ctx.describe()} normalises part of them`);
      continue;
    }
    ctx.lossy(t.ids, `${ctx.describe()} normalises over them (removing channels changes its mean and variance)`);
    for (let k = 1; k < n.inputs.length; k++) {
      const v = n.inputs[k];
      const s = ctx.shape(v);
      if (!v || !s) continue;
      const local = t.axes.map((a) => a - (r - s.length));
      if (ctx.init(v) && local.every((a) => a >= 0)) ctx.slice(v, local, t.ids, k === 1 ? 'norm-scale' : 'norm-bias');
      else ctx.fix(t.ids, `${ctx.describe()} has parameter '${v}' that cannot shrink`);
    }
    ctx.out(0, t);
  }
};

/** Ops over axes ≥ 2 (pools, Resize, LRN excluded): tracks on axes 0–1 pass. */
const spatial: Rule = (ctx) => {
  for (const t of ctx.in(0)) {
    if (t.axes.every((a) => a <= 1)) ctx.out(0, t);
    else ctx.fix(t.ids, `${ctx.describe()} works over their axis`);
  }
  if (ctx.node.opType === 'MaxPool' && ctx.node.outputs[1]) for (const t of ctx.in(0)) ctx.fix(t.ids, `${ctx.describe()} returns indices that count channels`);
};

/** Softmax-like ops over one axis: tracks on other axes pass; over the tracked axis they are lossy. */
const overAxis: Rule = (ctx) => {
  const r = ctx.shape(ctx.node.inputs[0])?.length ?? 0;
  const axis = norm(attrInt(ctx.node, 'axis', -1), r);
  for (const t of ctx.in(0)) {
    if (t.axes.includes(axis)) ctx.lossy(t.ids, `${ctx.describe()} normalises over them`);
    ctx.out(0, t);
  }
};

/** Reductions: tracks on kept axes pass (shifted without keepdims); over a tracked axis they are lossy. */
const reduce: Rule = (ctx) => {
  const n = ctx.node;
  const r = ctx.shape(n.inputs[0])?.length ?? 0;
  const axesIn = attrInts(n, 'axes') ?? ctx.known(n.inputs[1]);
  const keep = attrInt(n, 'keepdims', 1) === 1;
  const axes = (axesIn && axesIn.length ? axesIn : Array.from({ length: r }, (_, i) => i)).map((a) => norm(a, r));
  for (const t of ctx.in(0)) {
    const inside = t.axes.filter((a) => axes.includes(a));
    if (inside.length) {
      ctx.lossy(t.ids, `${ctx.describe()} reduces over them`);
      const rest = t.axes.filter((a) => !axes.includes(a));
      if (!rest.length) continue;
      const ids = ctx.project(t, rest);
      ctx.out(0, { axes: rest.map((a) => (keep ? a : a - axes.filter((x) => x < a).length)), sizes: rest.map((a) => t.sizes[t.axes.indexOf(a)]!), ids });
      continue;
    }
    ctx.out(0, { ...t, axes: t.axes.map((a) => (keep ? a : a - axes.filter((x) => x < a).length)) });
  }
};

/** Conv: a producer of output channels (axis 1) and a consumer of input channels; grouped and depthwise forms. */
const conv: Rule = (ctx) => {
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
const convTranspose: Rule = (ctx) => {
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
const gemm: Rule = (ctx) => {
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
const matMul: Rule = (ctx) => {
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
const gather: Rule = (ctx) => {
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

const transpose: Rule = (ctx) => {
  const r = ctx.shape(ctx.node.inputs[0])?.length;
  if (r === undefined) return unknownOp(ctx);
  const perm = attrInts(ctx.node, 'perm') ?? Array.from({ length: r }, (_, i) => r - 1 - i);
  for (const t of ctx.in(0)) ctx.out(0, { ...t, axes: t.axes.map((a) => perm.indexOf(a)) });
};

const unsqueeze: Rule = (ctx) => {
  const n = ctx.node;
  const r = ctx.shape(n.outputs[0])?.length;
  const axes = (attrInts(n, 'axes') ?? ctx.known(n.inputs[1]))?.map((a) => norm(a, r ?? 0)).sort((x, y) => x - y);
  if (!axes || r === undefined) return unknownOp(ctx);
  for (const t of ctx.in(0)) {
    ctx.out(0, { ...t, axes: t.axes.map((a) => {
      let o = a;
      for (const x of axes) if (x <= o) o++;
      return o;
    }) });
  }
};

const squeeze: Rule = (ctx) => {
  const n = ctx.node;
  const s = ctx.shape(n.inputs[0]);
  if (!s) return unknownOp(ctx);
  const given = attrInts(n, 'axes') ?? ctx.known(n.inputs[1]);
  const axes = (given ?? s.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0)).map((a) => norm(a, s.length));
  for (const t of ctx.in(0)) {
    if (t.axes.some((a) => axes.includes(a))) ctx.fix(t.ids, `${ctx.describe()} squeezes their axis`);
    else ctx.out(0, { ...t, axes: t.axes.map((a) => a - axes.filter((x) => x < a).length) });
  }
};

/** Reshape and Flatten: channels merged into features or split into heads, through matching dim blocks. */
const reshape: Rule = (ctx) => {
  const n = ctx.node;
  const sIn = ctx.shape(n.inputs[0]);
  const sOut = ctx.shape(n.outputs[0]);
  const tracks = ctx.in(0);
  if (!tracks.length) return;
  const blocks = sIn && sOut ? reshapeBlocks(sIn, sOut) : undefined;
  if (!blocks) return ctx.fixInputs(`${ctx.describe()} reshapes them in a way pruning cannot follow`);
  const outTracks: Track[] = [];
  for (const t of tracks) {
    const block = blocks.find((b) => t.axes.every((a) => b.in.includes(a)));
    if (!block) {
      ctx.fix(t.ids, `${ctx.describe()} mixes them across reshaped axes`);
      continue;
    }
    const inSizes = block.in.map((a) => num(sIn![a])!);
    const outSizes = block.out.map((a) => num(sOut![a])!);
    const total = inSizes.reduce((x, y) => x * y, 1);
    const ids = new Int32Array(total);
    const coords = new Array<number>(block.in.length).fill(0);
    const pos = t.axes.map((a) => block.in.indexOf(a));
    for (let f = 0; f < total; f++) {
      let rem = f;
      for (let i = block.in.length - 1; i >= 0; i--) {
        coords[i] = rem % inSizes[i]!;
        rem = Math.floor(rem / inSizes[i]!);
      }
      let k = 0;
      for (let i = 0; i < pos.length; i++) k = k * t.sizes[i]! + coords[pos[i]!]!;
      ids[f] = t.ids[k]!;
    }
    const out: Track = { axes: [...block.out], sizes: outSizes, ids };
    outTracks.push(out);
    ctx.out(0, out);
  }
  if (n.opType === 'Reshape') {
    const shapeIn = n.inputs[1]!;
    const oldShape = ctx.known(shapeIn);
    const outRank = sOut!.length;
    ctx.fixup((rc, node) => rewriteReshapeTarget(rc, node, shapeIn, oldShape, outRank, outTracks));
  }
};

/** New Reshape target: every tracked output axis gets its kept size (a `-1` stays `-1`, a `0` becomes explicit). */
function rewriteReshapeTarget(rc: RewriteContext, n: Node, shapeIn: string, old: number[] | undefined, rank: number, tracks: readonly Track[]): void {
  const newDims = new Map<number, number>();
  for (const t of tracks) {
    const kept = rc.kept(t.ids);
    // Per output axis: which coordinates keep any element.
    t.axes.forEach((axis, i) => {
      const stride = t.sizes.slice(i + 1).reduce((x, y) => x * y, 1);
      const seen = new Uint8Array(t.sizes[i]!);
      for (let e = 0; e < kept.length; e++) if (kept[e]) seen[Math.floor(e / stride) % t.sizes[i]!] = 1;
      const count = seen.reduce((s, x) => s + x, 0);
      if (count !== t.sizes[i]) newDims.set(axis, count);
    });
    const keptCount = kept.reduce((s, x) => s + x, 0);
    const product = t.axes.reduce((p, a, i) => p * (newDims.get(a) ?? t.sizes[i]!), 1);
    if (keptCount !== product) throw new RewriteConflict(t.ids, `${n.opType} node '${n.name}' would need a ragged shape (the kept channels do not form whole ${t.sizes.join('×')} blocks)`);
  }
  if (!newDims.size) return;
  const g = rc.graph;
  const init = g.initializers.get(shapeIn);
  if (init && old) {
    const v = old.map((d, i) => (newDims.has(i) && d !== -1 ? newDims.get(i)! : d));
    rc.setInputTensor(n, 1, Tensor.i64([rank], v));
    return;
  }
  // A Concat of pieces (PyTorch's Shape → Gather → Unsqueeze → Concat): rewrite the constant pieces.
  const producer = g.nodes.find((m) => m.outputs.includes(shapeIn));
  if (producer?.opType !== 'Concat') return; // dynamic: checked by shape inference after the rewrite
  let off = 0;
  for (let k = 0; k < producer.inputs.length; k++) {
    const piece = g.initializers.get(producer.inputs[k]!);
    const len = piece ? piece.size : 1;
    if (piece) {
      const vals = piece.toNumbers();
      let changed = false;
      const next = vals.map((d, i) => {
        const axis = off + i;
        if (newDims.has(axis) && d !== -1) {
          changed = true;
          return newDims.get(axis)!;
        }
        return d;
      });
      if (changed) rc.setInputTensor(producer, k, piece.dtype === 'int32' ? Tensor.i32(piece.dims, next) : Tensor.i64(piece.dims, next));
    }
    off += len;
  }
}

/** Concat: along a tracked axis the inputs' ids are concatenated (untracked inputs' channels stay). */
const concat: Rule = (ctx) => {
  const n = ctx.node;
  const r = ctx.shape(n.outputs[0])?.length;
  if (r === undefined) return unknownOp(ctx);
  const axis = norm(attrInt(n, 'axis', 0), r);
  const onAxis = n.inputs.some((_, k) => ctx.in(k).some((t) => t.axes.includes(axis)));
  if (onAxis) {
    const parts: Int32Array[] = [];
    for (let k = 0; k < n.inputs.length; k++) {
      const t = ctx.in(k).find((x) => x.axes.length === 1 && x.axes[0] === axis);
      for (const x of ctx.in(k)) if (x !== t) ctx.fix(x.ids, `${ctx.describe()} concatenates them along a differently tracked axis`);
      const size = num(ctx.shape(n.inputs[k])?.[axis]);
      if (t) parts.push(t.ids);
      else if (size !== undefined) {
        const ids = ctx.fresh(size);
        ctx.fix(ids, `${ctx.describe()} concatenates them with '${n.inputs[k]}', which cannot shrink`);
        parts.push(ids);
      } else return ctx.fixInputs(`${ctx.describe()} concatenates values of unknown size`);
    }
    const ids = new Int32Array(parts.reduce((s, p) => s + p.length, 0));
    let off = 0;
    for (const p of parts) {
      ids.set(p, off);
      off += p.length;
    }
    ctx.out(0, { axes: [axis], sizes: [ids.length], ids });
    return;
  }
  // Along another axis: like elementwise, every input must carry the same tracks.
  broadcast(ctx);
};

/** Split along a tracked axis: each output takes its range of ids; the split sizes follow the removal. */
const split: Rule = (ctx) => {
  const n = ctx.node;
  const s = ctx.shape(n.inputs[0]);
  if (!s) return unknownOp(ctx);
  const axis = norm(attrInt(n, 'axis', 0), s.length);
  for (const t of ctx.in(0)) {
    if (!t.axes.includes(axis)) {
      n.outputs.forEach((_, k) => ctx.out(k, t));
      continue;
    }
    if (t.axes.length !== 1) {
      ctx.fix(t.ids, `${ctx.describe()} splits them with other axes`);
      continue;
    }
    const sizes = n.outputs.map((o) => num(ctx.shape(o)?.[axis]));
    if (sizes.some((x) => x === undefined)) {
      ctx.fix(t.ids, `${ctx.describe()} has outputs of unknown size`);
      continue;
    }
    const parts: Int32Array[] = [];
    let off = 0;
    n.outputs.forEach((_, k) => {
      const ids = t.ids.slice(off, off + sizes[k]!);
      parts.push(ids);
      off += sizes[k]!;
      ctx.out(k, { axes: [axis], sizes: [ids.length], ids });
    });
    ctx.fixup((rc, node) => {
      const next = parts.map((p) => rc.kept(p).reduce((a, x) => a + x, 0));
      if (next.some((x) => x === 0)) throw new RewriteConflict(t.ids, `${ctx.describe()} would get an empty output`);
      if (node.inputs[1]) rc.setInputTensor(node, 1, Tensor.i64([next.length], next));
      else if (node.attributes.split) node.attributes.split = { type: 'ints', value: next };
    });
  }
  fixExtra(ctx, 1);
};

/** Slice/Pad/Tile/Expand: tracks on untouched axes pass. */
function untouchedAxes(which: (ctx: RuleContext) => number[] | undefined): Rule {
  return (ctx) => {
    const touched = which(ctx);
    if (!touched) return unknownOp(ctx);
    for (const t of ctx.in(0)) {
      if (t.axes.some((a) => touched.includes(a))) ctx.fix(t.ids, `${ctx.describe()} changes their axis`);
      else ctx.out(0, t);
    }
    fixExtra(ctx, 1);
  };
}

const sliceAxes = (ctx: RuleContext): number[] | undefined => {
  const r = ctx.shape(ctx.node.inputs[0])?.length;
  if (r === undefined) return undefined;
  const axes = attrInts(ctx.node, 'axes') ?? ctx.known(ctx.node.inputs[3]) ?? (ctx.node.inputs[1] ? Array.from({ length: ctx.known(ctx.node.inputs[1])?.length ?? r }, (_, i) => i) : undefined);
  return axes?.map((a) => norm(a, r));
};

const padAxes = (ctx: RuleContext): number[] | undefined => {
  const r = ctx.shape(ctx.node.inputs[0])?.length;
  const pads = attrInts(ctx.node, 'pads') ?? ctx.known(ctx.node.inputs[1]);
  if (r === undefined || !pads) return undefined;
  const axesIn = ctx.known(ctx.node.inputs[3]);
  const axes = axesIn ? axesIn.map((a) => norm(a, r)) : Array.from({ length: r }, (_, i) => i);
  return axes.filter((_, i) => pads[i] !== 0 || pads[i + axes.length] !== 0);
};

const tileAxes = (ctx: RuleContext): number[] | undefined => ctx.known(ctx.node.inputs[1])?.map((x, i) => (x === 1 ? -1 : i)).filter((i) => i >= 0);

const expandAxes = (ctx: RuleContext): number[] | undefined => {
  const s = ctx.shape(ctx.node.inputs[0]);
  const o = ctx.shape(ctx.node.outputs[0]);
  if (!s || !o || s.length !== o.length) return undefined;
  return s.map((d, i) => (d === o[i] ? -1 : i)).filter((i) => i >= 0);
};

/** Dropout: output 0 and the mask carry input 0's tracks. */
const dropout: Rule = (ctx) => {
  for (const t of ctx.in(0)) {
    ctx.out(0, t);
    ctx.out(1, t);
  }
  fixExtra(ctx, 1);
};

/** Ops that read only a value's shape (or nothing of its channels): tracks end here. */
const shapeOnly: Rule = () => undefined;

const UNARY = ['Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Gelu', 'Erf', 'Elu', 'Selu', 'Celu', 'Softplus', 'Softsign', 'HardSigmoid', 'HardSwish', 'Mish', 'Identity', 'Cast', 'Neg', 'Abs', 'Sqrt', 'Exp', 'Log', 'Reciprocal', 'Clip', 'Floor', 'Ceil', 'Round', 'Sin', 'Cos', 'Not', 'Sign', 'IsNaN', 'IsInf', 'ThresholdedRelu', 'Shrink'] as const;
const BINARY = ['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum', 'Mean', 'Where', 'PRelu', 'Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual', 'And', 'Or', 'Xor', 'Mod', 'BitShift'] as const;

/** The rule table. */
export const CHANNEL_RULES: Readonly<Record<string, Rule>> = {
  ...Object.fromEntries(UNARY.map((op) => [op, passThrough])),
  ...Object.fromEntries(BINARY.map((op) => [op, broadcast])),
  Conv: conv,
  ConvTranspose: convTranspose,
  Gemm: gemm,
  MatMul: matMul,
  Gather: gather,
  BatchNormalization: channelNorm,
  InstanceNormalization: channelNorm,
  LayerNormalization: layerNorm,
  MaxPool: spatial,
  AveragePool: spatial,
  LpPool: spatial,
  GlobalAveragePool: spatial,
  GlobalMaxPool: spatial,
  GlobalLpPool: spatial,
  Resize: spatial,
  Upsample: spatial,
  Softmax: overAxis,
  LogSoftmax: overAxis,
  Hardmax: overAxis,
  ReduceMean: reduce,
  ReduceSum: reduce,
  ReduceMax: reduce,
  ReduceMin: reduce,
  ReduceL2: reduce,
  ReduceSumSquare: reduce,
  Transpose: transpose,
  Unsqueeze: unsqueeze,
  Squeeze: squeeze,
  Reshape: reshape,
  Flatten: reshape,
  Concat: concat,
  Split: split,
  Slice: untouchedAxes(sliceAxes),
  Pad: untouchedAxes(padAxes),
  Tile: untouchedAxes(tileAxes),
  Expand: untouchedAxes(expandAxes),
  Dropout: dropout,
  Shape: shapeOnly,
  Size: shapeOnly,
};
