/**
 * Shape inference for normalisation, softmax, losses and dropout: BatchNormalization (training outputs
 * too), LayerNormalization (Mean/InvStdDev outputs), Instance/GroupNormalization, Softmax family,
 * SoftmaxCrossEntropyLoss, NegativeLogLikelihoodLoss and Dropout (with its mask).
 */
import { dtypeFromOnnx } from '../dtype.js';
import type { Dim } from '../ir.js';
import { attrInt, attrString } from '../ir.js';
import { type ShapeFn, ShapeError, dt, normAxis, sameDType, withShape } from './types.js';

const batchNorm: ShapeFn = (ctx) => {
  const x = ctx.input(0);
  sameDType(ctx, [1, 2]);
  sameDType(ctx, [3, 4]);
  const c: Dim = x?.shape && x.shape.length >= 2 ? x.shape[1]! : null;
  for (let i = 1; i <= 4; i++) {
    const s = ctx.input(i)?.shape;
    if (s && (s.length !== 1 || (typeof s[0] === 'number' && typeof c === 'number' && s[0] !== c))) {
      throw new ShapeError(`input ${i} must have shape [${c ?? 'C'}], got [${s.join(', ')}]`, ctx.node.inputs[i]);
    }
  }
  const statDType = dt(ctx, 3) ?? dt(ctx, 1);
  // Opset 14+: training_mode=1 adds running_mean and running_var; opset < 14 had saved mean/var too.
  return [x, withShape(statDType, [c]), withShape(statDType, [c]), withShape(statDType, [c]), withShape(statDType, [c])];
};

const layerNorm: ShapeFn = (ctx) => {
  const x = ctx.input(0);
  sameDType(ctx, [0, 1, 2]);
  const stash = dtypeFromOnnx(attrInt(ctx.node, 'stash_type', 1)) ?? 'float32';
  if (!x?.shape) return [x, { dtype: stash }, { dtype: stash }];
  const axis = normAxis(attrInt(ctx.node, 'axis', -1), x.shape.length);
  const stat = x.shape.map((d, i) => (i < axis ? d : 1));
  return [x, { dtype: stash, shape: stat }, { dtype: stash, shape: stat }];
};

const softmax: ShapeFn = (ctx) => {
  const x = ctx.input(0);
  if (x?.shape) normAxis(attrInt(ctx.node, 'axis', ctx.opset >= 13 ? -1 : 1), x.shape.length);
  return [x];
};

const softmaxCrossEntropy: ShapeFn = (ctx) => {
  const scores = ctx.input(0);
  const labels = ctx.input(1);
  if (labels && !['int32', 'int64'].includes(labels.dtype)) throw new ShapeError(`labels must be int32 or int64, got ${labels.dtype}`, ctx.node.inputs[1]);
  const reduction = attrString(ctx.node, 'reduction', 'mean');
  const dtype = scores?.dtype;
  let lossShape: Dim[] | undefined = [];
  if (reduction === 'none') lossShape = scores?.shape ? [scores.shape[0]!, ...scores.shape.slice(2)] : labels?.shape;
  return [withShape(dtype, lossShape), scores];
};

const nllLoss: ShapeFn = (ctx) => {
  const x = ctx.input(0);
  const reduction = attrString(ctx.node, 'reduction', 'mean');
  if (reduction !== 'none') return [withShape(x?.dtype, [])];
  return [withShape(x?.dtype, x?.shape ? [x.shape[0]!, ...x.shape.slice(2)] : undefined)];
};

const dropout: ShapeFn = (ctx) => {
  const x = ctx.input(0);
  return [x, withShape(x ? 'bool' : undefined, x?.shape)];
};

/** Normalisation, softmax, loss and dropout inference functions. */
export const NORM_SHAPES = {
  BatchNormalization: batchNorm,
  LayerNormalization: layerNorm,
  InstanceNormalization: (ctx) => {
    sameDType(ctx, [0, 1, 2]);
    return [ctx.input(0)];
  },
  GroupNormalization: (ctx) => [ctx.input(0)],
  Softmax: softmax,
  LogSoftmax: softmax,
  Hardmax: softmax,
  SoftmaxCrossEntropyLoss: softmaxCrossEntropy,
  NegativeLogLikelihoodLoss: nllLoss,
  Dropout: dropout,
} satisfies Record<string, ShapeFn>;
