/**
 * Dense and elementwise layers (every one a class: `new Layer(options)`, one options object, or none): Linear, activations (ReLU, GELU, Sigmoid, Tanh), Flatten, Dropout,
 * Embedding, Normalize (constant per-channel or per-feature standardisation inside the graph) and Rescale
 * (its inverse: a constant affine map, e.g. standardised regression outputs back to the targets' units).
 */
import { Tensor } from '../onnx/tensor.js';
import { TrainferError } from '../util/errors.js';
import { type BuildContext, type ForwardContext, type InitScheme, type Layer, filled, fmtShape, initWeight, layerOptions, positiveInt } from './layer.js';

/** Options for `Linear`. */
export interface LinearOptions {
  /** Output features. */
  outFeatures: number;
  /** Add a bias (default true). */
  bias?: boolean;
  /** Weight initialisation (default `he-normal`). */
  init?: InitScheme;
}

/** y = x·W + b over the last axis. W: [in, out]. Rank-2 inputs use one Gemm. */
export class Linear implements Layer {
  readonly type = 'Linear';
  private w = '';
  private b = '';
  private rank = 1;
  private inF = 0;
  constructor(readonly options: LinearOptions) {
    layerOptions('Linear', options, 'new Linear({ outFeatures: 10 })');
    positiveInt('Linear', 'outFeatures', options.outFeatures);
  }

  build(ctx: BuildContext, inputShape: readonly number[]): number[] {
    if (inputShape.length === 0) throw new TrainferError('Linear: input must have at least one axis per sample');
    const p = ctx.scope('linear');
    this.inF = inputShape[inputShape.length - 1]!;
    this.rank = inputShape.length;
    const out = this.options.outFeatures;
    this.w = `${p}.weight`;
    ctx.store.params.set(this.w, initWeight({ dims: [this.inF, out], fanIn: this.inF, fanOut: out, scheme: this.options.init ?? 'he-normal', rng: ctx.rng }));
    if (this.options.bias ?? true) {
      this.b = `${p}.bias`;
      ctx.store.params.set(this.b, filled([out], 0));
    }
    return [...inputShape.slice(0, -1), out];
  }

  forward(ctx: ForwardContext, x: string): string {
    const { g } = ctx;
    // x: [N, in] → [N, out]
    if (this.rank === 1) return g.gemm(x, ctx.value(this.w), this.b ? ctx.value(this.b) : undefined);
    // x: [N, ..., in] → [N, ..., out]
    const y = g.matMul(x, ctx.value(this.w));
    return this.b ? g.add(y, ctx.value(this.b)) : y;
  }

  describe(): string {
    return `Linear(${this.inF} → ${this.options.outFeatures})`;
  }
}

/** Elementwise activation functions. */
export type ActivationKind = 'relu' | 'gelu' | 'sigmoid' | 'tanh';

/** Options for `Activation`. */
export interface ActivationOptions {
  /** Which function. */
  kind: ActivationKind;
}

const ACTIVATION_KINDS = { relu: 'ReLU', gelu: 'GELU', sigmoid: 'Sigmoid', tanh: 'Tanh' } satisfies Record<ActivationKind, string>;

/**
 * An elementwise activation chosen by `kind` (shape unchanged). `new ReLU()` etc. are the same layer
 * with the kind fixed; use `Activation` when the kind is data (e.g. read from a config).
 */
export class Activation implements Layer {
  readonly type: string;
  readonly kind: ActivationKind;
  constructor(options: ActivationOptions) {
    layerOptions('Activation', options, 'new Activation({ kind: \'relu\' })');
    if (!Object.hasOwn(ACTIVATION_KINDS, options.kind)) throw new TrainferError(`Activation: kind must be one of ${Object.keys(ACTIVATION_KINDS).join(', ')}, got ${String(options.kind)}`);
    this.kind = options.kind;
    this.type = ACTIVATION_KINDS[options.kind];
  }
  /** The options this layer was built with. */
  get options(): ActivationOptions {
    return { kind: this.kind };
  }
  build(_ctx: BuildContext, inputShape: readonly number[]): number[] {
    return [...inputShape];
  }
  forward(ctx: ForwardContext, x: string): string {
    const { g } = ctx;
    switch (this.kind) {
      case 'relu': return g.relu(x);
      case 'gelu': return g.gelu(x);
      case 'sigmoid': return g.sigmoid(x);
      case 'tanh': return g.tanh(x);
    }
  }
  describe(): string {
    return this.type;
  }
}

