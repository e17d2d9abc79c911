/**
 * The parts of a training job that turn CLI-level choices into library objects: checking options before
 * any data is read, loading data (in memory or streamed), choosing target columns, building a preset from
 * the data's columns (numeric features, categorical embeddings, images) or importing an .onnx, and the
 * loss for the task (class weights, positive weights, the targets' scale).
 */
import { existsSync, statSync } from 'node:fs';
import type { OptimizerConfig } from '../autodiff/types.js';
import { readModel } from '../onnx/model-io.js';
import { availableDevices, type Device } from '../runtime/session.js';
import { TrainferError } from '../util/errors.js';
import { defaultTargetColumn } from '../data/dataset.js';
import { expandRange } from '../data/feed-plan.js';
import { loadTable, textFormat } from '../data/load.js';
import type { ColumnTypeHint } from '../data/sniff.js';
import { openStream, type StreamSplits } from '../data/stream.js';
import { type Column, type Table, type TableSplits, columnSize, columnStats, columnToFloat64, getColumn } from '../data/table.js';
import { type LossSpec, type Task, LOSS_NAMES, TASKS } from '../nn/loss.js';
import { buildPreset, isPreset } from '../nn/presets.js';
import { isTextPreset, parseTransformerSpec } from '../nn/presets-text.js';
import type { Network } from '../nn/network.js';
import { MONITOR_METRICS } from './metrics.js';
import { OnnxModelTrainable } from './onnx-trainable.js';
import { parseSchedule } from './schedule.js';
import type { TaskChoice } from './task.js';
import { compilePattern } from './trainable-set.js';
import type { Trainable } from './trainable.js';

/** Files at least this large are streamed unless `--no-stream`… (a file that fits easily is read whole). */
export const STREAM_THRESHOLD_BYTES = 512 * 1024 * 1024;

/** Option checks that need no data: run before anything is read (a bad flag never waits for a load). */
export function checkJobOptions(o: {
  lr?: number; epochs?: number; batchSize?: number; momentum?: number; weightDecay?: number; clipGradNorm?: number; labelSmoothing?: number; huberDelta?: number;
  resume?: boolean; checkpointDir?: string; overwrite?: boolean; device?: Device; trainable?: string; freeze?: string; task?: string; loss?: string; monitor?: string;
  schedule?: unknown; optimizer?: string; model: string; patience?: number;
}): void {
  const positive = (flag: string, v: number | undefined) => {
    if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new TrainferError(`${flag} must be a positive number, got ${v}`);
  };
  positive('--lr', o.lr);
  positive('--clip-grad-norm', o.clipGradNorm);
  positive('--huber-delta', o.huberDelta);
  if (o.momentum !== undefined && !(o.momentum >= 0 && o.momentum < 1)) throw new TrainferError(`--momentum must be in [0, 1), got ${o.momentum}`);
  if (o.weightDecay !== undefined && !(o.weightDecay >= 0)) throw new TrainferError(`--weight-decay must be ≥ 0, got ${o.weightDecay}`);
  if (o.labelSmoothing !== undefined && !(o.labelSmoothing >= 0 && o.labelSmoothing < 1)) throw new TrainferError(`--label-smoothing must be in [0, 1), got ${o.labelSmoothing}`);
  if (o.resume && !o.checkpointDir) throw new TrainferError('--resume needs --checkpoint-dir (the directory holding checkpoint.trainfer)');
  if (o.resume && o.overwrite) throw new TrainferError('--resume and --overwrite contradict each other: continue the run, or start over');
  if (o.device && !availableDevices().includes(o.device)) {
    throw new TrainferError(`device '${o.device}' is not available: this onnxruntime-node build has ${availableDevices().join(', ')} (see README, "GPU")`);
  }
  if (o.trainable !== undefined) compilePattern('--trainable', o.trainable);
  if (o.freeze !== undefined) compilePattern('--freeze', o.freeze);
  if (o.trainable !== undefined && isPreset(o.model)) throw new TrainferError(`--trainable selects initializers of an imported .onnx; '${o.model}' is a preset (every weight trains; --freeze keeps matching ones fixed)`);
  if (o.task !== undefined && !(TASKS as readonly string[]).includes(o.task)) throw new TrainferError(`--task must be ${TASKS.join(', ')}, got '${o.task}'`);
  if (o.loss !== undefined && !(LOSS_NAMES as readonly string[]).includes(o.loss)) throw new TrainferError(`--loss must be ${LOSS_NAMES.join(', ')}, got '${o.loss}'`);
  if (o.monitor !== undefined) {
    const key = o.monitor.replace(/^val_/, '');
    if (!(MONITOR_METRICS as readonly string[]).includes(key)) throw new TrainferError(`--monitor ${o.monitor}: expected val_loss, ${MONITOR_METRICS.filter((m) => m !== 'loss').map((m) => `val_${m}`).join(', ')}, loss or accuracy`);
  }
  if (typeof o.schedule === 'string') parseSchedule(o.schedule);
  if (o.optimizer !== undefined && !['sgd', 'adam', 'adamw'].includes(o.optimizer)) throw new TrainferError(`--optimizer must be sgd, adam or adamw, got '${o.optimizer}'`);
  if (isTextPreset(o.model)) parseTransformerSpec(o.model);
  if (!isPreset(o.model)) {
    if (!o.model.toLowerCase().endsWith('.onnx')) throw new TrainferError(`--model ${o.model}: expected a preset (mlp:H1,H2,…, lenet300, cnn, transformer[:L,D,H]) or an .onnx file`);
    if (!existsSync(o.model)) throw new TrainferError(`--model ${o.model}: no such file`);
  }
}

