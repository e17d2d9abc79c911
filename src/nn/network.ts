/**
 * `Network`: layers + parameters, and the two graphs a model yields. A network has one or more named
 * inputs, each with its own layers (a branch); branch outputs are concatenated along the last axis and
 * run through shared layers (the trunk), then one or more named heads. `trainingGraph` is the forward
 * pass in training mode (batch statistics, dropout fed by uniform inputs) plus the losses, with the feeds
 * (inputs and targets), heads, parameters, buffers and random inputs listed for the step builder;
 * `inferenceGraph()` is the deployable model (running statistics, no dropout, softmax/sigmoid
 * probabilities for classifiers) with the current weights baked in.
 */
import type { Buffer } from '../autodiff/types.js';
import { GraphBuilder } from '../onnx/builder.js';
import type { DType } from '../onnx/dtype.js';
import type { Graph, Model } from '../onnx/ir.js';
import type { Tensor } from '../onnx/tensor.js';
import { TrainferError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import type { FeedSpec } from '../data/feed-plan.js';
import { type BuildContext, type ForwardContext, type Layer, ParamStore, fmtShape } from './layer.js';
import { Sequential } from './compose.js';
import { Flatten, Normalize } from './layers-dense.js';
import { type HeadLoss, type HeadValue, type LossSpec, type Task, attachLosses, defaultLoss } from './loss.js';

/** What a single-input network's input holds: pixels [C, H, W] in [0, 1], feature vectors, or int64 token ids. */
export type InputKind = 'image' | 'tabular' | 'tokens';

/** One named input and the layers applied to it alone (its branch). */
export interface NetworkInput {
  name: string;
  /**
   * Per-sample shape. A string is a dynamic dim (e.g. `'sequence'`): the graph input keeps it symbolic,
   * feeds solve it from the data (or a provider fixes it), and layers see it as -1 when they are built.
   */
  shape: readonly (number | string)[];
  /** Default float32 (int64 for ids feeding an `Embedding`). */
  dtype?: DType;
  /** The branch: layers applied to this input before the branches are concatenated. */
  layers?: readonly Layer[];
  /**
   * A context input (e.g. an attention mask): not a branch and not concatenated; layers read it with
   * `ctx.input(name)`. Default false.
   */
  context?: boolean;
}

/** One named output and the layers that produce it from the trunk. */
export interface NetworkHead {
  name: string;
  layers?: readonly Layer[];
  /** Default `classification`. */
  task?: Task;
}

/** Options for `Network`: either `inputShape` (one input) or `inputs` (any number, each with a branch). */
export interface NetworkOptions {
  /** The trunk: after the branches are concatenated (the whole network for a single input). */
  layers: readonly Layer[];
  /** One input of this per-sample shape (no batch axis), e.g. [1, 28, 28]. */
  inputShape?: readonly number[];
  /** One input: `image` for rank-3 inputs by default, else `tabular`; `tokens` takes int64 ids. */
  inputKind?: InputKind;
  /** Several named inputs; branch outputs (one axis per sample each) are concatenated along it. */
  inputs?: readonly NetworkInput[];
  /** Named heads on the trunk's output (default one head: the trunk's output, named by the task). */
  heads?: readonly NetworkHead[];
  /** Task of the default head (default `classification`). */
  task?: Task;
  /** Seed for weight initialisation (default 0). */
  seed?: number;
  /** Model name (default `model`). */
  name?: string;
  /** Class names stored in exported metadata. */
  classNames?: readonly string[];
}

/**
 * A random input of the training graph: uniforms in [0, 1) of shape [batch, ...shape], fed each step.
 * A string dim is a network input's dynamic dim (e.g. `sequence`), sized by the feed plan.
 */
export interface RandomInput {
  name: string;
  shape: (number | string)[];
}

/** A model input as the trainer sees it. */
export interface ModelInput {
  name: string;
  dtype: DType;
  /** Per-sample dims; strings are symbolic. */
  shape: readonly (number | string)[];
  /** Set when the model fixes its batch dimension (e.g. a PyTorch export without dynamic_axes). */
  batchDim?: number;
}

/** A model head as the trainer sees it: `output` names the inference-graph value with its raw scores. */
export interface ModelHead {
  name: string;
  task: Task;
  shape: readonly (number | string)[];
  output: string;
}

/** The training graph: forward (training mode) + losses, and what the step builder and trainer need. */
export interface TrainingGraph {
  /** Parameters and buffers are initializers; feeds and random tensors are inputs. */
  graph: Graph;
  /** Scalar loss value. */
  loss: string;
  /** What the graph takes per batch: model inputs (with any standardisation left to the batcher), then loss targets. */
  feeds: FeedSpec[];
  /** Head values in the training graph. */
  heads: HeadValue[];
  /** Trainable initializer names. */
  params: string[];
  /** Buffers (BatchNorm running stats) and the values that replace them each step. */
  buffers: Buffer[];
  random: RandomInput[];
}

/** Options for `trainingGraph`. */
export interface TrainingGraphOptions {
  /** Loss on the first head (default: the task's loss). */
  loss?: LossSpec;
  /** Several loss terms (multi-output models, custom losses); instead of `loss`. */
  losses?: readonly HeadLoss[];
  /**
   * `batcher`: a leading `Normalize` (and then a leading `Flatten`) of an input are left to the batcher,
   * which applies the same arithmetic while copying the batch (the feed's `normalize`): up to three graph
   * passes fewer per step. Default `graph`.
   */
  normalizeInput?: 'graph' | 'batcher';
}

/** Input names of single-input exported models by kind. */
export const INPUT_NAMES = { image: 'pixels', tabular: 'features', tokens: 'tokens' } as const satisfies Record<InputKind, string>;

/** The losses `options` ask for (`loss` for the first head, or `losses`, or each head's default). */
export function resolveLosses(heads: readonly { name: string; task: Task }[], options: Pick<TrainingGraphOptions, 'loss' | 'losses'>): HeadLoss[] {
  if (options.loss && options.losses) throw new TrainferError('give either loss (the first head) or losses, not both');
  if (options.losses) return [...options.losses];
  return [{ head: heads[0]!.name, loss: options.loss ?? defaultLoss(heads[0]!.task) }];
}

interface Branch {
  input: { name: string; dtype: DType; shape: (number | string)[]; context: boolean };
  body: Sequential;
  out: number[];
}

/** A per-sample shape as layers see it when they are built: dynamic (string) dims become -1. */
function buildShape(shape: readonly (number | string)[]): number[] {
  return shape.map((d) => (typeof d === 'number' ? d : -1));
}

/**
 * A layered network with seeded parameters: one input or several (each with a branch), a trunk, and one
 * head or several.
 *
 * @example
 * const net = new Network({ inputShape: [1, 28, 28], layers: [new Flatten(), new Linear({ outFeatures: 10 })] });
 * const tg = net.trainingGraph({ loss: { type: 'cross-entropy' } });
 * const model = net.inferenceGraph(); // pixels [batch, 1, 28, 28] → logits, probabilities [batch, 10]
 *
 * // Two inputs (numeric features + a categorical id), concatenated, one regression head:
 * new Network({
 *   inputs: [{ name: 'dense', shape: [3] }, { name: 'city', shape: [1], dtype: 'int64', layers: [new Embedding({ numEmbeddings: 9, dim: 4 }), new Flatten()] }],
 *   layers: [new Linear({ outFeatures: 32 }), new ReLU(), new Linear({ outFeatures: 1 })],
 *   task: 'regression',
 * });
 */
export class Network {
  readonly store = new ParamStore();
  /** Per-sample shape of the first input. */
  readonly inputShape: number[];
  /** Per-sample shape of the first head. */
  readonly outputShape: number[];
  readonly inputKind: InputKind;
  readonly name: string;
  readonly classNames?: readonly string[];
  /** The inputs (name, dtype, per-sample shape). */
  readonly inputs: ModelInput[];
  /** The heads (name, task, per-sample shape, inference output). */
  readonly heads: ModelHead[];
  private readonly branches: Branch[];
  private readonly body: Sequential;
  private readonly headBodies: { head: ModelHead; body: Sequential }[];

  constructor(options: NetworkOptions) {
    if (!!options.inputShape === !!options.inputs) throw new TrainferError('Network: give either inputShape (one input) or inputs (several)');
    this.name = options.name ?? 'model';
    this.classNames = options.classNames;
    const single = options.inputShape;
    this.inputKind = options.inputKind ?? (single ? (single.length === 3 ? 'image' : 'tabular') : 'tabular');
    // One input: its branch is the whole layer list (so a leading Normalize/Flatten can go to the batcher).
    const defs: NetworkInput[] = single
      ? [{ name: INPUT_NAMES[this.inputKind], shape: single, dtype: this.inputKind === 'tokens' ? 'int64' : 'float32', layers: options.layers }]
      : [...options.inputs!];
    if (defs.length === 0) throw new TrainferError('Network: inputs is empty');
    const names = new Set<string>();
    for (const d of defs) {
      if (names.has(d.name)) throw new TrainferError(`Network: two inputs named '${d.name}'`);
      names.add(d.name);
    }
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
    this.branches = defs.map((d) => {
      const body = new Sequential({ layers: d.layers ?? [] });
      if (d.context && d.layers?.length) throw new TrainferError(`Network: context input '${d.name}' cannot have layers (layers read it with ctx.input)`);
      return { input: { name: d.name, shape: [...d.shape], dtype: d.dtype ?? 'float32', context: !!d.context }, body, out: body.build(ctx, buildShape(d.shape)) };
    });
    this.inputs = this.branches.map((b) => ({ name: b.input.name, dtype: b.input.dtype, shape: b.input.shape }));
    this.inputShape = buildShape(this.branches[0]!.input.shape);
    const concatenated = this.branches.filter((b) => !b.input.context);
    if (concatenated.length === 0) throw new TrainferError('Network: every input is a context input; at least one needs a branch');
    let trunkIn: number[];
    if (concatenated.length === 1) trunkIn = concatenated[0]!.out;
    else {
      for (const b of concatenated) {
        if (b.out.length !== 1) throw new TrainferError(`Network: input '${b.input.name}' ends its branch with ${fmtShape(b.out)} per sample; branches are concatenated along one axis (end them with Flatten)`);
      }
      trunkIn = [concatenated.reduce((s, b) => s + b.out[0]!, 0)];
    }
    this.body = new Sequential({ layers: single ? [] : options.layers });
    const trunkOut = this.body.build(ctx, trunkIn);
    const headDefs: NetworkHead[] = options.heads?.length ? [...options.heads] : [{ name: (options.task ?? 'classification') === 'regression' ? 'predictions' : 'logits', task: options.task ?? 'classification' }];
    this.headBodies = headDefs.map((h) => {
      const body = new Sequential({ layers: h.layers ?? [] });
      const shape = body.build(ctx, trunkOut);
      return { head: { name: h.name, task: h.task ?? 'classification', shape, output: h.name }, body };
    });
    this.heads = this.headBodies.map((h) => h.head);
    this.outputShape = [...(this.heads[0]!.shape as number[])];
  }

  /** The one dynamic dim of the inputs (what a -1 in a layer's per-sample shape stands for). */
  private dynamicDim(what: string): string {
    const names = [...new Set(this.branches.flatMap((b) => b.input.shape.filter((d): d is string => typeof d === 'string')))];
    if (names.length !== 1) throw new TrainferError(`Network: ${what} over a dynamic dim needs exactly one symbolic dim among the inputs (found ${names.length ? names.join(', ') : 'none'})`);
    return names[0]!;
  }

  /** Number of classes of the first head (the size of its first axis). */
  get numClasses(): number {
    return this.outputShape[0] ?? 1;
  }

  /** Number of trainable scalars. */
  parameterCount(): number {
    return this.store.parameterCount();
  }

  /**
   * The forward pass in training or inference mode, with parameters and buffers as initializers.
   * `skipLeading[input]` leaves out that many leading layers of the input's branch, which then takes
   * `inputShapes[input]` per sample.
   */
  forwardGraph(options: { training: boolean; skipLeading?: Readonly<Record<string, number>>; inputShapes?: Readonly<Record<string, readonly (number | string)[]>> }): { g: GraphBuilder; inputs: string[]; heads: HeadValue[]; buffers: Buffer[]; random: RandomInput[] } {
    const g = new GraphBuilder({ name: options.training ? `${this.name}_train` : this.name });
    const inputs = this.branches.map((b) => g.input(b.input.name, b.input.dtype, ['batch', ...(options.inputShapes?.[b.input.name] ?? b.input.shape)]));
    for (const [k, t] of this.store.params) g.initializer(k, t);
    for (const [k, t] of this.store.buffers) g.initializer(k, t);
    const buffers: Buffer[] = [];
    const random: RandomInput[] = [];
    const memo = new Map<string, string>();
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
        const shape = perSample.map((d) => (d === -1 ? this.dynamicDim(base) : d));
        g.graph.inputs.push({ name, type: { dtype: 'float32', shape: ['batch', ...shape] } });
        random.push({ name, shape });
        return name;
      },
      input: (name) => {
        const i = this.branches.findIndex((b) => b.input.name === name);
        if (i < 0) throw new TrainferError(`Network: a layer reads input '${name}', but the network has inputs ${this.branches.map((b) => b.input.name).join(', ')}`);
        return inputs[i]!;
      },
      memo: (key, make) => {
        let v = memo.get(key);
        if (v === undefined) memo.set(key, (v = make()));
        return v;
      },
    };
    const outs = this.branches.flatMap((b, i) => {
      if (b.input.context) return [];
      let v = inputs[i]!;
      for (const layer of b.body.layers.slice(options.skipLeading?.[b.input.name] ?? 0)) v = layer.forward(ctx, v);
      return [v];
    });
    let x = outs.length === 1 ? outs[0]! : g.concat(outs, -1);
    x = this.body.forward(ctx, x);
    const heads = this.headBodies.map(({ head, body }) => ({ name: head.name, value: body.forward(ctx, x), task: head.task, shape: head.shape }));
    return { g, inputs, heads, buffers, random };
  }

  /**
   * The training graph: forward in training mode + the losses (one target input per built-in loss).
   * With `normalizeInput: 'batcher'`, a leading `Normalize` and then a leading `Flatten` of each float
   * input's branch are left to the batcher (`feeds[i].normalize`).
   */
  trainingGraph(options: TrainingGraphOptions = {}): TrainingGraph {
    const skip: Record<string, number> = {};
    const shapes: Record<string, (number | string)[]> = {};
    const feeds: FeedSpec[] = [];
    for (const b of this.branches) {
      const layers = b.body.layers;
      let n = 0;
      let shape: (number | string)[] = [...b.input.shape];
      let normalize: FeedSpec['normalize'];
      if (options.normalizeInput === 'batcher' && b.input.dtype === 'float32') {
        if (layers[0] instanceof Normalize) {
          normalize = layers[0].options;
          n = 1;
        }
        // The batch buffer is flat already: feed it as [batch, values] instead of copying through Flatten.
        if (layers[n] instanceof Flatten) {
          n++;
          shape = [buildShape(shape).reduce((a, c) => a * c, 1)];
        }
      }
      skip[b.input.name] = n;
      shapes[b.input.name] = shape;
      feeds.push({ name: b.input.name, dtype: b.input.dtype, shape, role: 'input', ...(normalize ? { normalize } : {}) });
    }
    const { g, heads, buffers, random } = this.forwardGraph({ training: true, skipLeading: skip, inputShapes: shapes });
    const { loss, targets } = attachLosses(g, { heads, losses: resolveLosses(this.heads, options) });
    g.output(loss, loss, { dtype: 'float32', shape: [] });
    for (const t of targets) feeds.push({ name: t.name, dtype: t.dtype, shape: t.shape, role: 'target', ...(t.head ? { head: t.head } : {}) });
    return { graph: g.graph, loss, feeds, heads, params: [...this.store.params.keys()], buffers, random };
  }

  /**
   * The deployable model: inference mode, current weights (or `weights` overriding them), one output per
   * head with its raw values, plus `probabilities` (softmax for classification, sigmoid for binary and
   * multi-label; `<head>_probabilities` for heads after the first), dynamic batch axis.
   */
  inferenceGraph(options: { weights?: ReadonlyMap<string, Tensor> } = {}): Model {
    const { g, heads } = this.forwardGraph({ training: false });
    if (options.weights) {
      for (const [k, t] of options.weights) if (g.graph.initializers.has(k)) g.graph.initializers.set(k, t);
    }
    heads.forEach((h, i) => {
      const shape = ['batch', ...h.shape];
      g.output(h.value, h.name, { dtype: 'float32', shape });
      const probs = i === 0 ? 'probabilities' : `${h.name}_probabilities`;
      if (h.task === 'classification' && h.shape.length === 1) g.output(g.softmax(h.name, -1), probs, { dtype: 'float32', shape });
      else if (h.task === 'binary' || h.task === 'multilabel') g.output(g.sigmoid(h.name), probs, { dtype: 'float32', shape });
    });
    const model = g.toModel({ opset: 21 });
    model.producerName = 'trainfer';
    if (this.branches.length === 1) {
      model.metadata.set('trainfer.input_kind', this.inputKind);
      model.metadata.set('trainfer.input_shape', JSON.stringify(this.inputShape));
    }
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

  /** A multi-line summary: inputs, layers, heads, parameter count. */
  summary(): string {
    const lines: string[] = [];
    const ins = this.branches.map((b) => `${b.input.name} [${b.input.shape.join(', ')}]`).join(', ');
    const outs = this.heads.map((h) => `${h.name} ${fmtShape(h.shape as number[])}`).join(', ');
    lines.push(`${this.name}: ${ins} → ${outs}, ${this.parameterCount().toLocaleString('en-US')} parameters`);
    for (const b of this.branches) if (this.branches.length > 1 || b.body.layers.length) for (const l of b.body.layers) lines.push(`  ${this.branches.length > 1 ? `[${b.input.name}] ` : ''}${l.describe()}`);
    if (this.branches.length > 1) lines.push(`  Concat(${this.branches.map((b) => b.input.name).join(', ')})`);
    for (const l of this.body.layers) lines.push(`  ${l.describe()}`);
    for (const h of this.headBodies) for (const l of h.body.layers) lines.push(`  [${h.head.name}] ${l.describe()}`);
    return lines.join('\n');
  }
}
