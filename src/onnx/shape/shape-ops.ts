/**
 * Shape inference for ops that move elements around without computing on them: Reshape (0 and -1,
 * symbolic dims cancelled by name), Flatten, Transpose, Squeeze/Unsqueeze, Expand, Tile, Pad, Resize,
 * Concat, Split, Slice, DepthToSpace/SpaceToDepth. Their constant propagation lives in `values.ts`.
 */
import type { Dim } from '../ir.js';
import { attrInt, attrInts } from '../ir.js';
import { type ShapeContext, type ShapeFn, ShapeError, broadcastShapes, dimProduct, divDim, fmtShape, intsFrom, mulDim, mulDims, normAxis, sameDType, unknownDims, withShape } from './types.js';

/** Resolves a Reshape target against the input shape (0 copies, -1 infers, symbols cancel by name). */
export function reshapeShape(input: readonly Dim[] | undefined, target: readonly Dim[], allowZero: boolean): Dim[] {
  const out: Dim[] = target.map((d, i) => (d === 0 && !allowZero ? (input ? (input[i] ?? null) : null) : d));
  const minus = out.indexOf(-1);
  if (minus < 0) return out;
  if (out.indexOf(-1, minus + 1) >= 0) throw new ShapeError('Reshape target has more than one -1');
  out[minus] = input ? inferMinusOne(input, out.filter((_, i) => i !== minus)) : null;
  return out;
}

function inferMinusOne(input: readonly Dim[], rest: readonly Dim[]): Dim {
  const total = mulDims(input);
  const known = mulDims(rest);
  const n = dimProduct(input);
  const k = dimProduct(rest);
  if (n !== null && k !== null && k !== 0 && n % k !== 0) {
    throw new ShapeError(`cannot reshape ${fmtShape(input)} to ${fmtShape([...rest, -1])}: ${n} elements do not divide by ${k}`);
  }
  return known === 0 ? null : divDim(total, known);
}

const reshape: ShapeFn = (ctx) => {
  const x = ctx.input(0);
  const k = ctx.known(1);
  const allowZero = attrInt(ctx.node, 'allowzero', 0) === 1;
  const target = k?.values ?? attrInts(ctx.node, 'shape');
  if (target) {
    const out = reshapeShape(x?.shape, target, allowZero);
    const inN = x?.shape ? dimProduct(x.shape) : null;
    const outN = dimProduct(out);
    if (inN !== null && outN !== null && inN !== outN) throw new ShapeError(`cannot reshape ${fmtShape(x!.shape)} (${inN} elements) to ${fmtShape(out)} (${outN})`);
    return [withShape(x?.dtype, out)];
  }
  const len = ctx.input(1)?.shape?.[0];
  return [withShape(x?.dtype, typeof len === 'number' ? unknownDims(len) : undefined)];
};

/** Product of a dim range, symbolic where needed (`[batch, seq] → batch*seq`). */
const flatDim = (dims: readonly Dim[]): Dim => mulDims(dims);

const flatten: ShapeFn = (ctx) => {
  const x = ctx.input(0);
  if (!x?.shape) return [withShape(x?.dtype, x ? [null, null] : undefined)];
  const r = x.shape.length;
  let axis = attrInt(ctx.node, 'axis', 1);
  if (axis < 0) axis += r;
  if (axis < 0 || axis > r) throw new ShapeError(`axis ${attrInt(ctx.node, 'axis', 1)} is out of range for rank ${r}`);
  return [{ dtype: x.dtype, shape: [flatDim(x.shape.slice(0, axis)), flatDim(x.shape.slice(axis))] }];
};

const transpose: ShapeFn = (ctx) => {
  const x = ctx.input(0);
  if (!x?.shape) return [x];
  const r = x.shape.length;
  const perm = attrInts(ctx.node, 'perm') ?? x.shape.map((_, i) => r - 1 - i);
  if (perm.length !== r || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) throw new ShapeError(`perm [${perm.join(', ')}] is not a permutation of rank ${r}`);
  return [{ dtype: x.dtype, shape: perm.map((p) => x.shape![p]!) }];
};

