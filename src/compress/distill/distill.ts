/**
 * `distillModel`: knowledge distillation (Hinton et al. 2015) on the trainer's general mechanisms. The
 * teacher is any ONNX classifier, run by onnxruntime through the `teacherOutputs` feed provider — once
 * over the training rows before training (its logits cached as a table column: the rows are fixed, only
 * their order changes) or alongside every batch (`teacher: 'live'`). The student is a preset built for
 * the data or an imported .onnx; it may have any architecture, only the class count must match. The loss
 * is α·T²·KL(softmax(t/T) ‖ softmax(s/T)) + (1−α)·CE(s, y): the built-in cross-entropy on the student's
 * head plus `klDivergence` as a custom loss term reading the teacher's logits.
 * The student is exported through `writeModelVerified` and scored, with the teacher, on the test split.
 */
import { existsSync } from 'node:fs';
import { klDivergence } from '../../autodiff/losses.js';
import type { OptimizerConfig } from '../../autodiff/types.js';
import type { FeedBinding, FeedProvider } from '../../data/feed-plan.js';
import type { Table } from '../../data/table.js';
import type { Model } from '../../onnx/ir.js';
import { readModel } from '../../onnx/model-io.js';
import { TrainferError } from '../../util/errors.js';
import type { LossSpec } from '../../nn/loss.js';
import { isPreset } from '../../nn/presets.js';
import { lrFor, resolveDefaults } from '../../train/defaults.js';
import { annotateModel, exportModel } from '../../train/export.js';
import { fit } from '../../train/fit.js';
import { buildJobModel, loadJobData, optimizerConfig, targetColumns } from '../../train/job-setup.js';
import { modelHeads } from '../../train/onnx-trainable.js';
import type { EpochMetrics, ProgressMode } from '../../train/progress.js';
import { teacherOutputs } from '../../train/providers.js';
import { type Schedule, formatSchedule, parseSchedule } from '../../train/schedule.js';
import { inferTask } from '../../train/task.js';
import { fileBytes, scoreModel, withOutputs } from '../common/score.js';
import { textModel } from '../quantize/text-data.js';
import { distillText } from './distill-text.js';

/** Options for `distillModel` (the flags of `trainfer distill`). */
export interface DistillOptions {
  /** Teacher: any ONNX classifier (never modified). */
  teacher: string;
  /** Student: a preset (`mlp:64`, `cnn`, …) or an .onnx file. */
  student: string;
  data: string;
  out: string;
  /** Softening temperature T > 0 (default 4). */
  temperature?: number;
  /** Weight α of the soft (teacher) term in [0, 1] (default 0.7); 1 − α weighs the hard labels. */
  alpha?: number;
  /** `cache` (default): teacher logits computed once over the training rows; `live`: every batch. */
  teacherMode?: 'cache' | 'live';
  epochs?: number;
  batchSize?: number;
  optimizer?: 'sgd' | 'adam' | 'adamw';
  lr?: number;
  schedule?: string | Schedule;
  seed?: number;
  validationSplit?: number;
  maxSteps?: number;
  target?: string;
  threads?: number;
  progress?: ProgressMode;
  onEpochEnd?: (m: EpochMetrics) => void | 'stop' | Promise<void | 'stop'>;
}

/** What `distillModel` did (what `trainfer distill --json` prints). */
export interface DistillResult {
  out: string;
  teacher: { file: string; testAccuracy: number; parameters: number; bytes: number };
  student: { model: string; testAccuracy: number; testLoss: number; parameters: number; bytes: number };
  temperature: number;
  alpha: number;
  teacherMode: 'cache' | 'live';
  /** Seconds spent computing the cached teacher logits (0 when live). */
  teacherSeconds: number;
  epochs: number;
  steps: number;
  trainSeconds: number;
  samplesPerSecond: number;
  batchSize: number;
  optimizer: OptimizerConfig;
  lr: number;
  schedule: string;
  seed: number;
  history: EpochMetrics[];
}

/** The teacher with its scores before a final Softmax as its only output (logits for the KL term). */
function teacherLogitsModel(teacher: Model, name: string): { model: Model; classes: number } {
  const [head] = modelHeads(teacher, { task: 'classification', name });
  const classes = head!.shape[0];
  if (typeof classes !== 'number' || classes < 2) throw new TrainferError(`${name}: the teacher's first output is not a classifier's [classes] scores (shape [${head!.shape.join(', ')}] per sample)`);
  return { model: withOutputs(teacher, [{ name: head!.output, type: { dtype: 'float32', shape: ['batch', classes] } }]), classes };
}

