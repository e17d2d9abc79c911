/**
 * `Network`: layers + parameters, and the two graphs a model yields. `trainingGraph({ loss })` is the
 * forward pass in training mode (batch statistics, dropout fed by uniform inputs) plus a loss, with the
 * parameters, buffers and random inputs listed for the step builder; `inferenceGraph()` is the
 * deployable model (running statistics, no dropout) with the current weights baked in.
 */
import type { Buffer } from '../autodiff/types.js';
import { GraphBuilder } from '../onnx/builder.js';
import type { DType } from '../onnx/dtype.js';
import type { Graph, Model } from '../onnx/ir.js';
import type { Tensor } from '../onnx/tensor.js';
import { TrainferError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { type BuildContext, type ForwardContext, type Layer, ParamStore, fmtShape } from './layer.js';
import { Sequential } from './compose.js';
import { Flatten, Normalize } from './layers-dense.js';
import { attachLoss, type LossSpec } from './loss.js';

/** What the network's input holds: pixels [C, H, W] in [0, 1], feature vectors, or int64 token ids. */
export type InputKind = 'image' | 'tabular' | 'tokens';

/** Options for `Network`. */
export interface NetworkOptions {
  layers: readonly Layer[];
  /** Per-sample input shape (no batch axis), e.g. [1, 28, 28]. */
  inputShape: readonly number[];
  /** Default `image` for rank-3 inputs, else `tabular`. */
  inputKind?: InputKind;
  /** Seed for weight initialisation (default 0). */
  seed?: number;
  /** Model name (default `model`). */
  name?: string;
  /** Class names stored in exported metadata. */
  classNames?: readonly string[];
}

/** A random input of the training graph: uniforms in [0, 1) of shape [batch, ...shape], fed each step. */
export interface RandomInput {
  name: string;
  shape: number[];
}

/** The training graph: forward (training mode) + loss, and what the step builder and trainer need. */
export interface TrainingGraph {
  /** Parameters and buffers are initializers; data, labels and random tensors are inputs. */
  graph: Graph;
  /** Scalar loss value. */
  loss: string;
  /** Logits value [batch, classes]. */
  logits: string;
  /** Data input. */
  input: { name: string; dtype: DType; shape: number[] };
  /** Labels input (int64 class indices [batch]). */
  labels: string;
  /** Trainable initializer names. */
  params: string[];
  /** Buffers (BatchNorm running stats) and the values that replace them each step. */
  buffers: Buffer[];
  random: RandomInput[];
  /**
   * Set when the leading `Normalize` (and a following `Flatten`) were left out of the graph because the
   * caller standardises while batching (`trainingGraph({ normalizeInput: 'batcher' })`): per-channel mean/std.
   */
  inputNormalize?: { mean: readonly number[]; std: readonly number[] };
}

/** Input names of exported models by kind. */
export const INPUT_NAMES = { image: 'pixels', tabular: 'features', tokens: 'tokens' } as const satisfies Record<InputKind, string>;

/**
 * A layered network with seeded parameters.
 *
 * @example
 * const net = new Network({ inputShape: [1, 28, 28], layers: [new Flatten(), new Linear({ outFeatures: 10 })] });
 * const tg = net.trainingGraph({ loss: { type: 'cross-entropy' } });
 * const model = net.inferenceGraph(); // pixels [batch, 1, 28, 28] → logits [batch, 10]
 */
export class Network {
  readonly store = new ParamStore();
  readonly inputShape: number[];
  readonly outputShape: number[];
  readonly inputKind: InputKind;
  readonly name: string;
  readonly classNames?: readonly string[];
  private readonly body: Sequential;

  constructor(options: NetworkOptions) {
    this.inputShape = [...options.inputShape];
    this.inputKind = options.inputKind ?? (options.inputShape.length === 3 ? 'image' : 'tabular');
    this.name = options.name ?? 'model';
    this.classNames = options.classNames;
    this.body = new Sequential(options.layers);
    const rng = Rng.fromSeed(options.seed ?? 0);
    const counts = new Map<string, number>();
    const ctx: BuildContext = {
      store: this.store,
      rng,
      scope: (type) => {
        const n = (counts.get(type) ?? 0) + 1;
        counts.set(type, n);
        return `${type}${n}`;
      },
    };
    this.outputShape = this.body.build(ctx, this.inputShape);
  }

  /** Number of classes (the size of the last output axis). */
  get numClasses(): number {
    return this.outputShape[this.outputShape.length - 1]!;
  }

  /** Number of trainable scalars. */
  parameterCount(): number {
    return this.store.parameterCount();
  }

  /** The forward pass in training or inference mode, with parameters and buffers as initializers. */
  forwardGraph(options: { training: boolean; skipLeading?: number; inputShape?: readonly number[] }): { g: GraphBuilder; input: string; logits: string; buffers: Buffer[]; random: RandomInput[] } {
    const g = new GraphBuilder({ name: options.training ? `${this.name}_train` : this.name });
    const dtype: DType = this.inputKind === 'tokens' ? 'int64' : 'float32';
    const input = g.input(INPUT_NAMES[this.inputKind], dtype, ['batch', ...(options.inputShape ?? this.inputShape)]);
    for (const [k, t] of this.store.params) g.initializer(k, t);
    for (const [k, t] of this.store.buffers) g.initializer(k, t);
    const buffers: Buffer[] = [];
    const random: RandomInput[] = [];
    const ctx: ForwardContext = {
      g,
      training: options.training,
      value: (name) => {
        if (!this.store.params.has(name) && !this.store.buffers.has(name)) throw new Error(`unknown parameter ${name}`);
        return name;
      },
      updateBuffer: (name, updated) => {
        if (!options.training) throw new Error('buffers update only in the training graph');
        buffers.push({ name, updated });
      },
      uniformInput: (base, perSample) => {
        const name = g.fresh(`${base}_u`);
        g.graph.inputs.push({ name, type: { dtype: 'float32', shape: ['batch', ...perSample] } });
        random.push({ name, shape: [...perSample] });
        return name;
      },
    };
    let logits = input;
    for (const layer of this.body.layers.slice(options.skipLeading ?? 0)) logits = layer.forward(ctx, logits);
    return { g, input, logits, buffers, random };
  }

  /**
   * The training graph: forward in training mode + `loss` against int64 `labels`. With
   * `normalizeInput: 'batcher'`, a leading `Normalize` and then a leading `Flatten` are left to the
   * batcher — the same arithmetic, done while copying the batch, up to three graph passes fewer per step.
   */
  trainingGraph(options: { loss?: LossSpec; normalizeInput?: 'graph' | 'batcher' } = {}): TrainingGraph {
    if (this.outputShape.length !== 1) throw new TrainferError(`model output is ${fmtShape(this.outputShape)} per sample; a classifier needs [classes] (add Flatten/GlobalAvgPool and a Linear layer)`);
    const layers = this.body.layers;
    let skip = 0;
    let inputShape = [...this.inputShape];
    let inputNormalize: TrainingGraph['inputNormalize'];
    if (options.normalizeInput === 'batcher' && this.inputKind !== 'tokens') {
      if (layers[0] instanceof Normalize) {
        inputNormalize = layers[0].options;
        skip = 1;
      }
      // The batch buffer is flat already: feed it as [batch, values] instead of copying through Flatten.
      if (layers[skip] instanceof Flatten) {
        skip++;
        inputShape = [inputShape.reduce((a, b) => a * b, 1)];
      }
    }
    const { g, input, logits, buffers, random } = this.forwardGraph({ training: true, skipLeading: skip, inputShape });
    const { loss, labels } = attachLoss(g, { logits, spec: options.loss ?? { type: 'cross-entropy' } });
    g.output(loss, loss, { dtype: 'float32', shape: [] });
    return {
      graph: g.graph,
      loss,
      logits,
      input: { name: input, dtype: this.inputKind === 'tokens' ? 'int64' : 'float32', shape: inputShape },
      labels,
      params: [...this.store.params.keys()],
      buffers,
      random,
      inputNormalize,
    };
  }

  /**
   * The deployable model: inference mode, current weights (or `weights` overriding them), outputs
   * `logits` then `probabilities`, dynamic batch axis.
   */
  inferenceGraph(options: { weights?: ReadonlyMap<string, Tensor> } = {}): Model {
    const { g, logits } = this.forwardGraph({ training: false });
    if (options.weights) {
      for (const [k, t] of options.weights) if (g.graph.initializers.has(k)) g.graph.initializers.set(k, t);
    }
    const outShape = ['batch', ...this.outputShape];
    g.output(logits, 'logits', { dtype: 'float32', shape: outShape });
    if (this.outputShape.length === 1) g.output(g.softmax('logits', -1), 'probabilities', { dtype: 'float32', shape: outShape });
    const model = g.toModel({ opset: 21 });
    model.producerName = 'trainfer';
    model.metadata.set('trainfer.input_kind', this.inputKind);
    model.metadata.set('trainfer.input_shape', JSON.stringify(this.inputShape));
    // Dimension 0 of every input and output is the batch: `trainfer serve` batches requests for such models.
    model.metadata.set('trainfer.batch_first', 'true');
    if (this.classNames) model.metadata.set('trainfer.class_names', JSON.stringify(this.classNames));
    return model;
  }

  /** Replaces parameter/buffer values by name (e.g. after training). Shapes must match. */
  setWeights(weights: ReadonlyMap<string, Tensor>): void {
    for (const [k, t] of weights) {
      const map = this.store.params.has(k) ? this.store.params : this.store.buffers.has(k) ? this.store.buffers : undefined;
      if (!map) continue;
      const old = map.get(k)!;
      if (old.dims.join(',') !== t.dims.join(',')) throw new TrainferError(`weight '${k}' has shape ${fmtShape(t.dims)}, expected ${fmtShape(old.dims)}`);
      map.set(k, t);
    }
  }

  /** A multi-line summary: layers, output shape, parameter count. */
  summary(): string {
    const lines = this.body.layers.map((l) => `  ${l.describe()}`);
    return [`${this.name}: input ${fmtShape(this.inputShape)} → output ${fmtShape(this.outputShape)}, ${this.parameterCount().toLocaleString('en-US')} parameters`, ...lines].join('\n');
  }
}