const squeeze: ShapeFn = (ctx) => {
  const x = ctx.input(0);
  const axes = intsFrom(ctx, 'axes', 1);
  if (!x?.shape || axes === 'unknown') return [withShape(x?.dtype, undefined)];
  const r = x.shape.length;
  if (axes === undefined || axes.length === 0) {
    if (x.shape.some((d) => typeof d !== 'number')) return [{ dtype: x.dtype }];
    return [{ dtype: x.dtype, shape: x.shape.filter((d) => d !== 1) }];
  }
  const drop = new Set(axes.map((a) => normAxis(a, r)));
  for (const a of drop) {
    const d = x.shape[a];
    if (typeof d === 'number' && d !== 1) throw new ShapeError(`cannot squeeze axis ${a} of size ${d}`);
  }
  return [{ dtype: x.dtype, shape: x.shape.filter((_, i) => !drop.has(i)) }];
};

const unsqueeze: ShapeFn = (ctx) => {
  const x = ctx.input(0);
  const axes = intsFrom(ctx, 'axes', 1);
  if (!x?.shape || axes === undefined || axes === 'unknown') return [withShape(x?.dtype, undefined)];
  const r = x.shape.length + axes.length;
  const ins = new Set(axes.map((a) => normAxis(a, r)));
  if (ins.size !== axes.length) throw new ShapeError(`axes [${axes.join(', ')}] repeat an axis`);
  const out: Dim[] = [];
  let k = 0;
  for (let i = 0; i < r; i++) out.push(ins.has(i) ? 1 : x.shape[k++]!);
  return [{ dtype: x.dtype, shape: out }];
};

const expand: ShapeFn = (ctx) => {
  const x = ctx.input(0);
  const k = ctx.known(1);
  if (!x?.shape) return [withShape(x?.dtype, undefined)];
  if (k) return [{ dtype: x.dtype, shape: broadcastShapes([x.shape, k.values]) }];
  const len = ctx.input(1)?.shape?.[0];
  if (typeof len !== 'number') return [{ dtype: x.dtype }];
  return [{ dtype: x.dtype, shape: unknownDims(Math.max(len, x.shape.length)) }];
};

const tile: ShapeFn = (ctx) => {
  const x = ctx.input(0);
  const reps = ctx.known(1)?.values;
  if (!x?.shape) return [x];
  if (!reps) return [{ dtype: x.dtype, shape: unknownDims(x.shape.length) }];
  if (reps.length !== x.shape.length) throw new ShapeError(`repeats has ${reps.length} entries for rank ${x.shape.length}`);
  return [{ dtype: x.dtype, shape: x.shape.map((d, i) => mulDim(d, reps[i]!)) }];
};

const pad: ShapeFn = (ctx) => {
  const x = ctx.input(0);
  if (!x?.shape) return [x];
  const r = x.shape.length;
  const pads = intsFrom(ctx, 'pads', 1);
  if (pads === 'unknown' || pads === undefined) return [{ dtype: x.dtype, shape: unknownDims(r) }];
  const axesIn = ctx.has(3) ? ctx.ints(3) : x.shape.map((_, i) => i);
  if (!axesIn) return [{ dtype: x.dtype, shape: unknownDims(r) }];
  const axes = axesIn.map((a) => normAxis(a, r));
  if (pads.length !== 2 * axes.length) throw new ShapeError(`pads has ${pads.length} entries, expected ${2 * axes.length}`);
  const out = [...x.shape];
  axes.forEach((a, i) => {
    const d = out[a];
    out[a] = typeof d === 'number' ? d + pads[i]! + pads[i + axes.length]! : pads[i] === 0 && pads[i + axes.length] === 0 ? d! : null;
  });
  return [{ dtype: x.dtype, shape: out }];
};

