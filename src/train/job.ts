/**
 * A complete training job as the CLI runs it: check the options, load data (tables or streams), choose
 * the target and the task (said in the first line of output), build a preset for the data or import an
 * .onnx, fit with defaults for the model family, export the inference model with its metadata through
 * `writeModelVerified` (run once on a real batch), then evaluate the exported file on the test split.
 * The CLI, the demo and the benches all call `runTrainJob`.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { OptimizerConfig } from '../autodiff/types.js';
import { readModel } from '../onnx/model-io.js';
import type { Device } from '../runtime/session.js';
import { TrainferError } from '../util/errors.js';
import { type FeedBinding, parseFeedMapping } from '../data/feed-plan.js';
import type { TableStream } from '../data/stream.js';
import type { ColumnTypeHint } from '../data/sniff.js';
import { type Table, headRows } from '../data/table.js';
import type { Task } from '../nn/loss.js';
import { lrFor, resolveDefaults } from './defaults.js';
import { evaluate } from './evaluate.js';
import { type AugmentSpec, parseAugment } from '../data/augment.js';
import { annotateModel, exportModel } from './export.js';
import { type FitOptions, type FitResult, fit } from './fit.js';
import { type FindLrOptions, type FindLrResult, findLr } from './find-lr.js';
import type { TrainingExtension } from './extension.js';
import { type JobData, buildJobModel, checkJobOptions, jobLoss, loadJobData, optimizerConfig, parseWeights, targetColumns, targetStats } from './job-setup.js';
import type { TextPreprocess } from '../data/email-text.js';
import { type TextSetup, recordText, saveTokenizerBeside, setupText, textColumn } from './job-text.js';
import type { MetricsResult } from './metrics.js';
import type { EpochMetrics, ProgressMode, ProgressReporter } from './progress.js';
import { type Schedule, assumesEnd, formatSchedule, parseSchedule } from './schedule.js';
import { type TaskChoice, inferTask } from './task.js';
import type { Trainable } from './trainable.js';
import { isTextPreset } from '../nn/presets-text.js';

/** Options for `runTrainJob` (the CLI flags of `trainfer train`). */
export interface TrainJobOptions {
  /** Preset (`mlp:256`, `lenet300`, `cnn`, `transformer[:L,D,H]`) or an `.onnx` file to fine-tune. */
  model: string;
  /** `mnist`, `friedman1`, `customers`, an IDX directory, or a `.csv` / `.tsv` / `.jsonl` file. */
  data: string;
  epochs?: number;
  batchSize?: number;
  optimizer?: 'sgd' | 'adam' | 'adamw';
  lr?: number;
  momentum?: number;
  weightDecay?: number;
  schedule?: string | Schedule;
  seed?: number;
  /** Output .onnx (default `<model name>.onnx`; `<file>-finetuned.onnx` beside an imported model). */
  out?: string;
  checkpointDir?: string;
  resume?: boolean;
  /** Replace the run held in `checkpointDir` instead of refusing. */
  overwrite?: boolean;
  checkpointEverySteps?: number;
  /** Fraction of the training data held out for validation each epoch (default 0.05). */
  validationSplit?: number;
  /** Early stopping patience in epochs (needs validation). */
  patience?: number;
  /** What early stopping and keep-best watch (default `val_loss`). */
  monitor?: string;
  /** Target column(s): names, comma-separated, `A..B` ranges (default: label/labels/class/target/y, else the last). */
  target?: string;
  /** Force the task (default: inferred from the target). */
  task?: Task;
  /** `cross-entropy`, `bce`, `mse`, `mae`, `huber` (default: the task's). */
  loss?: string;
  labelSmoothing?: number;
  /** Cross-entropy class weights: numbers (one per class) or `balanced`. */
  classWeights?: string;
  /** BCE positive weights: a number, one per label, or `balanced`. */
  posWeight?: string;
  huberDelta?: number;
  clipGradNorm?: number;
  /** Image augmentation: `shift=2,rotate=10,flip` or a spec (`default` = shift=2,rotate=10). */
  augment?: string | AugmentSpec;
  /** Column → model input mapping, e.g. `ids=c1..c16,dense=price,age`. */
  inputs?: string;
  /** Columns left out of the features. */
  exclude?: readonly string[];
  /** The text column (default: the data's only text column). */
  textColumn?: string;
  /** A tokenizer.json for the text column (default: one learned from the training split). */
  tokenizer?: string;
  /** Vocabulary size of a learned tokenizer (default 8000). */
  vocabSize?: number;
  /** Longest token row, specials included (default 128, or the tokenizer file's). */
  maxLength?: number;
  /** Preparation of each text before tokenizing (default: `email` for a column of raw emails such as `--data spam`'s, else `none`). */
  textPreprocess?: TextPreprocess;
  /** CSV/JSONL column types by name. */
  columnTypes?: Readonly<Record<string, ColumnTypeHint>>;
  /** Stream the file instead of loading it (default: only files ≥ 512 MiB). */
  stream?: boolean;
  testData?: string;
  /** Use only the first N training samples. */
  trainLimit?: number;
  /** Fine-tuning: regular expression selecting trainable initializers (instead of the layer weights). */
  trainable?: string;
  /** Fine-tuning: regular expression of initializers to keep fixed. */
  freeze?: string;
  /**
   * Any model: keep parameters whose name matches this regular expression fixed (e.g. `^linear1\.`);
   * `trainfer train --freeze` sets it for presets, `freeze` for imported .onnx models.
   */
  freezeLayers?: string;
  /** Weight decay on biases and normalisation parameters too (default: not on rank ≤ 1 parameters). */
  weightDecayAll?: boolean;
  /** Gradient accumulation: one optimizer step per N batches (exactly a batch N times larger). */
  accumulate?: number;
  /** Weight EMA decay (e.g. 0.999); the exported model holds the EMA weights. */
  ema?: number;
  /** Export the best epoch's weights by the monitor (also without early stopping). */
  keepBest?: boolean;
  /** Keep the best K epochs' weights in the checkpoint directory. */
  saveTopK?: number;
  metricsLog?: string;
  threads?: number;
  /** onnxruntime's idle intra-op threads spin (default false; see `FitOptions.spinning`). */
  spinning?: boolean;
  /** Where onnxruntime runs: `cpu` (default) or `cuda` (needs a CUDA build of onnxruntime-node). */
  device?: Device;
  maxSteps?: number;
  progress?: ProgressMode | ProgressReporter;
  /** Stops training after the current step (checkpointed when `checkpointDir` is set). */
  signal?: AbortSignal;
  onEpochEnd?: (m: EpochMetrics) => void | 'stop' | Promise<void | 'stop'>;
  /** Plug-ins to fit's loop (e.g. pruning masks), passed through to `fit`. */
  extensions?: readonly TrainingExtension[];
}

