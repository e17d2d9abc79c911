/**
 * Shape inference for elementwise ops: unary math and activations, numpy-broadcasting binary and
 * variadic ops, comparisons, Where, Cast/CastLike, Clip — and constant propagation of the integer
 * arithmetic PyTorch exports put in shape chains (`Shape → Gather → Mul → Concat → Reshape`).
 */
import type { Dim } from '../ir.js';
import { attrInt } from '../ir.js';
import { dtypeFromOnnx } from '../dtype.js';
import { type KnownValue, type ShapeContext, type ShapeFn, type ValueFn, ShapeError, broadcastShapes, divDim, dt, fmtShape, mulDim, sameDType, withShape } from './types.js';

/** Output = input 0's type. */
const same: ShapeFn = (ctx) => [ctx.input(0)];

/** Output has input 0's shape and a fixed dtype. */
const boolLike: ShapeFn = (ctx) => [withShape(ctx.input(0) ? 'bool' : undefined, ctx.input(0)?.shape)];

/** Broadcast of every present input; dtype of input 0 (all inputs share `T`). */
function broadcastOf(idx: 'all' | number[], outDType?: 'bool', checkSame = true): ShapeFn {
  return (ctx) => {
    const ids = idx === 'all' ? Array.from({ length: ctx.inputCount }, (_, i) => i) : idx;
    if (checkSame) sameDType(ctx, ids);
    const types = ids.filter((i) => ctx.has(i)).map((i) => ctx.input(i));
    const dtype = outDType ?? types.find((t) => t)?.dtype;
    if (!dtype) return [undefined];
    if (types.some((t) => !t?.shape)) return [{ dtype }];
    try {
      return [{ dtype, shape: broadcastShapes(types.map((t) => t!.shape!)) }];
    } catch {
      const named = ids.filter((i) => ctx.has(i)).map((i) => `'${ctx.node.inputs[i]}' ${fmtShape(ctx.input(i)?.shape)}`);
      throw new ShapeError(`cannot broadcast inputs ${named.join(' and ')}`, ctx.node.inputs[ids[1] ?? 0]);
    }
  };
}

const binary = broadcastOf([0, 1]);
const compare = broadcastOf([0, 1], 'bool');

const castTo: ShapeFn = (ctx) => {
  const to = dtypeFromOnnx(attrInt(ctx.node, 'to', 0));
  if (!to) throw new ShapeError(`Cast has an unknown 'to' type ${attrInt(ctx.node, 'to', 0)}`);
  return [withShape(to, ctx.input(0)?.shape)];
};

const where: ShapeFn = (ctx) => {
  const cond = ctx.input(0);
  if (cond && cond.dtype !== 'bool') ctx.problem(`condition '${ctx.node.inputs[0]}' must be bool, got ${cond.dtype}`, ctx.node.inputs[0]);
  sameDType(ctx, [1, 2]);
  const t = broadcastOf([0, 1, 2], undefined, false)(ctx)[0];
  const dtype = dt(ctx, 1) ?? dt(ctx, 2);
  return [dtype ? { dtype, shape: t?.shape } : undefined];
};

/** Unary ops whose output has the input's type. */
const UNARY = [
  'Abs', 'Neg', 'Sqrt', 'Exp', 'Log', 'Reciprocal', 'Relu', 'LeakyRelu', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh',
  'Erf', 'Gelu', 'Identity', 'Floor', 'Ceil', 'Round', 'Sin', 'Cos', 'Tan', 'Asin', 'Acos', 'Atan', 'Sinh', 'Cosh',
  'Asinh', 'Acosh', 'Atanh', 'Softplus', 'Softsign', 'Elu', 'Selu', 'Celu', 'ThresholdedRelu', 'Mish', 'Sign', 'Shrink',
  'Clip', 'BitwiseNot', 'Not', 'Trilu', 'CumSum', 'LpNormalization', 'MeanVarianceNormalization', 'LRN',
  'ReverseSequence', 'Swish',
] as const;

/** Elementwise inference functions. */
export const ELEMENTWISE_SHAPES = {
  ...(Object.fromEntries(UNARY.map((op) => [op, same])) as Record<(typeof UNARY)[number], ShapeFn>),
  Add: binary, Sub: binary, Mul: binary, Div: binary, Mod: binary, BitShift: binary,
  BitwiseAnd: binary, BitwiseOr: binary, BitwiseXor: binary, PRelu: binary,
  Pow: broadcastOf([0, 1], undefined, false),
  Equal: compare, Less: compare, Greater: compare, LessOrEqual: compare, GreaterOrEqual: compare,
  And: compare, Or: compare, Xor: compare,
  IsNaN: boolLike, IsInf: boolLike,
  Sum: broadcastOf('all'), Max: broadcastOf('all'), Min: broadcastOf('all'), Mean: broadcastOf('all'),
  Where: where,
  Cast: castTo,
  CastLike: (ctx) => [withShape(dt(ctx, 1), ctx.input(0)?.shape)],
} satisfies Record<string, ShapeFn>;