const resize: ShapeFn = (ctx) => {
  const x = ctx.input(0);
  if (!x?.shape) return [x];
  const r = x.shape.length;
  const axes = (attrInts(ctx.node, 'axes') ?? x.shape.map((_, i) => i)).map((a) => normAxis(a, r));
  // Upsample (opset 9) and Resize-10 take scales as input 1; Resize-11+ takes (roi, scales, sizes).
  const scalesAt1 = ctx.node.opType === 'Upsample' || ctx.opset < 11;
  const sizes = !scalesAt1 && ctx.has(3) ? ctx.known(3)?.values : undefined;
  const scalesAttr = ctx.node.attributes.scales;
  const scales = scalesAttr?.type === 'floats' ? scalesAttr.value : ctx.known(scalesAt1 ? 1 : 2)?.values;
  const out: Dim[] = [...x.shape];
  if (sizes && sizes.length === axes.length) axes.forEach((a, i) => (out[a] = sizes[i]!));
  else if (scales && scales.length === axes.length) {
    axes.forEach((a, i) => {
      const d = x.shape![a]!;
      const s = scales[i]!;
      out[a] = s === 1 ? d : typeof d === 'number' && typeof s === 'number' ? Math.floor(d * s + 1e-7) : Number.isInteger(s) ? mulDim(d, s) : null;
    });
  } else axes.forEach((a) => (out[a] = null));
  return [{ dtype: x.dtype, shape: out }];
};

const concat: ShapeFn = (ctx) => {
  const ids = Array.from({ length: ctx.inputCount }, (_, i) => i);
  sameDType(ctx, ids);
  const types = ids.map((i) => ctx.input(i));
  const dtype = types.find((t) => t)?.dtype;
  if (!dtype || types.some((t) => !t?.shape)) return [withShape(dtype, undefined)];
  const shapes = types.map((t) => t!.shape!);
  const r = shapes[0]!.length;
  const axis = normAxis(attrInt(ctx.node, 'axis', 0), r);
  const out = [...shapes[0]!];
  let sum: Dim = 0;
  for (const [k, s] of shapes.entries()) {
    if (s.length !== r) throw new ShapeError(`input ${k} has rank ${s.length}, input 0 has rank ${r}`, ctx.node.inputs[k]);
    sum = typeof sum === 'number' && typeof s[axis] === 'number' ? sum + (s[axis] as number) : null;
    for (let i = 0; i < r; i++) {
      if (i === axis) continue;
      const a = out[i]!;
      const b = s[i]!;
      if (typeof a === 'number' && typeof b === 'number' && a !== b) throw new ShapeError(`input ${k} ${fmtShape(s)} does not match ${fmtShape(shapes[0])} on axis ${i}`, ctx.node.inputs[k]);
      if (a === null || (typeof a === 'string' && typeof b === 'number')) out[i] = b;
    }
  }
  out[axis] = sum;
  return [{ dtype, shape: out }];
};

const split: ShapeFn = (ctx) => {
  const x = ctx.input(0);
  const n = ctx.node.outputs.length;
  if (!x?.shape) return Array.from({ length: n }, () => x);
  const axis = normAxis(attrInt(ctx.node, 'axis', 0), x.shape.length);
  const sizes = intsFrom(ctx, 'split', 1);
  const d = x.shape[axis]!;
  let parts: Dim[];
  if (Array.isArray(sizes)) {
    if (sizes.length !== n) throw new ShapeError(`split has ${sizes.length} sizes for ${n} outputs`);
    const total = sizes.reduce((a, b) => a + b, 0);
    if (typeof d === 'number' && total !== d) throw new ShapeError(`split sizes sum to ${total}, axis ${axis} has ${d}`);
    parts = sizes;
  } else if (sizes === 'unknown' || typeof d !== 'number') parts = unknownDims(n);
  else {
    const chunk = Math.ceil(d / n);
    parts = Array.from({ length: n }, (_, i) => (i < n - 1 ? chunk : d - chunk * (n - 1)));
  }
  return parts.map((p) => ({ dtype: x.dtype, shape: x.shape!.map((s, i) => (i === axis ? p : s)) }));
};

