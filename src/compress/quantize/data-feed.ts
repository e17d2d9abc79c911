/**
 * Feeding datasets to a model: checks that a dataset's samples fit the model's first input (same shape,
 * or the same number of values when the model takes them flattened) and cuts it into feed batches.
 * Data arguments take the forms `trainfer train --data` takes (`mnist`, an IDX directory, a CSV file).
 */
import { type Dataset, sampleSize, take } from '../../data/dataset.js';
import { loadData } from '../../data/load.js';
import type { Dim, Model } from '../../onnx/ir.js';
import { Tensor } from '../../onnx/tensor.js';
import { TrainferError } from '../../util/errors.js';

/** The model input a dataset feeds: its name and per-sample shape (without the batch dim). */
export interface FeedTarget {
  name: string;
  sampleShape: number[];
}

/**
 * Finds the model's (single) float input and checks `ds` fits it. Throws a one-line `TrainferError`
 * naming both shapes when it does not.
 */
export function feedTarget(model: Model, ds: Pick<Dataset, 'sampleShape' | 'source'>, what: string): FeedTarget {
  const inputs = model.graph.feedInputs();
  if (inputs.length !== 1) throw new TrainferError(`${what}: the model has ${inputs.length} inputs; data files can feed only single-input models`);
  const inp = inputs[0]!;
  const shape: Dim[] = inp.type?.shape ?? [];
  if (inp.type && inp.type.dtype !== 'float32') throw new TrainferError(`${what}: model input '${inp.name}' is ${inp.type.dtype}, not float32`);
  const per = shape.slice(1);
  const fixed = per.every((d): d is number => typeof d === 'number' && d > 0);
  const want = fixed ? per.reduce((a, b) => a * b, 1) : undefined;
  const have = sampleSize(ds);
  if (shape.length && want !== undefined && want !== have) {
    throw new TrainferError(`${what} (${ds.source}) has samples of shape [${ds.sampleShape.join(', ')}] (${have} values) but model input '${inp.name}' expects [${shape.map((d) => (typeof d === 'number' ? d : '?')).join(', ')}] (${want} per sample)`);
  }
  return { name: inp.name, sampleShape: fixed && shape.length ? (per as number[]) : [...ds.sampleShape] };
}

/** Copies samples [start, start + n) of `ds` into a float32 batch tensor shaped for `target`. */
export function batchTensor(ds: Dataset, target: FeedTarget, start: number, n: number): Tensor {
  const s = sampleSize(ds);
  const count = Math.max(0, Math.min(n, ds.count - start));
  const x = new Float32Array(count * s);
  const src = ds.x;
  for (let i = 0; i < count * s; i++) x[i] = src[start * s + i]! * ds.scale;
  return new Tensor('float32', [count, ...target.sampleShape], x);
}

/** Feed batches over the first `limit` samples of `ds`. */
export function* feedBatches(ds: Dataset, target: FeedTarget, batchSize: number, limit = ds.count): Generator<Record<string, Tensor>> {
  const end = Math.min(limit, ds.count);
  for (let i = 0; i < end; i += batchSize) yield { [target.name]: batchTensor(ds, target, i, Math.min(batchSize, end - i)) };
}

/**
 * Loads a data argument (`mnist`, IDX directory, CSV). `split` picks train (calibration) or test (accuracy).
 * The dataset is named after the argument the user gave (`mnist (train split)`), never after files
 * inside a package.
 */
export function loadDataArg(source: string, split: 'train' | 'test', limit?: number): Dataset {
  const d = loadData({ source });
  const ds = { ...(split === 'train' ? d.train : d.test), source: `${source} (${split} split)` };
  return limit === undefined ? ds : take(ds, limit);
}