// ---- constant propagation ----

type Num2 = (a: number, b: number) => number;

/** Applies `f` elementwise to two known values (rank 0/1, broadcasting); symbols pass through identities. */
function knownBinary(f: Num2, identity?: { right?: number; left?: number }, outBool = false, symbolic?: (a: Dim, b: Dim) => Dim): ValueFn {
  return (ctx) => {
    const a = ctx.known(0);
    const b = ctx.known(1);
    if (!a || !b) return [undefined];
    const n = Math.max(a.values.length, b.values.length);
    if (a.values.length !== n && a.values.length !== 1) return [undefined];
    if (b.values.length !== n && b.values.length !== 1) return [undefined];
    const values: Dim[] = [];
    for (let i = 0; i < n; i++) {
      const x = a.values[a.values.length === 1 ? 0 : i]!;
      const y = b.values[b.values.length === 1 ? 0 : i]!;
      if (typeof x === 'number' && typeof y === 'number') values.push(f(x, y));
      else if (identity?.right !== undefined && y === identity.right) values.push(x);
      else if (identity?.left !== undefined && x === identity.left) values.push(y);
      else if (outBool && x !== null && x === y) values.push(1);
      else if (symbolic && x !== null && y !== null) values.push(symbolic(x, y));
      else values.push(null);
    }
    const rank = a.rank === 1 || b.rank === 1 ? 1 : 0;
    return [{ dtype: outBool ? 'bool' : a.dtype, rank, values }];
  };
}

const intDiv: Num2 = (a, b) => (b === 0 ? NaN : Math.trunc(a / b));

function knownMap(ctx: ShapeContext, f: (x: number) => number): KnownValue | undefined {
  const a = ctx.known(0);
  if (!a) return undefined;
  return { ...a, values: a.values.map((x) => (typeof x === 'number' ? f(x) : null)) };
}

/** Value functions for elementwise ops on small known integer tensors. */
export const ELEMENTWISE_VALUES = {
  Identity: (ctx) => [ctx.known(0)],
  Add: knownBinary((a, b) => a + b, { right: 0, left: 0 }),
  Sub: knownBinary((a, b) => a - b, { right: 0 }),
  Mul: knownBinary((a, b) => a * b, { right: 1, left: 1 }, false, mulDim),
  Div: (ctx) => knownBinary(['float32', 'float64', 'float16'].includes(ctx.known(0)?.dtype ?? '') ? (a, b) => a / b : intDiv, { right: 1 }, false, divDim)(ctx),
  Max: knownBinary(Math.max),
  Min: knownBinary(Math.min),
  Equal: knownBinary((a, b) => Number(a === b), undefined, true),
  // ONNX Mod with fmod=0 takes the divisor's sign (Python semantics); fmod=1 is C fmod.
  Mod: (ctx) => knownBinary(attrInt(ctx.node, 'fmod', 0) ? (a, b) => a % b : (a, b) => (b === 0 ? NaN : a - b * Math.floor(a / b)))(ctx),
  Less: knownBinary((a, b) => Number(a < b), undefined, true),
  Greater: knownBinary((a, b) => Number(a > b), undefined, true),
  Floor: (ctx) => [knownMap(ctx, Math.floor)],
  Ceil: (ctx) => [knownMap(ctx, Math.ceil)],
  Sqrt: (ctx) => [knownMap(ctx, Math.sqrt)],
  Neg: (ctx) => [knownMap(ctx, (x) => -x)],
  Abs: (ctx) => [knownMap(ctx, Math.abs)],
  Cast: (ctx) => {
    const a = ctx.known(0);
    const to = dtypeFromOnnx(attrInt(ctx.node, 'to', 0));
    if (!a || !to) return [undefined];
    const isInt = !['float32', 'float64', 'float16', 'bfloat16'].includes(to);
    return [{ dtype: to, rank: a.rank, values: a.values.map((v) => (typeof v === 'number' && isInt ? Math.trunc(v) : v)) }];
  },
  Where: (ctx) => {
    const c = ctx.known(0);
    const x = ctx.known(1);
    const y = ctx.known(2);
    if (!c || !x || !y) return [undefined];
    const n = Math.max(c.values.length, x.values.length, y.values.length);
    const at = (k: KnownValue, i: number) => k.values[k.values.length === 1 ? 0 : i] ?? null;
    const values = Array.from({ length: n }, (_, i) => {
      const ci = at(c, i);
      return typeof ci === 'number' ? (ci ? at(x, i) : at(y, i)) : null;
    });
    return [{ dtype: x.dtype, rank: c.rank || x.rank || y.rank ? 1 : 0, values }];
  },
} satisfies Record<string, ValueFn>;
