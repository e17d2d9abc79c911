/**
 * Scoring and sizing models the way `trainfer eval` reads them, for the compression commands' before/after
 * numbers: a model Trainfer exported is fed by its metadata (inputs' columns, heads, target, loss); any
 * other model on its first output with the task inferred from the target. Also the file size and the
 * loading of a command's data (the test split the training job holds out with the same seed).
 */
import { statSync } from 'node:fs';
import { loadTable } from '../../data/load.js';
import type { Table, TableSplits } from '../../data/table.js';
import { type Model, Model as ModelClass } from '../../onnx/ir.js';
import { cloneGraph } from '../../autodiff/train-step.js';
import { type LossSpec, type Task, defaultLoss } from '../../nn/loss.js';
import type { ModelHead } from '../../nn/network.js';
import { type EvalResult, evaluate } from '../../train/evaluate.js';
import { readTrainfer } from '../../train/export.js';
import { openTextFeedsFor } from '../../train/job-text.js';
import { targetColumns } from '../../train/job-setup.js';
import { modelHeads } from '../../train/onnx-trainable.js';
import { inferTask } from '../../train/task.js';

/** Options for `scoreModel`. */
export interface ScoreOptions {
  model: Model;
  data: Table;
  /** Target column(s) (default: the model's metadata, else the data's label column). */
  target?: string;
  /** Name for messages. */
  name?: string;
  /** The model's file: a text model's tokenizer is found from it (metadata or `tokenizer.json` beside). */
  file?: string;
  threads?: number;
}

/** The model's loss and metrics on `data`, read as `trainfer eval` reads it. */
export async function scoreModel(o: ScoreOptions): Promise<EvalResult> {
  const { model, data } = o;
  const md = readTrainfer(model.metadata);
  const targets = o.target ? targetColumns(data, o.target) : md.target ?? targetColumns(data, undefined);
  let heads: ModelHead[];
  const outputs = new Set(model.graph.outputs.map((v) => v.name));
  if (md.heads && md.heads.every((h) => outputs.has(h.name))) {
    const shapes = modelHeads(model, { outputs: md.heads.map((h) => h.name), task: md.heads.map((h) => h.task) });
    heads = md.heads.map((h, i) => ({ name: h.name, task: h.task, output: h.output, shape: shapes[i]!.shape }));
  } else {
    let task: Task = md.task ?? inferTask({ table: data, targets }).task;
    const first = model.graph.outputs[0]?.type?.shape?.slice(1);
    if (task === 'binary' && first?.length === 1 && first[0] === 2) task = 'classification';
    heads = modelHeads(model, { task, name: o.name });
  }
  const stored = md.heads?.[0]?.loss as LossSpec | undefined;
  const loss: LossSpec = stored && stored.type !== 'custom' ? stored : defaultLoss(heads[0]!.task);
  const inputs = md.inputs ? Object.fromEntries(md.inputs.map((i) => [i.name, { columns: i.columns }])) : undefined;
  // A text model (trainfer.text metadata or tokenizer.json beside its file) is fed by its tokenizer.
  const text = o.file ? await openTextFeedsFor({ model, file: o.file, data }) : undefined;
  try {
    return await evaluate({ model, heads, losses: [{ loss }], data, target: targets, feeds: text?.feeds ?? inputs, threads: o.threads, modelName: o.name });
  } finally {
    await text?.close();
  }
}

/** Loads a command's `--data` as the training job does (same seed → the same test split). */
export function loadSplits(data: string, seed = 0): TableSplits {
  return loadTable({ source: data, validationSplit: 0, seed });
}

/** Bytes of a file. */
export function fileBytes(path: string): number {
  return statSync(path).size;
}

/** A copy of `model` (graph lists copied, tensors shared) whose outputs are `outputs`. */
export function withOutputs(model: Model, outputs: Model['graph']['outputs']): Model {
  const g = cloneGraph(model.graph);
  g.outputs = outputs.map((v) => ({ ...v }));
  const m = new ModelClass(g);
  m.irVersion = model.irVersion;
  m.opsets = new Map(model.opsets);
  m.producerName = model.producerName;
  m.metadata = new Map(model.metadata);
  m.functions = model.functions;
  return m;
}