/** ReLU activation: max(x, 0). */
export class ReLU extends Activation {
  constructor() {
    super({ kind: 'relu' });
  }
}
/** GELU activation (exact, erf form). */
export class GELU extends Activation {
  constructor() {
    super({ kind: 'gelu' });
  }
}
/** Sigmoid activation: 1 / (1 + e^−x). */
export class Sigmoid extends Activation {
  constructor() {
    super({ kind: 'sigmoid' });
  }
}
/** Tanh activation. */
export class Tanh extends Activation {
  constructor() {
    super({ kind: 'tanh' });
  }
}

/** Flattens every axis after the batch (no options): [N, a, b, …] → [N, a·b·…]. */
export class Flatten implements Layer {
  readonly type = 'Flatten';
  private shape: number[] = [];
  build(_ctx: BuildContext, inputShape: readonly number[]): number[] {
    this.shape = [...inputShape];
    return [inputShape.reduce((a, b) => a * b, 1)];
  }
  forward(ctx: ForwardContext, x: string): string {
    return this.shape.length === 1 ? x : ctx.g.flatten(x, 1);
  }
  describe(): string {
    return `Flatten(${fmtShape(this.shape)})`;
  }
}

/** Options for `Dropout`. */
export interface DropoutOptions {
  /** Probability p of zeroing an element, in [0, 1). */
  rate: number;
}

/**
 * Dropout with rate `p`, active only in the training graph. The mask comes from a uniform input `u`
 * fed by the trainer's seeded RNG (so a resumed run draws the same masks): y = x · (u ≥ p) / (1 − p).
 */
export class Dropout implements Layer {
  readonly type = 'Dropout';
  private shape: number[] = [];
  /** The drop rate. */
  readonly p: number;
  constructor(readonly options: DropoutOptions) {
    layerOptions('Dropout', options, 'new Dropout({ rate: 0.1 })');
    const p = options.rate;
    if (!(p >= 0 && p < 1)) throw new TrainferError(`Dropout: rate must be in [0, 1), got ${p}`);
    this.p = p;
  }
  build(_ctx: BuildContext, inputShape: readonly number[]): number[] {
    this.shape = [...inputShape];
    return [...inputShape];
  }
  forward(ctx: ForwardContext, x: string): string {
    if (!ctx.training || this.p === 0) return x;
    const { g } = ctx;
    // u: [N, ...shape] uniforms; keep: (u ≥ p) · 1/(1−p)
    const u = ctx.uniformInput('dropout', this.shape);
    const keep = g.op1('GreaterOrEqual', [u, g.scalar(this.p)]);
    const scaleMask = g.where(keep, g.scalar(1 / (1 - this.p)), g.scalar(0));
    return g.mul(x, scaleMask);
  }
  describe(): string {
    return `Dropout(${this.p})`;
  }
}

/** Options for `Embedding`. */
export interface EmbeddingOptions {
  /** Vocabulary size. */
  numEmbeddings: number;
  /** Vector size. */
  dim: number;
  /** Standard deviation of the normal initialisation (default 1, as PyTorch's `nn.Embedding`). */
  std?: number;
}

/** Looks up rows of a [numEmbeddings, dim] table: int64 ids [N, …] → [N, …, dim]. */
export class Embedding implements Layer {
  readonly type = 'Embedding';
  private w = '';
  constructor(readonly options: EmbeddingOptions) {
    layerOptions('Embedding', options, 'new Embedding({ numEmbeddings: 1000, dim: 16 })');
    positiveInt('Embedding', 'numEmbeddings', options.numEmbeddings);
    positiveInt('Embedding', 'dim', options.dim);
  }
  build(ctx: BuildContext, inputShape: readonly number[]): number[] {
    this.w = `${ctx.scope('embedding')}.weight`;
    const { numEmbeddings: n, dim } = this.options;
    const t = new Float32Array(n * dim);
    const std = this.options.std ?? 1;
    for (let i = 0; i < t.length; i++) t[i] = ctx.rng.normal() * std;
    ctx.store.params.set(this.w, new Tensor('float32', [n, dim], t));
    return [...inputShape, dim];
  }
  forward(ctx: ForwardContext, x: string): string {
    return ctx.g.gather(ctx.value(this.w), x, 0);
  }
  describe(): string {
    return `Embedding(${this.options.numEmbeddings}, ${this.options.dim})`;
  }
}