/** Teacher logits for every row of `table`, as a float32 column `name` (one onnxruntime pass, batches of 512). */
async function cacheTeacher(provider: FeedProvider, table: Table, inputColumns: readonly string[], inputName: string, classes: number, name: string): Promise<Table> {
  const data = new Float32Array(table.count * classes);
  const bs = 512;
  const feeds = new Map([[inputName, { data: new Float32Array(0), dtype: 'float32' as const, shape: [], role: 'input' as const, columns: inputColumns }]]);
  for (let start = 0; start < table.count; start += bs) {
    const size = Math.min(bs, table.count - start);
    await provider.fill({ out: data.subarray(start * classes, (start + size) * classes), shape: [classes], size, feeds, rows: { table, order: null, start }, phase: 'eval', step: 0 });
  }
  return { ...table, columns: [...table.columns, { name, dtype: 'float32', shape: [classes], data, kind: 'numeric' }] };
}

/** Checks option values that need no file. */
export function checkDistillOptions(o: Pick<DistillOptions, 'temperature' | 'alpha' | 'teacher' | 'student' | 'teacherMode' | 'out'>): void {
  if (o.temperature !== undefined && !(Number.isFinite(o.temperature) && o.temperature > 0)) throw new TrainferError(`--temperature must be a positive number, got ${o.temperature}`);
  if (o.alpha !== undefined && !(o.alpha >= 0 && o.alpha <= 1)) throw new TrainferError(`--alpha must be in [0, 1], got ${o.alpha}`);
  if (o.teacherMode !== undefined && o.teacherMode !== 'cache' && o.teacherMode !== 'live') throw new TrainferError(`--teacher-mode must be cache or live, got '${o.teacherMode}'`);
  if (!existsSync(o.teacher)) throw new TrainferError(`--teacher ${o.teacher}: no such file`);
  if (!isPreset(o.student) && !existsSync(o.student)) throw new TrainferError(`--student ${o.student}: expected a preset (mlp:H1,H2,…, lenet300, cnn, transformer:L,D,H for a text teacher) or an existing .onnx file`);
}

/**
 * Distils a teacher into a student.
 *
 * @example
 * const r = await distillModel({ teacher: 'cnn.onnx', student: 'mlp:64', data: 'mnist', out: 'student.onnx', temperature: 4, alpha: 0.7 });
 * console.log(r.teacher.testAccuracy, r.student.testAccuracy);
 */
