/**
 * Evaluating a classifier: run an inference model over a dataset in fixed-size batches and report
 * accuracy and mean cross-entropy (computed from the logits, the model's first output). Checks that the
 * data fits the model's input before running anything.
 */
import * as ort from 'onnxruntime-node';
import type { Model } from '../onnx/ir.js';
import { type Device, Session } from '../runtime/session.js';
import { TrainferError } from '../util/errors.js';
import { Batcher, type Dataset, sampleSize } from '../data/dataset.js';

/** Accuracy and loss over a dataset. */
export interface EvalResult {
  accuracy: number;
  /** Mean softmax cross-entropy of the logits. */
  loss: number;
  count: number;
  /** Samples per second of inference. */
  samplesPerSecond: number;
}

/** Options for `evaluate`. */
export interface EvaluateOptions {
  /** An inference model (first input: the samples, first output: logits), or an open session for one. */
  model: Model | Session;
  data: Dataset;
  /** Default 1000. */
  batchSize?: number;
  threads?: number;
  /** Where onnxruntime runs: `cpu` (default) or `cuda` (needs a CUDA build of onnxruntime-node). */
  device?: Device;
  /** Name for error messages (e.g. the .onnx path). */
  modelName?: string;
}

/**
 * Runs the model over `data`. Throws a one-line error when the sample shape or class count disagrees
 * with the model.
 */
export async function evaluate(o: EvaluateOptions): Promise<EvalResult> {
  const session = o.model instanceof Session ? o.model : await Session.create({ model: o.model }, { intraOpThreads: o.threads, device: o.device });
  try {
    const info = inputInfo(session);
    const name = o.modelName ?? 'model';
    const feedShape = checkInputShape({ modelShape: info.shape, dataShape: o.data.sampleShape, modelName: name, dataName: o.data.source });
    const bs = Math.min(o.batchSize ?? 1000, Math.max(1, o.data.count));
    const batcher = new Batcher({ dataset: o.data, batchSize: bs });
    const s = sampleSize(o.data);
    const full = new ort.Tensor('float32', batcher.x, [bs, ...feedShape]);
    const logitsName = session.outputNames[0]!;
    let correct = 0;
    let lossSum = 0;
    const t0 = performance.now();
    for (let start = 0; start < o.data.count; start += bs) {
      const n = batcher.fill(null, start, bs);
      const x = n === bs ? full : new ort.Tensor('float32', batcher.x.subarray(0, n * s), [n, ...feedShape]);
      const out = await session.ort.run({ [info.name]: x }, [logitsName]);
      const logits = out[logitsName]!;
      const classes = Number(logits.dims[logits.dims.length - 1]);
      if (start === 0 && classes < o.data.numClasses) {
        throw new TrainferError(`${name} outputs ${classes} classes but ${o.data.source} has labels up to ${o.data.numClasses - 1}`);
      }
      const r = scoreBatch(logits.data as Float32Array, batcher.labels, n, classes);
      correct += r.correct;
      lossSum += r.lossSum;
    }
    const secs = (performance.now() - t0) / 1000;
    return { accuracy: correct / Math.max(1, o.data.count), loss: lossSum / Math.max(1, o.data.count), count: o.data.count, samplesPerSecond: o.data.count / Math.max(secs, 1e-9) };
  } finally {
    if (!(o.model instanceof Session)) await session.release();
  }
}

/** Correct predictions and summed cross-entropy for `n` rows of logits. */
export function scoreBatch(logits: Float32Array, labels: BigInt64Array, n: number, classes: number): { correct: number; lossSum: number } {
  let correct = 0;
  let lossSum = 0;
  for (let i = 0; i < n; i++) {
    const o = i * classes;
    let best = 0;
    let max = logits[o]!;
    for (let c = 1; c < classes; c++) {
      const v = logits[o + c]!;
      if (v > max) {
        max = v;
        best = c;
      }
    }
    const label = Number(labels[i]!);
    if (best === label) correct++;
    let z = 0;
    for (let c = 0; c < classes; c++) z += Math.exp(logits[o + c]! - max);
    lossSum += Math.log(z) + max - (label < classes ? logits[o + label]! : max);
  }
  return { correct, lossSum };
}

function inputInfo(session: Session): { name: string; shape?: (number | string | null)[] } {
  const name = session.inputNames[0];
  if (!name) throw new TrainferError('model has no inputs');
  const m = session.ort.inputMetadata.find((x) => x.name === name);
  return { name, shape: m?.isTensor && m.shape.length > 0 ? [...m.shape] : undefined };
}

/**
 * The per-sample dims to feed a model input of `modelShape` ([batch, ...]) with samples of `dataShape`:
 * the data's own shape when it fits, the model's when both are fixed and hold the same number of values
 * (e.g. 28×28 images into a flat [784] input). Throws a one-line error naming both otherwise.
 */
export function checkInputShape(o: { modelShape?: readonly (number | string | null)[]; dataShape: readonly number[]; modelName: string; dataName: string }): number[] {
  const ms = o.modelShape;
  if (!ms) return [...o.dataShape];
  const per = ms.slice(1);
  const fmt = (s: readonly (number | string | null)[]): string => `[${s.map((d) => (typeof d === 'number' && d >= 0 ? d : '?')).join(', ')}]`;
  if (per.length === o.dataShape.length && per.every((d, i) => typeof d !== 'number' || d < 0 || d === o.dataShape[i])) return [...o.dataShape];
  const size = (s: readonly (number | string | null)[]) => s.reduce<number>((a, d) => a * (typeof d === 'number' ? d : NaN), 1);
  if (per.every((d) => typeof d === 'number' && d >= 0) && size(per) === size(o.dataShape)) return per as number[];
  throw new TrainferError(`${o.modelName} expects samples of shape ${fmt(per)} but ${o.dataName} has samples of shape ${fmt(o.dataShape)}`);
}
