/**
 * What the trainer trains: anything that yields a training graph (forward + loss, with parameters,
 * buffers and random inputs listed) and, given trained weights, an inference model. `Network` (layers)
 * and `OnnxModelTrainable` (an imported .onnx) both satisfy it.
 */
import type { Model } from '../onnx/ir.js';
import type { Tensor } from '../onnx/tensor.js';
import type { LossSpec } from '../nn/loss.js';
import type { InputKind, TrainingGraph } from '../nn/network.js';

/** A model the trainer can fit and export. */
export interface Trainable {
  readonly name: string;
  /** Per-sample input shape. */
  readonly inputShape: readonly number[];
  readonly inputKind: InputKind;
  readonly numClasses: number;
  /** Forward in training mode + loss. */
  trainingGraph(options: { loss?: LossSpec; normalizeInput?: 'graph' | 'batcher' }): TrainingGraph;
  /** The deployable model with `weights` (by initializer name) replacing the current values. */
  inferenceGraph(options: { weights?: ReadonlyMap<string, Tensor> }): Model;
  /** Trainable scalars. */
  parameterCount(): number;
  /** Replaces current weights (after training). */
  setWeights(weights: ReadonlyMap<string, Tensor>): void;
}
