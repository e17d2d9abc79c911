/**
 * Constant propagation for shape chains: the values of small integer tensors produced by Shape, Size,
 * Gather, Concat, (Un)Squeeze, Slice, Reshape, Constant, ConstantOfShape, Range and reductions, so a
 * PyTorch-style `Shape → Gather → Unsqueeze → Concat → Reshape` resolves to a concrete (or symbolic) target.
 */
import type { Dim } from '../ir.js';
import { attrInt, attrTensor } from '../ir.js';
import { constantValue } from '../passes.js';
import type { Tensor } from '../tensor.js';
import { sliceLen, sliceParams } from './shape-ops.js';
import { rangeCount, shapeRange } from './index-ops.js';
import { type KnownValue, type ValueFn, mulDims } from './types.js';

/** Largest tensor tracked by value (shape vectors are short; weights are not tracked). */
export const MAX_KNOWN_ELEMENTS = 64;

/** A known value from a tensor (rank ≤ 1, at most `MAX_KNOWN_ELEMENTS`, numeric), else undefined. */
export function knownFromTensor(t: Tensor): KnownValue | undefined {
  if (t.dims.length > 1 || t.size > MAX_KNOWN_ELEMENTS || t.dtype === 'string' || t.dtype === 'complex64' || t.dtype === 'complex128') return undefined;
  if (t.dims.length === 1 && t.dims[0] === 0) return { dtype: t.dtype, rank: 1, values: [] };
  try {
    return { dtype: t.dtype, rank: t.dims.length === 0 ? 0 : 1, values: t.toNumbers() };
  } catch {
    return undefined;
  }
}

const known = (dtype: KnownValue['dtype'], values: Dim[], rank: 0 | 1 = 1): KnownValue | undefined =>
  values.length <= MAX_KNOWN_ELEMENTS ? { dtype, rank, values } : undefined;

/** Value functions for shape-manipulating ops. */
export const SHAPE_VALUES = {
  Shape: (ctx) => {
    const s = ctx.input(0)?.shape;
    if (!s) return [undefined];
    const [a, b] = shapeRange(ctx, s.length);
    return [known('int64', s.slice(a, b))];
  },
  Size: (ctx) => {
    const s = ctx.input(0)?.shape;
    if (!s) return [undefined];
    return [{ dtype: 'int64', rank: 0, values: [mulDims(s)] }];
  },
  Constant: (ctx) => {
    const t = constantValue(ctx.node);
    return [t ? knownFromTensor(t) : undefined];
  },
  ConstantOfShape: (ctx) => {
    const shape = ctx.ints(0);
    const v = attrTensor(ctx.node, 'value');
    const fill = v ? knownFromTensor(v)?.values[0] : 0;
    if (!shape || shape.length > 1 || fill === undefined) return [undefined];
    const n = shape.length === 0 ? 1 : shape[0]!;
    if (n > MAX_KNOWN_ELEMENTS) return [undefined];
    return [known(v?.dtype ?? 'float32', Array.from({ length: n }, () => fill), shape.length === 0 ? 0 : 1)];
  },
  Gather: (ctx) => {
    const data = ctx.known(0);
    const idx = ctx.known(1);
    if (!data || !idx || data.rank !== 1 || attrInt(ctx.node, 'axis', 0) !== 0) return [undefined];
    const n = data.values.length;
    const values = idx.values.map((i) => (typeof i === 'number' && i >= -n && i < n ? data.values[i < 0 ? i + n : i]! : null));
    return [known(data.dtype, values, idx.rank)];
  },
  Concat: (ctx) => {
    const parts: KnownValue[] = [];
    for (let i = 0; i < ctx.inputCount; i++) {
      const k = ctx.known(i);
      if (!k || k.rank !== 1) return [undefined];
      parts.push(k);
    }
    if (!parts.length) return [undefined];
    return [known(parts[0]!.dtype, parts.flatMap((p) => p.values))];
  },
  Unsqueeze: (ctx) => {
    const k = ctx.known(0);
    const axes = ctx.node.attributes.axes?.type === 'ints' ? ctx.node.attributes.axes.value : ctx.ints(1);
    if (!k || k.rank !== 0 || !axes || axes.length !== 1) return [undefined];
    return [{ ...k, rank: 1 }];
  },
  Squeeze: (ctx) => {
    const k = ctx.known(0);
    if (!k || k.rank !== 1 || k.values.length !== 1) return [undefined];
    return [{ ...k, rank: 0 }];
  },
  Reshape: (ctx) => {
    const k = ctx.known(0);
    const target = ctx.ints(1);
    if (!k || !target) return [undefined];
    if (target.length === 0 && k.values.length === 1) return [{ ...k, rank: 0 }];
    if (target.length === 1 && (target[0] === -1 || target[0] === k.values.length)) return [{ ...k, rank: 1 }];
    return [undefined];
  },
  Slice: (ctx) => {
    const k = ctx.known(0);
    if (!k || k.rank !== 1) return [undefined];
    const p = sliceParams(ctx, 1);
    if (!p || p.axes.length !== 1) return [undefined];
    const [s, n] = sliceLen(k.values.length, p.starts[0]!, p.ends[0]!, p.steps[0]!);
    return [known(k.dtype, Array.from({ length: n }, (_, i) => k.values[s + i * p.steps[0]!]!))];
  },
  Range: (ctx) => {
    const [s, l, d] = [0, 1, 2].map((i) => ctx.known(i)?.values[0]);
    if (typeof s !== 'number' || typeof l !== 'number' || typeof d !== 'number' || d === 0) return [undefined];
    const n = rangeCount(s, l, d);
    if (n > MAX_KNOWN_ELEMENTS) return [undefined];
    return [known(ctx.known(0)!.dtype, Array.from({ length: n }, (_, i) => s + i * d))];
  },
  ReduceProd: (ctx) => [reduceKnown(ctx.known(0), (a, b) => a * b, 1, attrInt(ctx.node, 'keepdims', 1) === 1)],
  ReduceSum: (ctx) => [reduceKnown(ctx.known(0), (a, b) => a + b, 0, attrInt(ctx.node, 'keepdims', 1) === 1)],
} satisfies Record<string, ValueFn>;

function reduceKnown(k: KnownValue | undefined, f: (a: number, b: number) => number, init: number, keep: boolean): KnownValue | undefined {
  if (!k || k.rank !== 1 || k.values.some((v) => typeof v !== 'number')) return undefined;
  const v = (k.values as number[]).reduce(f, init);
  return keep ? { dtype: k.dtype, rank: 1, values: [v] } : { dtype: k.dtype, rank: 0, values: [v] };
}
