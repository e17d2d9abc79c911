/**
 * Distillation of a text classifier (a teacher reading token ids through a tokenizer: `trainfer.text`
 * metadata or `tokenizer.json` beside it). The student is a `transformer[:L,D,H]` preset — `L = 0` is a
 * bag of embeddings: token + position embeddings, LayerNorm, masked mean, linear head — built with the
 * teacher's tokenizer, so it reads the same ids and serves the same raw text. The teacher's logits are
 * computed once by onnxruntime over the tokenized training rows and cached as a table column; fit then
 * trains the student with the same two-term loss as every other distillation (the general multi-input
 * mechanism: token providers + a teacher-logits column). The student is written with its tokenizer beside.
 */
import type { Table } from '../../data/table.js';
import type { LossSpec } from '../../nn/loss.js';
import { isTextPreset } from '../../nn/presets-text.js';
import type { Model } from '../../onnx/ir.js';
import { readModel } from '../../onnx/model-io.js';
import { Session } from '../../runtime/session.js';
import { klDivergence } from '../../autodiff/losses.js';
import { TrainferError, oneLine } from '../../util/errors.js';
import { lrFor, resolveDefaults } from '../../train/defaults.js';
import { annotateModel, exportModel } from '../../train/export.js';
import { fit } from '../../train/fit.js';
import { optimizerConfig } from '../../train/job-setup.js';
import { recordText, saveTokenizerBeside, setupText } from '../../train/job-text.js';
import { formatSchedule, parseSchedule } from '../../train/schedule.js';
import type { TaskChoice } from '../../train/task.js';
import { fileBytes, scoreModel } from '../common/score.js';
import { type TextModel, textBatches } from '../quantize/text-data.js';
import type { DistillOptions, DistillResult } from './distill.js';

/** What `distillModel` has worked out before it hands a text teacher to `distillText`. */
export interface TextDistillContext {
  teacherFile: Model;
  /** The teacher with its logits as the only output. */
  teacherLogits: Model;
  classes: number;
  text: TextModel;
  train: Table;
  validation?: Table;
  test: Table;
  targets: string[];
  choice: TaskChoice;
  temperature: number;
  alpha: number;
  seed: number;
}

/** Teacher logits for every row of `table` (tokenized by the teacher's tokenizer), as a float32 column. */
async function cacheTextTeacher(c: TextDistillContext, session: Session, table: Table, name: string): Promise<Table> {
  const data = new Float32Array(table.count * c.classes);
  let row = 0;
  for (const feeds of await textBatches({ model: c.teacherLogits, text: c.text, table, batchSize: 64 })) {
    let out;
    try {
      out = await session.run(feeds);
    } catch (err) {
      throw new TrainferError(`teacher run failed in onnxruntime: ${oneLine(err)}`, { cause: err });
    }
    const t = Object.values(out)[0]!;
    data.set(t.data as Float32Array, row * c.classes);
    row += t.dims[0]!;
  }
  return { ...table, columns: [...table.columns, { name, dtype: 'float32', shape: [c.classes], data, kind: 'numeric' }] };
}

