/**
 * What the trainer trains: anything that yields a training graph (forward + losses, with its feeds,
 * heads, parameters, buffers and random inputs listed) and, given trained weights, an inference model.
 * `Network` (layers) and `OnnxModelTrainable` (an imported .onnx) both satisfy it.
 */
import type { Model } from '../onnx/ir.js';
import type { Tensor } from '../onnx/tensor.js';
import type { ModelHead, ModelInput, TrainingGraph, TrainingGraphOptions } from '../nn/network.js';

/** A model the trainer can fit and export. */
export interface Trainable {
  readonly name: string;
  /** The model's inputs (name, dtype, per-sample shape; strings are symbolic dims). */
  readonly inputs: readonly ModelInput[];
  /** The model's heads (name, task, per-sample shape, inference output). */
  readonly heads: readonly ModelHead[];
  /** Forward in training mode + losses. */
  trainingGraph(options: TrainingGraphOptions): TrainingGraph;
  /** The deployable model with `weights` (by initializer name) replacing the current values. */
  inferenceGraph(options: { weights?: ReadonlyMap<string, Tensor> }): Model;
  /** Trainable scalars. */
  parameterCount(): number;
  /** Replaces current weights (after training). */
  setWeights(weights: ReadonlyMap<string, Tensor>): void;
}
