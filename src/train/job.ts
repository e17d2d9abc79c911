/**
 * A complete training job as the CLI runs it: load data, build a preset or import an .onnx, fit with
 * defaults for the model family, export the inference model atomically, then evaluate the exported file
 * on the test split. The CLI, the demo and the benches all call `runTrainJob`.
 */
import { existsSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { OptimizerConfig } from '../autodiff/types.js';
import { readModel, writeModel } from '../onnx/model-io.js';
import { TrainferError } from '../util/errors.js';
import { featureStats, take } from '../data/dataset.js';
import { loadData } from '../data/load.js';
import { buildPreset, isPreset } from '../nn/presets.js';
import { type Device, Session } from '../runtime/session.js';
import { lrFor, resolveDefaults } from './defaults.js';
import { evaluate } from './evaluate.js';
import { type FitResult, fit } from './fit.js';
import { OnnxModelTrainable } from './onnx-trainable.js';
import type { EpochMetrics, ProgressMode, ProgressReporter } from './progress.js';
import { type Schedule, formatSchedule, parseSchedule } from './schedule.js';
import type { Trainable } from './trainable.js';

/** Options for `runTrainJob` (the CLI flags of `trainfer train`). */
export interface TrainJobOptions {
  /** Preset (`mlp:256`, `lenet300`, `cnn`) or an `.onnx` file to fine-tune. */
  model: string;
  /** `mnist`, an IDX directory or a `.csv` file. */
  data: string;
  epochs?: number;
  batchSize?: number;
  optimizer?: 'sgd' | 'adam' | 'adamw';
  lr?: number;
  momentum?: number;
  weightDecay?: number;
  schedule?: string | Schedule;
  seed?: number;
  /** Output .onnx (default `<model name>.onnx`). */
  out?: string;
  checkpointDir?: string;
  resume?: boolean;
  checkpointEverySteps?: number;
  /** Fraction of the training data held out for validation each epoch (default 0.05). */
  validationSplit?: number;
  /** Early stopping patience in epochs (needs validation). */
  patience?: number;
  labelSmoothing?: number;
  clipGradNorm?: number;
  labelColumn?: string;
  testData?: string;
  /** Use only the first N training samples. */
  trainLimit?: number;
  /** Fine-tuning: regular expression selecting trainable initializers. */
  trainable?: string;
  metricsLog?: string;
  threads?: number;
  /** Where onnxruntime runs: `cpu` (default) or `cuda` (needs a CUDA build of onnxruntime-node). */
  device?: Device;
  maxSteps?: number;
  progress?: ProgressMode | ProgressReporter;
  /** Stops training after the current step (checkpointed when `checkpointDir` is set). */
  signal?: AbortSignal;
  onEpochEnd?: (m: EpochMetrics) => void | 'stop' | Promise<void | 'stop'>;
}

/** What `trainfer train --json` prints. */
export interface TrainJobResult {
  model: string;
  data: string;
  out: string;
  /** Accuracy of the exported .onnx on the test split. */
  testAccuracy: number;
  testLoss: number;
  validationAccuracy?: number;
  epochs: number;
  steps: number;
  trainSeconds: number;
  samplesPerSecond: number;
  parameters: number;
  batchSize: number;
  optimizer: OptimizerConfig;
  lr: number;
  schedule: string;
  seed: number;
  stopReason: FitResult['stopReason'];
  history: EpochMetrics[];
}

/** Runs a training job end to end. Nothing is written to `out` unless training succeeds. */
export async function runTrainJob(o: TrainJobOptions): Promise<TrainJobResult> {
  const seed = o.seed ?? 0;
  const splits = loadData({ source: o.data, labelColumn: o.labelColumn, testSource: o.testData, validationSplit: o.validationSplit ?? 0.05, seed });
  const train = o.trainLimit ? take(splits.train, o.trainLimit) : splits.train;
  const { validation, test } = splits;
  const model = buildModel(o, train, seed);
  const d = resolveDefaults({ spec: o.model, trainCount: train.count });
  const optimizer = optimizerConfig(o, d.optimizer);
  const lr = o.lr ?? lrFor(optimizer, d.lr, d.optimizer);
  const schedule = typeof o.schedule === 'string' ? parseSchedule(o.schedule) : (o.schedule ?? d.schedule);
  const out = o.out ?? `${o.model.toLowerCase().endsWith('.onnx') ? basename(o.model, '.onnx') + '-finetuned' : model.name}.onnx`;
  if (existsSync(out) && statSync(out).isDirectory()) throw new TrainferError(`--out ${out}: is a directory`);
  const metricsLog = o.metricsLog ?? (o.checkpointDir ? join(o.checkpointDir, 'metrics.jsonl') : undefined);
  const epochs = o.epochs ?? d.epochs;
  const batchSize = o.batchSize ?? d.batchSize;
  if (o.progress !== 'none' && typeof o.progress !== 'object') {
    const n = (x: number) => x.toLocaleString('en-US');
    const opt = optimizer.type === 'sgd' ? `sgd (momentum ${optimizer.momentum ?? 0}${optimizer.nesterov ? ', Nesterov' : ''})` : optimizer.type;
    process.stderr.write(`training ${model.name} (${n(model.parameterCount())} parameters) on ${o.data}: ${n(train.count)} train / ${n(validation?.count ?? 0)} validation / ${n(test.count)} test samples; ${opt}, lr ${lr} ${formatSchedule(schedule)}, batch ${batchSize}, ${epochs} epoch${epochs === 1 ? "" : "s"}\n`);
  }
  const r = await fit({
    model,
    train,
    validation,
    epochs,
    batchSize,
    optimizer,
    lr,
    schedule,
    clipGradNorm: o.clipGradNorm,
    loss: { type: 'cross-entropy', labelSmoothing: o.labelSmoothing },
    seed,
    earlyStopping: o.patience ? { patience: o.patience } : undefined,
    checkpointDir: o.checkpointDir,
    checkpointEverySteps: o.checkpointEverySteps,
    resume: o.resume,
    metricsLog,
    progress: o.progress,
    threads: o.threads,
    device: o.device,
    maxSteps: o.maxSteps,
    onEpochEnd: o.onEpochEnd,
    signal: o.signal,
  });
  // Export, then measure the exported file itself: what users deploy is what we score.
  writeModel(out, model.inferenceGraph({ weights: r.weights }));
  let session: Session;
  try {
    session = await Session.create({ path: out }, { intraOpThreads: o.threads, device: o.device });
  } catch (err) {
    rmSync(out, { force: true });
    throw err;
  }
  const ev = await evaluate({ model: session, data: test, modelName: out, threads: o.threads });
  await session.release();
  const last = r.history[r.history.length - 1];
  return {
    model: o.model,
    data: o.data,
    out,
    testAccuracy: ev.accuracy,
    testLoss: ev.loss,
    validationAccuracy: last?.valAccuracy,
    epochs: r.epochs,
    steps: r.steps,
    trainSeconds: r.trainSeconds,
    samplesPerSecond: r.samplesPerSecond,
    parameters: model.parameterCount(),
    batchSize: r.config.batchSize,
    optimizer: r.config.optimizer,
    lr: r.config.lr,
    schedule: formatSchedule(schedule),
    seed,
    stopReason: r.stopReason,
    history: r.history,
  };
}

/** A preset (with in-graph standardisation from the training data) or an imported .onnx. */
export function buildModel(o: Pick<TrainJobOptions, 'model' | 'trainable'>, train: ReturnType<typeof loadData>['train'], seed: number): Trainable {
  if (isPreset(o.model)) {
    const stats = featureStats(train);
    const perChannel = train.kind === 'image' ? channelStats(stats, train.sampleShape) : { mean: [...stats.mean], std: [...stats.std] };
    return buildPreset({ spec: o.model, inputShape: train.sampleShape, numClasses: train.numClasses, normalize: perChannel, inputKind: train.kind, seed, classNames: train.classNames });
  }
  if (!o.model.toLowerCase().endsWith('.onnx')) throw new TrainferError(`--model ${o.model}: expected a preset (mlp:H1,H2,…, lenet300, cnn) or an .onnx file`);
  const re = o.trainable ? new RegExp(o.trainable) : undefined;
  return new OnnxModelTrainable({
    model: readModel(o.model),
    name: o.model,
    numClasses: train.numClasses,
    inputShape: train.sampleShape,
    trainable: re ? (name, t) => re.test(name) && t.dtype === 'float32' : undefined,
  });
}

/** Averages per-pixel statistics into per-channel mean/std for [C, H, W] images. */
function channelStats(s: { mean: Float32Array; std: Float32Array }, shape: readonly number[]): { mean: number[]; std: number[] } {
  const c = shape[0]!;
  const hw = s.mean.length / c;
  const mean: number[] = [];
  const std: number[] = [];
  for (let k = 0; k < c; k++) {
    let m = 0;
    let sq = 0;
    for (let i = 0; i < hw; i++) {
      const mu = s.mean[k * hw + i]!;
      const sd = s.std[k * hw + i]!;
      m += mu;
      sq += sd * sd + mu * mu;
    }
    m /= hw;
    mean.push(Number(m.toFixed(4)));
    std.push(Number(Math.sqrt(Math.max(1e-12, sq / hw - m * m)).toFixed(4)));
  }
  return { mean, std };
}

function optimizerConfig(o: TrainJobOptions, dflt: OptimizerConfig): OptimizerConfig {
  const type = o.optimizer ?? dflt.type;
  if (type === 'sgd') {
    const momentum = o.momentum ?? (dflt.type === 'sgd' ? (dflt.momentum ?? 0.9) : 0.9);
    return { type, momentum, nesterov: momentum > 0, weightDecay: o.weightDecay };
  }
  if (type === 'adam' || type === 'adamw') return { type, weightDecay: o.weightDecay ?? (type === 'adamw' ? 0.01 : undefined) };
  throw new TrainferError(`--optimizer ${String(type)}: expected sgd, adam or adamw`);
}
