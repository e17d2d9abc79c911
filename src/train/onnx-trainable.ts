/**
 * Fine-tuning an existing ONNX model (e.g. exported from PyTorch): pick trainable initializers (every
 * float initializer with at least one axis by default, minus BatchNorm running statistics), attach a
 * cross-entropy loss to an output, train with `fit`, and export the original graph with new weights.
 */
import { cloneGraph } from '../autodiff/index.js';
import { GraphBuilder } from '../onnx/builder.js';
import { isFloat } from '../onnx/dtype.js';
import { Model, type Graph } from '../onnx/ir.js';
import { foldConstants } from '../onnx/passes.js';
import type { Tensor } from '../onnx/tensor.js';
import { TrainferError } from '../util/errors.js';
import { attachLoss, type LossSpec } from '../nn/loss.js';
import type { InputKind, TrainingGraph } from '../nn/network.js';
import type { Trainable } from './trainable.js';

/** Options for `OnnxModelTrainable`. */
export interface OnnxTrainableOptions {
  model: Model;
  /** Name for messages (e.g. the file path). */
  name?: string;
  /** Trainable initializers: names, or a predicate. Default: float initializers of rank ≥ 1, except BatchNorm running mean/var. */
  trainable?: readonly string[] | ((name: string, tensor: Tensor) => boolean);
  /** Output the loss is attached to (default: the first). If it comes from a Softmax, the Softmax's input is used. */
  output?: string;
  /** Input fed with samples (default: the first input that is not an initializer). */
  input?: string;
  /** Per-sample input shape when the model's input dims are symbolic. */
  inputShape?: readonly number[];
  /** Class count, used only when the output's last dim is symbolic. */
  numClasses?: number;
}

/** An imported ONNX model as a `Trainable`. The given model is never modified. */
export class OnnxModelTrainable implements Trainable {
  readonly name: string;
  readonly inputShape: number[];
  readonly inputKind: InputKind;
  readonly numClasses: number;
  /** Names of the trainable initializers. */
  readonly trainable: string[];
  private readonly source: Model;
  private readonly weights = new Map<string, Tensor>();
  private readonly inputName: string;
  private readonly logitsName: string;

  constructor(o: OnnxTrainableOptions) {
    this.source = o.model;
    this.name = o.name ?? (o.model.graph.name || 'model');
    const g = o.model.graph;
    const feeds = g.feedInputs();
    const input = o.input ? feeds.find((v) => v.name === o.input) : feeds[0];
    if (!input) throw new TrainferError(`${this.name}: ${o.input ? `no input named '${o.input}'` : 'the model has no inputs to feed'}`);
    this.inputName = input.name;
    const shape = input.type?.shape;
    const own = shape?.slice(1);
    const per = own && own.every((d) => typeof d === 'number') ? own : o.inputShape ? [...o.inputShape] : own;
    if (!per || per.some((d) => typeof d !== 'number')) {
      throw new TrainferError(`${this.name}: input '${input.name}' has shape [${(shape ?? []).map((d) => d ?? '?').join(', ')}]; its per-sample dims must be fixed (or pass inputShape)`);
    }
    this.inputShape = per as number[];
    const dtype = input.type?.dtype ?? 'float32';
    this.inputKind = dtype === 'int64' ? 'tokens' : per.length === 3 ? 'image' : 'tabular';
    const outName = o.output ?? g.outputs[0]?.name;
    if (!outName || !g.outputs.some((v) => v.name === outName)) throw new TrainferError(`${this.name}: ${o.output ? `no output named '${o.output}'` : 'the model has no outputs'}`);
    // A model ending in Softmax outputs probabilities; the loss wants the scores before it.
    let producer = g.nodes.find((n) => n.outputs.includes(outName));
    while (producer?.opType === 'Identity') producer = g.nodes.find((n) => n.outputs.includes(producer!.inputs[0]!));
    this.logitsName = producer?.opType === 'Softmax' ? producer.inputs[0]! : outName;
    const outShape = g.outputs.find((v) => v.name === outName)?.type?.shape;
    const last = outShape?.[outShape.length - 1];
    const classes = typeof last === 'number' ? last : o.numClasses;
    if (classes === undefined) throw new TrainferError(`${this.name}: output '${outName}' has no fixed class dimension (pass numClasses)`);
    this.numClasses = classes;
    const bnStats = new Set(g.nodes.filter((n) => n.opType === 'BatchNormalization').flatMap((n) => [n.inputs[3], n.inputs[4]]));
    const pick = o.trainable;
    const all = [...g.initializers].filter(([k, t]) => isFloat(t.dtype) && (pick === undefined ? t.dims.length > 0 && !bnStats.has(k) : typeof pick === 'function' ? pick(k, t) : pick.includes(k)));
    if (Array.isArray(pick)) for (const k of pick) if (!g.initializers.has(k)) throw new TrainferError(`${this.name}: no initializer named '${k}' to train`);
    this.trainable = all.map(([k]) => k);
    if (this.trainable.length === 0) throw new TrainferError(`${this.name}: no trainable float initializers`);
    for (const [k, t] of all) this.weights.set(k, t);
  }

