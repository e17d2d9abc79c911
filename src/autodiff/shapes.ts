/**
 * A small static shape/dtype propagation for the forward ops autodiff differentiates. Gradient rules need
 * ranks and known dims (which axes were broadcast, how big each Concat piece was, what to reshape back to).
 * Dims may be symbolic (`'batch'`) or unknown (`null`); a value whose rank is unknown has `shape: undefined`.
 * Declared value_info, inputs and initializers win over anything inferred here.
 */
import { type Dim, type Graph, type Node, type ValueType, attrInt, attrInts } from '../onnx/ir.js';
import { type DType, dtypeFromOnnx } from '../onnx/dtype.js';
import { inferTypes as inferOnnxTypes } from '../onnx/shape-infer.js';
import type { Tensor } from '../onnx/tensor.js';

/** Value name → dtype and (possibly partial) shape. */
export type TypeMap = Map<string, ValueType>;

/**
 * Infers the types of every value in `g`: the project's shape inference (src/onnx/shape-infer.ts) merged
 * with this module's own propagation, keeping per value whichever knows more dims.
 */
export function inferTypes(g: Graph): TypeMap {
  const local = inferTypesLocal(g);
  let shared: Map<string, ValueType> | undefined;
  try {
    shared = inferOnnxTypes(g).types;
  } catch {
    shared = undefined;
  }
  if (!shared) return local;
  const known = (t: ValueType | undefined): number => (t?.shape ? 1 + t.shape.filter((d) => d !== null).length : 0);
  for (const [k, t] of shared) if (known(t) > known(local.get(k))) local.set(k, t);
  return local;
}

/** This module's own propagation (forward order). Values it cannot infer are left out. */
function inferTypesLocal(g: Graph): TypeMap {
  const types: TypeMap = new Map();
  for (const v of g.inputs) if (v.type) types.set(v.name, v.type);
  for (const [k, t] of g.initializers) types.set(k, { dtype: t.dtype, shape: [...t.dims] });
  for (const n of g.nodes) {
    let outs: (ValueType | undefined)[] = [];
    try {
      outs = inferNode(n, types, g.initializers);
    } catch {
      outs = [];
    }
    n.outputs.forEach((o, i) => {
      if (!o) return;
      const declared = g.valueInfo.get(o)?.type ?? g.outputs.find((v) => v.name === o)?.type;
      const t = declared?.shape ? declared : outs[i] ?? declared;
      if (t) types.set(o, t);
    });
  }
  return types;
}

/** Broadcasts shapes numpy-style. Unknown dims stay unknown unless the other side is a known non-1 size. */
export function broadcastShapes(shapes: readonly (Dim[] | undefined)[]): Dim[] | undefined {
  if (shapes.some((s) => s === undefined)) return undefined;
  const rank = Math.max(...shapes.map((s) => s!.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const k = s!.length - rank + i;
      if (k < 0) continue;
      const e = s![k]!;
      if (e === 1) continue;
      if (d === 1 || d === null) d = e;
      else if (typeof d === 'string' && typeof e === 'number') d = e;
    }
    out.push(d);
  }
  return out;
}

/** Reads a constant int64/int32 1-D tensor input (initializer) as numbers. */
export function constInts(inits: ReadonlyMap<string, Tensor>, name: string | undefined): number[] | undefined {
  if (!name) return undefined;
  const t = inits.get(name);
  if (!t || (t.dtype !== 'int64' && t.dtype !== 'int32')) return undefined;
  return t.toNumbers();
}

/** Normalises a possibly negative axis. */
export function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

const SAME_AS_FIRST = new Set([
  'Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Erf', 'Gelu', 'Exp', 'Log', 'Sqrt', 'Neg', 'Abs', 'Reciprocal',
  'Softmax', 'LogSoftmax', 'Identity', 'Clip', 'Dropout', 'LayerNormalization', 'BatchNormalization',
  'Elu', 'Selu', 'Softplus', 'HardSigmoid', 'Floor', 'Ceil', 'Round', 'Sign', 'Sin', 'Cos', 'Tan', 'Asin',
  'Acos', 'Atan', 'Sinh', 'Cosh', 'Softsign', 'Mish', 'HardSwish', 'Celu', 'ThresholdedRelu',
]);
const BROADCAST = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum', 'Mean']);
const COMPARE = new Set(['Greater', 'Less', 'Equal', 'GreaterOrEqual', 'LessOrEqual', 'And', 'Or', 'Xor', 'Not']);

