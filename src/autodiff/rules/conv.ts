/**
 * VJP rules for convolution and pooling. Several exact formulations exist for the Conv and MaxPool
 * gradients; `ctx.formulations` picks one, and the defaults are the fastest measured by
 * bench/conv-step.ts on onnxruntime CPU (see docs/autodiff.md for the numbers).
 */
import { attr } from '../../onnx/attr.js';
import { type Attribute, attrInt } from '../../onnx/ir.js';
import { Tensor } from '../../onnx/tensor.js';
import { TrainferError } from '../../util/errors.js';
import { type VjpContext, type VjpRule, dtypeOf, scalarLike, shapeOf } from '../rule-context.js';
import { type ConvGeometry, convGeometry } from '../shapes.js';

/** Default formulations (measured; see bench/conv-step.ts). */
export const CONV_DEFAULTS = { convWeight: 'unfold3d-gemm', convInput: 'conv', maxPool: 'mask' } as const;

function staticDims(ctx: VjpContext, name: string, what: string): number[] {
  const s = shapeOf(ctx, name);
  if (s.some((d) => typeof d !== 'number')) {
    throw new TrainferError(`autodiff: ${ctx.node.opType} node '${ctx.node.name}' needs a static ${what} for '${name}', got [${s.join(', ')}]`);
  }
  return s as number[];
}

/** Static spatial sizes of x: [N, C, ...spatial] (N may be symbolic). */
function spatialDims(ctx: VjpContext, x: string): number[] {
  const s = shapeOf(ctx, x);
  const sp = s.slice(2);
  if (sp.some((d) => typeof d !== 'number')) throw new TrainferError(`autodiff: ${ctx.node.opType} node '${ctx.node.name}' needs static spatial sizes for '${x}', got [${s.join(', ')}]`);
  return sp as number[];
}

function convAttrs(geo: { strides: number[]; padsBegin: number[]; padsEnd: number[]; dilations: number[] }, group = 1): Record<string, Attribute> {
  const a: Record<string, Attribute> = {
    strides: attr.ints(geo.strides),
    pads: attr.ints([...geo.padsBegin, ...geo.padsEnd]),
    dilations: attr.ints(geo.dilations),
  };
  if (group !== 1) a.group = attr.int(group);
  return a;
}

const range = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => i + from);

/** dX of a Conv: x [N, C, *S], w [M, C/g, *k], dy [N, M, *So] → [N, C, *S]. */
function convInputGrad(ctx: VjpContext, geo: ConvGeometry, w: string, wd: number[], inSizes: number[], group: number): string {
  const b = ctx.b;
  const dy = ctx.dy[0]!;
  const sp = wd.length - 2;
  const [M, Cg] = wd as [number, number];
  const C = Cg * group;
  const reach = geo.kernel.map((k, i) => geo.dilations[i]! * (k - 1));
  const canConv = geo.strides.every((s) => s === 1) && geo.padsBegin.every((p, i) => p <= reach[i]!) && geo.padsEnd.every((p, i) => p <= reach[i]!);
  if ((ctx.formulations.convInput ?? CONV_DEFAULTS.convInput) === 'conv' && canConv) {
    // Stride 1: dX = Conv(dY, flip(wᵀ)) with pads d(k-1) - p. wᵀ: [C, M/g, *k] per group.
    let wt: string;
    if (group === 1) wt = b.transpose(w, [1, 0, ...range(sp, 2)]);
    else {
      const r = b.reshape(w, [group, M / group, Cg, ...geo.kernel]);
      wt = b.reshape(b.transpose(r, [0, 2, 1, ...range(sp, 3)]), [C, M / group, ...geo.kernel]);
    }
    const big = -(2 ** 62);
    const flipped = b.slice(wt, range(sp).map(() => -1), range(sp).map(() => big), range(sp, 2), range(sp).map(() => -1));
    const pads = { strides: geo.strides, dilations: geo.dilations, padsBegin: reach.map((r, i) => r - geo.padsBegin[i]!), padsEnd: reach.map((r, i) => r - geo.padsEnd[i]!) };
    return b.op1('Conv', [dy, flipped], convAttrs(pads, group));
  }
  // General: ConvTranspose(dY, w) with output_padding so the result has x's spatial size.
  const outSizes = geo.out as number[];
  const outputPadding = inSizes.map((h, i) => h - (geo.strides[i]! * (outSizes[i]! - 1) + reach[i]! + 1 - geo.padsBegin[i]! - geo.padsEnd[i]!));
  const a = convAttrs(geo, group);
  if (outputPadding.some((p) => p !== 0)) a.output_padding = attr.ints(outputPadding);
  return b.op1('ConvTranspose', [dy, w], a);
}