/** What `trainfer train --json` prints. */
export interface TrainJobResult {
  model: string;
  data: string;
  out: string;
  task: Task;
  /** Why that task: e.g. `target 'price' is a float column`. */
  taskReason: string;
  target: string[];
  /** The first head's accuracy on the test split (NaN for regression). */
  testAccuracy: number;
  testLoss: number;
  /** Every scalar metric of the exported model on the test split (`accuracy`, `f1`, `auc`, `rmse`, `r2`, …). */
  testMetrics: Record<string, number>;
  /** Full test metrics per head (per-class detail, confusion matrix). */
  testHeads: Record<string, MetricsResult>;
  validationAccuracy?: number;
  epochs: number;
  bestEpoch: number;
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

/**
 * A preset built for `train`'s columns (or an imported .onnx), its task inferred from the default target
 * column — what `runTrainJob` builds, for scripts that call `fit` themselves.
 */
export function buildModel(o: Pick<TrainJobOptions, 'model' | 'trainable' | 'freeze' | 'task' | 'target'>, train: Table, seed: number): Trainable {
  const targets = targetColumns(train, o.target);
  const task = inferTask({ table: train, targets, override: o.task });
  return buildJobModel({ model: o.model, train, targets, task, seed, exclude: [], trainable: o.trainable, freeze: o.freeze }).model;
}

/**
 * The output path: `--out`, or `<name>.onnx`, or `<model>-finetuned.onnx` beside an imported model; a
 * text model goes into its own directory, `<name>/model.onnx`, with `tokenizer.json` beside it.
 */
export function defaultOut(model: string, name: string, text = false): string {
  if (model.toLowerCase().endsWith('.onnx')) return join(dirname(model), `${basename(model, '.onnx')}-finetuned.onnx`);
  return text ? join(name, 'model.onnx') : `${name}.onnx`;
}

/** Runs a training job end to end. Nothing is written to `out` unless training succeeds and the file loads and runs. */
export async function runTrainJob(o: TrainJobOptions): Promise<TrainJobResult> {
  return withJobSetup(o, (c) => trainAndExport(c));
}

/**
 * `trainfer train --find-lr`: the same data, model, batch size and optimizer as the training job would
 * use, run through the LR range test (`findLr`) instead of training; nothing is written.
 */
export async function runFindLrJob(o: TrainJobOptions & { findLr?: Pick<FindLrOptions, 'minLr' | 'maxLr' | 'steps'> }): Promise<FindLrResult> {
  return withJobSetup(o, async (c) => {
    const f = fitOptionsFor(c).fit;
    return findLr({ ...f, ...o.findLr, model: f.model, train: f.train });
  });
}

/** Everything before fitting: options checked, data loaded, task chosen, the model (and its tokenizer for text) built; then `body`. */
async function withJobSetup<T>(o: TrainJobOptions, body: (c: JobContext) => Promise<T>): Promise<T> {
  checkJobOptions({ ...o, optimizer: o.optimizer });
  if (o.out && existsSync(o.out) && statSync(o.out).isDirectory()) throw new TrainferError(`--out ${o.out}: is a directory`);
  const seed = o.seed ?? 0;
  const augment = typeof o.augment === 'string' ? parseAugment(o.augment) : o.augment;
  if (augment?.flip && o.data === 'mnist') throw new TrainferError('--augment flip: mirrored digits are other shapes (a flipped 2 is no 2); use shift and rotate for mnist');
  const say = (line: string) => { if (o.progress !== 'none' && typeof o.progress !== 'object') process.stderr.write(`${line}\n`); };
  const data = loadJobData({ data: o.data, testData: o.testData, validationSplit: o.validationSplit ?? 0.05, seed, columnTypes: o.columnTypes, stream: o.stream, target: o.target?.split(',') });
  const tables = data.kind === 'tables' ? data.splits : undefined;
  const streams = data.kind === 'streams' ? data.splits : undefined;
  const trainTable = tables ? (o.trainLimit ? headRows(tables.train, o.trainLimit) : tables.train) : undefined;
  const schema: Table = trainTable ?? streams!.train.schemaTable();
  const train = trainTable ?? streams!.train;
  const targets = targetColumns(schema, o.target);
  const exclude = [...(o.exclude ?? [])];
  for (const c of exclude) if (!schema.columns.some((k) => k.name === c)) throw new TrainferError(`--exclude ${c}: no such column (columns: ${schema.columns.map((k) => k.name).join(', ')})`);
  const choice = inferTask({ table: schema, targets, override: o.task });
  const textCol = textColumn(schema, o.textColumn);
  const wantsText = isTextPreset(o.model) || o.tokenizer !== undefined || (textCol !== undefined && !o.inputs && !exclude.includes(textCol) && o.model.toLowerCase().endsWith('.onnx'));
  if (wantsText && !textCol) throw new TrainferError(`${o.data}: --model ${o.model} reads text, but no column is text (columns: ${schema.columns.map((c) => `${c.name} (${c.kind})`).join(', ')}); name one with --text-column, or force it with --column-type NAME=text`);
  if (wantsText && !trainTable) throw new TrainferError('--stream: text models need the training texts in memory (for the tokenizer and its row cache); leave out --stream');
  const binaryText = wantsText && isTextPreset(o.model) && choice.task === 'binary';
  say(`task: ${choice.task} (${o.task ? '--task' : choice.reason}${o.task ? '' : '; --task overrides'})${choice.task !== 'regression' ? `, ${choice.outputs} output${choice.outputs === 1 ? '' : 's'}` : ''}${binaryText ? ' — as two softmax classes' : ''}`);
  let text: TextSetup | undefined;
  let model: Trainable;
  let presetInputs: Record<string, FeedBinding>;
  if (wantsText) {
    if (o.inputs) throw new TrainferError('--inputs maps columns onto inputs; a text model reads its token inputs from --text-column through the tokenizer');
    const imported = isTextPreset(o.model) ? undefined : buildJobModel({ model: o.model, train: trainTable!, targets, task: choice, seed, exclude, trainable: o.trainable, freeze: o.freeze }).model;
    if (imported && !o.tokenizer) throw new TrainferError(`${o.model}: text column '${textCol}' feeds an imported model through the tokenizer it was trained with: pass --tokenizer tokenizer.json (or map pre-tokenized columns with --inputs)`);
    text = await setupText({ model: o.model, train: trainTable!, column: textCol!, choice, seed, tokenizer: o.tokenizer, vocabSize: o.vocabSize, maxLength: o.maxLength, preprocess: o.textPreprocess, imported, say });
    model = text.model;
    presetInputs = text.text.feeds;
  } else {
    ({ model, inputs: presetInputs } = buildJobModel({ model: o.model, train: trainTable ?? schema, targets, task: choice, seed, exclude, trainable: o.trainable, freeze: o.freeze }));
  }
  try {
    return await body({ o, data, train, trainTable, schema, targets, choice, model, presetInputs, text, textCol, seed, augment, say });
  } finally {
    await text?.text.close();
  }
}

/** What the job knows once the model and its feeds are built. */
interface JobContext {
  o: TrainJobOptions; data: JobData; train: Table | TableStream; trainTable?: Table; schema: Table; targets: string[]; choice: TaskChoice;
  model: Trainable; presetInputs: Record<string, FeedBinding>; text?: TextSetup; textCol?: string; seed: number; augment?: AugmentSpec; say: (line: string) => void;
}

/** Fit, export with metadata (verified), then score the exported file on the test split. */
async function trainAndExport(c: JobContext): Promise<TrainJobResult> {
  const { o, model, text, seed, say } = c;
  const { fit: fitOptions, targets, inputs, loss, schedule, out, choice, schema, tables, streams, test, task } = fitOptionsFor(c);
  const r = await fit(fitOptions);
  // Export with metadata, verified on a real batch; then score the exported file itself: what users deploy is what we score.
  const exported = annotateModel(model.inferenceGraph({ weights: r.weights }), { heads: model.heads, losses: [{ loss }], targets: { [model.heads[0]!.name]: targets }, table: schema, inputs, classNames: text?.classNames ?? choice.classNames });
  if (text) {
    recordText({ model: exported, tokenizer: text.tokenizer, column: c.textCol!, preprocess: text.preprocess });
    mkdirSync(dirname(out), { recursive: true });
  }
  const sampleFrom = tables ? tables.test : (streams!.test.batches(8).next().value as Table);
  await exportModel({ path: out, model: exported, table: sampleFrom, inputs, exclude: targets });
  // The tokenizer (already loaded and used) goes beside the verified model: the layout serve and the page read.
  if (text) say(`wrote ${saveTokenizerBeside(out, text.tokenizer)}`);
  const ev = await evaluate({ model: readModel(out), heads: model.heads, losses: [{ loss }], data: test, target: targets, feeds: inputs, threads: o.threads, device: o.device, modelName: out });
  const last = r.history[r.history.length - 1];
  return {
    model: o.model,
    data: o.data,
    out,
    task,
    taskReason: o.task ? '--task' : choice.reason,
    target: targets,
    testAccuracy: ev.accuracy,
    testLoss: ev.loss,
    testMetrics: ev.metrics,
    testHeads: ev.heads,
    validationAccuracy: last?.valAccuracy,
    epochs: r.epochs,
    bestEpoch: r.bestEpoch,
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

/** fit's options for the job: defaults for the model family, the loss, the schedule (plateau with --patience unless one is given). */
function fitOptionsFor(c: JobContext) {
  const { o, data, train, trainTable, schema, targets, choice, model, presetInputs, text, seed, augment, say } = c;
  const splits = data.splits;
  const tables = data.kind === 'tables' ? data.splits : undefined;
  const streams = data.kind === 'streams' ? data.splits : undefined;
  const { validation, test } = splits;
  const task = model.heads[0]!.task;
  const mapping = o.inputs ? parseFeedMapping(o.inputs, schema.columns.map((k) => k.name)) : undefined;
  const inputs: Record<string, FeedBinding> = mapping ? Object.fromEntries(Object.entries(mapping).map(([k, v]) => [k, { columns: v }])) : presetInputs;
  const d = resolveDefaults({ spec: o.model, trainCount: train.count, task });
  const batchSize = o.batchSize ?? d.batchSize;
  if (batchSize > train.count) throw new TrainferError(`--batch-size ${batchSize} is larger than the ${train.count} training samples of ${o.data}`);
  const optimizer = optimizerConfig(o, d.optimizer);
  const lr = o.lr ?? lrFor(optimizer, d.lr, d.optimizer);
  // With early stopping and no --schedule: ReduceLROnPlateau (with a warm-up) instead of a schedule planned for the last epoch.
  const plateauDefault = !o.schedule && !!o.patience && assumesEnd(d.schedule);
  const schedule: Schedule = typeof o.schedule === 'string' ? parseSchedule(o.schedule) : (o.schedule ?? (plateauDefault ? { type: 'plateau', patience: Math.max(1, Math.floor(o.patience! / 2)), warmup: Math.min(500, Math.floor(train.count / batchSize)) } : d.schedule));
  const outputs = typeof model.heads[0]!.shape[0] === 'number' ? model.heads[0]!.shape[0] : choice.outputs;
  const loss = jobLoss({
    task, loss: o.loss, huberDelta: o.huberDelta,
    // The family's default smoothing applies to a cross-entropy loss only (an explicit --loss bce keeps none).
    labelSmoothing: o.labelSmoothing ?? (task === 'classification' && (!o.loss || o.loss === 'cross-entropy') ? d.labelSmoothing : undefined),
    classWeights: o.classWeights ? parseWeights('--class-weights', o.classWeights, trainTable, targets, task, outputs) : undefined,
    posWeight: o.posWeight ? parseWeights('--pos-weight', o.posWeight, trainTable, targets, task, outputs) : undefined,
    // Presets learn standardised targets: the loss divides residuals by the targets' std.
    scale: task === 'regression' && trainTable && !o.model.toLowerCase().endsWith('.onnx') ? targetStats(trainTable, targets).std : undefined,
  });
  const out = o.out ?? defaultOut(o.model, model.name, !!text && isTextPreset(o.model));
  const metricsLog = o.metricsLog ?? (o.checkpointDir ? join(o.checkpointDir, 'metrics.jsonl') : undefined);
  const epochs = o.epochs ?? d.epochs;
  const n = (x: number) => x.toLocaleString('en-US');
  const opt = optimizer.type === 'sgd' ? `sgd (momentum ${optimizer.momentum ?? 0}${optimizer.nesterov ? ', Nesterov' : ''})` : optimizer.type;
  say(`training ${model.name} (${n(model.parameterCount())} parameters) on ${o.data}: ${n(train.count)} train / ${n(validation?.count ?? 0)} validation / ${n(test.count)} test samples${data.kind === 'streams' ? ' (streamed)' : ''}; ${opt}, lr ${lr} ${formatSchedule(schedule)}${plateauDefault ? ' (--patience: a schedule that does not assume the last epoch)' : ''}, batch ${batchSize}, ${epochs} epoch${epochs === 1 ? '' : 's'}`);
  const feeds = inputs;
  const fitOptions: FitOptions = {
    model, train, validation, target: targets, feeds, loss, epochs, batchSize, optimizer, lr, schedule,
    clipGradNorm: o.clipGradNorm, seed, monitor: o.monitor, augment,
    earlyStopping: o.patience ? { patience: o.patience } : undefined,
    checkpointDir: o.checkpointDir, checkpointEverySteps: o.checkpointEverySteps, resume: o.resume, overwrite: o.overwrite,
    metricsLog, progress: o.progress, threads: o.threads, spinning: o.spinning, device: o.device, maxSteps: o.maxSteps, onEpochEnd: o.onEpochEnd, signal: o.signal, extensions: o.extensions,
    freeze: o.freezeLayers, weightDecayAll: o.weightDecayAll, accumulate: o.accumulate, ema: o.ema !== undefined ? { decay: o.ema } : undefined, keepBest: o.keepBest, saveTopK: o.saveTopK,
  };
  return { fit: fitOptions, targets, inputs, loss, schedule, out, choice, schema, tables, streams, test, task };
}
