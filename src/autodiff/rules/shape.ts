/**
 * VJP rules for data movement: reshapes, transposes, concat/split, slicing and gathers. None of these
 * compute anything, so their gradients route `dy` back to where each element came from.
 */
import { attr } from '../../onnx/attr.js';
import { attrInt, attrInts } from '../../onnx/ir.js';
import { Tensor } from '../../onnx/tensor.js';
import { TrainferError } from '../../util/errors.js';
import { type VjpContext, type VjpRule, constLike, reshapeTo, shapeOf, unbroadcast } from '../rule-context.js';
import { constInts, normAxis, splitSizes } from '../shapes.js';

/** dy reshaped back to the first input's shape (Reshape, Flatten, Squeeze, Unsqueeze). */
const backToInput: VjpRule = (ctx) => [reshapeTo(ctx, ctx.dy[0]!, ctx.node.inputs[0]!)];

function staticDims(ctx: VjpContext, name: string): number[] {
  const s = shapeOf(ctx, name);
  if (s.some((d) => typeof d !== 'number')) {
    throw new TrainferError(`autodiff: ${ctx.node.opType} node '${ctx.node.name}' needs the static shape of '${name}', got [${s.join(', ')}]`);
  }
  return s as number[];
}

/** Data-movement ops. */
export const SHAPE_RULES = {
  // y = reshape(x) → dx = reshape(dy, shape(x))
  Reshape: backToInput,
  // y[N, C·H·W] = flatten(x[N, C, H, W]) → dx = reshape(dy, shape(x))
  Flatten: backToInput,
  Squeeze: backToInput,
  Unsqueeze: backToInput,
  // y = transpose(x, perm) → dx = transpose(dy, perm⁻¹)
  Transpose: (ctx) => {
    const rank = shapeOf(ctx, ctx.node.inputs[0]!).length;
    const perm = attrInts(ctx.node, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
    const inv = new Array<number>(rank);
    perm.forEach((p, i) => (inv[p] = i));
    return [ctx.b.transpose(ctx.dy[0]!, inv)];
  },
  // y = expand(x, shape) → dx = Σ dy over the expanded axes
  Expand: (ctx) => [unbroadcast(ctx, ctx.dy[0]!, ctx.node.inputs[0]!, ctx.node.outputs[0]!), undefined],
  // y = concat(x₀, x₁, …; axis) → dxᵢ = the matching piece of split(dy)
  Concat: (ctx) => {
    const s0 = shapeOf(ctx, ctx.node.inputs[0]!);
    const axis = normAxis(attrInt(ctx.node, 'axis', 0), s0.length);
    const sizes = ctx.node.inputs.map((x) => {
      const d = shapeOf(ctx, x)[axis];
      if (typeof d !== 'number') throw new TrainferError(`autodiff: Concat node '${ctx.node.name}' needs a static size along axis ${axis} for '${x}'`);
      return d;
    });
    const parts = ctx.b.split(ctx.dy[0]!, { axis, sizes });
    return parts.map((p, i) => (ctx.needs[i] ? p : undefined));
  },
  // [y₀, y₁, …] = split(x; axis) → dx = concat(dy₀, dy₁, …) with zeros for outputs without gradient
  Split: (ctx) => {
    const x = ctx.node.inputs[0]!;
    const s = shapeOf(ctx, x);
    const axis = normAxis(attrInt(ctx.node, 'axis', 0), s.length);
    const sizes = splitSizes(ctx.node, s[axis]!, ctx.inits);
    const parts = ctx.node.outputs.map((o, i) => {
      if (ctx.dy[i]) return ctx.dy[i]!;
      const dims = staticDims(ctx, o);
      return constLike(ctx, dims, new Float32Array(dims.reduce((p, d) => p * d, 1)), x);
    });
    if (!sizes) throw new TrainferError(`autodiff: Split node '${ctx.node.name}' needs static split sizes`);
    return [ctx.b.concat(parts, axis), undefined];
  },
  // y = x[starts:ends:steps] → dx = dy padded with zeros before and after the slice (unit steps); pads
  // along axes of unknown size are computed at run time from Shape(x), clamped as Slice clamps
  Slice: (ctx) => {
    const [x, st, en, ax, sp] = ctx.node.inputs;
    const s = shapeOf(ctx, x!);
    const starts = constInts(ctx.inits, st);
    const ends = constInts(ctx.inits, en);
    if (!starts || !ends) throw new TrainferError(`autodiff: Slice node '${ctx.node.name}' needs constant starts/ends`);
    const axes = (constInts(ctx.inits, ax) ?? starts.map((_, i) => i)).map((a) => normAxis(a, s.length));
    const steps = constInts(ctx.inits, sp) ?? starts.map(() => 1);
    const rank = s.length;
    const pads: (number | string)[] = new Array<number>(2 * rank).fill(0);
    const b = ctx.b;
    for (let i = 0; i < axes.length; i++) {
      const a = axes[i]!;
      const dim = s[a];
      if (steps[i] !== 1) throw new TrainferError(`autodiff: Slice node '${ctx.node.name}' has step ${steps[i]}; only unit steps are differentiable`);
      if (typeof dim === 'number') {
        let b0 = starts[i]! < 0 ? starts[i]! + dim : starts[i]!;
        let e0 = ends[i]! < 0 ? ends[i]! + dim : ends[i]!;
        b0 = Math.min(Math.max(b0, 0), dim);
        e0 = Math.min(Math.max(e0, b0), dim);
        pads[a] = b0;
        pads[a + rank] = dim - e0;
        continue;
      }
      // dim [1] = Shape(x)[a]; b = clamp(start (+ dim if negative), 0, dim); e = clamp(end (+ dim), b, dim)
      const d = b.op1('Shape', [x!], { start: attr.int(a), end: attr.int(a + 1) });
      const big = 2 ** 62; // INT64_MAX ("to the end") and beyond, as a safe int64
      const at = (v: number) => (v < 0 ? b.add(b.int64s([Math.max(v, -big)]), d) : b.int64s([Math.min(v, big)]));
      const clamp = (v: string, lo: string) => b.op1('Min', [b.op1('Max', [v, lo]), d]);
      const b0 = clamp(at(starts[i]!), b.int64s([0]));
      const e0 = clamp(at(ends[i]!), b0);
      pads[a] = b0;
      pads[a + rank] = b.sub(d, e0);
    }
    const padsValue = pads.every((p) => typeof p === 'number')
      ? b.int64s(pads as number[])
      : b.concat(pads.map((p) => (typeof p === 'number' ? b.int64s([p]) : p)), 0);
    return [b.op1('Pad', [ctx.dy[0]!, padsValue]), undefined, undefined, undefined, undefined];
  },
  // y[i..., D] = data[V, D][indices[i...]] (axis 0, embeddings) → ddata = scatter-add of dy rows into zeros[V, D]
  Gather: (ctx) => {
    const [data, indices] = ctx.node.inputs as [string, string];
    if (!ctx.needs[0]) return [undefined, undefined];
    const sd = staticDims(ctx, data);
    const axis = normAxis(attrInt(ctx.node, 'axis', 0), sd.length);
    const b = ctx.b;
    let dy = ctx.dy[0]!;
    let idx = indices;
    if (axis !== 0) {
      // Move the gathered axis to the front, scatter, move it back.
      const si = shapeOf(ctx, indices).length;
      const ry = shapeOf(ctx, ctx.node.outputs[0]!).length;
      const perm = [...Array.from({ length: si }, (_, i) => axis + i), ...Array.from({ length: axis }, (_, i) => i), ...Array.from({ length: ry - axis - si }, (_, i) => axis + si + i)];
      dy = b.transpose(dy, perm);
    }
    const moved = axis === 0 ? sd : [sd[axis]!, ...sd.slice(0, axis), ...sd.slice(axis + 1)];
    const zeros = b.op1('ConstantOfShape', [b.int64s(moved)], { value: attr.tensor(zeroTensor(ctx, data)) });
    idx = b.unsqueeze(b.cast(idx, 'int64'), [-1]);
    let dd = b.op1('ScatterND', [zeros, idx, dy], { reduction: attr.string('add') });
    if (axis !== 0) {
      const perm = [...Array.from({ length: axis }, (_, i) => i + 1), 0, ...Array.from({ length: sd.length - axis - 1 }, (_, i) => axis + 1 + i)];
      dd = b.transpose(dd, perm);
    }
    return [dd, undefined];
  },
} satisfies Record<string, VjpRule>;

function zeroTensor(ctx: VjpContext, like: string): Tensor {
  return ctx.types.get(like)?.dtype === 'float64' ? Tensor.f64([1], [0]) : Tensor.f32([1], [0]);
}
