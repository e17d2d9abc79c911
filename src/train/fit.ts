/**
 * `fit`: the training loop. Builds the step graph once (autodiff) for any model inputs and losses, plans
 * which columns or providers feed every input and target, then per step fills the batch (and random)
 * buffers in place, runs the providers, sets the learning rate from the schedule and runs onnxruntime;
 * validates each epoch (every head's metrics), logs, checkpoints atomically, keeps the best weights by
 * the monitored metric and stops early when it stops improving. A resumed run continues bit for bit: the
 * checkpoint holds every carried tensor, the best weights, the position (stream included) and every RNG.
 * The essentials around the loop (parameter groups, freezing, accumulation, EMA, top-k, plateau) live in
 * fit-essentials.ts; extensions and callbacks in fit-extensions.ts.
 */
import { availableParallelism } from 'node:os';
import { buildTrainStep } from '../autodiff/index.js';
import type { OptimizerConfig } from '../autodiff/types.js';
import type { Tensor } from '../onnx/tensor.js';
import { TrainferError } from '../util/errors.js';
import { Batcher } from '../data/batcher.js';
import type { Table } from '../data/table.js';
import { Rng, type RngState } from '../util/rng.js';
import { describeLoss } from '../nn/loss.js';
import { resolveLosses } from '../nn/network.js';
import { availableMetrics } from './metrics.js';
import { CHECKPOINT_VERSION, checkpointPath, saveCheckpoint } from './checkpoint.js';
import { checkPlanTargets, evaluate } from './evaluate.js';
import { type EpochSource, dataIdentity, describePlan, openCheckpoint, parseMonitor, planTraining, streamSource, tableSource } from './fit-setup.js';
import { TrainTracker } from './train-tracker.js';
import { type EpochMetrics, MetricsLog, createReporter } from './progress.js';
import { type PlateauState, formatSchedule, learningRate, plateauStep } from './schedule.js';
import { type TopEntry, accumulationPoint, exportWeights, initialPlateau, paramGroups, scheduleWarning, updateTopK } from './fit-essentials.js';
import { StepRunner, type StepFeed } from './step-runner.js';
import { ExtensionSet } from './fit-extensions.js';
import { formatAugment } from '../data/augment.js';
import { augmentedSource } from './augment-source.js';
import type { FitOptions, FitResult } from './fit-options.js';

export type { FitOptions, FitResult } from './fit-options.js';

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
  /** Best monitored value so far (undefined before the first); `Infinity` survives checkpoints too. */
  best?: number;
  bestEpoch: number;
  /** Sums of the epoch in progress (so a resumed epoch reports the same metrics as an uninterrupted one). */
  partial?: { lossSum: number; steps: number; seen: number; metric: unknown };
  badEpochs: number;
  /** Why a finished run ended. */
  stopReason?: FitResult['stopReason'];
  /** `plateau` schedule state. */
  plateau?: PlateauState;
  /** `saveTopK` entries, best first. */
  topK?: TopEntry[];
}

