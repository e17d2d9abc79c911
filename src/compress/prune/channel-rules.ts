/**
 * Channel rules: one entry per op type in one static table, each saying how channel tracks pass through
 * the op, which ids it couples, which initializer slices carry them and which node edits a removal needs
 * (depgraph.ts explains the model). Layers that make channels: Conv (grouped and depthwise too),
 * ConvTranspose, Gemm, MatMul with a weight, Gather from an embedding table. Everything else moves tracks:
 * elementwise ops with broadcasting (residual Add couples both sides), normalisations, pools, Transpose,
 * Reshape/Flatten (merging channels into features, splitting them into heads), (Un)Squeeze, Concat, Split,
 * and activation×activation MatMul (attention: the head coordinate of Q, K and V is coupled, so heads go
 * whole). An op not in the table fixes the channels that reach it. This file holds the table and the
 * elementwise, normalisation, pooling and reduction rules; the layers' rules are in channel-rules-layers.ts,
 * the shape movers' in channel-rules-shape.ts, shared pieces in channel-rule-kit.ts.
 */
import { attrInt, attrInts } from '../../onnx/ir.js';
import { type Rule, broadcast, fixExtra, norm, passThrough } from './channel-rule-kit.js';
import { conv, convTranspose, gather, gemm, matMul } from './channel-rules-layers.js';
import { concat, dropout, expandAxes, padAxes, reshape, shapeOnly, sliceAxes, split, squeeze, tileAxes, transpose, unsqueeze, untouchedAxes } from './channel-rules-shape.js';

export { unknownOp } from './channel-rule-kit.js';
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
