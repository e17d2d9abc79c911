/**
 * Exporting a trained model: the metadata that lets evaluation and serving read data exactly as training
 * did (task and heads, each input's columns, target columns, categorical vocabularies, class names,
 * `trainfer.batch_first`), a real sample batch from the data, and `writeModelVerified` — the file is
 * loaded and run on that batch in onnxruntime before it replaces anything.
 */
import type { DType } from '../onnx/dtype.js';
import type { Model } from '../onnx/ir.js';
import { Tensor } from '../onnx/tensor.js';
import { writeModelVerified } from '../runtime/verified-write.js';
import { TrainferError } from '../util/errors.js';
import { Batcher, packTable } from '../data/batcher.js';
import { type FeedBinding, type FeedSpec, planFeeds } from '../data/feed-plan.js';
import type { Table } from '../data/table.js';
import { type HeadLoss, type Task, describeLoss } from '../nn/loss.js';
import type { ModelHead } from '../nn/network.js';

/** Metadata keys Trainfer writes into exported models (`trainfer.*`). */
export const METADATA_KEYS = {
  task: 'trainfer.task',
  heads: 'trainfer.heads',
  inputs: 'trainfer.inputs',
  target: 'trainfer.target',
  vocabularies: 'trainfer.vocabularies',
  classNames: 'trainfer.class_names',
  batchFirst: 'trainfer.batch_first',
} as const;

/** One model input as recorded in metadata: its dtype, per-sample shape and the columns that fill it. */
export interface InputRecord {
  name: string;
  dtype: DType;
  shape: number[];
  columns: string[];
}

/** One head as recorded in metadata. */
export interface HeadRecord {
  name: string;
  /** The value holding the head's raw scores (an output, or the value before a final Softmax/Sigmoid). */
  output: string;
  task: Task;
  target: string[];
  loss: Record<string, unknown>;
}

/** What `readTrainfer` finds in a model's metadata (fields absent for models Trainfer did not train). */
export interface TrainferMetadata {
  task?: Task;
  heads?: HeadRecord[];
  inputs?: InputRecord[];
  target?: string[];
  vocabularies?: Record<string, string[]>;
  classNames?: string[];
  batchFirst?: boolean;
}

/** The model's input specs (per-sample dims; symbolic names kept). */
export function modelFeedSpecs(model: Model): FeedSpec[] {
  return model.graph.feedInputs().map((v) => ({ name: v.name, dtype: v.type?.dtype ?? 'float32', shape: (v.type?.shape ?? []).slice(1).map((d, k) => (typeof d === 'number' && d >= 0 ? d : (d ?? `${v.name}_dim${k + 1}`))), role: 'input' }));
}

/** Options for `annotateModel`. */
export interface AnnotateOptions {
  heads: readonly ModelHead[];
  losses: readonly HeadLoss[];
  /** Target columns by head name. */
  targets: Readonly<Record<string, readonly string[]>>;
  /** The data the model was trained on (columns: names, vocabularies). */
  table: Pick<Table, 'source' | 'columns'>;
  /** Bindings of the model's inputs (default: by name / the remaining columns, as training). */
  inputs?: Readonly<Record<string, FeedBinding>>;
  classNames?: readonly string[];
}

/** Writes the `trainfer.*` metadata into `model` (and returns it). */
export function annotateModel(model: Model, o: AnnotateOptions): Model {
  const used = new Set(Object.values(o.targets).flat());
  const plan = planFeeds({ specs: modelFeedSpecs(model), table: o.table, bindings: o.inputs, exclude: [...used] });
  const inputs: InputRecord[] = plan.feeds.filter((f) => f.spec.role === 'input').map((f) => ({ name: f.spec.name, dtype: f.spec.dtype, shape: f.shape, columns: f.columns ? f.columns.map((c) => c.name) : [...(f.provider?.columns ?? [])] }));
  for (const i of inputs) for (const c of i.columns) used.add(c);
  const heads: HeadRecord[] = o.heads.map((h) => ({ name: h.name, output: h.output, task: h.task, target: [...(o.targets[h.name] ?? [])], loss: describeLoss((o.losses.find((l) => (l.head ?? o.heads[0]!.name) === h.name) ?? o.losses[0]!).loss) }));
  const vocab = Object.fromEntries(o.table.columns.filter((c) => c.vocabulary && used.has(c.name)).map((c) => [c.name, c.vocabulary!]));
  const md = model.metadata;
  md.set(METADATA_KEYS.task, o.heads[0]!.task);
  md.set(METADATA_KEYS.heads, JSON.stringify(heads));
  md.set(METADATA_KEYS.inputs, JSON.stringify(inputs));
  md.set(METADATA_KEYS.target, JSON.stringify(heads[0]!.target));
  if (Object.keys(vocab).length) md.set(METADATA_KEYS.vocabularies, JSON.stringify(vocab));
  if (o.classNames) md.set(METADATA_KEYS.classNames, JSON.stringify(o.classNames));
  md.set(METADATA_KEYS.batchFirst, 'true');
  return model;
}