/**
 * Trains `model` on `train`.
 *
 * @example
 * const net = buildPreset({ spec: 'mlp:256', inputShape: [1, 28, 28], numClasses: 10 });
 * const { train, validation } = loadTable({ source: 'mnist', validationSplit: 0.05 });
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
  if (!(baseLr > 0) || !Number.isFinite(baseLr)) throw new TrainferError(`learning rate must be a positive number, got ${baseLr}`);
  if (!(Number.isInteger(epochs) && epochs > 0)) throw new TrainferError(`epochs must be a positive integer, got ${epochs}`);
  if (!(Number.isInteger(batchSize) && batchSize > 0)) throw new TrainferError(`batch size must be a positive integer, got ${batchSize}`);
  if (o.resume && !o.checkpointDir) throw new TrainferError('--resume needs --checkpoint-dir');
  const monitor = parseMonitor(o.monitor, !!o.validation);
  const config = { epochs, batchSize, optimizer, lr: baseLr, schedule: formatSchedule(schedule), seed, monitor: monitor.name };
  const accumulate = o.accumulate ?? 1;
  if (!(Number.isInteger(accumulate) && accumulate >= 1)) throw new TrainferError(`--accumulate must be a positive integer, got ${accumulate}`);
  if (o.saveTopK !== undefined && !(Number.isInteger(o.saveTopK) && o.saveTopK >= 1)) throw new TrainferError(`--save-top-k must be a positive integer, got ${o.saveTopK}`);
  if (o.saveTopK && !o.checkpointDir) throw new TrainferError('--save-top-k needs --checkpoint-dir');
  // Whole optimizer steps per epoch: with accumulation the batches left over at the epoch end are dropped.
  const stepsPerEpoch = Math.floor(o.train.count / (batchSize * accumulate)) * accumulate;
  if (stepsPerEpoch === 0) throw new TrainferError(`${o.train.source}: ${o.train.count} training samples are fewer than one batch of ${batchSize * accumulate}${accumulate > 1 ? ` (${accumulate} × ${batchSize})` : ''} (lower --batch-size${accumulate > 1 ? ' or --accumulate' : ''})`);
  const totalSteps = stepsPerEpoch * epochs;

  // The step graph (forward + losses + backward + optimizer), built once, and what feeds it.
  const losses = resolveLosses(model.heads, o);
  const tg = model.trainingGraph({ losses, normalizeInput: 'batcher' });
  const stream = 'kind' in o.train ? o.train : undefined;
  const schema = stream ? stream.schemaTable() : (o.train as Table);
  const plan = planTraining({ model, tg, schema, feeds: o.feeds, batchSize, target: o.target, targets: o.targets });
  if (o.validation) {
    const v = 'kind' in o.validation ? o.validation.schemaTable() : o.validation;
    checkPlanTargets(plan, tg.heads, new Map(tg.feeds.filter((f) => f.head).map((f) => [f.name, f.head!])), v);
  }
  const head = tg.heads[0]!;
  if (monitor.key !== 'loss' && head.shape.every((d) => typeof d === 'number')) {
    const have = monitor.split === 'val' ? availableMetrics(head.task, head.shape as number[]) : ['accuracy'].filter((k) => head.task !== 'regression' && k);
    if (!have.includes(monitor.key)) {
      throw new TrainferError(`--monitor ${monitor.name}: head '${head.name}' (${head.task}, [${head.shape.join(', ')}]) reports ${['loss', ...have].map((k) => (monitor.split === 'val' ? `val_${k}` : k)).join(', ')}`);
    }
  }
  const headSize = head.shape.reduce<number>((a, d) => a * (typeof d === 'number' ? d : 1), 1);
  const headTarget = plan.feeds.find((f) => f.spec.role === 'target' && f.spec.head === head.name);
  const track = !!headTarget && headSize <= 4096 && head.shape.every((d) => typeof d === 'number') && (head.task !== 'classification' || head.shape.length === 1);
  const groups = paramGroups({ params: tg.params, graph: tg.graph, freeze: o.freeze, decayAll: o.weightDecayAll });
  const ext = ExtensionSet.prepare(o.extensions ?? [], { ...tg, params: groups.params }, plan, batchSize);
  const noDecay = groups.noDecay.filter((p) => ext.params.includes(p));
  const step = buildTrainStep({
    ...ext.stepOptions, graph: tg.graph, loss: tg.loss, params: ext.params, optimizer, clipGradNorm: o.clipGradNorm, gradNorm: o.trackGradNorm ?? false, buffers: tg.buffers, extraOutputs: track ? [head.value] : [],
    noDecay, accumulate, ema: o.ema,
  });
  const trained = (): Map<string, Tensor> => exportWeights({ step, current: runner.weights(), snapshot: () => runner.snapshot(), frozen: groups.frozen, graph: tg.graph });

  const augmenting = !!o.augment && formatAugment(o.augment) !== 'none';
  if (augmenting && stream) throw new TrainferError(`--augment: ${o.train.source} is streamed; augmentation needs the training data in memory`);
  const ckptFile = o.checkpointDir ? checkpointPath(o.checkpointDir) : undefined;
  const fingerprint = ckptFile
    ? JSON.stringify({
      model: model.name, params: step.state.map((s) => `${s.input}:${s.initial.dims.join('x')}`), batchSize, optimizer, lr: baseLr, schedule: config.schedule, seed,
      ...(noDecay.length && (optimizer.weightDecay ?? 0) > 0 ? { noDecay } : {}), ...(o.ema ? { ema: o.ema.decay } : {}), ...(o.keepBest ? { keepBest: true } : {}),
      clipGradNorm: o.clipGradNorm ?? null, losses: losses.map((l) => ({ head: l.head ?? null, weight: l.weight ?? 1, ...describeLoss(l.loss) })), tasks: model.heads.map((h) => h.task),
      earlyStopping: o.earlyStopping ?? null, monitor: monitor.name, feeds: describePlan(plan), samples: o.train.count,
      data: dataIdentity(o.train), validationData: o.validation ? dataIdentity(o.validation) : null, ...ext.fingerprint(),
      ...(augmenting ? { augment: formatAugment(o.augment!) } : {}),
    })
    : '';

  // Resume state, or refuse to mix runs in one checkpoint directory.
  const ckpt = openCheckpoint({ dir: o.checkpointDir, file: ckptFile, resume: o.resume, overwrite: o.overwrite, metricsLog: o.metricsLog, fingerprint });

  // Buffers filled in place every step.
  const batcher = new Batcher({ plan, batchSize });
  const random = tg.random.map((r) => {
    // A dynamic dim (a sequence) takes the size the feed plan solved for it.
    const shape = r.shape.map((d) => (typeof d === 'number' ? d : plan.dims[d] ?? NaN));
    if (shape.some((d) => Number.isNaN(d))) throw new TrainferError(`random input '${r.name}' has shape [${r.shape.join(', ')}] with a dim no feed fixes`);
    return { name: r.name, dtype: 'float32' as const, data: new Float32Array(batchSize * shape.reduce((a, b) => a * b, 1)), dims: [batchSize, ...shape] };
  });
  const feeds: StepFeed[] = [...batcher.buffers.map((b) => ({ name: b.name, dtype: b.dtype, data: b.data, dims: [batchSize, ...b.shape] })), ...random, ...ext.feeds, ...ext.stepFeeds(step, batchSize)];
  const threads = o.threads ?? availableParallelism();
  const runner = await StepRunner.create({ step, feeds, restore: ckpt?.tensors, threads, spinning: o.spinning ?? false, device: o.device, fetch: [...(track ? [{ name: step.extraOutputs[0]!, dims: [batchSize, ...(head.shape as number[])] }] : []), ...ext.fetch] });
  if (ckpt) ext.restore(ckpt.tensors, ckpt.meta.extensions);
  const feedMap = new Map(feeds.map((f) => [f.name, f.data]));
  const fetchedMap = new Map(ext.fetch.map((f, i) => [f.name, runner.fetched[i + (track ? 1 : 0)]!]));
  const providers = plan.feeds.map((f) => f.provider);
  ckpt?.meta.providers?.forEach((s, i) => { if (s !== null && s !== undefined) providers[i]?.restore?.(s); });

  const source: EpochSource = stream
    ? streamSource(stream, plan, (chunk) => checkPlanTargets(plan, tg.heads, new Map(tg.feeds.filter((f) => f.head).map((f) => [f.name, f.head!])), chunk))
    : augmenting
      ? augmentedSource({ table: o.train as Table, plan, spec: o.augment!, seed, batchSize, buffer: (name) => batcher.buffer(name).data as Float32Array })
      : tableSource(o.train as Table, plan);
  const shuffleRng = ckpt ? Rng.fromState(ckpt.meta.shuffleRngAtEpochStart as unknown as RngState) : Rng.fromSeed(seed);
  const dropoutRng = ckpt ? Rng.fromState(ckpt.meta.dropoutRng as unknown as RngState) : Rng.fromSeed(seed ^ 0x5bd1e995);
  const st: TrainerState = (ckpt?.meta.trainer as unknown as TrainerState) ?? { history: [], elapsed: 0, stepSeconds: 0, samples: 0, bestEpoch: 0, badEpochs: 0 };
  let best: Map<string, Tensor> | undefined;
  if (ckpt) {
    const saved = new Map([...ckpt.tensors].filter(([k]) => k.startsWith('best/')).map(([k, t]) => [k.slice(5), t]));
    if (saved.size) best = saved;
  }
  let stepNo = ckpt?.meta.step ?? 0;
  let epoch = ckpt?.meta.epoch ?? 0;
  let startBatch = ckpt?.meta.batchInEpoch ?? 0;
  const elapsedBefore = st.elapsed;
  const reporter = typeof o.progress === 'object' ? o.progress : createReporter({ mode: o.progress, monitor: monitor.split === 'val' ? monitor.key : undefined });
  const log = o.metricsLog ? new MetricsLog(o.metricsLog) : undefined;
  const logEvery = o.logEvery ?? 100;
  let stopReason: FitResult['stopReason'] = 'completed';
  let finished = !!ckpt?.meta.finished;
  // `--resume --epochs N` with N above the epochs a finished run was planned with continues it: the
  // schedule now spans N epochs (an early-stopped run continues from its last epoch's state).
  const plannedEpochs = (ckpt?.meta.trainer as { epochs?: number } | undefined)?.epochs ?? (ckpt ? epoch : undefined);
  const continued = finished && plannedEpochs !== undefined && epochs > plannedEpochs;
  if (continued) {
    finished = false;
    st.badEpochs = 0;
    st.stopReason = undefined;
  }
  if (ckpt) reporter.message(`resuming from ${ckptFile} at step ${stepNo} (epoch ${epoch + 1}, batch ${startBatch})${continued ? `: the run had finished after ${epoch} epochs; continuing to ${epochs} (the schedule now spans ${epochs} epochs)` : finished ? ': the run had finished' : plannedEpochs !== undefined && plannedEpochs !== epochs ? `; --epochs ${epochs} instead of ${plannedEpochs}: the schedule is re-planned` : ''}`);
  (st as unknown as { epochs: number }).epochs = epochs;
  const warning = scheduleWarning(schedule, epochs, o.earlyStopping?.patience);
  if (warning && !ckpt) reporter.message(warning);
  if (schedule.type === 'plateau') st.plateau ??= initialPlateau();
  const targetBuf = headTarget ? batcher.buffer(headTarget.spec.name).data : undefined;

  const save = (epochStart: RngState, ep: number, batch: number, position: unknown): void => {
    if (!ckptFile) return;
    st.elapsed = elapsedBefore + (performance.now() - t0) / 1000;
    const tensors = runner.snapshot();
    for (const [k, t] of best ?? []) tensors.set(`best/${k}`, t);
    const extensions = ext.save(tensors);
    saveCheckpoint(ckptFile, {
      meta: {
        version: CHECKPOINT_VERSION, fingerprint, step: stepNo, epoch: ep, batchInEpoch: batch, finished,
        shuffleRngAtEpochStart: [...epochStart], dropoutRng: [...dropoutRng.state()],
        ...(position === undefined ? {} : { stream: position }),
        providers: providers.map((p) => p?.state?.() ?? null),
        ...(extensions.length ? { extensions } : {}),
        trainer: st as unknown as Record<string, unknown>,
      },
      tensors,
    });
  };

  try {
    outer: for (; epoch < epochs && !finished; epoch++) {
      const epochStart = shuffleRng.state();
      source.begin(shuffleRng, startBatch > 0 ? ckpt?.meta.stream : undefined);
      const tracker = new TrainTracker(head.task, headSize);
      reporter.epochStart(epoch + 1, epochs, stepsPerEpoch, startBatch, tracker.metric);
      const resumed = startBatch > 0 ? st.partial : undefined;
      let lossSum = resumed?.lossSum ?? 0;
      let steps = resumed?.steps ?? 0;
      let seen = resumed?.seen ?? 0;
      tracker.restore(resumed?.metric);
      const seenBefore = seen;
      const partial = () => (st.partial = { lossSum, steps, seen, metric: tracker.state() });
      let lr = baseLr;
      const tEpoch = performance.now();
      for (let b = startBatch; b < stepsPerEpoch; b++) {
        const got = source.batch(b, batchSize);
        const rows = got instanceof Promise ? await got : got;
        batcher.fill(rows.packed, rows.order, rows.start, batchSize);
        const pending = batcher.provide({ size: batchSize, phase: 'train', step: stepNo + 1, rows });
        if (pending) await pending;
        for (const r of random) dropoutRng.fillUniform(r.data);
        const at = accumulationPoint(stepNo, accumulate);
        lr = learningRate(schedule, baseLr, { step: at.optimizerStep, totalSteps: totalSteps / accumulate, stepsPerEpoch: stepsPerEpoch / accumulate }) * (st.plateau?.scale ?? 1);
        const stepCtx = { step: stepNo + 1, totalSteps, epoch, lr, feeds: feedMap, weights: () => runner.weights() };
        await ext.before(stepCtx);
        const { loss, gradNorm } = await runner.run(lr, at.optimizerStep + 1, at.apply);
        if (!Number.isFinite(loss)) {
          throw new TrainferError(`loss became ${loss} at step ${stepNo + 1} (epoch ${epoch + 1}, lr ${lr.toPrecision(3)}); training diverged — try a lower learning rate, e.g. --lr ${(baseLr / 10).toPrecision(2)}`);
        }
        const callbackStop = await ext.after(stepCtx, fetchedMap, loss);
        stepNo++;
        lossSum += loss;
        steps++;
        if (track) tracker.update(runner.fetched[0]!, targetBuf as Float32Array, batchSize);
        seen += batchSize;
        const secs = (performance.now() - tEpoch) / 1000;
        reporter.step(b + 1, lossSum / steps, track ? tracker.value() : NaN, (seen - seenBefore) / secs);
        if (log && logEvery > 0 && stepNo % logEvery === 0) log.write({ type: 'step', step: stepNo, epoch: epoch + 1, loss, lr, ...(Number.isNaN(gradNorm) ? {} : { gradNorm }) });
        if (o.checkpointEverySteps && stepNo % o.checkpointEverySteps === 0 && b + 1 < stepsPerEpoch) {
          partial();
          save(epochStart, epoch, b + 1, source.position());
        }
        if (callbackStop) {
          st.stepSeconds += (performance.now() - tEpoch) / 1000;
          st.samples += seen - seenBefore;
          partial();
          finished = true;
          st.stopReason = 'callback';
          save(epochStart, epoch, b + 1, source.position());
          stopReason = 'callback';
          reporter.message(`stopped by a callback at step ${stepNo} (epoch ${epoch + 1})`);
          break outer;
        }
        if (o.signal?.aborted) {
          partial();
          save(epochStart, epoch, b + 1, source.position());
          const how = ckptFile ? `checkpoint written to ${ckptFile}; continue with --resume` : 'no --checkpoint-dir, so nothing was saved';
          throw new TrainferError(`interrupted at step ${stepNo} (epoch ${epoch + 1}); ${how}`, { exitCode: 130 });
        }
        if (o.maxSteps !== undefined && stepNo >= o.maxSteps && b + 1 < stepsPerEpoch) {
          st.stepSeconds += (performance.now() - tEpoch) / 1000;
          st.samples += seen - seenBefore;
          partial();
          save(epochStart, epoch, b + 1, source.position());
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
      const train = track ? tracker.result() : {};
      const m: EpochMetrics = { epoch: epoch + 1, step: stepNo, loss: lossSum / Math.max(1, steps), accuracy: train.accuracy ?? NaN, train, lr, seconds: 0, samplesPerSecond: (seen - seenBefore) / Math.max(stepSecs, 1e-9) };
      if (o.validation) {
        const v = await evaluate({ model: model.inferenceGraph({ weights: ext.finalize(trained()) }), heads: model.heads, losses, data: o.validation, target: o.target, targets: o.targets, feeds: o.feeds, threads, device: o.device, modelName: `model '${model.name}'` });
        m.valLoss = v.loss;
        m.valAccuracy = v.metrics.accuracy;
        m.val = v.metrics;
      }
      m.seconds = elapsedBefore + (performance.now() - t0) / 1000;
      let stop = false;
      let callbackStopped = await ext.validationEnd({ epoch, metrics: m });
      st.history.push(m);
      reporter.epochEnd(m, epochs);
      log?.write({ type: 'epoch', ...m });
      const value = monitor.split === 'val' ? m.val?.[monitor.key] : monitor.key === 'loss' ? m.loss : m.train?.[monitor.key];
      if (schedule.type === 'plateau' && value !== undefined) {
        const r = plateauStep(schedule, st.plateau!, value, monitor.direction);
        st.plateau = r.state;
        if (r.reduced) reporter.message(`plateau: ${monitor.name} has not improved for ${schedule.patience ?? 2} epochs; learning rate now ${(baseLr * r.state.scale).toPrecision(3)}`);
      }
      if (o.saveTopK && o.checkpointDir && value !== undefined) {
        st.topK = updateTopK({ dir: o.checkpointDir, k: o.saveTopK, list: st.topK ?? [], epoch: epoch + 1, value, direction: monitor.direction, weights: () => ext.finalize(trained()), monitor: monitor.name });
      }
      if ((o.earlyStopping || o.keepBest) && value !== undefined && !Number.isNaN(value)) {
        const delta = o.earlyStopping?.minDelta ?? 0;
        const better = st.best === undefined || (monitor.direction === 'min' ? value < st.best - delta : value > st.best + delta);
        if (better) {
          st.best = value;
          st.bestEpoch = epoch + 1;
          st.badEpochs = 0;
          best = ext.snapshot(trained());
        } else if (o.earlyStopping && ++st.badEpochs >= o.earlyStopping.patience && epoch + 1 < epochs) {
          stop = true;
          stopReason = 'early-stopping';
          reporter.message(`early stopping: ${monitor.name} has not improved for ${st.badEpochs} epochs; keeping epoch ${st.bestEpoch}'s weights (${monitor.name} ${st.best!.toPrecision(4)})`);
        }
      }
      if (await ext.epochEnd({ epoch, metrics: m, bestEpoch: st.bestEpoch })) callbackStopped = true;
      if ((await o.onEpochEnd?.(m)) === 'stop') callbackStopped = true;
      if (callbackStopped && !stop) {
        stop = true;
        stopReason = 'callback';
        reporter.message(`stopped by a callback after epoch ${epoch + 1}`);
      }
      finished = stop || epoch + 1 >= epochs;
      if (finished) st.stopReason = stop ? stopReason : 'completed';
      save(shuffleRng.state(), epoch + 1, 0, undefined);
      if (o.maxSteps !== undefined && stepNo >= o.maxSteps && epoch + 1 < epochs && !stop) {
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
    if ('close' in source) await (source as { close(): Promise<void> }).close();
  }
  if (ckpt?.meta.finished && !continued) stopReason = st.stopReason ?? 'completed';
  const useBest = (!!o.earlyStopping || !!o.keepBest) && !!best && (stopReason === 'early-stopping' || finished);
  const weights = useBest ? best! : ext.finalize(trained());
  await runner.release();
  for (const p of providers) await p?.close?.();
  model.setWeights(weights);
  return {
    weights,
    history: st.history,
    epochs: st.history.length,
    steps: stepNo,
    bestEpoch: useBest ? st.bestEpoch : st.history.length,
    trainSeconds: elapsedBefore + (performance.now() - t0) / 1000,
    samplesPerSecond: st.samples / Math.max(st.stepSeconds, 1e-9),
    stopReason,
    config,
    ...(st.topK ? { topK: st.topK } : {}),
    frozen: groups.frozen,
  };
}
