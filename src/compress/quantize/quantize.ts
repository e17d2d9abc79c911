/**
 * The one entry point: `quantize({ model, mode, … })` → a new quantized `Model` and a report. Modes:
 * `static` (QDQ int8 with calibration), `dynamic` (int8 weights, run-time activation quantization),
 * `fp16`, `int4` (MatMulNBits weight-only). The input model is never modified. QAT lives in `qat.ts`.
 */
import type { Model } from '../../onnx/ir.js';
import { TrainferError } from '../../util/errors.js';
import { type BatchSource, calibrate } from './calibration.js';
import type { CalibrationMethod } from './calib-stats.js';
import { type DynamicMatMulFormat, quantizeDynamic, storeTablesInt8 } from './dynamic.js';
import { convertFp16 } from './fp16.js';
import { fuseAttention } from '../../onnx/fuse-attention.js';
import { quantizeInt4 } from './int4.js';
import { type QdqOptions, calibrationTargets, insertQdq } from './qdq.js';
import { applyFastestConvPlan } from './autotune.js';
import { PLAN_METADATA_KEY, type QuantizePlan, convPlan, planMinConvReduction, planToJson } from './plan.js';
import type { Tensor } from '../../onnx/tensor.js';
import type { QType } from './qmath.js';
import { prepareModel } from './prepare.js';
import { type QuantizeReport, newReport, quantizedCount } from './report.js';

/** Quantization modes. */
export type QuantizeMode = 'static' | 'dynamic' | 'fp16' | 'int4';

/** Options for `quantize`; every field but `model` and `mode` has a measured default (docs/quantization.md). */
export interface QuantizeOptions {
  model: Model;
  mode: QuantizeMode;
  /** Calibration batches (static mode). */
  calibration?: BatchSource;
  /** Calibration method (default `minmax`). */
  method?: CalibrationMethod;
  /** Percentile for method `percentile` (default 99.999). */
  percentile?: number;
  /** Per-channel weight scales (default true). */
  perChannel?: boolean;
  /** Static: activation type (default `uint8`, i.e. U8S8 — the fastest form on x86; see docs). */
  activationType?: QType;
  /** Static: symmetric activations (default false: asymmetric lets Relu fold into the quantization). */
  activationSymmetric?: boolean;
  /** 7-bit weights, for x86 CPUs without VNNI (default false). */
  reduceRange?: boolean;
  /** Static: keep Convs with C_in/group·∏kernel below this float (default 64; 0 = quantize all). */
  minConvReduction?: number;
  /** Dynamic: MatMul form (default `integer`: standard ops, which ORT fuses into the same kernel). */
  dynamicMatMul?: DynamicMatMulFormat;
  /** Dynamic: quantize Conv via ConvInteger (default false: measured slower than fp32 Conv on ORT CPU; Conv weights are then stored int8, weight-only). */
  dynamicConv?: boolean;
  /** int4: block size along K (default 32; a power of two ≥ 16). */
  blockSize?: number;
  /** int4: symmetric blocks (default true); asymmetric stores a 4-bit zero point per block. */
  int4Symmetric?: boolean;
  /** int4: only MatMuls with at least this many weight elements (default 4096). */
  int4MinElements?: number;
  /** int4: MatMulNBits `accuracy_level` (default 4: int8 activations inside the kernel, fastest on x86). */
  accuracyLevel?: number;
  /**
   * Dynamic: first fuse standard-op self-attention blocks into `com.microsoft.Attention`, which becomes
   * int8 `QAttention` (default true; the output then runs on onnxruntime only, as every int8 model here).
   */
  fuseAttention?: boolean;
  /** fp16: keep float32 graph inputs/outputs with Casts at the boundary (default true). */
  keepIoTypes?: boolean;
  /** Node names to leave float. */
  exclude?: readonly string[];
  /** Static: time the Conv plans (narrow float / all int8 / all float) and keep the fastest (default true). */
  autotune?: boolean;
  /**
   * Static: reuse these decisions instead of timing (from `readPlan` — a JSON file or an earlier output's
   * metadata): the same input and options then give the same output bytes.
   */
  plan?: QuantizePlan;
  /** intra-op threads for calibration runs and for timing the Conv plans (default 1: a session per core, as `trainfer serve` runs). */
  threads?: number;
  /** Static: time per Conv plan per round when autotuning, ms (default 250; three rounds). */
  autotuneBudgetMs?: number;
}

/** A quantized model and what was done. */
export interface QuantizeResult {
  model: Model;
  report: QuantizeReport;
}

/**
 * Quantizes a copy of `o.model`. Throws `TrainferError` when nothing in the model can be quantized in
 * the chosen mode, or when static mode gets no calibration data.
 *
 * @example
 * const { model: q, report } = await quantize({ model, mode: 'static', calibration: () => batches });
 */
