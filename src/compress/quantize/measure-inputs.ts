/**
 * What the before/after measurements run on: a labelled or unlabelled dataset fed to a single float
 * input, or synthetic feeds for any model (several inputs, int64 token ids, dynamic dims) built with
 * `sampleFeeds`. A dynamic leading dim is the batch; other symbolic dims take `--dim name=N`, or 1
 * (each such assumption is reported).
 */
import { type Dataset, sampleSize } from '../../data/dataset.js';
import { Graph, Model, type Dim } from '../../onnx/ir.js';
import { Tensor } from '../../onnx/tensor.js';
import { sampleFeeds } from '../../runtime/sample-feeds.js';
import { type FeedTarget, batchTensor } from './data-feed.js';

/** Inputs for `compareModels`. */
export interface MeasureInputs {
  /** Batches for output agreement (and accuracy, when they carry labels). A fresh iterable per call. */
  batches(): Iterable<{ feeds: Record<string, Tensor>; labels?: Int32Array }>;
  /** One sample, for batch-1 latency. */
  single: Record<string, Tensor>;
  /** `batchSize` samples, for throughput. */
  batch: Record<string, Tensor>;
  batchSize: number;
  /** What the agreement is measured on, for the table. */
  label: string;
}

/** Options for `datasetInputs`. */
export interface DatasetInputsOptions {
  ds: Dataset;
  target: FeedTarget;
  /** Use the labels for accuracy. */
  labelled: boolean;
  /** Samples used for agreement/accuracy (default all). */
  evalSize?: number;
  /** Batch size of the throughput measurement (default 64). */
  throughputBatch?: number;
  label: string;
}

/** Measurement inputs from a dataset that feeds the model's single float input. */
export function datasetInputs(o: DatasetInputsOptions): MeasureInputs {
  const n = Math.min(o.evalSize ?? o.ds.count, o.ds.count);
  const tb = o.throughputBatch ?? 64;
  return {
    *batches() {
      for (let i = 0; i < n; i += 256) {
        const b = Math.min(256, n - i);
        yield { feeds: { [o.target.name]: batchTensor(o.ds, o.target, i, b) }, labels: o.labelled ? o.ds.y.subarray(i, i + b) : undefined };
      }
    },
    single: { [o.target.name]: batchTensor(o.ds, o.target, 0, 1) },
    batch: { [o.target.name]: tiled(o.ds, o.target, tb) },
    batchSize: tb,
    label: o.label,
  };
}

/** A batch of `b` samples, repeating the data when it has fewer. */
function tiled(ds: Dataset, target: FeedTarget, b: number): Tensor {
  if (ds.count >= b) return batchTensor(ds, target, 0, b);
  const one = batchTensor(ds, target, 0, ds.count);
  const per = sampleSize(ds);
  const x = new Float32Array(b * per);
  for (let i = 0; i < b; i++) x.set((one.data as Float32Array).subarray((i % ds.count) * per, ((i % ds.count) + 1) * per), i * per);
  return new Tensor('float32', [b, ...target.sampleShape], x);
}

/** Options for `syntheticFeeds`. */
export interface SyntheticFeedsOptions {
  model: Model;
  /** Sizes of symbolic dims by name (`--dim name=N`). */
  dims?: Readonly<Record<string, number>>;
  /** Size of each input's dynamic leading dim (default 1). */
  batch?: number;
  seed?: number;
}

/** Synthetic feeds, the batch size they hold (a fixed leading dim wins), and every dim assumed. */
export interface SyntheticFeeds {
  feeds: Record<string, Tensor>;
  batchSize: number;
  /** e.g. `sequence = 1 (default; pass --dim sequence=N)`. */
  assumptions: string[];
}

/**
 * One synthetic feed per model input (floats uniform in [0, 1), integers 0, as `sampleFeeds` makes them).
 * A dynamic leading dim takes `batch`; named dims take `dims`; any other unknown dim is 1, noted.
 */
export function syntheticFeeds(o: SyntheticFeedsOptions): SyntheticFeeds {
  const batch = o.batch ?? 1;
  const assumptions = new Set<string>();
  let batchSize: number | undefined;
  const g = new Graph('feeds');
  for (const v of o.model.graph.feedInputs()) {
    const shape = v.type?.shape?.map((d: Dim, i: number) => {
      if (typeof d === 'number' && d >= 0) {
        if (i === 0) batchSize ??= d;
        return d;
      }
      if (typeof d === 'string' && o.dims?.[d] !== undefined) {
        if (i === 0) batchSize ??= o.dims[d]!;
        return o.dims[d]!;
      }
      if (i === 0) {
        batchSize ??= batch;
        return batch;
      }
      assumptions.add(`${typeof d === 'string' ? d : `${v.name} dim ${i}`} = 1 (default; pass --dim ${typeof d === 'string' ? d : 'name'}=N)`);
      return 1;
    });
    g.inputs.push({ name: v.name, type: v.type ? { dtype: v.type.dtype, shape } : undefined });
  }
  return { feeds: sampleFeeds({ model: new Model(g), seed: o.seed }), batchSize: batchSize ?? 1, assumptions: [...assumptions] };
}

/** Options for `syntheticInputs`. */
export interface SyntheticInputsOptions {
  model: Model;
  dims?: Readonly<Record<string, number>>;
  /** Samples for agreement (default 256, in batches of 64). */
  count?: number;
  /** Batch size of the throughput measurement (default 64). */
  throughputBatch?: number;
}

/** Measurement inputs for any model from synthetic feeds; `assumptions` lists the dims it assumed. */
export function syntheticInputs(o: SyntheticInputsOptions): MeasureInputs & { assumptions: string[] } {
  const count = o.count ?? 256;
  const big = syntheticFeeds({ model: o.model, dims: o.dims, batch: o.throughputBatch ?? 64, seed: 7 });
  const one = syntheticFeeds({ model: o.model, dims: o.dims, batch: 1, seed: 8 });
  const per = Math.max(1, big.batchSize);
  const dimNote = big.assumptions.length ? `; assumed ${big.assumptions.join(', ')}` : '';
  return {
    *batches() {
      for (let i = 0, seed = 11; i < count; i += per, seed++) yield { feeds: syntheticFeeds({ model: o.model, dims: o.dims, batch: per, seed }).feeds };
    },
    single: one.feeds,
    batch: big.feeds,
    batchSize: big.batchSize,
    label: `${Math.ceil(count / per) * per} synthetic samples (floats uniform in [0, 1), integers 0${dimNote}; pass --data for accuracy)`,
    assumptions: big.assumptions,
  };
}