/** Elements a Slice keeps along one dim of size `d`. */
export function sliceLen(d: number, start: number, end: number, step: number): [number, number] {
  if (step === 0) throw new ShapeError('Slice step must not be 0');
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  let s = start < 0 ? start + d : start;
  let e = end < 0 ? end + d : end;
  if (step > 0) {
    s = clamp(s, 0, d);
    e = clamp(e, 0, d);
    return [s, Math.max(0, Math.ceil((e - s) / step))];
  }
  s = clamp(s, 0, d - 1);
  e = clamp(e, -1, d - 1);
  return [s, Math.max(0, Math.ceil((s - e) / -step))];
}

/** Slice parameters (from inputs at opset ≥ 10, attributes before). */
export function sliceParams(ctx: ShapeContext, rank: number): { starts: number[]; ends: number[]; axes: number[]; steps: number[] } | undefined {
  const fromAttr = ctx.opset < 10 || ctx.node.attributes.starts !== undefined;
  const starts = fromAttr ? attrInts(ctx.node, 'starts') : ctx.ints(1);
  const ends = fromAttr ? attrInts(ctx.node, 'ends') : ctx.ints(2);
  if (!starts || !ends || starts.length !== ends.length) return undefined;
  const axesRaw = fromAttr ? attrInts(ctx.node, 'axes') : ctx.has(3) ? ctx.ints(3) : undefined;
  if (!fromAttr && ctx.has(3) && !axesRaw) return undefined;
  const axes = (axesRaw ?? starts.map((_, i) => i)).map((a) => normAxis(a, rank));
  const steps = !fromAttr && ctx.has(4) ? ctx.ints(4) : starts.map(() => 1);
  if (!steps || axes.length !== starts.length || steps.length !== starts.length) return undefined;
  return { starts, ends, axes, steps };
}

const slice: ShapeFn = (ctx) => {
  const x = ctx.input(0);
  if (!x?.shape) return [x];
  const p = sliceParams(ctx, x.shape.length);
  if (!p) return [{ dtype: x.dtype, shape: unknownDims(x.shape.length) }];
  const out = [...x.shape];
  p.axes.forEach((a, i) => {
    const d = out[a]!;
    const [s, e, st] = [p.starts[i]!, p.ends[i]!, p.steps[i]!];
    if (typeof d === 'number') out[a] = sliceLen(d, s, e, st)[1];
    else if (s === 0 && st === 1 && e >= 2 ** 31 - 1) out[a] = d; // x[0:] keeps a symbolic dim
    // Like ONNX's own inference: starts and ends of one sign give a size-independent length
    // (x[:, 0:1] is 1 whenever the dim is at least 1).
    else if (((s >= 0 && e >= 0 && e < 2 ** 31 - 1) || (s < 0 && e < 0 && e > -(2 ** 31))) && st !== 0) out[a] = Math.max(0, Math.ceil((e - s) / st));
    else out[a] = null;
  });
  return [{ dtype: x.dtype, shape: out }];
};

const depthToSpace: ShapeFn = (ctx) => {
  const x = ctx.input(0);
  const b = attrInt(ctx.node, 'blocksize', 1);
  if (!x?.shape || x.shape.length !== 4) return [x];
  const [n, c, h, w] = x.shape as [Dim, Dim, Dim, Dim];
  if (ctx.node.opType === 'DepthToSpace') return [{ dtype: x.dtype, shape: [n, divDim(c, b * b), mulDim(h, b), mulDim(w, b)] }];
  return [{ dtype: x.dtype, shape: [n, mulDim(c, b * b), divDim(h, b), divDim(w, b)] }];
};

/** Layout-op inference functions. */
export const SHAPE_OP_SHAPES = {
  Reshape: reshape,
  Flatten: flatten,
  Transpose: transpose,
  Squeeze: squeeze,
  Unsqueeze: unsqueeze,
  Expand: expand,
  Tile: tile,
  Pad: pad,
  Resize: resize,
  Upsample: resize,
  Concat: concat,
  Split: split,
  Slice: slice,
  DepthToSpace: depthToSpace,
  SpaceToDepth: depthToSpace,
} satisfies Record<string, ShapeFn>;
