/**
 * What `trainfer score` reads: the model (its feed inputs as feed specs, its outputs, whether dim 0 is a
 * fixed batch) and the data (a .csv/.tsv/.jsonl file through the table readers, or an IDX array file as
 * one `pixels` column), with SHA-256 fingerprints of both so a resumed shard can prove it continues the
 * same run. A model trainfer exported brings its own column bindings, targets and vocabularies.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readTableFile, textFormat } from '../../data/load.js';
import { DEFAULT_TARGET_NAMES } from '../../data/dataset.js';
import type { FeedBinding, FeedSpec } from '../../data/feed-plan.js';
import { readIdx } from '../../data/idx.js';
import type { Column, Table } from '../../data/table.js';
import type { DType, TypedArray } from '../../onnx/dtype.js';
import { readModel } from '../../onnx/model-io.js';
import { Tensor } from '../../onnx/tensor.js';
import { readTrainfer } from '../../train/export.js';
import { TrainferError } from '../../util/errors.js';

/** The model and data of one scoring run. */
export interface ScoreInput {
  modelFile: string;
  table: Table;
  /** One per model feed input, role `input`. */
  specs: FeedSpec[];
  /** Columns that are not model inputs (targets). */
  exclude: string[];
  /** Bindings recorded in a trainfer-exported model (absent for other models). */
  bindings?: Readonly<Record<string, FeedBinding>>;
  /** Output names, in the model's order. */
  outputs: string[];
  /** Dim 0 of the inputs when the model fixes it (runs then take exactly that many rows). */
  fixedBatch?: number;
  modelSha256: string;
  inputSha256: string;
  /** Makes a tensor of a feed's dtype. */
  tensor: (dtype: DType, dims: number[], data: TypedArray) => Tensor;
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** Reads the model and the data. One-line `TrainferError`s for a missing file or an unknown format. */
export function readScoreInput(o: { model: string; input: string }): ScoreInput {
  if (!existsSync(o.model)) throw new TrainferError(`${o.model}: no such file`);
  if (!existsSync(o.input)) throw new TrainferError(`${o.input}: no such file`);
  const model = readModel(o.model);
  const md = readTrainfer(model.metadata);
  const feeds = model.graph.feedInputs();
  if (feeds.length === 0) throw new TrainferError(`${o.model}: the model has no inputs to feed`);
  const specs: FeedSpec[] = feeds.map((v) => ({
    name: v.name,
    dtype: v.type?.dtype ?? 'float32',
    shape: (v.type?.shape ?? []).slice(1).map((d, k) => (typeof d === 'number' && d >= 0 ? d : (d ?? `${v.name}_dim${k + 1}`))),
    role: 'input',
  }));
  const dim0 = feeds.map((v) => v.type?.shape?.[0]);
  const fixed = dim0.find((d): d is number => typeof d === 'number' && d > 0);
  if (feeds.some((v) => (v.type?.shape?.length ?? 0) === 0)) throw new TrainferError(`${o.model}: input '${feeds.find((v) => (v.type?.shape?.length ?? 0) === 0)!.name}' has no batch dimension; scoring needs inputs of shape [batch, …]`);
  const table = readTable(o.input, md.vocabularies);
  const inputNames = new Set(specs.map((s) => s.name));
  const targets = md.target ?? table.columns.map((c) => c.name).filter((n) => DEFAULT_TARGET_NAMES.includes(n.toLowerCase()));
  const exclude = targets.filter((n) => !inputNames.has(n) && table.columns.some((c) => c.name === n));
  const bindings = md.inputs ? Object.fromEntries(md.inputs.map((i) => [i.name, { columns: i.columns }])) : undefined;
  return {
    modelFile: o.model, table, specs, exclude, bindings, outputs: model.graph.outputs.map((v) => v.name), fixedBatch: fixed,
    modelSha256: sha256(o.model), inputSha256: sha256(o.input),
    tensor: (dtype, dims, data) => new Tensor(dtype, dims, data),
  };
}

/** A text table, or an IDX array file as one `pixels` column (bytes scaled by 1/255, as the IDX readers do). */
function readTable(file: string, vocabularies: Record<string, string[]> | undefined): Table {
  if (textFormat(file)) return readTableFile(file, { vocabularies });
  const head = readFileSync(file).subarray(0, 4);
  const gz = head[0] === 0x1f && head[1] === 0x8b;
  if (!gz && !(head[0] === 0 && head[1] === 0)) throw new TrainferError(`${file}: unknown data format (expected a .csv/.tsv/.jsonl file or an IDX array file)`);
  const idx = readIdx(file);
  if (idx.dims.length < 2) throw new TrainferError(`${file}: an IDX file to score must hold rows (rank ≥ 2, [N, …]), found rank ${idx.dims.length}`);
  const shape = idx.dims.length === 3 ? [1, idx.dims[1]!, idx.dims[2]!] : idx.dims.slice(1);
  const pixels: Column = idx.data instanceof Uint8Array
    ? { name: 'pixels', dtype: 'uint8', shape, data: idx.data, kind: 'image', scale: 1 / 255 }
    : { name: 'pixels', dtype: 'float32', shape, data: idx.data as Float32Array, kind: 'image' };
  return { source: file, count: idx.dims[0]!, columns: [pixels] };
}