  /** Trainable scalars. */
  parameterCount(): number {
    let n = 0;
    for (const t of this.weights.values()) n += t.size;
    return n;
  }

  /** The imported forward graph + cross-entropy on the chosen output; batch axis made symbolic. */
  trainingGraph(options: { loss?: LossSpec; normalizeInput?: 'graph' | 'batcher' } = {}): TrainingGraph {
    const g: Graph = cloneGraph(this.source.graph);
    for (const [k, t] of this.weights) g.initializers.set(k, t);
    foldConstants(g);
    g.inputs = g.inputs.map((v) => (v.name === this.inputName && v.type?.shape ? { ...v, type: { ...v.type, shape: ['batch', ...v.type.shape.slice(1)] } } : v));
    // Other feeds (besides the chosen input) cannot be supplied by the trainer.
    const extra = g.feedInputs().filter((v) => v.name !== this.inputName);
    if (extra.length) throw new TrainferError(`${this.name}: input '${extra[0]!.name}' has no data to feed (only '${this.inputName}' is fed)`);
    g.outputs = [];
    const b = new GraphBuilder({ graph: g });
    const { loss, labels } = attachLoss(b, { logits: this.logitsName, spec: options.loss ?? { type: 'cross-entropy' }, labels: g.uniqueName('labels') });
    b.output(loss, loss, { dtype: 'float32', shape: [] });
    return {
      graph: g,
      loss,
      logits: this.logitsName,
      input: { name: this.inputName, dtype: this.inputKind === 'tokens' ? 'int64' : 'float32', shape: [...this.inputShape] },
      labels,
      params: [...this.trainable],
      buffers: [],
      random: [],
    };
  }

  /** The original model (structure, opsets, metadata) with trained initializers. */
  inferenceGraph(options: { weights?: ReadonlyMap<string, Tensor> } = {}): Model {
    const src = this.source;
    const g = cloneGraph(src.graph);
    g.proto = src.graph.proto;
    for (const [k, t] of this.weights) g.initializers.set(k, t);
    for (const [k, t] of options.weights ?? []) if (g.initializers.has(k)) g.initializers.set(k, t);
    const m = new Model(g);
    m.irVersion = src.irVersion;
    m.opsets = new Map(src.opsets);
    m.producerName = src.producerName;
    m.producerVersion = src.producerVersion;
    m.domain = src.domain;
    m.modelVersion = src.modelVersion;
    m.docString = src.docString;
    m.metadata = new Map(src.metadata);
    m.functions = src.functions;
    return m;
  }

  /** Replaces trainable weights (after training). */
  setWeights(weights: ReadonlyMap<string, Tensor>): void {
    for (const [k, t] of weights) if (this.weights.has(k)) this.weights.set(k, t);
  }
}
