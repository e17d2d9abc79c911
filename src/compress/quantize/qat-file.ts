/**
 * `trainfer quantize --mode qat` end to end: calibrate the float model, build the fake-quant graph,
 * fine-tune it with the trainer (`fit`) on labelled data, export a real int8 QDQ model with the trained
 * weights, write it through `writeModelVerified` (nothing is left when onnxruntime cannot load and run
 * it) and measure it against the float original.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadModel } from '../../onnx/model-io.js';
import { TrainferError } from '../../util/errors.js';
import { OnnxModelTrainable } from '../../train/onnx-trainable.js';
import { fit } from '../../train/fit.js';
import { type Dataset, tableFromDataset } from '../../data/dataset.js';
import type { Model } from '../../onnx/ir.js';
import type { Tensor } from '../../onnx/tensor.js';
import { calibrate } from './calibration.js';
import { batchTensor, feedBatches, feedTarget, loadDataArg } from './data-feed.js';
import { compareModels } from './measure.js';
import { datasetInputs } from './measure-inputs.js';
import { type QuantizeFileOptions, type QuantizeFileResult, readInput, writeVerified } from './pipeline.js';
import { PLAN_METADATA_KEY, type QuantizePlan, convPlan, planMinConvReduction, planToJson, readPlan } from './plan.js';
import { prepareModel } from './prepare.js';
import { type QdqOptions, calibrationTargets, insertQdq } from './qdq.js';
import { fakeQuantModel } from './qat.js';
import { applyFastestConvPlan } from './autotune.js';
import { newReport, type QuantizeReport } from './report.js';
import type { CalibrationMethod } from './calib-stats.js';

/** Options for `quantizeQat`. */
export interface QatOptions {
  model: Model;
  /** Labelled training data for fine-tuning. */
  train: Dataset;
  /** Calibration samples (default: the first `calibSize` of `train`). */
  calib?: Dataset;
  /** Samples of `train` used for calibration when `calib` is not given (default 512). */
  calibSize?: number;
  method?: CalibrationMethod;
  /** Percentile for method `percentile` (default 99.999). */
  percentile?: number;
  /** Fine-tuning steps (default 300). */
  steps?: number;
  /** Adam learning rate (default 1e-4: measured stable where SGD at 2e-3 diverged on outlier channels). */
  lr?: number;
  batchSize?: number;
  qdq?: Partial<QdqOptions>;
  /** Node names to keep float (neither fake-quantized while training nor quantized in the export). */
  exclude?: readonly string[];
  threads?: number;
  seed?: number;
  /** Time the Conv plans first, as static mode does (default true). */
  autotune?: boolean;
  /** Reuse these Conv decisions instead of timing (see `readPlan`). */
  plan?: QuantizePlan;
  /** Time per Conv plan per round when autotuning, ms (default 250). */
  autotuneBudgetMs?: number;
}

