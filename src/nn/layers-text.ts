/**
 * Layers for token sequences: `TokenEmbedding` (token + learned positional embeddings), `SelfAttention`
 * (multi-head, with a padding mask read from a context input and an optional causal mask),
 * `TransformerBlock` (pre-LN encoder block: LayerNorm → attention → dropout → residual, LayerNorm → GELU
 * FFN → dropout → residual) and `SequencePool` (mean over the unmasked tokens, or the first token).
 * Per-sample shapes are [S, D] with S dynamic (-1 when built): one model takes any sequence length up to
 * the positional table's. Every op is standard ONNX (opset 17+), in the forms onnxruntime's transformer
 * fusions look for (BERT-style separate Q/K/V projections, an additive mask bias (1 − mask) · −10000).
 */
import { attr } from '../onnx/attr.js';
import { Tensor } from '../onnx/tensor.js';
import { TrainferError } from '../util/errors.js';
import { Residual } from './compose.js';
import { type BuildContext, type ForwardContext, type Layer, filled, fmtShape, initWeight } from './layer.js';
import { Dropout, GELU, Linear } from './layers-dense.js';
import { LayerNorm } from './layers-conv.js';

/** The additive bias of masked positions: large enough to zero a softmax weight, finite in fp16. */
export const MASK_BIAS = -10000;

/** Options for `TokenEmbedding`. */
export interface TokenEmbeddingOptions {
  /** Vocabulary size (rows of the token table). */
  vocabSize: number;
  /** Embedding width D. */
  dim: number;
  /** Longest sequence (rows of the positional table). */
  maxLength: number;
  /** Std of the normal initialisation (default 0.02, as BERT and GPT-2). */
  initStd?: number;
}

/** int64 ids [N, S] → token embedding + learned position embedding [N, S, D] (positions 0..S−1). */
export class TokenEmbedding implements Layer {
  readonly type = 'TokenEmbedding';
  private tok = '';
  private pos = '';
  constructor(readonly options: TokenEmbeddingOptions) {
    const { vocabSize, dim, maxLength } = options;
    for (const [k, v] of Object.entries({ vocabSize, dim, maxLength })) if (!(Number.isInteger(v) && v > 0)) throw new TrainferError(`TokenEmbedding: ${k} must be a positive integer, got ${v}`);
  }
  build(ctx: BuildContext, inputShape: readonly number[]): number[] {
    if (inputShape.length !== 1) throw new TrainferError(`TokenEmbedding: input must be token ids [sequence] per sample, got ${fmtShape(inputShape)}`);
    if (inputShape[0]! > this.options.maxLength) throw new TrainferError(`TokenEmbedding: sequence length ${inputShape[0]} exceeds maxLength ${this.options.maxLength}`);
    const p = ctx.scope('embeddings');
    const { vocabSize, dim, maxLength } = this.options;
    const std = this.options.initStd ?? 0.02;
    const normal = (n: number) => Float32Array.from({ length: n }, () => ctx.rng.normal() * std);
    this.tok = `${p}.token`;
    this.pos = `${p}.position`;
    ctx.store.params.set(this.tok, new Tensor('float32', [vocabSize, dim], normal(vocabSize * dim)));
    ctx.store.params.set(this.pos, new Tensor('float32', [maxLength, dim], normal(maxLength * dim)));
    return [inputShape[0]!, dim];
  }
  forward(ctx: ForwardContext, x: string): string {
    const { g } = ctx;
    // ids [N, S] → tok [N, S, D]; positions Range(0, S) → pos [S, D]; broadcast add
    const tok = g.gather(ctx.value(this.tok), x, 0);
    const positions = ctx.memo(`positions:${x}`, () => {
      const len = g.squeeze(g.op1('Shape', [x], { start: attr.int(1), end: attr.int(2) }), [0]);
      return g.op1('Range', [g.constant(Tensor.scalar('int64', 0), 'zero'), len, g.constant(Tensor.scalar('int64', 1), 'one')]);
    });
    return g.add(tok, g.gather(ctx.value(this.pos), positions, 0));
  }
  describe(): string {
    return `TokenEmbedding(${this.options.vocabSize} tokens, ${this.options.maxLength} positions, ${this.options.dim})`;
  }
}

/** Options for `SelfAttention`. */
export interface SelfAttentionOptions {
  /** Number of heads; D must be a multiple. */
  heads: number;
  /** The context input holding the padding mask (1 = token, 0 = padding), [N, S]; none: attend everywhere. */
  mask?: string;
  /** Each position attends only to itself and earlier ones (default false). */
  causal?: boolean;
  /** Dropout on the attention weights (training only; default 0). */
  dropout?: number;
}

/**
 * Multi-head scaled dot-product self-attention over [N, S, D]: separate Q, K, V projections, softmax of
 * Q·Kᵀ/√d_head plus the mask bias, weights · V, output projection. The padding mask's bias is
 * (1 − mask) · −10000 on the key axis (shared by every attention layer of the network).
 */
