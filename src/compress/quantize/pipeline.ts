/**
 * File-to-file quantization as the CLI runs it: read the model (never modified), load calibration and
 * evaluation data, quantize, write through `writeModelVerified` (the file appears only once onnxruntime has
 * loaded and run it), then measure before/after — on `--data`, the calibration data, or synthetic feeds
 * for any model (several inputs, int64 inputs, dynamic dims sized by `--dim name=N`). Returns everything
 * the table and `--json` show.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Dataset } from '../../data/dataset.js';
import { loadModel } from '../../onnx/model-io.js';
import type { Model } from '../../onnx/ir.js';
import { Tensor } from '../../onnx/tensor.js';
import { verifyModel, writeModelVerified } from '../../runtime/verified-write.js';
import { TrainferError, oneLine } from '../../util/errors.js';
import type { CalibrationMethod } from './calib-stats.js';
import { batchTensor, feedBatches, feedTarget, loadDataArg } from './data-feed.js';
import { type Comparison, compareModels } from './measure.js';
import { type MeasureInputs, datasetInputs, syntheticFeeds, syntheticInputs } from './measure-inputs.js';
import { type QuantizePlan, readPlan } from './plan.js';
import { type TextModel, copyTokenizerBeside, textAccuracy, textBatches, textModel, textTable } from './text-data.js';
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
  /** Sizes of symbolic input dims (`--dim name=N`) for the check run and synthetic measurements; other dynamic dims: leading = batch, the rest 1. */
  dims?: Readonly<Record<string, number>>;
  /** `--plan`: a JSON plan, or a model whose metadata holds one (static and QAT reuse its Conv decisions). */
  plan?: string;
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
  /** Why the before/after table is missing, when it was skipped. */
  measureSkipped?: string;
  /** A text model: the tokenizer copied beside the output, and test accuracy before/after on `--data`. */
  text?: { tokenizer: string; accuracy?: { float: number; quantized: number; data: string; samples: number } };
}

/** Quantizes `input` into `output` and measures both. */
export async function quantizeFile(o: QuantizeFileOptions): Promise<QuantizeFileResult> {
  if (resolve(o.input) === resolve(o.output)) throw new TrainferError(`--out must differ from the input (${o.input} is never modified)`);
  const floatBytes = readInput(o.input);
  const model = loadModel(floatBytes, { file: o.input });
  const plan = o.plan === undefined ? undefined : readPlan(o.plan);
  const text = textModel(model, o.input);
  if (text) return quantizeTextFile(o, { floatBytes, model, text, plan });
  // Everything the user passed is checked before any work: a --data that does not fit fails here, not after writing.
  const evalDs = o.data && o.measure !== false ? loadDataArg(o.data, 'test', o.evalSize ?? 10000) : undefined;
  const evalTarget = evalDs ? feedTarget(model, evalDs, '--data') : undefined;
  let calibration: QuantizeOptions['calibration'];
  let calibDs: Dataset | undefined;
  let checkFeeds: Record<string, Tensor> | undefined;
  if (o.mode === 'static') {
    const src = o.calib ?? o.data;
    if (!src) throw new TrainferError('--mode static needs calibration data: --calib <mnist | IDX directory | file.csv>');
    calibDs = loadDataArg(src, 'train', o.calibSize ?? 512);
    const target = feedTarget(model, calibDs, 'calibration data');
    const ds = calibDs;
    calibration = () => feedBatches(ds, target, 64);
    checkFeeds = { [target.name]: batchTensor(ds, target, 0, Math.min(8, ds.count)) };
  }
  const autotuneBudgetMs = o.budgetMs === undefined ? undefined : Math.min(250, o.budgetMs / 6);
  const { model: q, report } = await quantize({ ...o.extra, model, mode: o.mode, calibration, method: o.method, perChannel: o.perChannel, threads: o.threads, plan, autotuneBudgetMs });
  await writeVerified({ output: o.output, model: q, float: model, feeds: checkFeeds ?? syntheticFeeds({ model, dims: o.dims }).feeds, dims: o.dims });
  const result: QuantizeFileResult = { input: o.input, output: o.output, mode: o.mode, report };
  if (o.measure === false) return result;
  let inputs: MeasureInputs;
  if (evalDs && evalTarget) {
    inputs = datasetInputs({ ds: evalDs, target: evalTarget, labelled: true, label: `${o.data} (test split, ${evalDs.count} samples)` });
  } else if (calibDs) {
    inputs = datasetInputs({ ds: calibDs, target: feedTarget(model, calibDs, 'calibration data'), labelled: false, label: `calibration data (${calibDs.count} samples, unlabelled)` });
  } else {
    inputs = syntheticInputs({ model, dims: o.dims });
  }
  result.evalData = inputs.label;
  try {
    result.comparison = await compareModels({ floatBytes, quantizedBytes: readFileSync(o.output), inputs, budgetMs: o.budgetMs, threads: o.threads });
  } catch (err) {
    // The file is written and verified; only the table is missing.
    result.measureSkipped = `before/after table skipped: ${oneLine(err)} (pass --dim name=N for the model's symbolic dims, or --data)`;
  }
  return result;
}

/**
 * A text model (it reads token ids through a tokenizer): calibration batches are tokenized raw texts of
 * `--calib` / `--data` (training split); the check run and the speed table use real token rows of the
 * maximum length (or synthetic rows sized by `--dim`); accuracy is scored on `--data`'s test split by the
 * evaluator training uses; the tokenizer is copied beside the output.
 */