/** Data of a job: tables in memory, or streams over a large file. */
export type JobData = { kind: 'tables'; splits: TableSplits } | { kind: 'streams'; splits: StreamSplits };

/** Loads `--data` (streamed when asked, or when a text file is at least `STREAM_THRESHOLD_BYTES`). */
export function loadJobData(o: { data: string; testData?: string; validationSplit: number; seed: number; columnTypes?: Readonly<Record<string, ColumnTypeHint>>; stream?: boolean; target?: readonly string[] }): JobData {
  const fmt = textFormat(o.data);
  const big = fmt !== undefined && existsSync(o.data) && statSync(o.data).size >= STREAM_THRESHOLD_BYTES;
  if (o.stream || (big && o.stream !== false)) {
    if (!fmt) throw new TrainferError(`--stream reads .csv/.tsv/.jsonl files; '${o.data}' is not one`);
    if (o.testData) throw new TrainferError('--stream holds out its test rows from --data itself; --test-data is not supported with it');
    return { kind: 'streams', splits: openStream({ path: o.data, validationSplit: o.validationSplit, seed: o.seed, columnTypes: o.columnTypes }) };
  }
  return { kind: 'tables', splits: loadTable({ source: o.data, testSource: o.testData, validationSplit: o.validationSplit, seed: o.seed, columnTypes: o.columnTypes, strictColumns: o.target }) };
}

/** Target columns from `--target` (comma list, `A..B` ranges) or the default label column. */
export function targetColumns(t: Pick<Table, 'columns' | 'source'>, spec: string | undefined): string[] {
  if (spec === undefined) return [defaultTargetColumn(t)];
  const names = t.columns.map((c) => c.name);
  const cols = spec.split(',').map((s) => s.trim()).filter((s) => s).flatMap((s) => expandRange(s, names, '--target'));
  for (const c of cols) getColumn(t, c);
  if (cols.length === 0) throw new TrainferError('--target: no column given');
  return cols;
}

/** Per-column target statistics over the training rows (the scale of regression losses). */
export function targetStats(t: Table, cols: readonly string[]): { mean: number[]; std: number[] } {
  const mean: number[] = [];
  const std: number[] = [];
  for (const n of cols) {
    const s = columnStats(getColumn(t, n), t.count);
    mean.push(...s.mean);
    std.push(...s.std);
  }
  return { mean, std };
}

/**
 * Class weights: explicit numbers, or `balanced` (n / (K · count_k), as scikit-learn) from the training
 * targets; positive weights: numbers, or `balanced` (negatives / positives per label).
 */