export class SelfAttention implements Layer {
  readonly type = 'SelfAttention';
  private names = { q: '', k: '', v: '', o: '' };
  private dim = 0;
  private readonly dropout?: Dropout;
  constructor(readonly options: SelfAttentionOptions) {
    if (!(Number.isInteger(options.heads) && options.heads > 0)) throw new TrainferError(`SelfAttention: heads must be a positive integer, got ${options.heads}`);
    if (options.dropout) this.dropout = new Dropout({ rate: options.dropout });
  }
  build(ctx: BuildContext, inputShape: readonly number[]): number[] {
    if (inputShape.length !== 2) throw new TrainferError(`SelfAttention: input must be [sequence, dim] per sample, got ${fmtShape(inputShape)}`);
    const d = inputShape[1]!;
    if (d % this.options.heads !== 0) throw new TrainferError(`SelfAttention: width ${d} is not a multiple of ${this.options.heads} heads`);
    this.dim = d;
    const p = ctx.scope('attention');
    for (const k of ['q', 'k', 'v', 'o'] as const) {
      this.names[k] = `${p}.${k}`;
      ctx.store.params.set(`${p}.${k}.weight`, initWeight({ dims: [d, d], fanIn: d, fanOut: d, scheme: 'xavier-uniform', rng: ctx.rng }));
      ctx.store.params.set(`${p}.${k}.bias`, filled([d], 0));
    }
    this.dropout?.build(ctx, [this.options.heads, inputShape[0]!, inputShape[0]!]);
    return [...inputShape];
  }
  forward(ctx: ForwardContext, x: string): string {
    const { g } = ctx;
    const h = this.options.heads;
    const dh = this.dim / h;
    const proj = (k: keyof SelfAttention['names'], v: string) => g.add(g.matMul(v, ctx.value(`${this.names[k]}.weight`)), ctx.value(`${this.names[k]}.bias`));
    // [N, S, D] → [N, S, H, dh] → [N, H, S, dh] (K: [N, H, dh, S])
    const split = (v: string, perm: number[]) => g.transpose(g.reshape(v, [0, 0, h, dh]), perm);
    const q = split(proj('q', x), [0, 2, 1, 3]);
    const k = split(proj('k', x), [0, 2, 3, 1]);
    const v = split(proj('v', x), [0, 2, 1, 3]);
    // scores [N, H, S, S] = Q·Kᵀ / √dh (+ mask bias [N, 1, 1, S]) (+ causal bias [S, S])
    let scores = g.div(g.matMul(q, k), g.scalar(Math.sqrt(dh)));
    if (this.options.mask) scores = g.add(scores, maskBias(ctx, this.options.mask));
    if (this.options.causal) scores = g.add(scores, causalBias(ctx, x));
    let weights = g.softmax(scores, -1);
    if (this.dropout) weights = this.dropout.forward(ctx, weights);
    // [N, H, S, dh] → [N, S, H, dh] → [N, S, D] → output projection
    const merged = g.reshape(g.transpose(g.matMul(weights, v), [0, 2, 1, 3]), [0, 0, this.dim]);
    return proj('o', merged);
  }
  describe(): string {
    return `SelfAttention(${this.dim}, ${this.options.heads} heads${this.options.mask ? `, mask '${this.options.mask}'` : ''}${this.options.causal ? ', causal' : ''}${this.options.dropout ? `, dropout ${this.options.dropout}` : ''})`;
  }
}

/** (1 − mask) · −10000 as [N, 1, 1, S] float32, built once per graph for each mask input. */
function maskBias(ctx: ForwardContext, mask: string): string {
  const { g } = ctx;
  return ctx.memo(`mask_bias:${mask}`, () => {
    const m = g.cast(g.unsqueeze(ctx.input(mask), [1, 2]), 'float32');
    return g.mul(g.sub(g.scalar(1), m), g.scalar(MASK_BIAS));
  });
}

/** −10000 above the diagonal of an [S, S] matrix (key j > query i), sized from the sequence at run time. */
function causalBias(ctx: ForwardContext, x: string): string {
  const { g } = ctx;
  return ctx.memo(`causal_bias:${x}`, () => {
    const len = g.squeeze(g.op1('Shape', [x], { start: attr.int(1), end: attr.int(2) }), [0]);
    const r = g.op1('Range', [g.constant(Tensor.scalar('int64', 0), 'zero'), len, g.constant(Tensor.scalar('int64', 1), 'one')]);
    const later = g.op1('Greater', [g.unsqueeze(r, [0]), g.unsqueeze(r, [1])]); // [S, S]: j > i
    return g.where(later, g.scalar(MASK_BIAS), g.scalar(0));
  });
}

