/**
 * The contract between autodiff (which builds training-step graphs) and nn/train (which feeds them).
 * A training step is ONE ONNX graph: forward + loss + backward + optimizer update. The trainer feeds
 * data, labels, parameters, optimizer state, buffers, random tensors and the learning rate, and gets
 * back the loss, metrics outputs, new parameters, new state and new buffers, which it feeds next step.
 */
import type { Graph, Model } from '../onnx/ir.js';
import type { Tensor } from '../onnx/tensor.js';

/** SGD with optional momentum (heavy-ball or Nesterov) and L2 weight decay. */
export interface SgdConfig {
  type: 'sgd';
  momentum?: number;
  nesterov?: boolean;
  weightDecay?: number;
}

/** Adam / AdamW (decoupled weight decay). */
export interface AdamConfig {
  type: 'adam' | 'adamw';
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  weightDecay?: number;
}

/** Optimizer choice; its update is emitted into the step graph. */
export type OptimizerConfig = SgdConfig | AdamConfig;

/** A non-trainable tensor the forward pass updates (e.g. BatchNorm running mean): `name` in, `updated` out. */
export interface Buffer {
  /** Initializer name in the forward graph (becomes a step-graph input). */
  name: string;
  /** Value name in the forward graph holding the updated buffer (becomes a step-graph output). */
  updated: string;
}

/** Options for `buildTrainStep`. */
export interface TrainStepOptions {
  /** Forward graph: data/label/random inputs, parameters and buffers as initializers, and the scalar `loss`. Not modified. */
  graph: Graph;
  /** Name of the scalar loss value in `graph`. */
  loss: string;
  /** Trainable initializer names. */
  params: readonly string[];
  optimizer: OptimizerConfig;
  /** Clip gradients by global L2 norm to at most this value. */
  clipGradNorm?: number;
  /**
   * Compute the global gradient norm each step (default true). `false` saves one pass over all
   * gradients; without `clipGradNorm` the `gradNormOutput` then holds NaN.
   */
  gradNorm?: boolean;
  /** Buffers updated by the forward pass. */
  buffers?: readonly Buffer[];
  /** Extra forward values to return each step (e.g. logits for accuracy). */
  extraOutputs?: readonly string[];
  /** Default-domain opset for the step model (default 21). */
  opset?: number;
  /** Backward formulation choices (default: the fastest measured in bench/conv-step.ts). */
  formulations?: Formulations;
  /**
   * Parameters trained under a fed 0/1 mask (pruning): each gets a step input `<param>/mask` of its dtype
   * and shape (listed in `TrainStep.masks`). The gradient is masked before the global norm and clipping,
   * and W_next = mask ⊙ update(W) and every optimizer-state output is masked too, so pruned weights (and
   * their momentum / Adam moments) stay exactly 0 however the optimizer moves the rest. A mask that
   * changes between steps prunes the newly masked weights at that step.
   */
  paramMasks?: readonly string[];
  /**
   * Float data inputs whose gradient dLoss/dX the step returns (as `<input>/grad`, same shape), e.g.
   * embedding rows gathered by the host so it can update a table held outside the graph. They count in
   * the global gradient norm and are clipped with the parameters' gradients.
   */
  gradOutputs?: readonly string[];
  /**
   * Parameters updated without weight decay (parameter groups: biases and normalisation scales, by
   * convention). The optimizer's `weightDecay` applies to every other parameter.
   */
  noDecay?: readonly string[];
  /**
   * Gradient accumulation over `accumulate` micro-batches (default 1: none). Each parameter gets a
   * gradient accumulator (optimizer-kind state `<param>/grad_acc`) and the step a float32 scalar input
   * `apply` (`TrainStep.applyInput`): every step adds its gradient to the accumulator; a step fed
   * apply = 1 uses the mean of the accumulated gradients (clipping and the reported norm see that mean),
   * updates the parameters and optimizer state and zeroes the accumulator; apply = 0 leaves parameters
   * and optimizer state as they were. With a mean loss over equal micro-batches this is exactly the step
   * of one batch `accumulate` times larger (buffers such as BatchNorm statistics still update per
   * micro-batch). Not combinable with `gradOutputs`.
   */
  accumulate?: number;
  /**
   * An exponential moving average of the parameters, kept in the step graph: optimizer-kind state
   * `<param>/ema` (listed in `TrainStep.ema`), starting at the initial weights and updated after each
   * parameter update as ema ← decay·ema + (1 − decay)·W.
   */
  ema?: { decay: number };
}

