/**
 * The plug-in point of `trainfer lab`: a `Workload` says how to train its model, which variants to
 * build from it, how to feed the load generator, and which quality metric to report. The lab lists
 * workloads in one static array (`WORKLOADS` in workloads.ts) — adding one (a text transformer, a
 * recommender, a pruned or distilled variant) touches that list and the workload's own file.
 */
import type { Model } from '../../onnx/ir.js';
import type { TensorSampleLibrary } from '../qsl.js';
import type { MatmulPeak, TrainingRecord } from '../train-bench.js';

/** What a workload's hooks may use. */
export interface LabContext {
  quick: boolean;
  seed: number;
  /** onnxruntime threads for training and builds (default every core). */
  threads?: number;
  /** The MatMul peak measured once per lab run. */
  peak?: MatmulPeak;
  /** Prints a line above the progress bar. */
  log(line: string): void;
  /** Data loaded once per lab run, shared across workloads (e.g. MNIST). */
  cache: Map<string, unknown>;
}

/** The quality metric a workload reports for every variant. */
export interface QualityMetric {
  /** e.g. `top-1 accuracy`, `F1`, `recall@10`. */
  name: string;
  /** Shown as a percentage (values in [0, 1]). */
  percent: boolean;
  higherIsBetter: boolean;
}

/** What the load generator needs per workload. */
export interface WorkloadBench {
  /** Offline scenario: samples per `run()`. */
  offlineBatch: number;
  /** Multi-stream scenario: samples per query. */
  samplesPerQuery: number;
  /** Server scenario: the p99 bound of the QPS search, ms. */
  latencyBoundMs: number;
}

/** Arguments of a variant's `build`. */
export interface VariantBuildArgs {
  ctx: LabContext;
  /** The trained base model (fp32 .onnx). */
  base: string;
  /** Where to write the variant's runnable .onnx. */
  out: string;
}

/** What a variant's `build` made. */
export interface BuiltVariant {
  /** Bytes stored and shipped per replica when the artifact is not the .onnx itself (e.g. a packed .tfz). */
  storedBytes?: number;
  /** The stored artifact's path, when it differs from the .onnx. */
  artifact?: string;
  notes?: string;
}

/** One variant a workload builds from its trained model. */
export interface VariantSpec {
  id: string;
  label: string;
  /** Built in `--quick` runs too (default false: full lab only). */
  quick?: boolean;
  /** Writes the variant's runnable .onnx to `out` (through a verified write). */
  build(a: VariantBuildArgs): Promise<BuiltVariant>;
}

/** A workload of the lab. */
export interface Workload {
  id: string;
  title: string;
  /** e.g. `image classification (MNIST)`. */
  task: string;
  quality: QualityMetric;
  bench: WorkloadBench;
  /** Everything that determines the trained model: `--reuse` keys the model cache on its hash. */
  recipe(ctx: LabContext): Record<string, unknown>;
  /** Trains the base model into `out` (fp32 .onnx) and measures the run. */
  train(ctx: LabContext, out: string, metricsLog: string): Promise<TrainingRecord>;
  /** Variants in order; the first is the baseline the others are compared with. */
  variants: readonly VariantSpec[];
  /** Left out of `--quick` runs unless named with `--workload` (default false: in every run). */
  fullOnly?: boolean;
  /** The samples the load generator draws from (e.g. the test split); `file` is the trained model's path (files a training job writes beside it, such as tokenizer.json, are there). */
  samples(ctx: LabContext, model: Model, file: string): TensorSampleLibrary | Promise<TensorSampleLibrary>;
  /** The quality metric of a model file (e.g. test accuracy). */
  evaluate(ctx: LabContext, modelPath: string): Promise<number>;
}
