/**
 * `trainfer eval <model.onnx> --data …`: the loss and every metric of a model on a test set — the test
 * split of MNIST, a generated set or an IDX directory, or every row of a CSV/TSV/JSONL file. A model
 * Trainfer exported reads the data exactly as training did (its metadata: task, inputs' columns, target,
 * vocabularies); any other model is read with the defaults (first input(s), first output, task inferred).
 */
import type { Command } from 'commander';
import { loadTable, readTableFile, textFormat } from '../data/load.js';
import { parseFeedMapping } from '../data/feed-plan.js';
import type { Table } from '../data/table.js';
import { readModel } from '../onnx/model-io.js';
import type { Device } from '../runtime/session.js';
import { TrainferError } from '../util/errors.js';
import { type LossSpec, type Task, defaultLoss } from '../nn/loss.js';
import type { ModelHead } from '../nn/network.js';
import { evaluate } from '../train/evaluate.js';
import { readTrainfer } from '../train/export.js';
import { targetColumns } from '../train/job-setup.js';
import { modelHeads } from '../train/onnx-trainable.js';
import { inferTask } from '../train/task.js';
import { openTextFeedsFor } from '../train/job-text.js';
import { parseDevice, parsePositiveInt, type CliCommand } from './command.js';
import { isRecommenderModel, runRecsysEval } from './eval-recsys.js';

interface EvalFlags {
  data: string;
  target?: string;
  labelColumn?: string;
  task?: string;
  inputs?: string;
  batchSize?: number;
  threads?: number;
  device?: Device;
  json?: boolean;
  k?: string;
  evalUsers?: number;
  split?: string;
}

/** `trainfer eval` */
export const evalCommand: CliCommand = {
  name: 'eval',
  define(program: Command) {
    program
      .command('eval')
      .description('measure the loss and metrics (accuracy, F1, ROC-AUC, RMSE, R², …) of an .onnx model on a test set')
      .argument('<model.onnx>', 'a model trainfer exported (read as it was trained), or any model: first output scored')
      .requiredOption('--data <source>', "'mnist', 'friedman1', 'customers' or an IDX directory (their test split), or a .csv/.tsv/.jsonl file (every row)")
      .option('--target <columns>', "target column(s) (default: the model's, else label/labels/class/target/y, else the last column)")
      .option('--label-column <name>', 'same as --target')
      .option('--task <task>', 'classification | binary | multilabel | regression (default: the model\'s, else inferred from the target)')
      .option('--inputs <mapping>', "columns per model input, e.g. ids=c1..c16 (default: the model's)")
      .option('--batch-size <n>', 'inference batch size (default 1000)', parsePositiveInt('--batch-size'))
      .option('--threads <n>', 'onnxruntime threads (default: all cores)', parsePositiveInt('--threads'))
      .option('--device <cpu|cuda>', 'where onnxruntime runs (cuda needs a CUDA build, see README)', parseDevice)
      .option('--json', 'print one JSON object (every metric, per-class detail, confusion matrix)')
      .option('--k <list>', 'recommenders: ranking cut-offs, e.g. 10,50 (default 10,50)')
      .option('--eval-users <n>', 'recommenders: rank the test items of at most N users (default 20000)', parsePositiveInt('--eval-users'))
      .option('--split <spec>', 'recommenders: leave-last-out or time[,test=F] (default: as trained)')
      .action(async (file: string, flags: EvalFlags) => {
        await runEval(file, flags);
      });
  },
};

