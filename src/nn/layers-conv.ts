/**
 * Convolution, pooling and normalisation layers (classes, `new Layer(options)`): Conv2d, MaxPool2d, AvgPool2d, GlobalAvgPool, BatchNorm
 * (batch statistics and running-stat updates in training, running stats in inference) and LayerNorm.
 */
import { attr } from '../onnx/attr.js';
import { TrainferError } from '../util/errors.js';
import { type BuildContext, type ForwardContext, type InitScheme, type Layer, filled, fmtShape, initWeight, layerOptions, positiveInt } from './layer.js';

/** Options for `Conv2d`. */
export interface Conv2dOptions {
  /** Output channels. */
  outChannels: number;
  /** Square kernel size or [kh, kw]. */
  kernelSize: number | [number, number];
  /** Stride in both spatial axes (default 1). */
  stride?: number;
  /** Symmetric zero padding (default 0), or `'same'` for stride-1 same-size output. */
  padding?: number | 'same';
  /** Dilation in both spatial axes (default 1). */
  dilation?: number;
  /** Channel groups (default 1; `groups = in = out` is depthwise). */
  groups?: number;
  /** Add a bias (default true). */
  bias?: boolean;
  /** Weight initialisation (default `he-normal`). */
  init?: InitScheme;
}

function pair(v: number | [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : v;
}

function spatialOut(size: number, k: number, stride: number, padTotal: number, dilation: number): number {
  return Math.floor((size + padTotal - dilation * (k - 1) - 1) / stride) + 1;
}

/** 2-D convolution over [C, H, W] samples. Weight [out, in/groups, kh, kw]. */
export class Conv2d implements Layer {
  readonly type = 'Conv2d';
  private w = '';
  private b = '';
  private pads: number[] = [];
  private inShape: number[] = [];
  constructor(readonly options: Conv2dOptions) {
    layerOptions('Conv2d', options, 'new Conv2d({ outChannels: 16, kernelSize: 3 })');
    positiveInt('Conv2d', 'outChannels', options.outChannels);
  }

  build(ctx: BuildContext, inputShape: readonly number[]): number[] {
    if (inputShape.length !== 3) throw new TrainferError(`Conv2d: expects [C, H, W] samples, got ${fmtShape(inputShape)} (add the layer before Flatten)`);
    const [c, h, w] = inputShape as [number, number, number];
    const o = this.options;
    const [kh, kw] = pair(o.kernelSize);
    const groups = o.groups ?? 1;
    const stride = o.stride ?? 1;
    const dil = o.dilation ?? 1;
    if (c % groups !== 0 || o.outChannels % groups !== 0) throw new TrainferError(`Conv2d: channels ${c}→${o.outChannels} are not divisible by groups ${groups}`);
    const ph = o.padding === 'same' ? (dil * (kh - 1)) / 2 : (o.padding ?? 0);
    const pw = o.padding === 'same' ? (dil * (kw - 1)) / 2 : (o.padding ?? 0);
    if (!Number.isInteger(ph) || !Number.isInteger(pw)) throw new TrainferError(`Conv2d: padding 'same' needs odd kernel sizes, got ${kh}×${kw}`);
    this.pads = [ph, pw, ph, pw];
    this.inShape = [...inputShape];
    const oh = spatialOut(h, kh, stride, 2 * ph, dil);
    const ow = spatialOut(w, kw, stride, 2 * pw, dil);
    if (oh <= 0 || ow <= 0) throw new TrainferError(`Conv2d: a ${kh}×${kw} kernel does not fit input ${fmtShape(inputShape)}`);
    const p = ctx.scope('conv');
    this.w = `${p}.weight`;
    const fanIn = (c / groups) * kh * kw;
    ctx.store.params.set(this.w, initWeight({ dims: [o.outChannels, c / groups, kh, kw], fanIn, fanOut: (o.outChannels / groups) * kh * kw, scheme: o.init ?? 'he-normal', rng: ctx.rng }));
    if (o.bias ?? true) {
      this.b = `${p}.bias`;
      ctx.store.params.set(this.b, filled([o.outChannels], 0));
    }
    return [o.outChannels, oh, ow];
  }

  forward(ctx: ForwardContext, x: string): string {
    const o = this.options;
    const [kh, kw] = pair(o.kernelSize);
    // x: [N, C, H, W] → [N, out, H', W']
    return ctx.g.conv(x, ctx.value(this.w), this.b ? ctx.value(this.b) : undefined, {
      kernelShape: [kh, kw],
      strides: [o.stride ?? 1, o.stride ?? 1],
      pads: this.pads,
      dilations: o.dilation && o.dilation !== 1 ? [o.dilation, o.dilation] : undefined,
      group: o.groups,
    });
  }

  describe(): string {
    const [kh, kw] = pair(this.options.kernelSize);
    return `Conv2d(${this.inShape[0]} → ${this.options.outChannels}, ${kh}×${kw}${this.options.stride && this.options.stride > 1 ? `, stride ${this.options.stride}` : ''}${this.pads[0] ? `, pad ${this.pads[0]}` : ''})`;
  }
}

/** Options for pooling layers. */
export interface Pool2dOptions {
  /** Square window size. */
  kernelSize: number;
  /** Default: the kernel size. */
  stride?: number;
  /** Symmetric zero padding (default 0). */
  padding?: number;
}

/** Max or average pooling over [C, H, W] samples: the shared base of `MaxPool2d` and `AvgPool2d`. */
export abstract class Pool2d implements Layer {
  readonly type: string;
  private inShape: number[] = [];
  protected constructor(readonly kind: 'max' | 'avg', readonly options: Pool2dOptions) {
    this.type = kind === 'max' ? 'MaxPool2d' : 'AvgPool2d';
    layerOptions(this.type, options, `new ${this.type}({ kernelSize: 2 })`);
    positiveInt(this.type, 'kernelSize', options.kernelSize);
  }
  build(_ctx: BuildContext, inputShape: readonly number[]): number[] {
    if (inputShape.length !== 3) throw new TrainferError(`${this.type}: expects [C, H, W] samples, got ${fmtShape(inputShape)}`);
    const { kernelSize: k, stride = k, padding = 0 } = this.options;
    this.inShape = [...inputShape];
    const oh = spatialOut(inputShape[1]!, k, stride, 2 * padding, 1);
    const ow = spatialOut(inputShape[2]!, k, stride, 2 * padding, 1);
    if (oh <= 0 || ow <= 0) throw new TrainferError(`${this.type}: a ${k}×${k} window does not fit input ${fmtShape(inputShape)}`);
    return [inputShape[0]!, oh, ow];
  }
  forward(ctx: ForwardContext, x: string): string {
    const { kernelSize: k, stride = k, padding = 0 } = this.options;
    const o = { kernelShape: [k, k], strides: [stride, stride], pads: padding ? [padding, padding, padding, padding] : undefined };
    // x: [N, C, H, W] → [N, C, H', W']
    return this.kind === 'max' ? ctx.g.maxPool(x, o) : ctx.g.averagePool(x, o);
  }
  describe(): string {
    return `${this.type}(${this.options.kernelSize})`;
  }
}

/** 2-D max pooling. */
export class MaxPool2d extends Pool2d {
  constructor(options: Pool2dOptions) {
    super('max', options);
  }
}
/** 2-D average pooling (padding excluded from the count). */
export class AvgPool2d extends Pool2d {
  constructor(options: Pool2dOptions) {
    super('avg', options);
  }
}

/** Averages each channel over H×W and drops the spatial axes: [C, H, W] → [C]. */
export class GlobalAvgPool implements Layer {
  readonly type = 'GlobalAvgPool';
  build(_ctx: BuildContext, inputShape: readonly number[]): number[] {
    if (inputShape.length !== 3) throw new TrainferError(`GlobalAvgPool: expects [C, H, W] samples, got ${fmtShape(inputShape)}`);
    return [inputShape[0]!];
  }
  forward(ctx: ForwardContext, x: string): string {
    // x: [N, C, H, W] → [N, C, 1, 1] → [N, C]
    return ctx.g.flatten(ctx.g.globalAveragePool(x), 1);
  }
  describe(): string {
    return 'GlobalAvgPool';
  }
}

/** Options for `BatchNorm`. */
export interface BatchNormOptions {
  /** Running-stat momentum as in ONNX: running = running·momentum + batch·(1 − momentum). Default 0.9. */
  momentum?: number;
  /** Added to the variance (default 1e-5). */
  epsilon?: number;
}

/**
 * Batch normalisation over axis 1 ([C, H, W] or [F] samples). Training: normalise with batch statistics
 * and update the running mean/variance buffers; inference: use the running statistics.
 */
export class BatchNorm implements Layer {
  readonly type = 'BatchNorm';
  private names = { scale: '', bias: '', mean: '', var: '' };
  private c = 0;
  constructor(readonly options: BatchNormOptions = {}) {
    layerOptions('BatchNorm', options, 'new BatchNorm({ momentum: 0.9 })');
  }

  build(ctx: BuildContext, inputShape: readonly number[]): number[] {
    if (inputShape.length === 0) throw new TrainferError('BatchNorm: input must have a channel axis');
    this.c = inputShape[0]!;
    const p = ctx.scope('bn');
    this.names = { scale: `${p}.scale`, bias: `${p}.bias`, mean: `${p}.running_mean`, var: `${p}.running_var` };
    ctx.store.params.set(this.names.scale, filled([this.c], 1));
    ctx.store.params.set(this.names.bias, filled([this.c], 0));
    ctx.store.buffers.set(this.names.mean, filled([this.c], 0));
    ctx.store.buffers.set(this.names.var, filled([this.c], 1));
    return [...inputShape];
  }

  forward(ctx: ForwardContext, x: string): string {
    const { g } = ctx;
    const n = this.names;
    const eps = this.options.epsilon ?? 1e-5;
    const momentum = this.options.momentum ?? 0.9;
    const ins = [x, ctx.value(n.scale), ctx.value(n.bias), ctx.value(n.mean), ctx.value(n.var)];
    if (!ctx.training) {
      // x: [N, C, ...] normalised with running statistics
      return g.op1('BatchNormalization', ins, { epsilon: attr.float(eps), momentum: attr.float(momentum) });
    }
    // Training mode: outputs Y, updated running mean and updated running variance.
    const [y, mean, variance] = g.op('BatchNormalization', ins, { epsilon: attr.float(eps), momentum: attr.float(momentum), training_mode: attr.int(1) }, { outputs: 3 });
    ctx.updateBuffer(n.mean, mean!);
    ctx.updateBuffer(n.var, variance!);
    return y!;
  }

  describe(): string {
    return `BatchNorm(${this.c})`;
  }
}

/** Options for `LayerNorm`. */
export interface LayerNormOptions {
  /** Added to the variance (default 1e-5). */
  epsilon?: number;
}

/** Layer normalisation over the last axis with a learned scale and bias. */
export class LayerNorm implements Layer {
  readonly type = 'LayerNorm';
  private scale = '';
  private bias = '';
  private f = 0;
  constructor(readonly options: LayerNormOptions = {}) {
    layerOptions('LayerNorm', options, 'new LayerNorm({ epsilon: 1e-5 })');
  }
  build(ctx: BuildContext, inputShape: readonly number[]): number[] {
    this.f = inputShape[inputShape.length - 1] ?? 1;
    const p = ctx.scope('ln');
    this.scale = `${p}.scale`;
    this.bias = `${p}.bias`;
    ctx.store.params.set(this.scale, filled([this.f], 1));
    ctx.store.params.set(this.bias, filled([this.f], 0));
    return [...inputShape];
  }
  forward(ctx: ForwardContext, x: string): string {
    // x: [N, ..., F], normalised over F
    return ctx.g.layerNormalization(x, ctx.value(this.scale), ctx.value(this.bias), { axis: -1, epsilon: this.options.epsilon ?? 1e-5 });
  }
  describe(): string {
    return `LayerNorm(${this.f})`;
  }
}