/** dW of a Conv: → [M, C/g, *k]. */
function convWeightGrad(ctx: VjpContext, geo: ConvGeometry, x: string, wd: number[], inSizes: number[], group: number): string {
  const b = ctx.b;
  const dy = ctx.dy[0]!;
  const sp = wd.length - 2;
  const [M, Cg] = wd as [number, number];
  const C = Cg * group;
  const K = geo.kernel.reduce((p, k) => p * k, 1);
  const L = (geo.out as number[]).reduce((p, k) => p * k, 1);
  const choice = ctx.formulations.convWeight ?? CONV_DEFAULTS.convWeight;
  if (choice === 'conv' && group === 1) {
    // dW = Conv(xᵀ[C, N, *S], dyᵀ[M, N, *So]; strides ↔ dilations) → [C, M, *k'] (k' ≥ k: crop), then transpose.
    const xt = b.transpose(x, [1, 0, ...range(sp, 2)]);
    const dyt = b.transpose(dy, [1, 0, ...range(sp, 2)]);
    const r = b.op1('Conv', [xt, dyt], convAttrs({ strides: geo.dilations, dilations: geo.strides, padsBegin: geo.padsBegin, padsEnd: geo.padsEnd }));
    const full = inSizes.map((h, i) => Math.floor((h + geo.padsBegin[i]! + geo.padsEnd[i]! - geo.strides[i]! * ((geo.out[i] as number) - 1) - 1) / geo.dilations[i]!) + 1);
    const cropped = full.some((f, i) => f !== geo.kernel[i]) ? b.slice(r, range(sp).map(() => 0), geo.kernel, range(sp, 2)) : r;
    return b.transpose(cropped, [1, 0, ...range(sp, 2)]);
  }
  const dt = dtypeOf(ctx, x);
  const eyeTensor = (dims: number[], channels: number): Tensor => {
    const eye = new Float32Array(channels * K * K);
    for (let c = 0; c < channels; c++) for (let j = 0; j < K; j++) eye[(c * K + j) * K + j] = 1;
    return dt === 'float64' ? Tensor.f64(dims, eye) : new Tensor('float32', dims, eye);
  };
  if (choice === 'unfold-slices') {
    // Pad xᵀ[C, N, *S] once, then one strided Slice per kernel offset gives the patches for that offset;
    // stacked they are cols[C, K, N, *So] = [C·K, N·L]: pure copies, no identity-kernel arithmetic.
    const xt = b.transpose(x, [1, 0, ...range(sp, 2)]);
    const padded = [...geo.padsBegin, ...geo.padsEnd].some((p) => p > 0) ? b.op1('Pad', [xt, b.int64s([0, 0, ...geo.padsBegin, 0, 0, ...geo.padsEnd])]) : xt;
    const pieces: string[] = [];
    const outSizes = geo.out as number[];
    for (let j = 0; j < K; j++) {
      // offset j → kernel position (k₀, k₁, …), row-major like the weight layout
      const pos: number[] = [];
      let r = j;
      for (let a = sp - 1; a >= 0; a--) {
        pos[a] = r % geo.kernel[a]!;
        r = Math.floor(r / geo.kernel[a]!);
      }
      const starts = pos.map((k, a) => k * geo.dilations[a]!);
      const ends = starts.map((st, a) => st + (outSizes[a]! - 1) * geo.strides[a]! + 1);
      pieces.push(b.unsqueeze(b.slice(padded, starts, ends, range(sp, 2), geo.strides), [1]));
    }
    const cols2 = b.reshape(b.concat(pieces, 1), [C * K, -1]); // [C·K, N·L]
    const dyt = b.reshape(b.transpose(dy, [1, 0, ...range(sp, 2)]), [M, -1]); // [M, N·L]
    if (group === 1) return b.reshape(b.gemm(dyt, cols2, undefined, { transB: true }), wd);
    const prod = b.matMul(b.reshape(dyt, [group, M / group, -1]), b.transpose(b.reshape(cols2, [group, Cg * K, -1]), [0, 2, 1]));
    return b.reshape(prod, wd);
  }
  if (choice === 'unfold3d-gemm' && sp <= 2) {
    // View x as C single-channel volumes xv[C, 1, N, *S]; a Conv with the identity kernel e[K, 1, 1, *k]
    // (kernel 1 along N) writes patches straight in the layout cols[C, K, N, *So] = [C·K, N·L].
    const xv = b.unsqueeze(b.transpose(x, [1, 0, ...range(sp, 2)]), [1]);
    const e = b.constant(eyeTensor([K, 1, 1, ...geo.kernel], 1), 'unfold_kernel');
    const cols = b.op1('Conv', [xv, e], convAttrs({ strides: [1, ...geo.strides], dilations: [1, ...geo.dilations], padsBegin: [0, ...geo.padsBegin], padsEnd: [0, ...geo.padsEnd] }));
    const cols2 = b.reshape(cols, [C * K, -1]); // [C·K, N·L]
    const dyt = b.reshape(b.transpose(dy, [1, 0, ...range(sp, 2)]), [M, -1]); // [M, N·L]
    if (group === 1) return b.reshape(b.gemm(dyt, cols2, undefined, { transB: true }), wd); // [M, C·K]
    // Per group: dy[g, M/g, N·L] · cols[g, C/g·K, N·L]ᵀ
    const prod = b.matMul(b.reshape(dyt, [group, M / group, -1]), b.transpose(b.reshape(cols2, [group, Cg * K, -1]), [0, 2, 1]));
    return b.reshape(prod, wd);
  }
  // Unfold: an identity kernel e[C·K, 1, *k] (group C) copies each patch element into its own channel.
  const e = b.constant(eyeTensor([C * K, 1, ...geo.kernel], C), 'unfold_kernel');
  const cols = b.op1('Conv', [x, e], convAttrs(geo, C)); // [N, C·K, *So]
  if (group === 1 && choice === 'unfold-gemm') {
    // [M, N·L] · [C·K, N·L]ᵀ
    const dyt = b.reshape(b.transpose(b.reshape(dy, [-1, M, L]), [1, 0, 2]), [M, -1]);
    const colst = b.reshape(b.transpose(b.reshape(cols, [-1, C * K, L]), [1, 0, 2]), [C * K, -1]);
    return b.reshape(b.gemm(dyt, colst, undefined, { transB: true }), wd);
  }
  if (group === 1 && choice === 'unfold-matmul-t') {
    // Σₙ colsₙ[C·K, L] · dyₙᵀ[L, M] → [C·K, M] → ᵀ
    const prod = b.matMul(b.reshape(cols, [-1, C * K, L]), b.transpose(b.reshape(dy, [-1, M, L]), [0, 2, 1]));
    return b.reshape(b.transpose(b.reduceSum(prod, [0], false), [1, 0]), wd);
  }
  // Σₙ dyₙ[g, M/g, L] · colsₙᵀ[g, L, C/g·K] → [g, M/g, C/g·K] (ORT fuses the Transpose into MatMul).
  const dy4 = b.reshape(dy, [-1, group, M / group, L]);
  const cols4 = b.reshape(cols, [-1, group, Cg * K, L]);
  const prod = b.matMul(dy4, b.transpose(cols4, [0, 1, 3, 2]));
  return b.reshape(b.reduceSum(prod, [0], false), wd);
}

