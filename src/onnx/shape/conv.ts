/**
 * Shape inference for convolution and pooling: Conv, ConvTranspose, ConvInteger, QLinearConv, the
 * Max/Average/Lp pools (MaxPool's Indices output included), global pools and MaxUnpool.
 * Spatial arithmetic follows the ONNX spec, including auto_pad, dilations and ceil_mode.
 */
import type { DType } from '../dtype.js';
import type { Dim, ValueType } from '../ir.js';
import { attrInt, attrInts, attrString } from '../ir.js';
import { type ShapeContext, type ShapeFn, ShapeError, dt, fmtShape, sameDType, withShape } from './types.js';

interface Window {
  kernel: number[];
  strides: number[];
  dilations: number[];
  pads: number[];
  autoPad: string;
  ceil: boolean;
}

function windowOf(ctx: ShapeContext, spatial: number, kernelFromWeights?: readonly Dim[]): Window | undefined {
  const n = ctx.node;
  const k = attrInts(n, 'kernel_shape') ?? kernelFromWeights?.map((d) => (typeof d === 'number' ? d : NaN));
  if (!k || k.some((d) => Number.isNaN(d))) return undefined;
  if (k.length !== spatial) throw new ShapeError(`kernel_shape has ${k.length} dims but the input has ${spatial} spatial dims`);
  const strides = attrInts(n, 'strides') ?? k.map(() => 1);
  const dilations = attrInts(n, 'dilations') ?? k.map(() => 1);
  const pads = attrInts(n, 'pads') ?? k.flatMap(() => [0, 0]);
  if (strides.length !== spatial || dilations.length !== spatial || pads.length !== 2 * spatial) {
    throw new ShapeError(`strides/dilations/pads do not match ${spatial} spatial dims`);
  }
  if (strides.some((s) => s <= 0)) throw new ShapeError(`strides must be positive, got [${strides.join(', ')}]`);
  return { kernel: k, strides, dilations, pads, autoPad: attrString(n, 'auto_pad', 'NOTSET'), ceil: attrInt(n, 'ceil_mode', 0) === 1 };
}

/** Output size of one spatial dim of a convolution or pooling window. */
export function windowOut(size: Dim, w: Window, i: number): Dim {
  if (typeof size !== 'number') return null;
  const eff = (w.kernel[i]! - 1) * w.dilations[i]! + 1;
  const s = w.strides[i]!;
  if (w.autoPad === 'SAME_UPPER' || w.autoPad === 'SAME_LOWER') return Math.ceil(size / s);
  const pb = w.autoPad === 'VALID' ? 0 : w.pads[i]!;
  const pe = w.autoPad === 'VALID' ? 0 : w.pads[i + w.kernel.length]!;
  const span = size + pb + pe - eff;
  if (span < 0) throw new ShapeError(`window ${eff} is larger than the padded input ${size + pb + pe}`);
  if (!w.ceil) return Math.floor(span / s) + 1;
  let out = Math.ceil(span / s) + 1;
  if ((out - 1) * s >= size + pb) out--; // the last window must start inside the input or left padding
  return out;
}

function convLike(ctx: ShapeContext, x: number, w: number, dtype: DType | undefined): ValueType | undefined {
  const xs = ctx.input(x)?.shape;
  const ws = ctx.input(w)?.shape;
  if (!xs || !dtype) return withShape(dtype, undefined);
  if (xs.length < 3) throw new ShapeError(`input ${fmtShape(xs)} must be [N, C, spatial...]`);
  const spatial = xs.length - 2;
  const win = windowOf(ctx, spatial, ws?.slice(2));
  const group = attrInt(ctx.node, 'group', 1);
  if (ws) {
    if (ws.length !== xs.length) throw new ShapeError(`weights ${fmtShape(ws)} and input ${fmtShape(xs)} differ in rank`, ctx.node.inputs[w]);
    const c = xs[1];
    const wc = ws[1];
    if (typeof c === 'number' && typeof wc === 'number' && c !== wc * group) {
      throw new ShapeError(`input has ${c} channels but weights ${fmtShape(ws)} with group ${group} expect ${wc * group}`, ctx.node.inputs[w]);
    }
  }
  const out: Dim[] = [xs[0]!, ws ? ws[0]! : null];
  for (let i = 0; i < spatial; i++) out.push(win ? windowOut(xs[i + 2]!, win, i) : null);
  return { dtype, shape: out };
}

