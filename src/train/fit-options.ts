/**
 * The options and result of `fit` (fit.ts re-exports both): what a run can be asked to do — data, losses,
 * optimizer and schedule, the trainer essentials (parameter groups, freezing, accumulation, EMA,
 * keep-best / top-k, early stopping), checkpoints and resume, progress, extensions — and what it reports.
 */
import type { AugmentSpec } from '../data/augment.js';
import type { OptimizerConfig } from '../autodiff/types.js';
import type { Tensor } from '../onnx/tensor.js';
import type { Device } from '../runtime/session.js';
import type { FeedBinding } from '../data/feed-plan.js';
import type { TableStream } from '../data/stream.js';
import type { Table } from '../data/table.js';
import type { HeadLoss, LossSpec } from '../nn/loss.js';
import type { TargetColumns } from './evaluate.js';
import type { TrainingExtension } from './extension.js';
import type { TopEntry } from './fit-essentials.js';
import type { EpochMetrics, ProgressMode, ProgressReporter } from './progress.js';
import type { Schedule } from './schedule.js';
import type { Trainable } from './trainable.js';

/** Options for `fit` (one object; every field but `model` and `train` has a default). */
export interface FitOptions extends TargetColumns {
  model: Trainable;
  /** Training rows: a table in memory, or a stream over a file larger than memory. */
  train: Table | TableStream;
  /** Evaluated after every epoch (metrics, keep-best, early stopping). */
  validation?: Table | TableStream;
  /**
   * Where feeds come from, by feed name: model inputs from columns (default: an input named like a
   * column reads it; a single remaining input reads every unused column), custom-loss targets from
   * columns or providers (e.g. `teacherOutputs`).
   */
  feeds?: Readonly<Record<string, FeedBinding>>;
  /** Loss on the first head (default: its task's: cross-entropy, BCE, MSE). */
  loss?: LossSpec;
  /** Several loss terms (multi-output models, custom losses); instead of `loss`. */
  losses?: readonly HeadLoss[];
  /** Default 1. */
  epochs?: number;
  /** Default 128. The last partial batch of each epoch is dropped (fixed shapes, no reallocation). */
  batchSize?: number;
  /** Default SGD, momentum 0.9, Nesterov. */
  optimizer?: OptimizerConfig;
  /** Peak learning rate (default 0.05 for SGD, 0.002 for Adam/AdamW). */
  lr?: number;
  /** Default constant. */
  schedule?: Schedule;
  /** Clip gradients to this global L2 norm (the accumulated mean gradient with `accumulate`). */
  clipGradNorm?: number;
  /**
   * Keep parameters whose name matches fixed (a regular expression, e.g. `^conv` or `linear1\.`); it
   * must match at least one trainable parameter and leave one to train.
   */
  freeze?: string | RegExp;
  /**
   * Apply weight decay to every parameter. By default biases and normalisation scales/shifts (every
   * parameter of rank ≤ 1) are trained without it (parameter groups, as common practice).
   */
  weightDecayAll?: boolean;
  /**
   * Gradient accumulation: one optimizer step per `accumulate` batches of `batchSize` (default 1),
   * exactly the step of one batch of `batchSize × accumulate` for mean losses. Steps count batches;
   * schedules count optimizer steps; an epoch uses a whole number of optimizer steps.
   */
  accumulate?: number;
  /**
   * Keep an exponential moving average of the weights in the step graph (ema ← decay·ema + (1−decay)·W
   * after each update). Validation, keep-best, the result and exported models use the EMA weights.
   */
  ema?: { decay: number };
  /** Return (and export) the best epoch's weights by `monitor` even without early stopping. */
  keepBest?: boolean;
  /** With `checkpointDir`: keep the weights of the `saveTopK` best epochs as `best-epoch-<n>.trainfer`. */
  saveTopK?: number;
  /** Compute the global gradient norm every step and log it in the metrics' step records (one extra pass over all gradients; default false). */
  trackGradNorm?: boolean;
  /** Seed for shuffling and dropout (default 0). Weight init is seeded when the model is built. */
  seed?: number;
  /**
   * What keep-best and early stopping watch: `val_loss` (default with validation data), `val_accuracy`,
   * `val_f1`, `val_auc`, `val_pr_auc`, `val_rmse`, `val_mae`, `val_r2`, …, or training `loss`.
   */
  monitor?: string;
  /**
   * Stop when the monitored metric has not improved by `minDelta` for `patience` epochs. With early
   * stopping the result holds the best epoch's weights (`bestEpoch`).
   */
  earlyStopping?: { patience: number; minDelta?: number };
  /** Directory for `checkpoint.trainfer` (written each epoch, every `checkpointEverySteps`, and on stop). */
  checkpointDir?: string;
  checkpointEverySteps?: number;
  /** Continue from the checkpoint in `checkpointDir` (error if there is none). */
  resume?: boolean;
  /** Start over in a `checkpointDir` that holds another run (its checkpoint and metrics log are replaced). */
  overwrite?: boolean;
  /** JSONL metrics file (appended; truncated with `overwrite`). */
  metricsLog?: string;
  /** Step records in the metrics log every this many steps (default 100; 0 = epochs only). */
  logEvery?: number;
  progress?: ProgressMode | ProgressReporter;
  /** onnxruntime intra-op threads (default: every core). */
  threads?: number;
  /**
   * Whether onnxruntime's idle intra-op threads spin waiting for the next operator (default false: a
   * step is many small operators, and on a machine shared with other processes spinning threads take the
   * cores the work needs, so steps slow down and vary; bench/train-step-profile.ts measures both).
   */
  spinning?: boolean;
  /** Where onnxruntime runs: `cpu` (default) or `cuda` (needs a CUDA build of onnxruntime-node). */
  device?: Device;
  /** Stop after this many steps in total (the checkpoint lets a later run continue). */
  maxSteps?: number;
  /** Abort (e.g. on Ctrl-C): the current step finishes, a checkpoint is written (with `checkpointDir`), and `fit` throws. */
  signal?: AbortSignal;
  /** Called after each epoch's validation; return `'stop'` to end training. */
  onEpochEnd?: (m: EpochMetrics) => void | 'stop' | Promise<void | 'stop'>;
  /** Plug-ins to the loop (e.g. `SparseEmbeddings`), run in order. */
  extensions?: readonly TrainingExtension[];
  /**
   * Image augmentation of the training data's image input (random shift, rotation, flip), made on a
   * worker thread ahead of the step; seeded by `seed`, replayed exactly on resume. In-memory tables only.
   */
  augment?: AugmentSpec;
}

/** What `fit` returns. */
export interface FitResult {
  /** Trained parameters and buffers by initializer name (already set on the model); the best epoch's with early stopping. */
  weights: Map<string, Tensor>;
  history: EpochMetrics[];
  /** Epochs completed. */
  epochs: number;
  steps: number;
  /** The epoch whose weights `weights` are (the last, or the best by the monitor with early stopping). */
  bestEpoch: number;
  /** Wall-clock seconds of the whole run (resumed runs include earlier sessions). */
  trainSeconds: number;
  /** Training samples per second over the step loop (validation excluded). */
  samplesPerSecond: number;
  stopReason: 'completed' | 'early-stopping' | 'max-steps' | 'callback';
  /** With `saveTopK`: the kept epochs, best first (`file` holds the weights). */
  topK?: TopEntry[];
  /** Trained parameters kept fixed by `freeze`. */
  frozen: string[];
  /** The resolved configuration (optimizer, lr, schedule, batch size…). */
  config: { epochs: number; batchSize: number; optimizer: OptimizerConfig; lr: number; schedule: string; seed: number; monitor: string };
}
