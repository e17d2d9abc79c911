/**
 * Fine-tuning an existing ONNX model (e.g. exported from PyTorch): any number of inputs of any dtype
 * (float features, int64 token ids, bool masks), one or more outputs as heads (a Softmax/Sigmoid at the
 * end is looked through: the loss wants the scores before it), a default trainable set of layer weights
 * (trainable-set.ts), the losses attached, and export of the original graph with new weights.
 */
import { cloneGraph, inferTypes } from '../autodiff/index.js';
import { GraphBuilder } from '../onnx/builder.js';
import { Model, type Graph } from '../onnx/ir.js';
import { foldConstants } from '../onnx/passes.js';
import type { Tensor } from '../onnx/tensor.js';
import { TrainferError } from '../util/errors.js';
import type { FeedSpec } from '../data/feed-plan.js';
import { type HeadValue, type Task, attachLosses } from '../nn/loss.js';
import { type ModelHead, type ModelInput, type TrainingGraph, type TrainingGraphOptions, resolveLosses } from '../nn/network.js';
import { selectTrainable } from './trainable-set.js';
import type { Trainable } from './trainable.js';

/** Options for `OnnxModelTrainable`. */
export interface OnnxTrainableOptions {
  model: Model;
  /** Name for messages (e.g. the file path). */
  name?: string;
  /**
   * Trainable initializers: names, or a predicate over every float initializer. Default: the weights of
   * MatMul/Gemm/Conv/ConvTranspose, embedding tables (Gather with fed indices), normalisation scales and
   * biases, and biases added to MatMul/Conv outputs — never positional tables, masks or other constants.
   */
  trainable?: readonly string[] | ((name: string, tensor: Tensor) => boolean);
  /** Initializers to keep fixed, removed from the trainable set. */
  freeze?: (name: string) => boolean;
  /** Outputs that are heads (default: the first). A Softmax/Sigmoid producing one is looked through. */
  outputs?: readonly string[];
  /** Task per head (one value for all; default `classification`). */
  task?: Task | readonly Task[];
  /** Per-sample shape of the first input when its dims are symbolic. */
  inputShape?: readonly number[];
  /** Class count, used only when the first head's class dim is symbolic. */
  numClasses?: number;
}

/** The heads of a model: its outputs, with a final Softmax (classification) or Sigmoid (binary, multi-label) looked through. */
export function modelHeads(model: Model, o: { outputs?: readonly string[]; task?: Task | readonly Task[]; numClasses?: number; name?: string } = {}): ModelHead[] {
  const g = model.graph;
  const name = o.name ?? (g.name || 'model');
  const outs = o.outputs?.length ? o.outputs : g.outputs[0] ? [g.outputs[0].name] : [];
  if (outs.length === 0) throw new TrainferError(`${name}: the model has no outputs`);
  const tasks = typeof o.task === 'string' || o.task === undefined ? outs.map(() => (o.task as Task | undefined) ?? 'classification') : [...o.task];
  if (tasks.length !== outs.length) throw new TrainferError(`${name}: ${tasks.length} tasks for ${outs.length} heads`);
  const producer = (v: string) => g.nodes.find((n) => n.outputs.includes(v));
  let inferred: ReturnType<typeof inferTypes> | undefined;
  return outs.map((out, i) => {
    const info = g.outputs.find((v) => v.name === out);
    if (!info) throw new TrainferError(`${name}: no output named '${out}' (outputs: ${g.outputs.map((v) => v.name).join(', ')})`);
    const task = tasks[i]!;
    let p = producer(out);
    while (p?.opType === 'Identity') p = producer(p.inputs[0]!);
    const squash = task === 'classification' ? 'Softmax' : task === 'binary' || task === 'multilabel' ? 'Sigmoid' : undefined;
    const value = squash && p?.opType === squash ? p.inputs[0]! : out;
    // Outputs declared without a shape: infer it (a classifier's class count lives there).
    if (!info.type?.shape) inferred ??= inferTypes(g);
    const dims = (info.type?.shape ?? inferred?.get(out)?.shape)?.slice(1) ?? (i === 0 && o.numClasses !== undefined ? [o.numClasses] : []);
    const shape = dims.map((d, k) => (typeof d === 'number' && d >= 0 ? d : i === 0 && k === 0 && o.numClasses !== undefined ? o.numClasses : (d ?? `${out}_dim${k + 1}`)));
    return { name: out, task, shape, output: value };
  });
}

/** An imported ONNX model as a `Trainable`. The given model is never modified. */
export class OnnxModelTrainable implements Trainable {
  readonly name: string;
  readonly inputs: ModelInput[];
  readonly heads: ModelHead[];
  /** Names of the trainable initializers. */
  readonly trainable: string[];
  private readonly source: Model;
  private readonly weights = new Map<string, Tensor>();