function inferNode(n: Node, types: TypeMap, inits: Map<string, Tensor>): (ValueType | undefined)[] {
  const t = (i: number): ValueType | undefined => (n.inputs[i] ? types.get(n.inputs[i]!) : undefined);
  const x = t(0);
  const dt = x?.dtype ?? 'float32';
  const s = x?.shape;
  const op = n.opType;
  if (SAME_AS_FIRST.has(op)) {
    if (op === 'Dropout') return [x, { dtype: 'bool', shape: s }];
    if (op === 'LayerNormalization' && s) {
      const axis = normAxis(attrInt(n, 'axis', -1), s.length);
      const stat = s.map((d, i) => (i < axis ? d : 1));
      return [x, { dtype: 'float32', shape: stat }, { dtype: 'float32', shape: stat }];
    }
    if (op === 'BatchNormalization') return [x, t(3), t(4)];
    return [x];
  }
  if (BROADCAST.has(op)) return [{ dtype: dt, shape: broadcastShapes(n.inputs.map((_, i) => t(i)?.shape)) }];
  if (COMPARE.has(op)) return [{ dtype: 'bool', shape: broadcastShapes(n.inputs.map((_, i) => t(i)?.shape)) }];
  if (op === 'Where') return [{ dtype: t(1)?.dtype ?? dt, shape: broadcastShapes([0, 1, 2].map((i) => t(i)?.shape)) }];
  switch (op) {
    case 'Cast': {
      const to = dtypeFromOnnx(attrInt(n, 'to', 1)) ?? 'float32';
      return [{ dtype: to, shape: s }];
    }
    case 'MatMul': return [{ dtype: dt, shape: matMulShape(s, t(1)?.shape) }];
    case 'Gemm': {
      const b = t(1)?.shape;
      if (!s || !b) return [{ dtype: dt }];
      const m = attrInt(n, 'transA', 0) ? s[1]! : s[0]!;
      const k = attrInt(n, 'transB', 0) ? b[0]! : b[1]!;
      return [{ dtype: dt, shape: [m, k] }];
    }
    case 'Flatten': {
      if (!s) return [{ dtype: dt }];
      const axis = normAxis(attrInt(n, 'axis', 1), s.length);
      return [{ dtype: dt, shape: [prod(s.slice(0, axis)), prod(s.slice(axis))] }];
    }
    case 'Reshape': {
      const target = constInts(inits, n.inputs[1]);
      if (!target) return [{ dtype: dt }];
      const out: Dim[] = target.map((d, i) => (d === 0 && !attrInt(n, 'allowzero', 0) ? (s?.[i] ?? null) : d === -1 ? null : d));
      const known = s ? prod(s) : null;
      const rest = prod(out.filter((d) => d !== null));
      const k = out.indexOf(null);
      if (k >= 0 && target[k] === -1 && typeof known === 'number' && typeof rest === 'number') out[k] = known / rest;
      else if (k >= 0 && target[k] === -1 && s && out.filter((d) => d === null).length === 1) {
        // e.g. [batch, 4, 4] → [-1, 16]: the batch dim carries over symbolically.
        const sym = s.filter((d) => typeof d !== 'number');
        const knownIn = prod(s.filter((d) => typeof d === 'number'));
        if (sym.length === 1 && typeof knownIn === 'number' && typeof rest === 'number' && knownIn === rest) out[k] = sym[0]!;
      }
      return [{ dtype: dt, shape: out }];
    }
    case 'Transpose': {
      if (!s) return [{ dtype: dt }];
      const perm = attrInts(n, 'perm') ?? s.map((_, i) => s.length - 1 - i);
      return [{ dtype: dt, shape: perm.map((p) => s[p]!) }];
    }
    case 'Squeeze': {
      if (!s) return [{ dtype: dt }];
      const axes = (constInts(inits, n.inputs[1]) ?? attrInts(n, 'axes'))?.map((a) => normAxis(a, s.length));
      return [{ dtype: dt, shape: s.filter((d, i) => (axes ? !axes.includes(i) : d !== 1)) }];
    }
    case 'Unsqueeze': {
      const axes = constInts(inits, n.inputs[1]) ?? attrInts(n, 'axes');
      if (!s || !axes) return [{ dtype: dt }];
      const rank = s.length + axes.length;
      const norm = axes.map((a) => normAxis(a, rank));
      const out: Dim[] = [];
      let j = 0;
      for (let i = 0; i < rank; i++) out.push(norm.includes(i) ? 1 : s[j++]!);
      return [{ dtype: dt, shape: out }];
    }
    case 'Concat': {
      const shapes = n.inputs.map((_, i) => t(i)?.shape);
      if (shapes.some((q) => !q)) return [{ dtype: dt }];
      const axis = normAxis(attrInt(n, 'axis', 0), shapes[0]!.length);
      const out = [...shapes[0]!];
      out[axis] = sumDims(shapes.map((q) => q![axis]!));
      return [{ dtype: dt, shape: out }];
    }
    case 'Split': {
      if (!s) return n.outputs.map(() => ({ dtype: dt }));
      const axis = normAxis(attrInt(n, 'axis', 0), s.length);
      const sizes = splitSizes(n, s[axis]!, inits);
      return n.outputs.map((_, i) => {
        const out = [...s];
        out[axis] = sizes?.[i] ?? null;
        return { dtype: dt, shape: out };
      });
    }
    case 'Slice': {
      if (!s) return [{ dtype: dt }];
      const starts = constInts(inits, n.inputs[1]);
      const ends = constInts(inits, n.inputs[2]);
      const axes = constInts(inits, n.inputs[3]) ?? starts?.map((_, i) => i);
      const steps = constInts(inits, n.inputs[4]) ?? starts?.map(() => 1);
      if (!starts || !ends || !axes || !steps) return [{ dtype: dt, shape: s.map(() => null) }];
      const out = [...s];
      axes.forEach((a, i) => {
        const ax = normAxis(a, s.length);
        const d = s[ax];
        out[ax] = typeof d === 'number' ? sliceRange(d, starts[i]!, ends[i]!, steps[i]!).length : null;
      });
      return [{ dtype: dt, shape: out }];
    }
    case 'Gather': {
      const idx = t(1)?.shape;
      if (!s || !idx) return [{ dtype: dt }];
      const axis = normAxis(attrInt(n, 'axis', 0), s.length);
      return [{ dtype: dt, shape: [...s.slice(0, axis), ...idx, ...s.slice(axis + 1)] }];
    }
    case 'ReduceSum': case 'ReduceMean': case 'ReduceMax': case 'ReduceMin': case 'ReduceSumSquare': case 'ReduceL2': {
      if (!s) return [{ dtype: dt }];
      const axes = reduceAxes(n, s.length, inits);
      if (axes === undefined) return [{ dtype: dt }];
      const keep = attrInt(n, 'keepdims', 1) === 1;
      const out: Dim[] = [];
      s.forEach((d, i) => (axes.includes(i) ? keep && out.push(1) : out.push(d)));
      return [{ dtype: dt, shape: out }];
    }
    case 'Conv': case 'MaxPool': case 'AveragePool': {
      if (!s) return n.outputs.map(() => ({ dtype: dt }));
      const w = t(1)?.shape;
      const spatial = s.length - 2;
      const kernel = attrInts(n, 'kernel_shape') ?? w?.slice(2).map((d) => (typeof d === 'number' ? d : 0));
      if (!kernel) return [{ dtype: dt }];
      const out: Dim[] = [s[0]!, op === 'Conv' ? (w?.[0] ?? null) : s[1]!];
      const geo = convGeometry(n, spatial, kernel, s.slice(2));
      for (let i = 0; i < spatial; i++) out.push(geo.out[i]!);
      return op === 'MaxPool' ? [{ dtype: dt, shape: out }, { dtype: 'int64', shape: out }] : [{ dtype: dt, shape: out }];
    }
    case 'GlobalAveragePool': case 'GlobalMaxPool':
      return [{ dtype: dt, shape: s ? [s[0]!, s[1]!, ...s.slice(2).map(() => 1)] : undefined }];
    case 'SoftmaxCrossEntropyLoss': {
      const red = n.attributes.reduction?.type === 'string' ? n.attributes.reduction.value : 'mean';
      return [{ dtype: dt, shape: red === 'none' ? s ? [s[0]!, ...s.slice(2)] : undefined : [] }, { dtype: dt, shape: s }];
    }
    case 'QuantizeLinear': {
      const zp = t(2);
      return [{ dtype: zp?.dtype ?? (dtypeFromOnnx(attrInt(n, 'output_dtype', 0)) as DType | undefined) ?? 'uint8', shape: s }];
    }
    case 'DequantizeLinear': return [{ dtype: t(1)?.dtype ?? 'float32', shape: s }];
    case 'Shape': return [{ dtype: 'int64', shape: [s ? s.length : null] }];
    case 'OneHot': return [{ dtype: t(2)?.dtype ?? 'float32' }];
    case 'Expand': {
      const target = constInts(inits, n.inputs[1]);
      return [{ dtype: dt, shape: target && s ? broadcastShapes([s, target]) : undefined }];
    }
    default:
      return [];
  }
}

