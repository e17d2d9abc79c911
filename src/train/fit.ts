/**
 * `fit`: the training loop. Builds the step graph once (autodiff), then per step fills the batch and
 * random buffers in place, sets the learning rate from the schedule and runs onnxruntime; validates
 * each epoch, logs, checkpoints atomically and stops early when validation stops improving. A resumed
 * run continues bit for bit: the checkpoint holds every carried tensor, the position and both RNGs.
 */
import { availableParallelism } from 'node:os';
import { existsSync } from 'node:fs';
import { buildTrainStep } from '../autodiff/index.js';
import type { OptimizerConfig } from '../autodiff/types.js';
import type { Tensor } from '../onnx/tensor.js';
import type { Device } from '../runtime/session.js';
import { TrainferError } from '../util/errors.js';
import { Batcher, type Dataset, checkLabels } from '../data/dataset.js';
import { Rng, type RngState } from '../util/rng.js';
import type { LossSpec } from '../nn/loss.js';
import { type Checkpoint, checkpointPath, loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { evaluate } from './evaluate.js';
import { type EpochMetrics, MetricsLog, type ProgressMode, type ProgressReporter, createReporter } from './progress.js';
import { type Schedule, formatSchedule, learningRate } from './schedule.js';
import { StepRunner, type StepFeed } from './step-runner.js';
import type { Trainable } from './trainable.js';
import { checkInputShape } from './evaluate.js';

/** Options for `fit` (one object; every field but `model` and `train` has a default). */
export interface FitOptions {
  model: Trainable;
  train: Dataset;
  /** Evaluated after every epoch (metrics, early stopping). */
  validation?: Dataset;
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
  clipGradNorm?: number;
  /** Compute the global gradient norm every step and log it in the metrics' step records (one extra pass over all gradients; default false). */
  trackGradNorm?: boolean;
  loss?: LossSpec;
  /** Seed for shuffling and dropout (default 0). Weight init is seeded when the model is built. */
  seed?: number;
  /** Stop when validation loss has not improved by `minDelta` for `patience` epochs; restore the best weights. */
  earlyStopping?: { patience: number; minDelta?: number };
  /** Directory for `checkpoint.trainfer` (written each epoch, every `checkpointEverySteps`, and on stop). */
  checkpointDir?: string;
  checkpointEverySteps?: number;
  /** Continue from the checkpoint in `checkpointDir` (error if there is none). */
  resume?: boolean;
  /** JSONL metrics file (appended). */
  metricsLog?: string;
  /** Step records in the metrics log every this many steps (default 100; 0 = epochs only). */
  logEvery?: number;
  progress?: ProgressMode | ProgressReporter;
  /** onnxruntime intra-op threads (default: every core). */
  threads?: number;
  /** Where onnxruntime runs: `cpu` (default) or `cuda` (needs a CUDA build of onnxruntime-node). */
  device?: Device;
  /** Stop after this many steps in total (the checkpoint lets a later run continue). */
  maxSteps?: number;
  /** Abort (e.g. on Ctrl-C): the current step finishes, a checkpoint is written (with `checkpointDir`), and `fit` throws. */
  signal?: AbortSignal;
  /** Called after each epoch's validation; return `'stop'` to end training. */
  onEpochEnd?: (m: EpochMetrics) => void | 'stop' | Promise<void | 'stop'>;
}

/** What `fit` returns. */
export interface FitResult {
  /** Trained parameters and buffers by initializer name (already set on the model). */
  weights: Map<string, Tensor>;
  history: EpochMetrics[];
  /** Epochs completed. */
  epochs: number;
  steps: number;
  /** Wall-clock seconds of the whole run (resumed runs include earlier sessions). */
  trainSeconds: number;
  /** Training samples per second over the step loop (validation excluded). */
  samplesPerSecond: number;
  stopReason: 'completed' | 'early-stopping' | 'max-steps' | 'callback';
  /** The resolved configuration (optimizer, lr, schedule, batch size…). */
  config: { epochs: number; batchSize: number; optimizer: OptimizerConfig; lr: number; schedule: string; seed: number };
}

/** Default optimizer: SGD with Nesterov momentum 0.9. */
export const DEFAULT_OPTIMIZER: OptimizerConfig = { type: 'sgd', momentum: 0.9, nesterov: true };

/** Default peak learning rate for an optimizer. */
export function defaultLr(opt: OptimizerConfig): number {
  return opt.type === 'sgd' ? 0.05 : 0.002;
}

interface TrainerState {
  history: EpochMetrics[];
  elapsed: number;
  stepSeconds: number;
  samples: number;
  bestValLoss: number;
  /** Sums of the epoch in progress (so a resumed epoch reports the same metrics as an uninterrupted one). */
  partial?: { lossSum: number; correct: number; seen: number };
  badEpochs: number;
}

/**
 * Trains `model` on `train`.
 *
 * @example
 * const net = buildPreset({ spec: 'mlp:256', inputShape: [1, 28, 28], numClasses: 10 });
 * const r = await fit({ model: net, train, validation, epochs: 2, schedule: { type: 'onecycle' } });
 * writeModel('mlp.onnx', net.inferenceGraph({}));
 */
export async function fit(o: FitOptions): Promise<FitResult> {
  const t0 = performance.now();
  const model = o.model;
  const epochs = o.epochs ?? 1;
  const batchSize = o.batchSize ?? 128;
  const optimizer = o.optimizer ?? DEFAULT_OPTIMIZER;
  const baseLr = o.lr ?? defaultLr(optimizer);
  const schedule = o.schedule ?? { type: 'constant' };
  const seed = o.seed ?? 0;
  const config = { epochs, batchSize, optimizer, lr: baseLr, schedule: formatSchedule(schedule), seed };
  if (!(baseLr > 0)) throw new TrainferError(`learning rate must be positive, got ${baseLr}`);
  checkInputShape({ modelShape: ['batch', ...model.inputShape], dataShape: o.train.sampleShape, modelName: `model '${model.name}'`, dataName: o.train.source });
  checkLabels(o.train, model.numClasses);
  if (o.validation) checkLabels(o.validation, model.numClasses);
  const stepsPerEpoch = Math.floor(o.train.count / batchSize);
  if (stepsPerEpoch === 0) throw new TrainferError(`${o.train.source}: ${o.train.count} training samples are fewer than one batch of ${batchSize} (lower --batch-size)`);
  const totalSteps = stepsPerEpoch * epochs;

  // The step graph: forward + loss + backward + optimizer, built once.
  const tg = model.trainingGraph({ loss: o.loss, normalizeInput: 'batcher' });
  const step = buildTrainStep({ graph: tg.graph, loss: tg.loss, params: tg.params, optimizer, clipGradNorm: o.clipGradNorm, gradNorm: o.trackGradNorm ?? false, buffers: tg.buffers, extraOutputs: [tg.logits] });
  const fingerprint = JSON.stringify({ model: model.name, params: step.state.map((s) => `${s.input}:${s.initial.dims.join('x')}`), batchSize, optimizer, lr: baseLr, schedule: config.schedule, epochs, seed, samples: o.train.count });

  // Resume state.
  let ckpt: Checkpoint | undefined;
  const ckptFile = o.checkpointDir ? checkpointPath(o.checkpointDir) : undefined;
  if (o.resume) {
    if (!ckptFile) throw new TrainferError('--resume needs --checkpoint-dir');
    if (!existsSync(ckptFile)) throw new TrainferError(`${ckptFile}: no checkpoint to resume from`);
    ckpt = loadCheckpoint(ckptFile);
    if (ckpt.meta.fingerprint !== fingerprint) throw new TrainferError(`${ckptFile}: ${describeMismatch(ckpt.meta.fingerprint, fingerprint)}; resume with the same settings`);
  }

  // Buffers filled in place every step.
  const batcher = new Batcher({ dataset: o.train, batchSize, normalize: tg.inputNormalize });
  const random = tg.random.map((r) => ({ name: r.name, data: new Float32Array(batchSize * r.shape.reduce((a, b) => a * b, 1)), dims: [batchSize, ...r.shape] }));
  const feeds: StepFeed[] = [
    { name: tg.input.name, data: batcher.x, dims: [batchSize, ...tg.input.shape] },
    { name: tg.labels, data: batcher.labels, dims: [batchSize] },
    ...random,
  ];
  const threads = o.threads ?? availableParallelism();
  const runner = await StepRunner.create({ step, feeds, restore: ckpt?.tensors, threads, device: o.device, logitsDims: [batchSize, model.numClasses] });

  const shuffleRng = ckpt ? Rng.fromState(ckpt.meta.shuffleRngAtEpochStart as unknown as RngState) : Rng.fromSeed(seed);
  const dropoutRng = ckpt ? Rng.fromState(ckpt.meta.dropoutRng as unknown as RngState) : Rng.fromSeed(seed ^ 0x5bd1e995);
  const st: TrainerState = (ckpt?.meta.trainer as unknown as TrainerState) ?? { history: [], elapsed: 0, stepSeconds: 0, samples: 0, bestValLoss: Infinity, badEpochs: 0 };
  let stepNo = ckpt?.meta.step ?? 0;
  let epoch = ckpt?.meta.epoch ?? 0;
  let startBatch = ckpt?.meta.batchInEpoch ?? 0;
  const elapsedBefore = st.elapsed;
  const reporter = typeof o.progress === 'object' ? o.progress : createReporter({ mode: o.progress });
  const log = o.metricsLog ? new MetricsLog(o.metricsLog) : undefined;
  const logEvery = o.logEvery ?? 100;
  let best: Map<string, Tensor> | undefined;
  let stopReason: FitResult['stopReason'] = 'completed';
  if (ckpt) reporter.message(`resuming from ${ckptFile} at step ${stepNo} (epoch ${epoch + 1}, batch ${startBatch})`);

  const save = (epochStart: RngState, ep: number, batch: number): void => {
    if (!ckptFile) return;
    st.elapsed = elapsedBefore + (performance.now() - t0) / 1000;
    saveCheckpoint(ckptFile, {
      meta: { version: 1, fingerprint, step: stepNo, epoch: ep, batchInEpoch: batch, shuffleRngAtEpochStart: [...epochStart], dropoutRng: [...dropoutRng.state()], trainer: st as unknown as Record<string, unknown> },
      tensors: runner.snapshot(),
    });
  };

  try {
    outer: for (; epoch < epochs; epoch++) {
      const epochStart = shuffleRng.state();
      const order = shuffleRng.permutation(o.train.count);
      reporter.epochStart(epoch + 1, epochs, stepsPerEpoch, startBatch);
      let lossSum = startBatch > 0 ? (st.partial?.lossSum ?? 0) : 0;
      let correct = startBatch > 0 ? (st.partial?.correct ?? 0) : 0;
      let seen = startBatch > 0 ? (st.partial?.seen ?? 0) : 0;
      const seenBefore = seen;
      const partial = () => (st.partial = { lossSum, correct, seen });
      let lr = baseLr;
      const tEpoch = performance.now();
      for (let b = startBatch; b < stepsPerEpoch; b++) {
        batcher.fill(order, b * batchSize);
        for (const r of random) dropoutRng.fillUniform(r.data);
        lr = learningRate(schedule, baseLr, { step: stepNo, totalSteps, stepsPerEpoch });
        const { loss, gradNorm } = await runner.run(lr, stepNo + 1);
        if (!Number.isFinite(loss)) {
          throw new TrainferError(`loss became ${loss} at step ${stepNo + 1} (epoch ${epoch + 1}, lr ${lr.toPrecision(3)}); training diverged — try a lower learning rate, e.g. --lr ${(baseLr / 10).toPrecision(2)}`);
        }
        stepNo++;
        lossSum += loss;
        correct += countCorrect(runner.logits, batcher.labels, batchSize, model.numClasses);
        seen += batchSize;
        const secs = (performance.now() - tEpoch) / 1000;
        reporter.step(b + 1, lossSum / (seen / batchSize), correct / seen, (seen - seenBefore) / secs);
        if (log && logEvery > 0 && stepNo % logEvery === 0) log.write({ type: 'step', step: stepNo, epoch: epoch + 1, loss, lr, ...(Number.isNaN(gradNorm) ? {} : { gradNorm }) });
        if (o.checkpointEverySteps && stepNo % o.checkpointEverySteps === 0 && b + 1 < stepsPerEpoch) {
          partial();
          save(epochStart, epoch, b + 1);
        }
        if (o.signal?.aborted) {
          partial();
          save(epochStart, epoch, b + 1);
          const how = ckptFile ? `checkpoint written to ${ckptFile}; continue with --resume` : 'no --checkpoint-dir, so nothing was saved';
          throw new TrainferError(`interrupted at step ${stepNo} (epoch ${epoch + 1}); ${how}`, { exitCode: 130 });
        }
        if (o.maxSteps !== undefined && stepNo >= o.maxSteps && b + 1 < stepsPerEpoch) {
          st.stepSeconds += (performance.now() - tEpoch) / 1000;
          st.samples += seen - seenBefore;
          partial();
          save(epochStart, epoch, b + 1);
          stopReason = 'max-steps';
          reporter.stop();
          break outer;
        }
      }
      const stepSecs = (performance.now() - tEpoch) / 1000;
      st.stepSeconds += stepSecs;
      st.samples += seen - seenBefore;
      st.partial = undefined;
      startBatch = 0;
      const m: EpochMetrics = { epoch: epoch + 1, step: stepNo, loss: lossSum / Math.max(1, seen / batchSize), accuracy: correct / Math.max(1, seen), lr, seconds: 0, samplesPerSecond: (seen - seenBefore) / Math.max(stepSecs, 1e-9) };
      if (o.validation) {
        const v = await evaluate({ model: model.inferenceGraph({ weights: runner.weights() }), data: o.validation, threads, device: o.device });
        m.valLoss = v.loss;
        m.valAccuracy = v.accuracy;
      }
      m.seconds = elapsedBefore + (performance.now() - t0) / 1000;
      st.history.push(m);
      reporter.epochEnd(m, epochs);
      log?.write({ type: 'epoch', ...m });
      let stop = false;
      if (o.earlyStopping && m.valLoss !== undefined) {
        if (m.valLoss < st.bestValLoss - (o.earlyStopping.minDelta ?? 0)) {
          st.bestValLoss = m.valLoss;
          st.badEpochs = 0;
          best = runner.weights();
        } else if (++st.badEpochs >= o.earlyStopping.patience && epoch + 1 < epochs) {
          stop = true;
          stopReason = 'early-stopping';
          reporter.message(`early stopping: validation loss has not improved for ${st.badEpochs} epochs`);
        }
      }
      if ((await o.onEpochEnd?.(m)) === 'stop' && !stop) {
        stop = true;
        stopReason = 'callback';
      }
      save(shuffleRng.state(), epoch + 1, 0);
      if (o.maxSteps !== undefined && stepNo >= o.maxSteps && epoch + 1 < epochs) {
        stopReason = 'max-steps';
        epoch++;
        break;
      }
      if (stop) {
        epoch++;
        break;
      }
    }
  } finally {
    reporter.stop();
  }
  const weights = stopReason === 'early-stopping' && best ? best : runner.weights();
  await runner.release();
  model.setWeights(weights);
  return {
    weights,
    history: st.history,
    epochs: st.history.length,
    steps: stepNo,
    trainSeconds: elapsedBefore + (performance.now() - t0) / 1000,
    samplesPerSecond: st.samples / Math.max(st.stepSeconds, 1e-9),
    stopReason,
    config,
  };
}

/** Rows of `logits` whose argmax equals the label. */
function countCorrect(logits: Float32Array, labels: BigInt64Array, n: number, classes: number): number {
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const o = i * classes;
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[o + c]! > logits[o + best]!) best = c;
    if (BigInt(best) === labels[i]) correct++;
  }
  return correct;
}

/** Names the first setting that differs between two fingerprints. */
function describeMismatch(saved: string, now: string): string {
  try {
    const a = JSON.parse(saved) as Record<string, unknown>;
    const b = JSON.parse(now) as Record<string, unknown>;
    for (const k of Object.keys(b)) {
      if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) return `the checkpoint was made with ${k} ${JSON.stringify(a[k])}, this run has ${JSON.stringify(b[k])}`;
    }
  } catch {
    // fall through
  }
  return 'the checkpoint was made with different settings';
}
