/**
 * The layer contract and the one construction convention every layer follows: a layer is a class,
 * constructed with `new` and at most one options object (`new Linear({ outFeatures: 10 })`,
 * `new Dropout({ rate: 0.1 })`, `new ReLU()`); the object is kept as `layer.options`, and a bare
 * number or array where the object belongs is a one-line error. The contract itself: a layer creates
 * its parameters once (`build`, given the per-sample input shape) and emits ONNX nodes (`forward`) into either a training or an inference graph. Parameters live in a
 * `ParamStore` owned by the network; randomness (dropout) is a graph input fed by the trainer.
 */
import type { GraphBuilder } from '../onnx/builder.js';
import { Tensor } from '../onnx/tensor.js';
import { TrainferError } from '../util/errors.js';
import type { Rng } from '../util/rng.js';

/** Trainable parameters and non-trainable buffers of a network, by full name (e.g. `conv1.weight`). */
export class ParamStore {
  readonly params = new Map<string, Tensor>();
  readonly buffers = new Map<string, Tensor>();

  /** Number of trainable scalars. */
  parameterCount(): number {
    let n = 0;
    for (const t of this.params.values()) n += t.size;
    return n;
  }
}

/** What `build` gets: where to put parameters and the seeded RNG for initialisation. */
export interface BuildContext {
  readonly store: ParamStore;
  readonly rng: Rng;
  /** A unique prefix for a layer of this type, e.g. `linear1`. */
  scope(type: string): string;
}

/** What `forward` gets: the builder, the mode, and hooks for buffers and random inputs. */
export interface ForwardContext {
  readonly g: GraphBuilder;
  /** True in the training graph (batch statistics, dropout); false in the inference graph. */
  readonly training: boolean;
  /** Graph value for a parameter or buffer (already an initializer). */
  value(name: string): string;
  /** Training graph: declare that buffer `name` is replaced by `updated` after each step. */
  updateBuffer(name: string, updated: string): void;
  /**
   * Training graph: a float32 input of uniforms in [0, 1), shape [batch, ...perSample], fed each step.
   * A -1 in `perSample` is the dynamic dim of a sequence input (declared symbolic, sized by the trainer).
   */
  uniformInput(base: string, perSample: readonly number[]): string;
  /** The graph value of a network input by name (e.g. a context input such as an attention mask). */
  input(name: string): string;
  /** A value computed once per graph and shared by the layers that ask for the same key (e.g. a mask bias). */
  memo(key: string, make: () => string): string;
}

/** One layer. Per-sample shapes exclude the batch dimension. */
export interface Layer {
  /** Type name, e.g. `Linear`. */
  readonly type: string;
  /** Creates parameters for `inputShape` (per sample) and returns the output shape. Call once. */
  build(ctx: BuildContext, inputShape: readonly number[]): number[];
  /** Emits the layer's nodes for input value `x`; returns the output value. */
  forward(ctx: ForwardContext, x: string): string;
  /** A one-line description (for summaries). */
  describe(): string;
}

/** Weight initialisation scheme: He (Kaiming, for ReLU) or Xavier (Glorot), normal or uniform. */
export type InitScheme = 'he-normal' | 'he-uniform' | 'xavier-normal' | 'xavier-uniform';

/**
 * A seeded weight tensor of `dims` with fan-in/fan-out given by the caller.
 * He: std = √(2/fanIn); Xavier: std = √(2/(fanIn+fanOut)). Uniform variants use the same variance.
 */
export function initWeight(options: { dims: readonly number[]; fanIn: number; fanOut: number; scheme: InitScheme; rng: Rng }): Tensor {
  const { dims, fanIn, fanOut, scheme, rng } = options;
  const std = scheme.startsWith('he') ? Math.sqrt(2 / fanIn) : Math.sqrt(2 / (fanIn + fanOut));
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  if (scheme.endsWith('normal')) {
    for (let i = 0; i < n; i++) data[i] = rng.normal() * std;
  } else {
    const bound = std * Math.sqrt(3);
    for (let i = 0; i < n; i++) data[i] = (rng.uniform() * 2 - 1) * bound;
  }
  return new Tensor('float32', dims, data);
}

/** A float32 tensor filled with `value`. */
export function filled(dims: readonly number[], value: number): Tensor {
  return new Tensor('float32', dims, new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(value));
}

/** Formats a per-sample shape as `[a, b]`. */
export function fmtShape(s: readonly number[]): string {
  return `[${s.join(', ')}]`;
}

/**
 * Checks that a layer constructor got one options object (not a bare number or array, as from plain
 * JavaScript or an older call form); `example` shows the right call in the error.
 */
export function layerOptions(type: string, options: unknown, example: string): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TrainferError(`${type}: takes one options object, e.g. ${example} (got ${Array.isArray(options) ? 'an array' : String(options)})`);
  }
}

/** Throws unless `value` (option `name` of layer `type`) is a positive integer. */
export function positiveInt(type: string, name: string, value: unknown): void {
  if (!(typeof value === 'number' && Number.isInteger(value) && value > 0)) throw new TrainferError(`${type}: ${name} must be a positive integer, got ${String(value)}`);
}
