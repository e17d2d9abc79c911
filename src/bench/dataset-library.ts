/**
 * A `TensorSampleLibrary` from a labelled data set (a test split of MNIST, an IDX directory, a CSV):
 * the samples as the model's first input takes them (float32, pixels scaled to [0, 1], reshaped to
 * the model's per-sample shape), the labels kept for accuracy checks. For a served model that takes raw
 * text (one BYTES input), the texts of a data set's text column (`textLibrary`).
 */
import { type Dataset, datasetSamples } from '../data/dataset.js';
import { loadData, loadTable } from '../data/load.js';
import { getColumn } from '../data/table.js';
import type { Model } from '../onnx/ir.js';
import { Tensor } from '../onnx/tensor.js';
import { checkInputShape } from '../train/evaluate.js';
import { TrainferError } from '../util/errors.js';
import { TensorSampleLibrary } from './qsl.js';

/** Options for `libraryFromDataset`. */
export interface DatasetLibraryOptions {
  model: Model;
  dataset: Dataset;
  /** Use at most this many samples (default all). */
  limit?: number;
  /** Name in reports (default `<source>:<split>`). */
  name?: string;
}

/** Samples of `dataset` for `model`'s first input. */
export function libraryFromDataset(o: DatasetLibraryOptions): TensorSampleLibrary {
  const inputs = o.model.graph.feedInputs();
  if (inputs.length !== 1) throw new TrainferError(`the model takes ${inputs.length} inputs; a labelled data set feeds exactly one (benchmark it without --data for synthetic samples)`);
  const inp = inputs[0]!;
  const n = Math.min(o.dataset.count, o.limit ?? o.dataset.count);
  if (n === 0) throw new TrainferError(`${o.dataset.source}: no samples`);
  const feedShape = checkInputShape({ modelShape: inp.type?.shape as (number | string | null)[] | undefined, dataShape: o.dataset.sampleShape, modelName: 'the model', dataName: o.dataset.source });
  const { x, labels } = datasetSamples(o.dataset, n);
  return TensorSampleLibrary.fromTensors({ name: o.name ?? o.dataset.source, inputs: { [inp.name]: new Tensor('float32', [n, ...feedShape], x) }, labels });
}

/** The test split of a data argument (`mnist`, an IDX directory, a CSV file). */
export function testSplit(source: string): Dataset {
  return loadData({ source }).test;
}

/** Options for `textLibrary`. */
export interface TextLibraryOptions {
  /** `spam`, or a CSV/JSONL file with a text column. */
  source: string;
  /** The served text input's name. */
  input: string;
  /** The text column (default: the data set's only text column). */
  column?: string;
  /** Use at most this many texts (default all). */
  limit?: number;
}

/** The test split's texts as string samples for a served raw-text input (shape [n], one string each). */
export function textLibrary(o: TextLibraryOptions): TensorSampleLibrary {
  const test = loadTable({ source: o.source }).test;
  if (!test) throw new TrainferError(`${o.source}: no test split to take texts from`);
  const texts = test.columns.filter((c) => c.kind === 'text');
  const col = o.column ?? (texts.length === 1 ? texts[0]!.name : undefined);
  if (!col) throw new TrainferError(`${o.source}: ${texts.length === 0 ? 'no text column' : `${texts.length} text columns (${texts.map((c) => c.name).join(', ')})`}; a raw-text model needs one`);
  const all = getColumn(test, col).data as string[];
  const n = Math.min(all.length, o.limit ?? all.length);
  if (n === 0) throw new TrainferError(`${o.source}: no texts`);
  return TensorSampleLibrary.fromTensors({ name: `${o.source}:test:${col}`, inputs: { [o.input]: new Tensor('string', [n], all.slice(0, n)) } });
}