function matMulShape(a: Dim[] | undefined, b: Dim[] | undefined): Dim[] | undefined {
  if (!a || !b) return undefined;
  const a2 = a.length === 1 ? [1, a[0]!] : a;
  const b2 = b.length === 1 ? [b[0]!, 1] : b;
  const batch = broadcastShapes([a2.slice(0, -2), b2.slice(0, -2)])!;
  const out = [...batch, a2[a2.length - 2]!, b2[b2.length - 1]!];
  if (b.length === 1) out.pop();
  if (a.length === 1) out.splice(out.length - (b.length === 1 ? 1 : 2), 1);
  return out;
}

/** Product of dims, or a string/null when some dim is not a number. */
export function prod(dims: readonly Dim[]): Dim {
  let p = 1;
  for (const d of dims) {
    if (typeof d !== 'number') return dims.length === 1 ? d : null;
    p *= d;
  }
  return p;
}

function sumDims(dims: Dim[]): Dim {
  let s = 0;
  for (const d of dims) {
    if (typeof d !== 'number') return null;
    s += d;
  }
  return s;
}

/** Split sizes from the `split` input/attribute or `num_outputs`. */
export function splitSizes(n: Node, dim: Dim, inits: ReadonlyMap<string, Tensor>): number[] | undefined {
  const given = constInts(inits, n.inputs[1]) ?? attrInts(n, 'split');
  if (given) return given;
  if (typeof dim !== 'number') return undefined;
  const k = attrInt(n, 'num_outputs', n.outputs.length);
  const chunk = Math.ceil(dim / k);
  return Array.from({ length: k }, (_, i) => Math.max(0, Math.min(chunk, dim - i * chunk)));
}