/** Equivalent ways to emit some gradients; all are exact, they differ only in speed. */
export interface Formulations {
  /**
   * Conv weight gradient. `unfold3d-gemm` (default): X[N, C, H, W] viewed as C single-channel volumes
   * [C, 1, N, H, W]; a 3-D Conv with an identity kernel [K, 1, 1, kh, kw] unfolds them straight into
   * cols[C·K, N·L], so dW = dY[M, N·L] · colsᵀ is ONE large Gemm (2-D convs; others use `unfold-matmul`).
   * `unfold-slices`: the same cols[C·K, N·L] from one Pad and one strided Slice per kernel offset (copies
   * only, no identity-kernel arithmetic), then the same Gemm.
   * `unfold-*`: a grouped Conv with an identity kernel unfolds X into patches cols[N, C·K, L],
   * then `unfold-matmul` = Σₙ dYₙ·colsₙᵀ (batched MatMul, ReduceSum over N), `unfold-matmul-t` =
   * Σₙ colsₙ·dYₙᵀ then one small Transpose, `unfold-gemm` = one Gemm over (N·L) after transposing cols.
   * `conv`: a Conv of batch-transposed X with batch-transposed dY as the kernel.
   */
  convWeight?: 'unfold3d-gemm' | 'unfold-slices' | 'unfold-matmul' | 'unfold-matmul-t' | 'unfold-gemm' | 'conv';
  /**
   * Conv input gradient: `conv` (a Conv of dY with flipped, transposed weights; stride 1 only, other
   * strides fall back to ConvTranspose) or `conv-transpose`.
   */
  convInput?: 'conv' | 'conv-transpose';
  /**
   * MaxPool gradient. `mask` (default where windows tile the input: kernel = stride, no pads/dilation,
   * sizes divisible): dy goes to the positions equal to their window's max (Resize-nearest upsampling),
   * split evenly between ties — no Indices output needed, and MaxPool with Indices is ~10× slower in ORT. `unpool`: MaxPool's
   * Indices + MaxUnpool (non-overlapping windows). `scatter`: ScatterElements-add at the Indices (any
   * geometry; the fallback).
   */
  maxPool?: 'mask' | 'unpool' | 'scatter';
}

/** A built training step: the model to run and how to wire its inputs and outputs across steps. */
export interface TrainStep {
  /** The step graph as a model, ready for `Session.create`. */
  model: Model;
  /** Step-graph input carrying the learning rate (float32 scalar). */
  lrInput: string;
  /** Step-graph input carrying the 1-based step count (float32 scalar; Adam bias correction), if used. */
  stepInput?: string;
  /** Output holding the loss (float32 scalar). */
  lossOutput: string;
  /** Output holding the global gradient norm before clipping (float32 scalar). */
  gradNormOutput: string;
  /** Per parameter, buffer and optimizer-state tensor: the input name, its initial value, and the output that replaces it next step. */
  state: StateSlot[];
  /** Data inputs the caller feeds each step (forward graph inputs that are not initializers), in order. */
  dataInputs: string[];
  /** `extraOutputs` as named in the step graph (same order). */
  extraOutputs: string[];
  /** One mask input per `paramMasks` entry (same order): fed every step, never produced by the step. */
  masks?: { param: string; input: string }[];
  /** `gradOutputs`: each input and the step output holding its gradient. */
  gradOutputs: { input: string; output: string }[];
  /** With `accumulate` > 1: the float32 scalar input, 1 on the micro-batch that applies the update, else 0. */
  applyInput?: string;
  /** With `ema`: each parameter and the state input holding its moving average. */
  ema?: { param: string; input: string }[];
}

/** One carried tensor: fed as `input`, replaced by `output` after each step. */
export interface StateSlot {
  kind: 'param' | 'buffer' | 'optimizer';
  /** For optimizer state: the parameter it belongs to. */
  param?: string;
  input: string;
  output: string;
  initial: Tensor;
}
