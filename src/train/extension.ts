/**
 * Training extensions: plug-ins to `fit`'s loop (no registration: pass instances in
 * `fit({ extensions: [...] })`). This is the minimal subset the pruning work needs — step-graph options
 * (e.g. autodiff's `paramMasks`), extra per-step feeds the extension owns and fills in place, a hook
 * before each step (with the current weights on request), weight finalisation and a fingerprint for
 * resumes. The full API (graph rewrites, fetched outputs, checkpointed state, callbacks) is being built on
 * the `train-essentials` branch with the same names; this file gives way to it when it lands.
 */
import type { TrainStep, TrainStepOptions } from '../autodiff/types.js';
import type { Tensor } from '../onnx/tensor.js';
import type { StepFeed } from './step-runner.js';

/** What an extension sees before a step. */
export interface StepContext {
  /** 1-based number of the step about to run. */
  step: number;
  /** Steps the run will take in total (epochs × steps per epoch). */
  totalSteps: number;
  /** 0-based epoch. */
  epoch: number;
  /** The current parameters and buffers (copies, by initializer name); costs a copy of every weight, so call it only when needed. */
  weights(): Map<string, Tensor>;
}

/** A plug-in to fit's loop. */
export interface TrainingExtension {
  readonly name: string;
  /** Options passed through to `buildTrainStep` (e.g. `paramMasks`); autodiff owns their semantics. */
  stepOptions?(): Partial<TrainStepOptions>;
  /** Extra step inputs this extension feeds (buffers it owns and may rewrite in place before each step). */
  stepFeeds?(o: { step: TrainStep; batchSize: number }): StepFeed[];
  /** Host-side work before each step (e.g. update masks on a pruning schedule). */
  beforeStep?(ctx: StepContext): void | Promise<void>;
  /** Adjusts the weights fit returns (and the model is set to). */
  finalizeWeights?(weights: Map<string, Tensor>): Map<string, Tensor>;
  /** Part of the resume fingerprint (settings that change the run). */
  fingerprint?(): unknown;
}