async function runEval(file: string, f: EvalFlags): Promise<void> {
  const model = readModel(file);
  if (isRecommenderModel(model)) return runRecsysEval(file, model, f);
  const md = readTrainfer(model.metadata);
  const target0 = f.target ?? f.labelColumn;
  const strict = target0?.split(',') ?? md.target;
  const data: Table = textFormat(f.data) ? readTableFile(f.data, { vocabularies: md.vocabularies, strictColumns: strict }) : loadTable({ source: f.data }).test;
  const targets = target0 ? targetColumns(data, target0) : md.target ?? targetColumns(data, undefined);
  let heads: ModelHead[];
  if (md.heads && !f.task) {
    const shapes = modelHeads(model, { outputs: md.heads.map((h) => h.name), task: md.heads.map((h) => h.task) });
    heads = md.heads.map((h, i) => ({ name: h.name, task: h.task, output: h.output, shape: shapes[i]!.shape }));
  } else {
    let task = (f.task as Task | undefined) ?? md.task ?? inferTask({ table: data, targets }).task;
    const first = model.graph.outputs[0]?.type?.shape?.slice(1);
    if (task === 'binary' && first?.length === 1 && first[0] === 2) task = 'classification';
    heads = modelHeads(model, { task, name: file });
  }
  const stored = md.heads?.[0]?.loss as LossSpec | undefined;
  const loss: LossSpec = stored && stored.type !== 'custom' && !f.task ? stored : defaultLoss(heads[0]!.task);
  const inputs = f.inputs
    ? Object.fromEntries(Object.entries(parseFeedMapping(f.inputs, data.columns.map((c) => c.name))).map(([k, v]) => [k, { columns: v }]))
    : md.inputs ? Object.fromEntries(md.inputs.map((i) => [i.name, { columns: i.columns }])) : undefined;
  // A text model reads its text column through the tokenizer.json beside it (trainfer.text metadata).
  const text = f.inputs ? undefined : await openTextFeedsFor({ model, file, data });
  for (const c of inputs && !text ? Object.values(inputs).flatMap((b) => b.columns) : []) {
    if (!data.columns.some((k) => k.name === c)) throw new TrainferError(`${f.data}: no column '${c}', which ${file} was trained on (columns: ${data.columns.map((k) => k.name).join(', ')})`);
  }
  let r: Awaited<ReturnType<typeof evaluate>>;
  try {
    r = await evaluate({ model, heads, losses: [{ loss }], data, target: targets, feeds: text?.feeds ?? inputs, batchSize: f.batchSize, threads: f.threads, device: f.device, modelName: file });
  } finally {
    await text?.close();
  }
  const task = heads[0]!.task;
  if (f.json) {
    process.stdout.write(`${JSON.stringify({ model: file, data: f.data, task, target: targets, testAccuracy: r.accuracy, testLoss: r.loss, metrics: r.metrics, heads: r.heads, samples: r.count, samplesPerSecond: r.samplesPerSecond })}\n`);
    return;
  }
  const m = r.metrics;
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  const score = task === 'regression'
    ? `RMSE ${m.rmse!.toPrecision(4)}, MAE ${m.mae!.toPrecision(4)}, R² ${m.r2!.toFixed(4)}`
    : `accuracy ${pct(r.accuracy)}${m.f1 !== undefined ? `, ${task === 'binary' ? 'F1' : 'macro F1'} ${pct(m.f1)}` : ''}${m.auc !== undefined ? `, ROC-AUC ${m.auc.toFixed(4)}, PR-AUC ${m.pr_auc!.toFixed(4)}` : ''}`;
  console.log(`${file} on ${f.data} (${task}): ${score} (loss ${r.loss.toFixed(4)}) over ${r.count} samples, ${Math.round(r.samplesPerSecond).toLocaleString('en-US')} samples/s`);
  const cm = Object.values(r.heads)[0]?.confusion;
  if (cm) console.log(formatConfusion(cm, md.classNames));
}

/** A confusion matrix as aligned text: rows are targets, columns predictions. */
function formatConfusion(cm: number[][], names?: readonly string[]): string {
  const label = (i: number) => names?.[i] ?? String(i);
  const w = Math.max(6, ...cm.flat().map((v) => String(v).length), ...cm.map((_, i) => label(i).length));
  const pad = (s: string) => s.padStart(w);
  const lines = [`confusion (rows: target, columns: predicted)`, `${pad('')} ${cm.map((_, i) => pad(label(i))).join(' ')}`];
  cm.forEach((row, i) => lines.push(`${pad(label(i))} ${row.map((v) => pad(String(v))).join(' ')}`));
  return lines.join('\n');
}
