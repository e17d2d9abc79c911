/**
 * Shape inference for indexing, generators and reductions: Gather/GatherElements/GatherND, Scatter*,
 * OneHot, Shape, Size, Constant, ConstantOfShape, Range, NonZero, TopK, the Reduce* family (axes as
 * attribute or input) and ArgMax/ArgMin.
 */
import { dtypeFromOnnx } from '../dtype.js';
import type { Dim, ValueType } from '../ir.js';
import { attrInt, attrTensor } from '../ir.js';
import { constantValue } from '../passes.js';
import { type ShapeContext, type ShapeFn, ShapeError, dt, intsFrom, normAxis, unknownDims, withShape } from './types.js';

const gather: ShapeFn = (ctx) => {
  const data = ctx.input(0);
  const idx = ctx.input(1);
  if (idx && !['int32', 'int64'].includes(idx.dtype)) throw new ShapeError(`indices must be int32 or int64, got ${idx.dtype}`, ctx.node.inputs[1]);
  if (!data?.shape || !idx?.shape) return [withShape(data?.dtype, undefined)];
  const axis = normAxis(attrInt(ctx.node, 'axis', 0), data.shape.length);
  return [{ dtype: data.dtype, shape: [...data.shape.slice(0, axis), ...idx.shape, ...data.shape.slice(axis + 1)] }];
};

const gatherND: ShapeFn = (ctx) => {
  const data = ctx.input(0);
  const idx = ctx.input(1)?.shape;
  const b = attrInt(ctx.node, 'batch_dims', 0);
  if (!data?.shape || !idx) return [withShape(data?.dtype, undefined)];
  const last = idx[idx.length - 1];
  if (typeof last !== 'number') return [{ dtype: data.dtype }];
  return [{ dtype: data.dtype, shape: [...idx.slice(0, -1), ...data.shape.slice(b + last)] }];
};

const oneHot: ShapeFn = (ctx) => {
  const idx = ctx.input(0)?.shape;
  const dtype = dt(ctx, 2);
  if (!idx) return [withShape(dtype, undefined)];
  const depth = ctx.known(1)?.values[0];
  const axis = normAxis(attrInt(ctx.node, 'axis', -1), idx.length + 1);
  const out: Dim[] = [...idx];
  out.splice(axis, 0, typeof depth === 'number' ? Math.trunc(depth) : null);
  return [withShape(dtype, out)];
};

const shapeOp: ShapeFn = (ctx) => {
  const r = ctx.input(0)?.shape?.length;
  if (r === undefined) return [{ dtype: 'int64', shape: [null] }];
  const [s, e] = shapeRange(ctx, r);
  return [{ dtype: 'int64', shape: [Math.max(0, e - s)] }];
};

/** Shape's start/end attributes (opset 15) clamped to the rank. */
export function shapeRange(ctx: ShapeContext, r: number): [number, number] {
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
  const end = ctx.node.attributes.end;
  return [clamp(attrInt(ctx.node, 'start', 0)), end?.type === 'int' ? clamp(end.value) : r];
}

const constant: ShapeFn = (ctx) => {
  const t = constantValue(ctx.node);
  if (t) return [{ dtype: t.dtype, shape: [...t.dims] }];
  const a = ctx.node.attributes;
  if (a.value_strings?.type === 'strings') return [{ dtype: 'string', shape: [a.value_strings.value.length] }];
  return [undefined];
};

const constantOfShape: ShapeFn = (ctx) => {
  const dtype = attrTensor(ctx.node, 'value')?.dtype ?? 'float32';
  const k = ctx.known(0);
  if (k) return [{ dtype, shape: k.values }];
  const len = ctx.input(0)?.shape?.[0];
  return [{ dtype, shape: typeof len === 'number' ? unknownDims(len) : undefined }];
};

/** Number of elements `Range(start, limit, delta)` yields. */
export function rangeCount(start: number, limit: number, delta: number): number {
  if (delta === 0) throw new ShapeError('Range delta must not be 0');
  return Math.max(0, Math.ceil((limit - start) / delta));
}