export function parseWeights(flag: string, spec: string, t: Table | undefined, cols: readonly string[], task: Task, outputs: number): number[] {
  if (spec !== 'balanced') {
    const w = spec.split(',').map((s) => Number(s.trim()));
    if (w.some((x) => !Number.isFinite(x) || x < 0)) throw new TrainferError(`${flag} must be non-negative numbers or 'balanced', got '${spec}'`);
    return w;
  }
  if (!t) throw new TrainferError(`${flag} balanced needs the training data in memory (not --stream); give the weights`);
  const values = cols.flatMap((c) => [...columnToFloat64(getColumn(t, c))]);
  if (flag === '--class-weights') {
    const counts = new Array<number>(outputs).fill(0);
    for (const v of values) if (v >= 0 && v < outputs) counts[v]!++;
    return counts.map((c) => (c > 0 ? values.length / (outputs * c) : 0));
  }
  const k = task === 'binary' ? 1 : outputs;
  const pos = new Array<number>(k).fill(0);
  const rows = values.length / k;
  values.forEach((v, i) => { if (v >= 0.5) pos[i % k]!++; });
  return pos.map((p) => (p > 0 ? (rows - p) / p : 1));
}

/** The loss for the task and the loss flags. */
export function jobLoss(o: { task: Task; loss?: string; labelSmoothing?: number; classWeights?: number[]; posWeight?: number[]; huberDelta?: number; scale?: number[] }): LossSpec {
  const name = o.loss ?? (o.task === 'classification' ? 'cross-entropy' : o.task === 'regression' ? 'mse' : 'bce');
  const fits = { classification: ['cross-entropy'], binary: ['bce'], multilabel: ['bce'], regression: ['mse', 'mae', 'huber'] }[o.task];
  if (!fits.includes(name)) throw new TrainferError(`--loss ${name} does not fit task ${o.task} (use ${fits.join(', ')})`);
  if (o.labelSmoothing && name !== 'cross-entropy') throw new TrainferError(`--label-smoothing applies to cross-entropy, not ${name}`);
  if (o.classWeights && name !== 'cross-entropy') throw new TrainferError(`--class-weights applies to cross-entropy (task classification); for ${o.task} use --pos-weight`);
  if (o.posWeight && name !== 'bce') throw new TrainferError(`--pos-weight applies to bce (binary and multi-label tasks), not ${name}`);
  if (o.huberDelta !== undefined && name !== 'huber') throw new TrainferError('--huber-delta applies to --loss huber');
  if (name === 'cross-entropy') return { type: 'cross-entropy', labelSmoothing: o.labelSmoothing, classWeights: o.classWeights };
  if (name === 'bce') return { type: 'bce', posWeight: o.posWeight };
  if (name === 'huber') return { type: 'huber', delta: o.huberDelta, scale: o.scale };
  return { type: name as 'mse' | 'mae', scale: o.scale };
}

/** Options for `buildJobModel`. */
export interface JobModelOptions {
  model: string;
  /** Schema (and, for presets, the rows that set the standardisation). */
  train: Table;
  targets: readonly string[];
  task: TaskChoice;
  seed: number;
  /** Columns to leave out of the features. */
  exclude: readonly string[];
  trainable?: string;
  freeze?: string;
}

/**
 * A preset built for the data (image → pixels input; numeric columns → standardised `features`; each
 * categorical column → its own int64 input with an embedding; regression heads rescaled to the targets'
 * units), or an imported .onnx with the task's heads. Returns the model and its input bindings.
 */
