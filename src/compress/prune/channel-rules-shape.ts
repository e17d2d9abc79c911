/**
 * Channel rules for ops that move tracks between axes or values without making channels: Transpose,
 * (Un)Squeeze, Reshape/Flatten (merging channels into features, splitting them into heads), Concat, Split,
 * ops that leave some axes untouched (Slice, Pad, Tile, Expand), Dropout and shape-only readers. The
 * table that names them: channel-rules.ts.
 */
import { attrInt, attrInts } from '../../onnx/ir.js';
import { Tensor } from '../../onnx/tensor.js';
import type { Node } from '../../onnx/ir.js';
import { type RewriteContext, type RuleContext, type Track, RewriteConflict } from './depgraph.js';
import { reshapeBlocks } from './reshape-map.js';
import { type Rule, broadcast, fixExtra, norm, num, unknownOp } from './channel-rule-kit.js';
export const transpose: Rule = (ctx) => {
  const r = ctx.shape(ctx.node.inputs[0])?.length;
  if (r === undefined) return unknownOp(ctx);
  const perm = attrInts(ctx.node, 'perm') ?? Array.from({ length: r }, (_, i) => r - 1 - i);
  for (const t of ctx.in(0)) ctx.out(0, { ...t, axes: t.axes.map((a) => perm.indexOf(a)) });
};

export const unsqueeze: Rule = (ctx) => {
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

export const squeeze: Rule = (ctx) => {
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
export const reshape: Rule = (ctx) => {
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
export const concat: Rule = (ctx) => {
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
export const split: Rule = (ctx) => {
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
export function untouchedAxes(which: (ctx: RuleContext) => number[] | undefined): Rule {
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

export const sliceAxes = (ctx: RuleContext): number[] | undefined => {
  const r = ctx.shape(ctx.node.inputs[0])?.length;
  if (r === undefined) return undefined;
  const axes = attrInts(ctx.node, 'axes') ?? ctx.known(ctx.node.inputs[3]) ?? (ctx.node.inputs[1] ? Array.from({ length: ctx.known(ctx.node.inputs[1])?.length ?? r }, (_, i) => i) : undefined);
  return axes?.map((a) => norm(a, r));
};

/** Axes Pad changes (the others keep their tracks). */
export const padAxes = (ctx: RuleContext): number[] | undefined => {
  const r = ctx.shape(ctx.node.inputs[0])?.length;
  const pads = attrInts(ctx.node, 'pads') ?? ctx.known(ctx.node.inputs[1]);
  if (r === undefined || !pads) return undefined;
  const axesIn = ctx.known(ctx.node.inputs[3]);
  const axes = axesIn ? axesIn.map((a) => norm(a, r)) : Array.from({ length: r }, (_, i) => i);
  return axes.filter((_, i) => pads[i] !== 0 || pads[i + axes.length] !== 0);
};

/** Axes Tile repeats. */
export const tileAxes = (ctx: RuleContext): number[] | undefined => ctx.known(ctx.node.inputs[1])?.map((x, i) => (x === 1 ? -1 : i)).filter((i) => i >= 0);

/** Axes Expand broadcasts. */
export const expandAxes = (ctx: RuleContext): number[] | undefined => {
  const s = ctx.shape(ctx.node.inputs[0]);
  const o = ctx.shape(ctx.node.outputs[0]);
  if (!s || !o || s.length !== o.length) return undefined;
  return s.map((d, i) => (d === o[i] ? -1 : i)).filter((i) => i >= 0);
};

/** Dropout: output 0 and the mask carry input 0's tracks. */
export const dropout: Rule = (ctx) => {
  for (const t of ctx.in(0)) {
    ctx.out(0, t);
    ctx.out(1, t);
  }
  fixExtra(ctx, 1);
};

/** Ops that read only a value's shape (or nothing of its channels): tracks end here. */
export const shapeOnly: Rule = () => undefined;