/** Runs QAT and returns the exported int8 model and the report. The input model is not modified. */
export async function quantizeQat(o: QatOptions): Promise<{ model: Model; report: QuantizeReport }> {
  const report = newReport('qat');
  const prep = prepareModel(o.model);
  prep.model.metadata.delete(PLAN_METADATA_KEY);
  const calib = o.calib ?? o.train;
  const target = feedTarget(prep.model, calib, 'calibration data');
  const values = calibrationTargets(prep.model.graph);
  if (values.length === 0) throw new TrainferError('nothing to quantize: the model has no operator static quantization covers');
  const limit = o.calib ? calib.count : Math.min(calib.count, o.calibSize ?? 512);
  const cal = await calibrate({ model: prep.model, values, batches: () => feedBatches(calib, target, 64, limit), method: o.method, percentile: o.percentile, threads: o.threads });
  const qdq: QdqOptions = {
    activationType: o.qdq?.activationType ?? 'uint8',
    activationSymmetric: o.qdq?.activationSymmetric ?? false,
    perChannel: o.qdq?.perChannel ?? true,
    reduceRange: o.qdq?.reduceRange ?? false,
    minConvReduction: o.qdq?.minConvReduction,
    exclude: new Set([...(o.qdq?.exclude ?? []), ...(o.exclude ?? [])]),
  };
  let plan = convPlan('narrow Convs float', o.qdq?.minConvReduction ?? 64);
  if (o.plan) {
    plan = o.plan;
    qdq.minConvReduction = planMinConvReduction(plan);
    report.notes.push(`Conv plan from --plan: ${plan.conv.plan} (not timed)`);
  } else if (o.autotune !== false && o.qdq?.minConvReduction === undefined) {
    const sample = feedBatches(calib, target, 64, limit).next().value;
    if (sample) plan = await applyFastestConvPlan({ prepared: prep.model, cal, qdq, sample, threads: o.threads, budgetMs: o.autotuneBudgetMs, report });
  }
  const fq = fakeQuantModel(prep.model, cal, qdq);
  const trainable = new OnnxModelTrainable({ model: fq.model, name: 'fake-quant model', trainable: fq.params, inputShape: target.sampleShape, numClasses: o.train.numClasses });
  const steps = o.steps ?? 300;
  const batchSize = o.batchSize ?? 64;
  const epochs = Math.max(1, Math.ceil((steps * batchSize) / o.train.count));
  const r = await fit({ model: trainable, train: tableFromDataset(o.train), epochs, maxSteps: steps, batchSize, lr: o.lr ?? 1e-4, optimizer: { type: 'adam' }, progress: 'none', threads: o.threads, seed: o.seed ?? 0 });
  // Export: the prepared float model with the trained weights, quantized with the same calibration.
  const final = prep.model;
  for (const [k, t] of r.weights) if (final.graph.initializers.has(k)) final.graph.initializers.set(k, t as Tensor);
  insertQdq(final, { ...cal, ranges: new Map(cal.ranges) }, qdq, report);
  report.notes.push(`QAT: fine-tuned ${r.steps} step(s) of batch ${batchSize} (Adam, lr ${o.lr ?? 1e-4}) through fake-quant nodes; ${fq.params.length} float tensors trained`);
  report.notes.push(`calibrated ${cal.ranges.size} tensor(s) over ${cal.samples} sample(s) with ${o.method ?? 'minmax'}`);
  final.producerName = 'trainfer';
  final.metadata.set(PLAN_METADATA_KEY, planToJson(plan));
  return { model: final, report };
}

/** File-to-file QAT for the CLI. `data` (labelled) is required. */
export async function runQatFile(o: Omit<QuantizeFileOptions, 'mode'> & { steps?: number; lr?: number }): Promise<QuantizeFileResult> {
  if (resolve(o.input) === resolve(o.output)) throw new TrainferError(`--out must differ from the input (${o.input} is never modified)`);
  if (!o.data) throw new TrainferError('--mode qat needs labelled training data: --data <mnist | IDX directory | file.csv>');
  const floatBytes = readInput(o.input);
  const model = loadModel(floatBytes, { file: o.input });
  const train = loadDataArg(o.data, 'train');
  const calib = o.calib ? loadDataArg(o.calib, 'train', o.calibSize ?? 512) : undefined;
  feedTarget(model, train, '--data');
  const plan = o.plan === undefined ? undefined : readPlan(o.plan);
  const { model: q, report } = await quantizeQat({
    model, train, calib, calibSize: o.calibSize, method: o.method, percentile: o.extra?.percentile, exclude: o.extra?.exclude, plan, steps: o.steps, lr: o.lr, threads: o.threads,
    autotuneBudgetMs: o.budgetMs === undefined ? undefined : Math.min(250, o.budgetMs / 6),
    qdq: { perChannel: o.perChannel, activationType: o.extra?.activationType, activationSymmetric: o.extra?.activationSymmetric, reduceRange: o.extra?.reduceRange },
  });
  const target = feedTarget(model, train, '--data');
  await writeVerified({ output: o.output, model: q, float: model, feeds: { [target.name]: batchTensor(train, target, 0, Math.min(8, train.count)) } });
  const result: QuantizeFileResult = { input: o.input, output: o.output, mode: 'qat', report };
  if (o.measure === false) return result;
  const test = loadDataArg(o.data, 'test', o.evalSize ?? 10000);
  const label = `${o.data} (test split, ${test.count} samples)`;
  result.evalData = label;
  const inputs = datasetInputs({ ds: test, target: feedTarget(model, test, '--data'), labelled: true, label });
  result.comparison = await compareModels({ floatBytes, quantizedBytes: readFileSync(o.output), inputs, budgetMs: o.budgetMs, threads: o.threads });
  return result;
}