/** Reads the `trainfer.*` metadata of a model (from `readModel` or the proto's metadata pairs). */
export function readTrainfer(metadata: ReadonlyMap<string, string>): TrainferMetadata {
  const json = <T>(k: string): T | undefined => {
    const v = metadata.get(k);
    if (v === undefined) return undefined;
    try {
      return JSON.parse(v) as T;
    } catch {
      throw new TrainferError(`model metadata '${k}' is not valid JSON`);
    }
  };
  const task = metadata.get(METADATA_KEYS.task) as Task | undefined;
  return {
    task,
    heads: json<HeadRecord[]>(METADATA_KEYS.heads),
    inputs: json<InputRecord[]>(METADATA_KEYS.inputs),
    target: json<string[]>(METADATA_KEYS.target),
    vocabularies: json<Record<string, string[]>>(METADATA_KEYS.vocabularies),
    classNames: json<string[]>(METADATA_KEYS.classNames),
    batchFirst: metadata.get(METADATA_KEYS.batchFirst) === 'true' ? true : undefined,
  };
}

/** A real batch of up to `n` rows of `table` for the model's inputs (what `writeModelVerified` runs once); column feeds only. */
export function sampleBatch(model: Model, table: Table, o: { inputs?: Readonly<Record<string, FeedBinding>>; exclude?: readonly string[]; rows?: number } = {}): Record<string, Tensor> {
  const { batcher, n } = batchOf(model, table, o);
  if (batcher.hasProviders) throw new TrainferError('sampleBatch: some inputs come from providers; use exportModel (which runs them)');
  return tensorsOf(batcher, n);
}

function batchOf(model: Model, table: Table, o: { inputs?: Readonly<Record<string, FeedBinding>>; exclude?: readonly string[]; rows?: number }): { batcher: Batcher; n: number } {
  const plan = planFeeds({ specs: modelFeedSpecs(model), table, bindings: o.inputs, exclude: o.exclude });
  const fixed = model.graph.feedInputs().map((v) => v.type?.shape?.[0]).find((d): d is number => typeof d === 'number' && d > 0);
  const n = fixed ?? Math.max(1, Math.min(o.rows ?? 8, table.count));
  const batcher = new Batcher({ plan, batchSize: n });
  batcher.fill(packTable(table, plan), null, 0, n);
  return { batcher, n };
}

function tensorsOf(b: Batcher, n: number): Record<string, Tensor> {
  return Object.fromEntries(b.buffers.map((buf) => [buf.name, new Tensor(buf.dtype, [n, ...buf.shape], buf.data)]));
}

/**
 * Writes `model` to `path` only if onnxruntime loads it and runs it on a real batch of `table` (inputs
 * from columns or providers, e.g. tokenized text); nothing is left behind otherwise.
 */
export async function exportModel(o: { path: string; model: Model; table: Table; inputs?: Readonly<Record<string, FeedBinding>>; exclude?: readonly string[] }): Promise<void> {
  const { batcher, n } = batchOf(o.model, o.table, o);
  await batcher.provide({ size: n, phase: 'eval', step: 0, rows: { table: o.table, order: null, start: 0 } });
  await writeModelVerified({ path: o.path, model: o.model, feeds: tensorsOf(batcher, n) });
}
