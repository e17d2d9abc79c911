/**
 * Calibration: runs the float model on onnxruntime over a calibration set with the values to calibrate
 * added as extra graph outputs, and reduces each to a range (MinMax, Percentile or Entropy).
 * Memory stays bounded: each batch is reduced to min/max and fixed-size histograms, then dropped.
 */
import { loadModel, encodeModelProto } from '../../onnx/model-io.js';
import { modelToProto } from '../../onnx/ir-proto.js';
import type { Model } from '../../onnx/ir.js';
import type { DType } from '../../onnx/dtype.js';
import type { Tensor } from '../../onnx/tensor.js';
import { Session } from '../../runtime/session.js';
import { TrainferError } from '../../util/errors.js';
import { type CalibrationMethod, Histogram, MinMax, type Range, entropyThreshold, percentileRange } from './calib-stats.js';

/** A calibration set: a function returning a fresh iterable of feed batches (it is read twice for histograms). */
export type BatchSource = () => Iterable<Record<string, Tensor>> | AsyncIterable<Record<string, Tensor>>;

/** Options for `calibrate`. */
export interface CalibrateOptions {
  /** The float model (not modified). */
  model: Model;
  /** Main-graph values to calibrate. */
  values: readonly string[];
  batches: BatchSource;
  method?: CalibrationMethod;
  /** Percentile of the mass kept (method `percentile`, default 99.999). */
  percentile?: number;
  /** Histogram bins (default 2048). */
  bins?: number;
  /** Threads for onnxruntime (default 1). */
  threads?: number;
}

/** Per value: its element type as observed, and the calibrated range. */
export interface Calibration {
  ranges: Map<string, Range>;
  /** Observed element type of each calibrated value (non-float values are never quantized). */
  dtypes: Map<string, DType>;
  /** Number of samples (first-dimension rows) seen. */
  samples: number;
}

/**
 * Runs calibration. Throws `TrainferError` when the batches do not fit the model's inputs.
 *
 * @example
 * const cal = await calibrate({ model, values: ['conv1_out'], batches: () => batches, method: 'entropy' });
 */
export async function calibrate(o: CalibrateOptions): Promise<Calibration> {
  const method = o.method ?? 'minmax';
  const aug = augment(o.model, o.values);
  const session = await Session.create({ model: aug }, { intraOpThreads: o.threads ?? 1, graphOptimizationLevel: 'basic' });
  const inputs = new Set(o.model.graph.feedInputs().map((v) => v.name));
  const fetched = o.values.filter((v) => session.outputNames.includes(v));
  const names = [...o.values.filter((v) => inputs.has(v)), ...fetched];
  const pick = (out: Record<string, Tensor>, feeds: Record<string, Tensor>, v: string): Tensor => (inputs.has(v) ? feeds[v]! : out[v]!);
  const minmax = new Map(names.map((v) => [v, new MinMax()]));
  const dtypes = new Map<string, DType>();
  let samples = 0;
  try {
    for await (const feeds of o.batches()) {
      const out = await runChecked(session, feeds, fetched);
      samples += firstDim(feeds);
      for (const v of names) {
        const t = pick(out, feeds, v);
        dtypes.set(v, t.dtype);
        if (t.dtype === 'float32') minmax.get(v)!.update(t.data as Float32Array);
      }
    }
    if (samples === 0) throw new TrainferError('calibration data is empty');
    const ranges = new Map<string, Range>();
    for (const [v, mm] of minmax) ranges.set(v, mm.range());
    if (method === 'minmax') return { ranges, dtypes, samples };
    // Second pass: histograms over the observed ranges.
    const bins = o.bins ?? 2048;
    const hists = new Map<string, Histogram>();
    for (const v of names) {
      // Graph inputs are data with a known range: clipping them rarely helps, so they keep min/max.
      if (dtypes.get(v) !== 'float32' || inputs.has(v)) continue;
      const r = ranges.get(v)!;
      hists.set(v, method === 'entropy' ? new Histogram(0, Math.max(Math.abs(r.min), Math.abs(r.max)), bins, true) : new Histogram(r.min, r.max, bins));
    }
    for await (const feeds of o.batches()) {
      const out = await runChecked(session, feeds, [...hists.keys()].filter((v) => !inputs.has(v)));
      for (const [v, h] of hists) h.update(pick(out, feeds, v).data as Float32Array);
    }
    for (const [v, h] of hists) {
      const seen = ranges.get(v)!;
      if (method === 'percentile') ranges.set(v, percentileRange(h, o.percentile ?? 99.999, seen));
      else {
        const t = entropyThreshold(h);
        ranges.set(v, { min: Math.max(seen.min, -t), max: Math.min(seen.max, t) });
      }
    }
    return { ranges, dtypes, samples };
  } finally {
    await session.release();
  }
}

/** A copy of the model whose outputs also include `values` (types left to onnxruntime to infer). */
export function augment(model: Model, values: readonly string[]): Model {
  const copy = loadModel(encodeModelProto(modelToProto(model)));
  const g = copy.graph;
  const have = new Set(g.outputs.map((v) => v.name));
  const produced = new Set(g.nodes.flatMap((n) => n.outputs));
  for (const v of g.inputs) produced.add(v.name);
  for (const v of values) {
    if (have.has(v) || !produced.has(v) || g.initializers.has(v)) continue;
    g.outputs.push({ name: v, type: g.valueInfo.get(v)?.type });
    have.add(v);
  }
  return copy;
}

async function runChecked(session: Session, feeds: Record<string, Tensor>, fetch: string[]): Promise<Record<string, Tensor>> {
  for (const name of session.inputNames) {
    if (!(name in feeds)) throw new TrainferError(`calibration data has no value for model input '${name}'`);
  }
  try {
    return fetch.length ? await session.run(feeds, fetch) : await session.run(feeds);
  } catch (err) {
    const shapes = Object.entries(feeds).map(([k, t]) => `${k} [${t.dims.join(', ')}]`).join(', ');
    throw new TrainferError(`calibration data does not fit the model (${shapes}): ${(err as Error).message}`, { cause: err });
  }
}

function firstDim(feeds: Record<string, Tensor>): number {
  const t = Object.values(feeds)[0];
  return t && t.dims.length ? t.dims[0]! : 1;
}