export async function quantize(o: QuantizeOptions): Promise<QuantizeResult> {
  const report = newReport(o.mode);
  const exclude = new Set(o.exclude ?? []);
  const prep = prepareModel(o.model, { minOpset: o.mode === 'fp16' ? 0 : 13 });
  const model = prep.model;
  model.metadata.delete(PLAN_METADATA_KEY); // an earlier run's plan does not describe this output
  if (prep.foldedConstants) report.notes.push(`folded ${prep.foldedConstants} Constant node(s) into initializers`);
  if (prep.foldedBatchNorms) report.notes.push(`folded ${prep.foldedBatchNorms} BatchNormalization(s) into the preceding Conv`);
  if (prep.upgrade) report.notes.push(`upgraded opset ${prep.upgrade.from} → ${prep.upgrade.to} (${prep.upgrade.rewritten.length} node(s) rewritten)`);
  switch (o.mode) {
    case 'static': {
      if (!o.calibration) throw new TrainferError('static quantization needs calibration data (--calib)');
      const values = calibrationTargets(model.graph);
      if (values.length === 0) throw new TrainferError('nothing to quantize: the model has no operator static quantization covers');
      const cal = await calibrate({ model, values, batches: o.calibration, method: o.method, percentile: o.percentile, threads: o.threads });
      report.notes.push(`calibrated ${cal.ranges.size} tensor(s) over ${cal.samples} sample(s) with ${o.method ?? 'minmax'}`);
      const qdq: QdqOptions = {
        activationType: o.activationType ?? 'uint8',
        activationSymmetric: o.activationSymmetric ?? false,
        perChannel: o.perChannel ?? true,
        reduceRange: o.reduceRange ?? false,
        minConvReduction: o.minConvReduction,
        exclude,
      };
      let plan = convPlan(o.minConvReduction === undefined ? 'narrow Convs float' : `minConvReduction ${o.minConvReduction}`, o.minConvReduction ?? 64);
      if (o.plan) {
        plan = o.plan;
        qdq.minConvReduction = planMinConvReduction(plan);
        report.notes.push(`Conv plan from --plan: ${plan.conv.plan} (not timed)`);
      } else if (o.autotune !== false && o.minConvReduction === undefined) {
        const sample = await firstBatch(o.calibration);
        if (sample) plan = await applyFastestConvPlan({ prepared: model, cal, qdq, sample, threads: o.threads, budgetMs: o.autotuneBudgetMs, report });
      }
      insertQdq(model, cal, qdq, report);
      storeTablesInt8(model, { reduceRange: o.reduceRange ?? false, exclude }, report);
      model.metadata.set(PLAN_METADATA_KEY, planToJson(plan));
      break;
    }
    case 'dynamic':
      if (o.fuseAttention !== false) {
        const f = fuseAttention(model);
        if (f.fused.length) report.notes.push(`fused ${f.fused.length} self-attention block(s) into com.microsoft.Attention (Q/K/V in one [${f.fused[0]!.hidden}, ${3 * f.fused[0]!.hidden}] weight, ${f.fused[0]!.heads} heads) → QAttention`);
      }
      quantizeDynamic(model, {
        perChannel: o.perChannel ?? true,
        reduceRange: o.reduceRange ?? false,
        matmulFormat: o.dynamicMatMul ?? 'integer',
        conv: o.dynamicConv ?? false,
        exclude,
      }, report);
      {
        const weightOnly = report.outcomes.filter((r) => r.status === 'quantized' && r.opType === 'Conv' && r.detail.includes('weight-only')).length;
        if (weightOnly) report.notes.push(`${weightOnly} Conv weight(s) stored as int8 (weight-only: 4× smaller, decoded to float32 when onnxruntime loads the model, so as fast as float32, not faster — ConvInteger ran slower than fp32 Conv on this engine); for int8 Conv compute use --mode static`);
      }
      break;
    case 'int4':
      quantizeInt4(model, { blockSize: o.blockSize ?? 32, symmetric: o.int4Symmetric ?? true, minElements: o.int4MinElements ?? 4096, accuracyLevel: o.accuracyLevel ?? 4, exclude }, report);
      break;
    case 'fp16':
      convertFp16(model, { keepIoTypes: o.keepIoTypes ?? true, exclude }, report);
      break;
  }
  if (quantizedCount(report) === 0) {
    const why = report.outcomes.length ? ` (${[...new Set(report.outcomes.map((r) => `${r.opType}: ${r.detail}`))].slice(0, 3).join('; ')})` : '';
    throw new TrainferError(`nothing to quantize in ${o.mode} mode${why}`);
  }
  model.producerName = 'trainfer';
  return { model, report };
}

async function firstBatch(src: BatchSource): Promise<Record<string, Tensor> | undefined> {
  for await (const b of src()) return b;
  return undefined;
}