const convTranspose: ShapeFn = (ctx) => {
  sameDType(ctx, [0, 1, 2]);
  const dtype = dt(ctx, 0);
  const xs = ctx.input(0)?.shape;
  const ws = ctx.input(1)?.shape;
  if (!xs || !dtype) return [withShape(dtype, undefined)];
  const spatial = xs.length - 2;
  const group = attrInt(ctx.node, 'group', 1);
  const win = windowOf(ctx, spatial, ws?.slice(2));
  const outPad = attrInts(ctx.node, 'output_padding') ?? Array.from({ length: spatial }, () => 0);
  const outShape = attrInts(ctx.node, 'output_shape');
  const out: Dim[] = [xs[0]!, ws && typeof ws[1] === 'number' ? ws[1] * group : null];
  for (let i = 0; i < spatial; i++) {
    const size = xs[i + 2]!;
    if (outShape) out.push(outShape[outShape.length - spatial + i]!);
    else if (!win || typeof size !== 'number') out.push(null);
    else if (win.autoPad.startsWith('SAME')) out.push(size * win.strides[i]!);
    else {
      const eff = (win.kernel[i]! - 1) * win.dilations[i]! + 1;
      const pads = win.autoPad === 'VALID' ? 0 : win.pads[i]! + win.pads[i + spatial]!;
      out.push(win.strides[i]! * (size - 1) + outPad[i]! + eff - pads);
    }
  }
  return [{ dtype, shape: out }];
};

const pool: ShapeFn = (ctx) => {
  const t = ctx.input(0);
  if (!t?.shape) return [t, t && { dtype: 'int64' }];
  if (t.shape.length < 3) throw new ShapeError(`input ${fmtShape(t.shape)} must be [N, C, spatial...]`);
  const spatial = t.shape.length - 2;
  const win = windowOf(ctx, spatial);
  if (!win) throw new ShapeError('kernel_shape attribute is required');
  const shape: Dim[] = [t.shape[0]!, t.shape[1]!];
  for (let i = 0; i < spatial; i++) shape.push(windowOut(t.shape[i + 2]!, win, i));
  return [{ dtype: t.dtype, shape }, { dtype: 'int64', shape }];
};

const globalPool: ShapeFn = (ctx) => {
  const t = ctx.input(0);
  if (!t?.shape) return [t];
  return [{ dtype: t.dtype, shape: t.shape.map((d, i) => (i < 2 ? d : 1)) }];
};

const maxUnpool: ShapeFn = (ctx) => {
  const t = ctx.input(0);
  if (!t?.shape) return [t];
  const given = ctx.has(2) ? ctx.known(2)?.values : undefined;
  if (given) return [{ dtype: t.dtype, shape: [...given] }];
  if (ctx.has(2)) return [{ dtype: t.dtype, shape: t.shape.map(() => null) }];
  const spatial = t.shape.length - 2;
  const win = windowOf(ctx, spatial);
  if (!win) throw new ShapeError('kernel_shape attribute is required');
  const shape: Dim[] = [t.shape[0]!, t.shape[1]!];
  for (let i = 0; i < spatial; i++) {
    const d = t.shape[i + 2];
    shape.push(typeof d === 'number' ? (d - 1) * win.strides[i]! + win.kernel[i]! - win.pads[i]! - win.pads[i + spatial]! : null);
  }
  return [{ dtype: t.dtype, shape }];
};

/** Convolution and pooling inference functions. */
export const CONV_SHAPES = {
  Conv: (ctx) => {
    sameDType(ctx, [0, 1, 2]);
    return [convLike(ctx, 0, 1, dt(ctx, 0))];
  },
  ConvInteger: (ctx) => [convLike(ctx, 0, 1, 'int32')],
  QLinearConv: (ctx) => [convLike(ctx, 0, 3, dt(ctx, 7) ?? dt(ctx, 0))],
  ConvTranspose: convTranspose,
  MaxPool: pool,
  AveragePool: pool,
  LpPool: pool,
  GlobalAveragePool: globalPool,
  GlobalMaxPool: globalPool,
  GlobalLpPool: globalPool,
  MaxUnpool: maxUnpool,
} satisfies Record<string, ShapeFn>;