async function quantizeTextFile(o: QuantizeFileOptions, c: { floatBytes: Uint8Array; model: Model; text: TextModel; plan?: QuantizePlan }): Promise<QuantizeFileResult> {
  const { model, text } = c;
  const dims = { ...(text.sequenceDim ? { [text.sequenceDim]: text.maxLength } : {}), ...o.dims };
  const src = o.calib ?? o.data;
  if (o.mode === 'static' && !src) throw new TrainferError('--mode static needs calibration data: --calib <data with a text column, e.g. spam or a .csv/.jsonl>');
  const calib = src ? await textBatches({ model, text, table: textTable(src, 'train', o.calibSize ?? 512) }) : undefined;
  const evalTable = o.data && o.measure !== false ? textTable(o.data, 'test', o.evalSize ?? 10000) : undefined;
  const checkFeeds = calib?.[0] ? Object.fromEntries(Object.entries(calib[0]).map(([k, t]) => [k, sliceRows(t, 8)])) : syntheticFeeds({ model, dims }).feeds;
  const autotuneBudgetMs = o.budgetMs === undefined ? undefined : Math.min(250, o.budgetMs / 6);
  const { model: q, report } = await quantize({ ...o.extra, model, mode: o.mode, calibration: calib ? () => calib : undefined, method: o.method, perChannel: o.perChannel, threads: o.threads, plan: c.plan, autotuneBudgetMs });
  await writeVerified({ output: o.output, model: q, float: model, feeds: checkFeeds, dims });
  const result: QuantizeFileResult = { input: o.input, output: o.output, mode: o.mode, report, text: { tokenizer: copyTokenizerBeside(text, o.output) } };
  if (o.measure === false) return result;
  if (evalTable) {
    const float = await textAccuracy({ file: o.input, model, table: evalTable, tokenizer: text.tokenizerPath, threads: o.threads });
    const quantized = await textAccuracy({ file: o.output, model: loadModel(readFileSync(o.output), { file: o.output }), table: evalTable, tokenizer: text.tokenizerPath, threads: o.threads });
    result.text!.accuracy = { float, quantized, data: `${o.data} (test split)`, samples: evalTable.count };
  }
  const inputs: MeasureInputs = calib ? tokenInputs(calib, `${src} (training split, ${calib.reduce((n, b) => n + Object.values(b)[0]!.dims[0]!, 0)} tokenized texts)`) : syntheticInputs({ model, dims });
  result.evalData = inputs.label;
  try {
    result.comparison = await compareModels({ floatBytes: c.floatBytes, quantizedBytes: readFileSync(o.output), inputs, budgetMs: o.budgetMs, threads: o.threads });
  } catch (err) {
    result.measureSkipped = `before/after table skipped: ${oneLine(err)} (pass --dim name=N for the model's symbolic dims)`;
  }
  if (result.comparison && result.text?.accuracy) {
    result.comparison.float.accuracy = result.text.accuracy.float;
    result.comparison.quantized.accuracy = result.text.accuracy.quantized;
  }
  return result;
}

/** Measurement inputs from tokenized batches: agreement over all, latency on one row, throughput on 32 (the text target's batch). */
function tokenInputs(batches: readonly Record<string, Tensor>[], label: string): MeasureInputs {
  const rows = (n: number) => Object.fromEntries(Object.entries(batches[0]!).map(([k, t]) => [k, sliceRows(t, n)]));
  const batch = rows(32);
  return { batches: () => batches.map((feeds) => ({ feeds })), single: rows(1), batch, batchSize: Object.values(batch)[0]!.dims[0]!, label };
}

/** The first `n` rows of a [batch, …] tensor. */
function sliceRows(t: Tensor, n: number): Tensor {
  const rows = Math.min(n, t.dims[0]!);
  const per = t.size / t.dims[0]!;
  return new Tensor(t.dtype, [rows, ...t.dims.slice(1)], (t.data as BigInt64Array).slice(0, rows * per));
}

/** Reads the input model's bytes; read errors get the same one-line form as parse errors. */
export function readInput(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TrainferError(`${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, not an ONNX file' : (err as Error).message}`);
  }
}

/** Options for `writeVerified`. */
export interface WriteVerifiedOptions {
  output: string;
  model: Model;
  /** The float original: when the check run fails, it tells a bad output from feeds the model rejects. */
  float: Model;
  feeds: Record<string, Tensor>;
  dims?: Readonly<Record<string, number>>;
}

/**
 * Writes a quantized model through `writeModelVerified`. When the check run fails and the float original
 * fails on the same feeds too, the error says so (the feeds, not the output, are wrong: pass `--dim`).
 */
export async function writeVerified(o: WriteVerifiedOptions): Promise<void> {
  try {
    await writeModelVerified({ path: o.output, model: o.model, feeds: o.feeds, dims: o.dims });
  } catch (err) {
    const floatFails = await verifyModel({ source: { model: o.float }, feeds: o.feeds }).then(() => false, () => true);
    if (!floatFails) throw err;
    const shapes = Object.entries(o.feeds).map(([k, t]) => `${k} [${t.dims.join(', ')}]`).join(', ');
    throw new TrainferError(`${o.output}: not written: the input model itself does not run on the check feeds (${shapes}); pass --dim name=N for its symbolic dims`, { cause: err });
  }
}