/** Reduction axes (normalised), from the axes input (opset 18+) or attribute; all axes when empty. */
export function reduceAxes(n: Node, rank: number, inits: ReadonlyMap<string, Tensor>): number[] | undefined {
  const given = n.inputs[1] ? constInts(inits, n.inputs[1]) : attrInts(n, 'axes');
  if (n.inputs[1] && !given) return undefined;
  if (!given || given.length === 0) {
    return attrInt(n, 'noop_with_empty_axes', 0) ? [] : Array.from({ length: rank }, (_, i) => i);
  }
  return given.map((a) => normAxis(a, rank));
}

/** Indices a Slice takes along one axis of size `dim` (ONNX clamping rules). */
export function sliceRange(dim: number, start: number, end: number, step: number): number[] {
  const clamp = (v: number, lo: number, hi: number): number => Math.min(Math.max(v, lo), hi);
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = clamp(s, 0, dim);
    e = clamp(e, 0, dim);
  } else {
    s = clamp(s, 0, dim - 1);
    e = clamp(e, -1, dim - 1);
  }
  const out: number[] = [];
  for (let i = s; step > 0 ? i < e : i > e; i += step) out.push(i);
  return out;
}

/** Resolved convolution/pooling geometry: kernel, strides, dilations, begin/end pads and output sizes. */
export interface ConvGeometry {
  kernel: number[];
  strides: number[];
  dilations: number[];
  padsBegin: number[];
  padsEnd: number[];
  out: Dim[];
}

/** Resolves auto_pad/pads/strides/dilations/ceil_mode for a Conv or pooling node. */
export function convGeometry(n: Node, spatial: number, kernel: number[], inSizes: readonly Dim[]): ConvGeometry {
  const ones = Array.from({ length: spatial }, () => 1);
  const strides = attrInts(n, 'strides') ?? ones;
  const dilations = attrInts(n, 'dilations') ?? ones;
  const pads = attrInts(n, 'pads') ?? Array.from({ length: 2 * spatial }, () => 0);
  const autoPad = n.attributes.auto_pad?.type === 'string' ? n.attributes.auto_pad.value : 'NOTSET';
  const ceil = attrInt(n, 'ceil_mode', 0) === 1;
  const padsBegin = pads.slice(0, spatial);
  const padsEnd = pads.slice(spatial);
  const out: Dim[] = [];
  for (let i = 0; i < spatial; i++) {
    const size = inSizes[i];
    const ek = dilations[i]! * (kernel[i]! - 1) + 1;
    if (typeof size !== 'number') {
      out.push(null);
      continue;
    }
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      const o = Math.ceil(size / strides[i]!);
      const total = Math.max(0, (o - 1) * strides[i]! + ek - size);
      const small = Math.floor(total / 2);
      padsBegin[i] = autoPad === 'SAME_UPPER' ? small : total - small;
      padsEnd[i] = total - padsBegin[i]!;
      out.push(o);
    } else {
      if (autoPad === 'VALID') padsBegin[i] = padsEnd[i] = 0;
      const span = size + padsBegin[i]! + padsEnd[i]! - ek;
      out.push((ceil ? Math.ceil(span / strides[i]!) : Math.floor(span / strides[i]!)) + 1);
    }
  }
  return { kernel, strides, dilations, padsBegin, padsEnd, out };
}