export async function distillModel(o: DistillOptions): Promise<DistillResult> {
  checkDistillOptions(o);
  const T = o.temperature ?? 4;
  const alpha = o.alpha ?? 0.7;
  const seed = o.seed ?? 0;
  const teacherFile = readModel(o.teacher);
  const data = loadJobData({ data: o.data, validationSplit: o.validationSplit ?? 0.05, seed, stream: false });
  if (data.kind !== 'tables') throw new TrainferError('distill: streamed data is not supported');
  const { train: train0, validation: val0, test } = data.splits;
  const targets = targetColumns(train0, o.target);
  const choice = inferTask({ table: train0, targets });
  if (choice.task !== 'classification' && choice.task !== 'binary') throw new TrainferError(`distill: ${o.data}: target '${targets.join(',')}' is a ${choice.task} target; distillation here is for classifiers`);
  const text = textModel(teacherFile, o.teacher);
  if (text) {
    const { model: teacherLogits, classes } = teacherLogitsModel(teacherFile, o.teacher);
    return distillText(o, { teacherFile, teacherLogits, classes, text, train: train0, validation: val0, test, targets, choice, temperature: T, alpha, seed });
  }
  const { model: student, inputs } = buildJobModel({ model: o.student, train: train0, targets, task: { ...choice, task: 'classification', outputs: Math.max(2, choice.outputs) }, seed, exclude: [] });
  const head = student.heads[0]!;
  const studentClasses = head.shape[0];
  const { model: tModel, classes } = teacherLogitsModel(teacherFile, o.teacher);
  if (studentClasses !== classes) throw new TrainferError(`distill: teacher ${o.teacher} has ${classes} classes but student ${o.student} has ${String(studentClasses)} (on ${o.data}); they must predict the same classes`);
  const inputNames = Object.keys(inputs);
  if (inputNames.length !== 1 && !tModel.graph.feedInputs().every((v) => inputNames.includes(v.name))) throw new TrainferError(`distill: the student has inputs ${inputNames.join(', ')}; the teacher's inputs must be named like them`);
  const firstInput = inputNames[0]!;
  const teacher = await teacherOutputs({ model: tModel, threads: o.threads, inputs: tModel.graph.feedInputs().length === 1 ? { [tModel.graph.feedInputs()[0]!.name]: inputs[firstInput]!.columns } : Object.fromEntries(inputNames.map((k) => [k, inputs[k]!.columns])) });
  // fit closes the providers it is given; closing twice must be harmless.
  let closed = false;
  const provider: FeedProvider = { fill: (b) => teacher.fill(b), close: async () => { if (!closed) { closed = true; await teacher.close?.(); } } };
  const mode = o.teacherMode ?? 'cache';
  const TEACHER = 'teacher_logits';
  let train = train0;
  let validation = val0;
  let teacherSeconds = 0;
  const feeds: Record<string, FeedBinding> = { ...inputs };
  try {
    if (mode === 'cache') {
      const t0 = performance.now();
      train = await cacheTeacher(provider, train0, inputs[firstInput]!.columns, firstInput, classes, TEACHER);
      if (val0) validation = await cacheTeacher(provider, val0, inputs[firstInput]!.columns, firstInput, classes, TEACHER);
      teacherSeconds = (performance.now() - t0) / 1000;
      feeds[TEACHER] = { columns: [TEACHER] };
    } else feeds[TEACHER] = { provider };
    // Two terms: the built-in cross-entropy on the student's head (so training and validation accuracy are
    // tracked as usual) and the KL term as a custom loss reading the teacher's logits.
    const kl: LossSpec = {
      type: 'custom',
      name: `kl(T=${T})`,
      targets: [{ name: TEACHER, dtype: 'float32', shape: [classes] }],
      fn: (g, { outputs, targets: t }) => klDivergence(g, { studentLogits: outputs[head.name]!, teacherLogits: t[TEACHER]!, temperature: T }),
    };
    const ce: LossSpec = { type: 'cross-entropy' };
    const losses = [{ loss: ce, weight: 1 - alpha }, { loss: kl, weight: alpha }];
    const d = resolveDefaults({ spec: o.student, trainCount: train.count, task: 'classification' });
    const optimizer = optimizerConfig({ optimizer: o.optimizer }, d.optimizer);
    const lr = o.lr ?? lrFor(optimizer, d.lr, d.optimizer);
    const schedule = typeof o.schedule === 'string' ? parseSchedule(o.schedule) : (o.schedule ?? d.schedule);
    const batchSize = o.batchSize ?? d.batchSize;
    const r = await fit({ model: student, train, validation, feeds, losses, target: targets, epochs: o.epochs ?? d.epochs, batchSize, optimizer, lr, schedule, seed, maxSteps: o.maxSteps, threads: o.threads, progress: o.progress ?? 'none', onEpochEnd: o.onEpochEnd });
    const exported = annotateModel(student.inferenceGraph({ weights: r.weights }), { heads: student.heads, losses: [{ loss: ce }], targets: { [head.name]: targets }, table: train0, inputs, classNames: choice.classNames });
    exported.metadata.set('trainfer.distilled_from', JSON.stringify({ teacher: o.teacher, temperature: T, alpha }));
    await exportModel({ path: o.out, model: exported, table: test, inputs, exclude: targets });
    const sEval = await scoreModel({ model: readModel(o.out), data: test, target: o.target, name: o.out, threads: o.threads });
    const tEval = await scoreModel({ model: teacherFile, data: test, target: o.target, name: o.teacher, threads: o.threads });
    const count = (m: Model) => [...m.graph.initializers.values()].reduce((s, t) => s + (t.dtype === 'float32' ? t.size : 0), 0);
    return {
      out: o.out,
      teacher: { file: o.teacher, testAccuracy: tEval.accuracy, parameters: count(teacherFile), bytes: fileBytes(o.teacher) },
      student: { model: o.student, testAccuracy: sEval.accuracy, testLoss: sEval.loss, parameters: student.parameterCount(), bytes: fileBytes(o.out) },
      temperature: T, alpha, teacherMode: mode, teacherSeconds,
      epochs: r.epochs, steps: r.steps, trainSeconds: r.trainSeconds, samplesPerSecond: r.samplesPerSecond,
      batchSize, optimizer, lr, schedule: formatSchedule(schedule), seed, history: r.history,
    };
  } finally {
    await provider.close?.();
  }
}