  constructor(o: OnnxTrainableOptions) {
    this.source = o.model;
    this.name = o.name ?? (o.model.graph.name || 'model');
    const g = o.model.graph;
    const feeds = g.feedInputs();
    if (feeds.length === 0) throw new TrainferError(`${this.name}: the model has no inputs to feed`);
    this.inputs = feeds.map((v, i) => {
      const shape = v.type?.shape;
      if (!shape || shape.length === 0) throw new TrainferError(`${this.name}: input '${v.name}' has no shape with a batch dimension`);
      const first = shape[0];
      const per = shape.slice(1).map((d, k) => (typeof d === 'number' && d >= 0 ? d : i === 0 && o.inputShape?.[k] !== undefined ? o.inputShape[k]! : (d ?? `${v.name}_dim${k + 1}`)));
      return { name: v.name, dtype: v.type?.dtype ?? 'float32', shape: per, ...(typeof first === 'number' && first > 0 ? { batchDim: first } : {}) };
    });
    this.heads = modelHeads(o.model, { outputs: o.outputs, task: o.task, numClasses: o.numClasses, name: this.name });
    const pick = o.trainable;
    if (Array.isArray(pick)) for (const k of pick) if (!g.initializers.has(k)) throw new TrainferError(`${this.name}: no initializer named '${k}' to train`);
    this.trainable = selectTrainable(g, { heads: this.heads.map((h) => h.output), pick, freeze: o.freeze });
    if (this.trainable.length === 0) throw new TrainferError(`${this.name}: no trainable initializers${pick || o.freeze ? ' match --trainable/--freeze' : ''}`);
    for (const k of this.trainable) this.weights.set(k, g.initializers.get(k)!);
  }

  /** Number of classes of the first head (its first per-sample dim). */
  get numClasses(): number {
    const d = this.heads[0]!.shape[0];
    return typeof d === 'number' ? d : 1;
  }

  /** Per-sample shape of the first input (symbolic dims as -1). */
  get inputShape(): number[] {
    return this.inputs[0]!.shape.map((d) => (typeof d === 'number' ? d : -1));
  }

  /** Trainable scalars. */
  parameterCount(): number {
    let n = 0;
    for (const t of this.weights.values()) n += t.size;
    return n;
  }

  /** The imported forward graph + the losses on the heads; batch axes made symbolic. */
  trainingGraph(options: TrainingGraphOptions = {}): TrainingGraph {
    const g: Graph = cloneGraph(this.source.graph);
    for (const [k, t] of this.weights) g.initializers.set(k, t);
    foldConstants(g);
    const byName = new Map(this.inputs.map((i) => [i.name, i]));
    g.inputs = g.inputs.map((v) => {
      const inp = byName.get(v.name);
      return inp && v.type ? { ...v, type: { ...v.type, shape: ['batch', ...inp.shape] } } : v;
    });
    g.outputs = [];
    const b = new GraphBuilder({ graph: g });
    const heads: HeadValue[] = this.heads.map((h) => ({ name: h.name, value: h.output, task: h.task, shape: h.shape }));
    for (const h of heads) if (!g.valueInfo.has(h.value) && h.value !== h.name) g.valueInfo.set(h.value, { name: h.value, type: { dtype: 'float32', shape: ['batch', ...h.shape] } });
    const { loss, targets } = attachLosses(b, { heads, losses: resolveLosses(this.heads, options) });
    b.output(loss, loss, { dtype: 'float32', shape: [] });
    const feeds: FeedSpec[] = [...this.inputs.map((i) => ({ name: i.name, dtype: i.dtype, shape: i.shape, role: 'input' as const })), ...targets.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, role: 'target' as const, ...(t.head ? { head: t.head } : {}) }))];
    return { graph: g, loss, feeds, heads, params: [...this.trainable], buffers: [], random: [] };
  }

  /** The original model (structure, opsets, metadata) with trained initializers. */
  inferenceGraph(options: { weights?: ReadonlyMap<string, Tensor> } = {}): Model {
    const src = this.source;
    const g = cloneGraph(src.graph);
    g.proto = src.graph.proto;
    for (const [k, t] of this.weights) g.initializers.set(k, t);
    for (const [k, t] of options.weights ?? []) if (g.initializers.has(k)) g.initializers.set(k, t);
    const m = src.withGraph(g);
    return m;
  }

  /** Replaces trainable weights (after training). */
  setWeights(weights: ReadonlyMap<string, Tensor>): void {
    for (const [k, t] of weights) if (this.weights.has(k)) this.weights.set(k, t);
  }
}
