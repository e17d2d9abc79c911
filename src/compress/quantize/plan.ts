/**
 * Quantization plans: the decisions static and QAT quantization take by timing (which Convs stay float),
 * recorded in the quantized model's metadata under `trainfer.quantize.plan`, so a rerun with `--plan`
 * (a JSON file, or any model carrying the metadata — e.g. the earlier output) makes the same decisions
 * and writes the same bytes. Timings never go into the plan (they differ run to run); the report has them.
 */
import { readFileSync } from 'node:fs';
import type { Model } from '../../onnx/ir.js';
import { loadModel } from '../../onnx/model-io.js';
import { FileFormatError, TrainferError } from '../../util/errors.js';

/** The metadata key holding a model's quantization plan. */
export const PLAN_METADATA_KEY = 'trainfer.quantize.plan';

/** What quantization decided, in a form a later run can reuse. */
export interface QuantizePlan {
  version: 1;
  /** Which Convs are quantized: those whose C_in/group · ∏kernel ≥ `minConvReduction` (null: none). */
  conv: { plan: string; minConvReduction: number | null };
}

/** The plan as JSON with a fixed key order. */
export function planToJson(p: QuantizePlan): string {
  return JSON.stringify({ version: p.version, conv: { plan: p.conv.plan, minConvReduction: p.conv.minConvReduction } });
}

/** `minConvReduction` as `insertQdq` takes it (null → every Conv float). */
export function planMinConvReduction(p: QuantizePlan): number {
  return p.conv.minConvReduction ?? Number.POSITIVE_INFINITY;
}

/** Builds a plan from the `minConvReduction` in effect. */
export function convPlan(label: string, minConvReduction: number): QuantizePlan {
  return { version: 1, conv: { plan: label, minConvReduction: Number.isFinite(minConvReduction) ? minConvReduction : null } };
}

/** Parses and checks a plan; `source` names it in errors. */
export function parsePlan(text: string, source: string): QuantizePlan {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    throw new FileFormatError(source, 'not a quantization plan (expected JSON like {"version":1,"conv":{…}} or an .onnx model quantized by trainfer)');
  }
  const p = j as Partial<QuantizePlan> | null;
  const m = p?.conv?.minConvReduction;
  if (!p || p.version !== 1 || !p.conv || typeof p.conv.plan !== 'string' || !(m === null || (typeof m === 'number' && m >= 0))) {
    throw new FileFormatError(source, 'not a version-1 quantization plan (needs "version": 1 and "conv": { "plan", "minConvReduction" })');
  }
  return { version: 1, conv: { plan: p.conv.plan, minConvReduction: m } };
}

/** The plan recorded in a model's metadata, if any. */
export function modelPlan(model: Model, source: string): QuantizePlan | undefined {
  const text = model.metadata.get(PLAN_METADATA_KEY);
  return text === undefined ? undefined : parsePlan(text, `${source} (metadata ${PLAN_METADATA_KEY})`);
}

/**
 * Reads `--plan`: a JSON plan file, or an ONNX model whose metadata holds one. Throws a one-line error
 * naming the file when it is neither.
 *
 * @example
 * const plan = readPlan('cnn-int8.onnx'); // the plan the earlier run recorded
 */
export function readPlan(path: string): QuantizePlan {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new TrainferError(`${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message} (--plan)`);
  }
  const text = new TextDecoder().decode(bytes.subarray(0, 1));
  if (text === '{') return parsePlan(new TextDecoder().decode(bytes), path);
  const model = loadModel(bytes, { file: path, externalData: 'check' });
  const plan = modelPlan(model, path);
  if (!plan) throw new FileFormatError(path, `has no quantization plan in its metadata (${PLAN_METADATA_KEY}); pass a model written by trainfer quantize --mode static or qat, or a JSON plan`);
  return plan;
}
