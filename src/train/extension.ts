/**
 * Training extensions: plug-ins to fit's loop, passed as instances in `fit({ extensions: [...] })` (no
 * registration). One interface serves pruning masks (compress), host-held sparse embedding tables
 * (recsys) and library callbacks: rewrite the forward training graph before autodiff, pass options to the
 * step builder, feed extra inputs and fetch extra outputs every step, keep host state in checkpoints,
 * contribute to the weights evaluation and export use, and stop training.
 */
import type { TrainStep, TrainStepOptions } from '../autodiff/types.js';
import type { DType, TypedArray } from '../onnx/dtype.js';
import type { Graph } from '../onnx/ir.js';
import type { Tensor } from '../onnx/tensor.js';
import type { FeedSpec } from '../data/feed-plan.js';
import type { EpochMetrics } from './progress.js';
import type { StepFeed } from './step-runner.js';

/** What `prepareGraph` sees: the forward training graph (mutable), its trainable parameters and feeds. */
export interface PrepareContext {
  /** Forward graph + loss; the extension may rewrite it (before autodiff). */
  graph: Graph;
  /** Trainable parameter names (the extension may take some over). */
  params: readonly string[];
  /** Feeds the batcher fills (model inputs and loss targets). */
  feeds: readonly FeedSpec[];
  batchSize: number;
}

/** An extra step input the extension fills every step (full shape, batch axis included). */
export interface ExtensionFeed {
  name: string;
  dtype: DType;
  dims: number[];
}

/** What `prepareGraph` declares. */
export interface PrepareResult {
  /** Parameters the extension holds itself (no longer carried by the step graph). */
  removeParams?: readonly string[];
  /** Step inputs it fills in `beforeStep`. */
  feeds?: readonly ExtensionFeed[];
  /** Float32 step outputs it reads in `afterStep` (full shapes). */
  fetch?: readonly { name: string; dims: number[] }[];
}

/** One training step as extensions see it. */
export interface StepContext {
  /** 1-based step number. */
  step: number;
  /** Steps the run will take in total (epochs × steps per epoch). */
  totalSteps: number;
  /** 0-based epoch. */
  epoch: number;
  /** This step's learning rate. */
  lr: number;
  /** Every step input buffer by name: the batcher's (already filled) and the extensions' (to fill). */
  feeds: ReadonlyMap<string, TypedArray>;
  /** The current parameters and buffers (copies, by initializer name); copies every weight, so call it only when needed. */
  weights(): Map<string, Tensor>;
}

/** Epoch end (and validation end) as extensions see it. */
export interface EpochContext {
  /** 0-based epoch that just ended. */
  epoch: number;
  /** The epoch's metrics (validation included once it ran). */
  metrics: EpochMetrics;
  /** 1-based epoch whose weights keep-best holds so far (0 before any), at `onEpochEnd`. */
  bestEpoch?: number;
}

/** Checkpointed state: JSON meta + tensors, restored bit-exactly on resume. */
export interface ExtensionState {
  meta?: unknown;
  tensors?: ReadonlyMap<string, Tensor>;
}

/**
 * A plug-in to fit's loop; every hook is optional. Library callbacks are extensions too: an object with
 * a `name` and `afterStep` / `onValidationEnd` / `onEpochEnd` (each may return `'stop'`).
 *
 * @example
 * const stopAtLoss: TrainingExtension = { name: 'stop-at-loss', afterStep: ({ loss }) => (loss < 0.05 ? 'stop' : undefined) };
 * await fit({ model, train, extensions: [stopAtLoss] });
 */
export interface TrainingExtension {
  /** Unique name (keys the extension's checkpointed state). */
  readonly name: string;
  /** Rewrites the forward training graph before autodiff; declares feeds, fetches, removed parameters. */
  prepareGraph?(ctx: PrepareContext): PrepareResult | void;
  /** Options passed through to `buildTrainStep` (e.g. `gradOutputs`). */
  stepOptions?(): Partial<TrainStepOptions>;
  /**
   * Step inputs that exist only once the step is built (e.g. the `<param>/mask` inputs `paramMasks`
   * adds): buffers the extension owns and may rewrite in place in `beforeStep`.
   */
  stepFeeds?(o: { step: TrainStep; batchSize: number }): StepFeed[];
  /** Before each step's run (after the batch is filled): fill the extension's feeds. */
  beforeStep?(ctx: StepContext): void | Promise<void>;
  /**
   * After each step (step-end callback): `loss` is the step's (micro-batch's) loss. Returning `'stop'`
   * ends training after this step: a checkpoint is written and `fit` returns with stopReason `callback`.
   */
  afterStep?(ctx: StepContext & { fetched: ReadonlyMap<string, Float32Array>; loss: number }): void | 'stop' | Promise<void | 'stop'>;
  /** After each epoch's validation, before keep-best and early stopping look at it; `'stop'` ends training after this epoch. */
  onValidationEnd?(ctx: EpochContext): void | 'stop' | Promise<void | 'stop'>;
  /** At each epoch end (after keep-best, early stopping and the checkpoint decision); `'stop'` ends training. */
  onEpochEnd?(ctx: EpochContext): void | 'stop' | Promise<void | 'stop'>;
  /** Host state to checkpoint (restored bit-exactly by `restore` on resume). */
  state?(): ExtensionState;
  /** Restores what `state` returned. */
  restore?(s: ExtensionState): void;
  /** The weights evaluation and export use (e.g. with host-held tables added). */
  finalizeWeights?(weights: Map<string, Tensor>): Map<string, Tensor>;
  /** Part of the resume fingerprint. */
  fingerprint?(): unknown;
}