/** Conv and pooling. */
export const CONV_RULES = {
  // y[N, M, *So] = conv(x[N, C, *S], w[M, C/g, *k]) + b[M]
  Conv: (ctx) => {
    const [x, w, bias] = ctx.node.inputs as [string, string, string | undefined];
    const wd = staticDims(ctx, w, 'weight shape');
    const inSizes = spatialDims(ctx, x);
    const group = attrInt(ctx.node, 'group', 1);
    const geo = convGeometry(ctx.node, wd.length - 2, wd.slice(2), inSizes);
    const dx = ctx.needs[0] ? convInputGrad(ctx, geo, w, wd, inSizes, group) : undefined;
    const dw = ctx.needs[1] ? convWeightGrad(ctx, geo, x, wd, inSizes, group) : undefined;
    // db[M] = Σ dy over N and spatial axes
    const db = bias && ctx.needs[2] ? ctx.b.reduceSum(ctx.dy[0]!, [0, ...range(wd.length - 2, 2)], false) : undefined;
    return [dx, dw, db];
  },
  // y[N, C, *So] = max over each window of x[N, C, *S]; indices (2nd output) mark the argmax
  MaxPool: (ctx) => {
    const n = ctx.node;
    const x = n.inputs[0]!;
    const b = ctx.b;
    const inSizes0 = spatialDims(ctx, x);
    const kernel0 = (n.attributes.kernel_shape as { value: number[] }).value;
    const geo0 = convGeometry(n, inSizes0.length, kernel0, inSizes0);
    const tiles = geo0.dilations.every((d) => d === 1) && geo0.strides.every((s, i) => s === kernel0[i]) &&
      [...geo0.padsBegin, ...geo0.padsEnd].every((p) => p === 0) && inSizes0.every((h, i) => h % kernel0[i]! === 0);
    const choice = ctx.formulations.maxPool ?? CONV_DEFAULTS.maxPool;
    if (tiles && choice === 'mask') {
      // Windows tile x. up(v) repeats each pooled value over its window (Resize nearest, integer scales).
      // dx = [x = up(y)] · up(dy / ties): exact without ties, an even split of dy between tied maxima.
      const y = n.outputs[0]!;
      const dt = dtypeOf(ctx, x);
      const scales = b.constant(Tensor.f32([2 + kernel0.length], [1, 1, ...kernel0]), 'pool_scales');
      const up = (v: string): string => b.op1('Resize', [v, '', scales], { mode: attr.string('nearest'), coordinate_transformation_mode: attr.string('asymmetric'), nearest_mode: attr.string('floor') });
      const mask = b.cast(b.equal(x, up(y)), dt); // [N, C, *S]
      const K = kernel0.reduce((p, k) => p * k, 1);
      const ties = b.mul(b.averagePool(mask, { kernelShape: kernel0, strides: kernel0 }), scalarLike(ctx, K, x)); // [N, C, *So]
      return [b.mul(mask, up(b.div(ctx.dy[0]!, ties)))];
    }
    // The argmax positions come from MaxPool's own Indices output; add it to the forward node if absent.
    if (!n.outputs[1]) {
      if (attrInt(n, 'storage_order', 0) !== 0) throw new TrainferError(`autodiff: MaxPool node '${n.name}' uses storage_order=1; not differentiable`);
      n.outputs[1] = b.fresh('maxpool_indices');
    }
    const indices = n.outputs[1];
    const inSizes = spatialDims(ctx, x);
    const kernel = (n.attributes.kernel_shape as { value: number[] }).value;
    const geo = convGeometry(n, inSizes.length, kernel, inSizes);
    const disjoint = geo.dilations.every((d) => d === 1) && geo.strides.every((s, i) => s >= kernel[i]!);
    if (disjoint && (ctx.formulations.maxPool ?? CONV_DEFAULTS.maxPool) === 'unpool') {
      return [b.op1('MaxUnpool', [ctx.dy[0]!, indices, b.shape(x)], { kernel_shape: attr.ints(kernel), strides: attr.ints(geo.strides) })];
    }
    // ScatterElements-add of dy into a flat zero tensor at the flat argmax indices (overlapping windows).
    const shape = b.shape(x);
    const zeros = b.reshape(b.op1('ConstantOfShape', [shape], { value: attr.tensor(dtypeOf(ctx, x) === 'float64' ? Tensor.f64([1], [0]) : Tensor.f32([1], [0])) }), [-1]);
    const flat = b.op1('ScatterElements', [zeros, b.reshape(indices, [-1]), b.reshape(ctx.dy[0]!, [-1])], { axis: attr.int(0), reduction: attr.string('add') });
    return [b.reshape(flat, shape)];
  },
  // y[N, C, *So] = mean over each window of x[N, C, *S]
  AveragePool: (ctx) => {
    const n = ctx.node;
    const x = n.inputs[0]!;
    const b = ctx.b;
    const s = shapeOf(ctx, x);
    const C = s[1];
    if (typeof C !== 'number') throw new TrainferError(`autodiff: AveragePool node '${n.name}' needs a static channel count for '${x}'`);
    const inSizes = spatialDims(ctx, x);
    const kernel = (n.attributes.kernel_shape as { value: number[] }).value;
    const geo = convGeometry(n, inSizes.length, kernel, inSizes);
    const K = kernel.reduce((p, k) => p * k, 1);
    const padded = [...geo.padsBegin, ...geo.padsEnd].some((p) => p > 0);
    let dy = ctx.dy[0]!;
    if (padded && attrInt(n, 'count_include_pad', 0) === 0) {
      // Each output divides by its own count of non-pad elements: scale dy by K / count.
      const counts = windowCounts(geo, inSizes);
      dy = b.mul(dy, b.constant(new Tensor(dtypeOf(ctx, x), geo.out as number[], dtypeOf(ctx, x) === 'float64' ? Float64Array.from(counts, (c) => K / c) : Float32Array.from(counts, (c) => K / c)), 'pool_scale'));
    }
    // dx = ConvTranspose(dy, ones/K) depthwise: spreads each output gradient evenly over its window.
    const ones = new Float32Array(C * K).fill(1 / K);
    const wk = b.constant(dtypeOf(ctx, x) === 'float64' ? Tensor.f64([C, 1, ...kernel], ones) : new Tensor('float32', [C, 1, ...kernel], ones), 'pool_kernel');
    const reach = kernel.map((k, i) => geo.dilations[i]! * (k - 1));
    const outputPadding = inSizes.map((h, i) => h - (geo.strides[i]! * ((geo.out[i] as number) - 1) + reach[i]! + 1 - geo.padsBegin[i]! - geo.padsEnd[i]!));
    const a = convAttrs(geo, C);
    if (outputPadding.some((p) => p !== 0)) a.output_padding = attr.ints(outputPadding);
    return [b.op1('ConvTranspose', [dy, wk], a)];
  },
  // y[N, C, 1, 1] = mean over spatial axes of x[N, C, H, W] → dx = expand(dy) / (H·W)
  GlobalAveragePool: (ctx) => {
    const x = ctx.node.inputs[0]!;
    const b = ctx.b;
    const sp = shapeOf(ctx, x).slice(2);
    const size = sp.every((d) => typeof d === 'number') ? (sp as number[]).reduce((p, d) => p * d, 1) : undefined;
    const spread = b.expand(ctx.dy[0]!, b.shape(x));
    if (size !== undefined) return [b.mul(spread, scalarLike(ctx, 1 / size, x))];
    const count = b.div(b.cast(b.op1('Size', [x]), dtypeOf(ctx, x)), b.cast(b.op1('Size', [ctx.node.outputs[0]!]), dtypeOf(ctx, x)));
    return [b.div(spread, count)];
  },
} satisfies Record<string, VjpRule>;

/** For each pooling output position, how many window elements fall inside the unpadded input. */
function windowCounts(geo: ConvGeometry, inSizes: number[]): number[] {
  const out = geo.out as number[];
  const perAxis = out.map((o, i) => Array.from({ length: o }, (_, j) => {
    let c = 0;
    for (let k = 0; k < geo.kernel[i]!; k++) {
      const pos = j * geo.strides[i]! - geo.padsBegin[i]! + k * geo.dilations[i]!;
      if (pos >= 0 && pos < inSizes[i]!) c++;
    }
    return c;
  }));
  let counts = [1];
  for (const axis of perAxis) counts = counts.flatMap((c) => axis.map((a) => c * a));
  return counts;
}