/** Distils a text teacher into a text preset student (see the file header). */
export async function distillText(o: DistillOptions, c: TextDistillContext): Promise<DistillResult> {
  if (!isTextPreset(o.student)) throw new TrainferError(`--student ${o.student}: a text teacher (${o.teacher} reads token ids) distils into a transformer[:L,D,H] preset (L = 0: a bag of embeddings), built with the teacher's tokenizer`);
  if ((o.teacherMode ?? 'cache') !== 'cache') throw new TrainferError('--teacher-mode live: a text teacher\'s logits are cached (its rows are tokenized once); leave out --teacher-mode');
  const setup = await setupText({ model: o.student, train: c.train, column: c.text.column ?? 'text', choice: c.choice, seed: c.seed, tokenizer: c.text.tokenizerPath, maxLength: c.text.maxLength, preprocess: c.text.preprocess ?? 'none', say: () => undefined });
  const session = await Session.create({ model: c.teacherLogits }, { intraOpThreads: o.threads });
  try {
    const TEACHER = 'teacher_logits';
    const t0 = performance.now();
    const train = await cacheTextTeacher(c, session, c.train, TEACHER);
    const validation = c.validation ? await cacheTextTeacher(c, session, c.validation, TEACHER) : undefined;
    const teacherSeconds = (performance.now() - t0) / 1000;
    await session.release();
    const student = setup.model;
    const head = student.heads[0]!;
    if (head.shape[0] !== c.classes) throw new TrainferError(`distill: teacher ${o.teacher} has ${c.classes} classes but student ${o.student} has ${String(head.shape[0])}; they must predict the same classes`);
    const T = c.temperature;
    const kl: LossSpec = {
      type: 'custom',
      name: `kl(T=${T})`,
      targets: [{ name: TEACHER, dtype: 'float32', shape: [c.classes] }],
      fn: (g, { outputs, targets: t }) => klDivergence(g, { studentLogits: outputs[head.name]!, teacherLogits: t[TEACHER]!, temperature: T }),
    };
    const ce: LossSpec = { type: 'cross-entropy' };
    const d = resolveDefaults({ spec: o.student, trainCount: train.count, task: 'classification' });
    const optimizer = optimizerConfig({ optimizer: o.optimizer }, d.optimizer);
    const lr = o.lr ?? lrFor(optimizer, d.lr, d.optimizer);
    const schedule = typeof o.schedule === 'string' ? parseSchedule(o.schedule) : (o.schedule ?? d.schedule);
    const batchSize = o.batchSize ?? d.batchSize;
    const inputs = setup.text.feeds;
    const r = await fit({ model: student, train, validation, feeds: { ...inputs, [TEACHER]: { columns: [TEACHER] } }, losses: [{ loss: ce, weight: 1 - c.alpha }, { loss: kl, weight: c.alpha }], target: c.targets, epochs: o.epochs ?? d.epochs, batchSize, optimizer, lr, schedule, seed: c.seed, maxSteps: o.maxSteps, threads: o.threads, progress: o.progress ?? 'none', onEpochEnd: o.onEpochEnd });
    const exported = annotateModel(student.inferenceGraph({ weights: r.weights }), { heads: student.heads, losses: [{ loss: ce }], targets: { [head.name]: c.targets }, table: c.train, inputs, classNames: setup.classNames });
    recordText({ model: exported, tokenizer: setup.tokenizer, column: c.text.column ?? 'text', preprocess: setup.preprocess });
    exported.metadata.set('trainfer.distilled_from', JSON.stringify({ teacher: o.teacher, temperature: T, alpha: c.alpha }));
    await exportModel({ path: o.out, model: exported, table: c.test, inputs, exclude: c.targets });
    saveTokenizerBeside(o.out, setup.tokenizer);
    const sEval = await scoreModel({ model: readModel(o.out), data: c.test, target: o.target, name: o.out, file: o.out, threads: o.threads });
    const tEval = await scoreModel({ model: c.teacherFile, data: c.test, target: o.target, name: o.teacher, file: o.teacher, threads: o.threads });
    const count = (m: Model) => [...m.graph.initializers.values()].reduce((s, t) => s + (t.dtype === 'float32' ? t.size : 0), 0);
    return {
      out: o.out,
      teacher: { file: o.teacher, testAccuracy: tEval.accuracy, parameters: count(c.teacherFile), bytes: fileBytes(o.teacher) },
      student: { model: o.student, testAccuracy: sEval.accuracy, testLoss: sEval.loss, parameters: student.parameterCount(), bytes: fileBytes(o.out) },
      temperature: T, alpha: c.alpha, teacherMode: 'cache', teacherSeconds,
      epochs: r.epochs, steps: r.steps, trainSeconds: r.trainSeconds, samplesPerSecond: r.samplesPerSecond,
      batchSize, optimizer, lr, schedule: formatSchedule(schedule), seed: c.seed, history: r.history,
    };
  } finally {
    await session.release().catch(() => undefined);
    await setup.text.close();
  }
}
