/**
 * A `TensorSampleLibrary` from a labelled data set (a test split of MNIST, an IDX directory, a CSV):
 * the samples as the model's first input takes them (float32, pixels scaled to [0, 1], reshaped to
 * the model's per-sample shape), the labels kept for accuracy checks.
 */
import { type Dataset, datasetSamples } from '../data/dataset.js';
import { loadData } from '../data/load.js';
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