/** Options for `TransformerBlock`. */
export interface TransformerBlockOptions {
  heads: number;
  /** Hidden width of the feed-forward network (default 4·D). */
  ffn?: number;
  /** Dropout after attention and after the FFN (default 0.1), and on attention weights (`attentionDropout`, default 0). */
  dropout?: number;
  attentionDropout?: number;
  /** The padding-mask context input (default none). */
  mask?: string;
  causal?: boolean;
}

/**
 * A pre-LN transformer encoder block over [N, S, D]:
 * h = x + Dropout(SelfAttention(LayerNorm(x))); y = h + Dropout(W₂·GELU(W₁·LayerNorm(h) + b₁) + b₂).
 */
export class TransformerBlock implements Layer {
  readonly type = 'TransformerBlock';
  private readonly attention: Residual;
  private readonly ffn: Residual;
  private dim = 0;
  constructor(readonly options: TransformerBlockOptions) {
    const p = options.dropout ?? 0.1;
    const drop = p > 0 ? [new Dropout({ rate: p })] : [];
    this.attention = new Residual({ body: [new LayerNorm(), new SelfAttention({ heads: options.heads, mask: options.mask, causal: options.causal, dropout: options.attentionDropout }), ...drop] });
    this.ffn = new Residual({ body: [new LayerNorm(), new LazyLinear(() => options.ffn ?? 4 * this.dim), new GELU(), new LazyLinear(() => this.dim), ...(p > 0 ? [new Dropout({ rate: p })] : [])] });
  }
  build(ctx: BuildContext, inputShape: readonly number[]): number[] {
    if (inputShape.length !== 2) throw new TrainferError(`TransformerBlock: input must be [sequence, dim] per sample, got ${fmtShape(inputShape)}`);
    this.dim = inputShape[1]!;
    return this.ffn.build(ctx, this.attention.build(ctx, inputShape));
  }
  forward(ctx: ForwardContext, x: string): string {
    return this.ffn.forward(ctx, this.attention.forward(ctx, x));
  }
  describe(): string {
    return `TransformerBlock(${this.dim}, ${this.options.heads} heads, FFN ${this.options.ffn ?? 4 * this.dim}, pre-LN${this.options.causal ? ', causal' : ''})`;
  }
}

/** A Linear whose width is known only when the block is built (the FFN's, from the input width). */
class LazyLinear implements Layer {
  readonly type = 'Linear';
  private inner?: Linear;
  constructor(private readonly width: () => number) {}
  build(ctx: BuildContext, inputShape: readonly number[]): number[] {
    this.inner = new Linear({ outFeatures: this.width(), init: 'xavier-uniform' });
    return this.inner.build(ctx, inputShape);
  }
  forward(ctx: ForwardContext, x: string): string {
    return this.inner!.forward(ctx, x);
  }
  describe(): string {
    return this.inner?.describe() ?? 'Linear';
  }
}

/** Options for `SequencePool`. */
export interface SequencePoolOptions {
  /** `mean` over the unmasked tokens (default) or the `first` token (e.g. [CLS]). */
  mode?: 'mean' | 'first';
  /** The padding-mask context input for `mean` (none: every position counts). */
  mask?: string;
}

/** [N, S, D] → [N, D]: the mask-weighted mean over the sequence, or the first position. */
export class SequencePool implements Layer {
  readonly type = 'SequencePool';
  private dim = 0;
  constructor(readonly options: SequencePoolOptions = {}) {}
  build(_ctx: BuildContext, inputShape: readonly number[]): number[] {
    if (inputShape.length !== 2) throw new TrainferError(`SequencePool: input must be [sequence, dim] per sample, got ${fmtShape(inputShape)}`);
    this.dim = inputShape[1]!;
    return [this.dim];
  }
  forward(ctx: ForwardContext, x: string): string {
    const { g } = ctx;
    if (this.options.mode === 'first') {
      // x[:, 0, :] as a unit-step Slice of axis 1, then drop the axis
      return g.squeeze(g.op1('Slice', [x, g.int64s([0]), g.int64s([1]), g.int64s([1])]), [1]);
    }
    if (!this.options.mask) return g.reduceMean(x, [1], false);
    // Σ_s x[n, s, :]·m[n, s] / max(1, Σ_s m[n, s])
    const m = g.unsqueeze(g.cast(ctx.input(this.options.mask), 'float32'), [2]); // [N, S, 1]
    const sum = g.reduceSum(g.mul(x, m), [1], false); // [N, D]
    const count = g.op1('Max', [g.reduceSum(m, [1], false), g.scalar(1)]); // [N, 1]
    return g.div(sum, count);
  }
  describe(): string {
    return `SequencePool(${this.options.mode ?? 'mean'}${this.options.mode !== 'first' && this.options.mask ? ` over '${this.options.mask}'` : ''})`;
  }
}
