/**
 * File-to-file quantization as the CLI runs it: read the model (never modified), load calibration and
 * evaluation data, quantize, write atomically, then measure before/after. Returns everything the table
 * and `--json` show.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Dataset } from '../../data/dataset.js';
import { loadModel, writeModel } from '../../onnx/model-io.js';
import type { Model } from '../../onnx/ir.js';
import { TrainferError } from '../../util/errors.js';
import type { CalibrationMethod } from './calib-stats.js';
import { feedBatches, feedTarget, loadDataArg } from './data-feed.js';
import { type Comparison, compareModels } from './measure.js';
import { type QuantizeMode, type QuantizeOptions, quantize } from './quantize.js';
import type { QuantizeReport } from './report.js';

/** Options for `quantizeFile`. */
export interface QuantizeFileOptions {
  input: string;
  output: string;
  mode: QuantizeMode;
  /** Calibration data argument (`mnist`, IDX dir, CSV); static mode. */
  calib?: string;
  calibSize?: number;
  method?: CalibrationMethod;
  perChannel?: boolean;
  /** Labelled data for accuracy (its test split). */
  data?: string;
  /** Samples for accuracy/agreement (default 10000). */
  evalSize?: number;
  /** Skip the before/after measurements. */
  measure?: boolean;
  /** Timing budget per measurement, ms. */
  budgetMs?: number;
  /** onnxruntime intra-op threads per session for calibration, plan timing and the measurements (default: onnxruntime's choice for the measurements, 1 for the rest; the CLI passes 1). */
  threads?: number;
  /** Everything else `quantize` takes. */
  extra?: Partial<QuantizeOptions>;
}

/** What `quantizeFile` did. */
export interface QuantizeFileResult {
  input: string;
  output: string;
  mode: QuantizeMode | 'qat';
  report: QuantizeReport;
  comparison?: Comparison;
  /** What the agreement was measured on. */
  evalData?: string;
}

/** Quantizes `input` into `output` and measures both. */
export async function quantizeFile(o: QuantizeFileOptions): Promise<QuantizeFileResult> {
  if (resolve(o.input) === resolve(o.output)) throw new TrainferError(`--out must differ from the input (${o.input} is never modified)`);
  const floatBytes = readBytes(o.input);
  const model = loadModel(floatBytes, { file: o.input });
  let calibration: QuantizeOptions['calibration'];
  let calibDs: Dataset | undefined;
  if (o.mode === 'static') {
    const src = o.calib ?? o.data;
    if (!src) throw new TrainferError('--mode static needs calibration data: --calib <mnist | IDX directory | file.csv>');
    calibDs = loadDataArg(src, 'train', o.calibSize ?? 512);
    const target = feedTarget(model, calibDs, 'calibration data');
    const ds = calibDs;
    calibration = () => feedBatches(ds, target, 64);
  }
  const { model: q, report } = await quantize({ ...o.extra, model, mode: o.mode, calibration, method: o.method, perChannel: o.perChannel, threads: o.threads });
  writeModel(o.output, q);
  const result: QuantizeFileResult = { input: o.input, output: o.output, mode: o.mode, report };
  if (o.measure === false) return result;
  const quantizedBytes = readFileSync(o.output);
  let evalDs: Dataset | undefined;
  let labelled = false;
  if (o.data) {
    evalDs = loadDataArg(o.data, 'test', o.evalSize ?? 10000);
    labelled = true;
    result.evalData = `${o.data} (test split, ${evalDs.count} samples)`;
  } else if (calibDs) {
    evalDs = calibDs;
    result.evalData = `calibration data (${calibDs.count} samples, unlabelled)`;
  } else {
    evalDs = randomData(model, 256);
    result.evalData = '256 random inputs in [0, 1) (pass --data for accuracy)';
  }
  const target = feedTarget(model, evalDs, o.data ? '--data' : 'evaluation data');
  result.comparison = await compareModels({ floatBytes, quantizedBytes, data: evalDs, target, labelled, budgetMs: o.budgetMs, threads: o.threads });
  return result;
}

function readBytes(path: string): Uint8Array {
  // loadModel names the file in its errors; read errors get the same one-line form.
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TrainferError(`${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, not an ONNX file' : (err as Error).message}`);
  }
}

/** Uniform random inputs for a model whose input has fixed per-sample dims. */
function randomData(model: Model, count: number): Dataset {
  const inp = model.graph.feedInputs()[0];
  const per = inp?.type?.shape?.slice(1);
  if (!inp || !per || !per.every((d): d is number => typeof d === 'number' && d > 0)) {
    throw new TrainferError('the model input has unknown dimensions; pass --data so it can be measured (or --no-measure)');
  }
  const size = per.reduce((a, b) => a * b, 1);
  let s = 12345;
  const x = Float32Array.from({ length: size * count }, () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32));
  return { source: 'random', kind: 'tabular', sampleShape: per, x, scale: 1, y: new Int32Array(count), count, numClasses: 1 };
}