export function buildJobModel(o: JobModelOptions): { model: Trainable; inputs: Record<string, { columns: string[] }> } {
  const t = o.train;
  const features = t.columns.filter((c) => !o.targets.includes(c.name) && !o.exclude.includes(c.name));
  if (!isPreset(o.model)) {
    const re = o.trainable !== undefined ? compilePattern('--trainable', o.trainable) : undefined;
    const fr = o.freeze !== undefined ? compilePattern('--freeze', o.freeze) : undefined;
    const src = readModel(o.model);
    let task = o.task.task;
    const first = src.graph.outputs[0]?.type?.shape?.slice(1);
    // Two classes into a model with two scores: softmax cross-entropy on them, not one sigmoid.
    if (task === 'binary' && first?.length === 1 && first[0] === 2) task = 'classification';
    const model = new OnnxModelTrainable({ model: src, name: o.model, task, numClasses: task === 'classification' ? o.task.outputs : undefined, trainable: re ? (name) => re.test(name) : undefined, freeze: fr ? (name) => fr.test(name) : undefined });
    return { model, inputs: bindImported(model, features) };
  }
  for (const c of features) {
    if (c.kind === 'text') throw new TrainferError(`${t.source}: column '${c.name}' is text; ${o.model} takes numbers, categories and images: train --model transformer on text, or leave it out with --exclude ${c.name}`);
  }
  const image = features.find((c) => c.kind === 'image');
  const numeric = features.filter((c) => c.kind === 'numeric' || c.kind === 'image');
  const categorical = features.filter((c) => c.kind === 'categorical');
  if (image && features.length > 1) throw new TrainferError(`${t.source}: presets take an image column alone; leave out ${features.filter((c) => c !== image).map((c) => c.name).join(', ')} with --exclude`);
  if (features.length === 0) throw new TrainferError(`${t.source}: no feature columns left (every column is a target or excluded)`);
  const width = numeric.reduce((s, c) => s + columnSize(c), 0);
  const regression = o.task.task === 'regression';
  const common = { spec: o.model, numClasses: o.task.outputs, seed: o.seed, classNames: o.task.classNames, task: o.task.task, targetScale: regression ? targetStats(t, o.targets) : undefined };
  let net: Network;
  const inputs: Record<string, { columns: string[] }> = {};
  if (image) {
    net = buildPreset({ ...common, inputShape: image.shape, normalize: channelStats(image, t.count), inputKind: 'image' });
    inputs.pixels = { columns: [image.name] };
  } else {
    const stats = width > 0 ? numericStats(numeric, t.count) : undefined;
    // Each categorical column is an input named after it, unless that name is taken (the numeric
    // `features` input, a loss target).
    const inputName = (c: Column) => (c.name === 'features' || c.name === 'target' || c.name.endsWith('_target') ? `cat_${c.name}` : c.name);
    net = buildPreset({ ...common, inputShape: [width], normalize: stats, inputKind: 'tabular', categorical: categorical.map((c) => ({ name: inputName(c), categories: c.vocabulary?.length ?? 1 })) });
    if (width > 0) inputs.features = { columns: numeric.map((c) => c.name) };
    for (const c of categorical) inputs[inputName(c)] = { columns: [c.name] };
  }
  return { model: net, inputs };
}

/**
 * Imported models: inputs named like a column read it; a single input left over reads every other
 * feature column (file order). More than one left over needs `--inputs`.
 */
function bindImported(model: OnnxModelTrainable, features: readonly Column[]): Record<string, { columns: string[] }> {
  const out: Record<string, { columns: string[] }> = {};
  const names = new Set(features.map((c) => c.name));
  const open = model.inputs.filter((i) => !(model.inputs.length > 1 && names.has(i.name)));
  for (const i of model.inputs) if (!open.includes(i)) out[i.name] = { columns: [i.name] };
  if (open.length === 1) out[open[0]!.name] = { columns: features.map((c) => c.name).filter((n) => !out[n]) };
  return out;
}

function numericStats(cols: readonly Column[], count: number): { mean: number[]; std: number[] } {
  const mean: number[] = [];
  const std: number[] = [];
  for (const c of cols) {
    const s = columnStats(c, count);
    mean.push(...[...s.mean].map((v) => Math.fround(v)));
    std.push(...[...s.std].map((v) => Math.fround(v)));
  }
  return { mean, std };
}

/** Per-channel mean/std of [C, H, W] images (rounded to 4 digits, as the presets always did). */
function channelStats(c: Column, count: number): { mean: number[]; std: number[] } {
  const s = columnStats(c, count);
  const ch = c.shape[0]!;
  const hw = s.mean.length / ch;
  const mean: number[] = [];
  const std: number[] = [];
  for (let k = 0; k < ch; k++) {
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

/** The optimizer the options and family defaults give. */
export function optimizerConfig(o: { optimizer?: 'sgd' | 'adam' | 'adamw'; momentum?: number; weightDecay?: number }, dflt: OptimizerConfig): OptimizerConfig {
  const type = o.optimizer ?? dflt.type;
  if (type === 'sgd') {
    const momentum = o.momentum ?? (dflt.type === 'sgd' ? (dflt.momentum ?? 0.9) : 0.9);
    return { type, momentum, nesterov: momentum > 0, weightDecay: o.weightDecay };
  }
  return { type, weightDecay: o.weightDecay ?? (type === 'adamw' ? 0.01 : undefined) };
}