/** Options for `Normalize`. */
export interface NormalizeOptions {
  /** One mean, or one per channel (images) / feature (tabular). */
  mean: readonly number[];
  /** Standard deviations, as many as `mean`. */
  std: readonly number[];
}

/**
 * Constant standardisation inside the graph: y = (x − mean) / std, per channel (images, axis 1) or per
 * feature (tabular). Not trainable; lets exported image models take raw [0, 1] pixels.
 */
export class Normalize implements Layer {
  readonly type = 'Normalize';
  private shape: number[] = [];
  constructor(readonly options: NormalizeOptions) {
    layerOptions('Normalize', options, 'new Normalize({ mean: [0.13], std: [0.31] })');
    if (options.mean.length !== options.std.length) throw new TrainferError('Normalize: mean and std must have the same length');
  }
  build(_ctx: BuildContext, inputShape: readonly number[]): number[] {
    const c = this.options.mean.length;
    if (c !== 1 && inputShape[0] !== c) throw new TrainferError(`Normalize: ${c} means for input ${fmtShape(inputShape)} (axis 1 has ${inputShape[0]})`);
    this.shape = [...inputShape];
    return [...inputShape];
  }
  forward(ctx: ForwardContext, x: string): string {
    const { g } = ctx;
    const c = this.options.mean.length;
    // broadcast over [N, C, 1, 1] for images, [N, F] for features
    const dims = c === 1 ? [] : [c, ...this.shape.slice(1).map(() => 1)];
    const mean = g.constant(Tensor.f32(dims, this.options.mean), 'norm_mean');
    const invStd = g.constant(Tensor.f32(dims, this.options.std.map((s) => 1 / s)), 'norm_inv_std');
    return g.mul(g.sub(x, mean), invStd);
  }
  describe(): string {
    return `Normalize(${this.options.mean.length === 1 ? `mean ${this.options.mean[0]!.toFixed(4)}, std ${this.options.std[0]!.toFixed(4)}` : `${this.options.mean.length} channels`})`;
  }
}

/** Options for `Rescale`. */
export interface RescaleOptions {
  /** One scale, or one per element of the last axis. */
  scale: readonly number[];
  /** Shifts, as many as `scale`. */
  shift: readonly number[];
}

/**
 * A constant affine map over the last axis: y = x · scale + shift (one value, or one per element).
 * Not trainable. Regression presets end with it so the network learns standardised targets while the
 * model (training and exported alike) outputs the targets' own units.
 */
export class Rescale implements Layer {
  readonly type = 'Rescale';
  private shape: number[] = [];
  constructor(readonly options: RescaleOptions) {
    layerOptions('Rescale', options, 'new Rescale({ scale: [2], shift: [1] })');
    if (options.scale.length !== options.shift.length) throw new TrainferError('Rescale: scale and shift must have the same length');
  }
  build(_ctx: BuildContext, inputShape: readonly number[]): number[] {
    const n = this.options.scale.length;
    const last = inputShape[inputShape.length - 1];
    if (n !== 1 && last !== n) throw new TrainferError(`Rescale: ${n} scales for input ${fmtShape(inputShape)}`);
    this.shape = [...inputShape];
    return [...inputShape];
  }
  forward(ctx: ForwardContext, x: string): string {
    const { g } = ctx;
    const dims = this.options.scale.length === 1 ? [] : [this.options.scale.length];
    const scale = g.constant(Tensor.f32(dims, this.options.scale), 'rescale_scale');
    const shift = g.constant(Tensor.f32(dims, this.options.shift), 'rescale_shift');
    return g.add(g.mul(x, scale), shift);
  }
  describe(): string {
    return `Rescale(${this.options.scale.length === 1 ? `× ${this.options.scale[0]!.toPrecision(4)} + ${this.options.shift[0]!.toPrecision(4)}` : `${this.options.scale.length} outputs`})`;
  }
}