const range: ShapeFn = (ctx) => {
  const [s, l, d] = [0, 1, 2].map((i) => ctx.known(i)?.values[0]);
  // Range(0, n, 1) of a symbolic n (torch.arange(x.shape[1])) keeps the symbol.
  const n = typeof s === 'number' && typeof l === 'number' && typeof d === 'number' ? rangeCount(s, l, d) : s === 0 && d === 1 && typeof l === 'string' ? l : null;
  return [withShape(dt(ctx, 0) ?? dt(ctx, 1), [n])];
};

/** Output shape of a reduction over `axes` (undefined = all axes). */
export function reduceShape(shape: readonly Dim[], axes: number[] | undefined, keep: boolean): Dim[] {
  const r = shape.length;
  const set = new Set((axes ?? shape.map((_, i) => i)).map((a) => normAxis(a, r)));
  return keep ? shape.map((d, i) => (set.has(i) ? 1 : d)) : shape.filter((_, i) => !set.has(i));
}

/** Reductions: axes from the attribute (older opsets) or the second input (ReduceSum 13+, others 18+). */
const reduce: ShapeFn = (ctx) => {
  const x = ctx.input(0);
  if (!x?.shape) return [withShape(x?.dtype, undefined)];
  const keep = attrInt(ctx.node, 'keepdims', 1) === 1;
  const axes = intsFrom(ctx, 'axes', 1);
  if (axes === 'unknown') return [{ dtype: x.dtype, shape: keep ? x.shape.map(() => null) : undefined }];
  if (axes === undefined || axes.length === 0) {
    if (attrInt(ctx.node, 'noop_with_empty_axes', 0) === 1) return [x];
    return [{ dtype: x.dtype, shape: reduceShape(x.shape, undefined, keep) }];
  }
  return [{ dtype: x.dtype, shape: reduceShape(x.shape, axes, keep) }];
};

const argReduce: ShapeFn = (ctx) => {
  const x = ctx.input(0);
  if (!x?.shape) return [{ dtype: 'int64' }];
  return [{ dtype: 'int64', shape: reduceShape(x.shape, [attrInt(ctx.node, 'axis', 0)], attrInt(ctx.node, 'keepdims', 1) === 1) }];
};

const topK: ShapeFn = (ctx) => {
  const x = ctx.input(0);
  if (!x?.shape) return [withShape(x?.dtype, undefined), { dtype: 'int64' }];
  const axis = normAxis(attrInt(ctx.node, 'axis', -1), x.shape.length);
  const k = ctx.opset >= 10 ? ctx.known(1)?.values[0] : attrInt(ctx.node, 'k', 0);
  const shape = x.shape.map((d, i) => (i === axis ? (k ?? null) : d));
  return [{ dtype: x.dtype, shape }, { dtype: 'int64', shape }];
};

const sameAsData: ShapeFn = (ctx) => [ctx.input(0)];

const REDUCE_OPS = ['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare'] as const;

/** Indexing, generator and reduction inference functions. */
export const INDEX_SHAPES = {
  ...(Object.fromEntries(REDUCE_OPS.map((op) => [op, reduce])) as Record<(typeof REDUCE_OPS)[number], ShapeFn>),
  ArgMax: argReduce,
  ArgMin: argReduce,
  Gather: gather,
  GatherElements: (ctx) => [withShape(dt(ctx, 0), ctx.input(1)?.shape)],
  GatherND: gatherND,
  ScatterElements: sameAsData,
  ScatterND: sameAsData,
  Scatter: sameAsData,
  OneHot: oneHot,
  Shape: shapeOp,
  Size: () => [{ dtype: 'int64', shape: [] }],
  Constant: constant,
  ConstantOfShape: constantOfShape,
  Range: range,
  NonZero: (ctx) => [{ dtype: 'int64', shape: [ctx.input(0)?.shape?.length ?? null, null] }],
  TopK: topK,
  EyeLike: (ctx) => {
    const k = attrInt(ctx.node, 'dtype', 0);
    return [withShape(k ? dtypeFromOnnx(k) : dt(ctx, 0), ctx.input(0)?.shape)];
  },
  RandomNormalLike: randomLike,
  RandomUniformLike: randomLike,
} satisfies Record<string, ShapeFn>;

function randomLike(ctx: ShapeContext): (ValueType | undefined)[] {
  const k = attrInt(ctx.node, 'dtype', 0);
  return [withShape(k ? dtypeFromOnnx(k) : dt(ctx, 0), ctx.input(0)?.shape)];
}
