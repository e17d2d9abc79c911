/**
 * Speed-aware choice of which Convs to quantize. Whether int8 pays off for a Conv on ORT depends on its
 * width and on what ORT's layout passes do around it (a float Conv next to an int8 region can leave a
 * uint8 MaxPool in slow NCHW form), so static quantization times the candidate plans — narrow Convs float
 * (the default rule), every Conv int8, every Conv float — on a calibration batch and keeps the fastest.
 */
import { encodeModelProto } from '../../onnx/model-io.js';
import { modelToProto } from '../../onnx/ir-proto.js';
import type { Model } from '../../onnx/ir.js';
import { Tensor } from '../../onnx/tensor.js';
import { Session } from '../../runtime/session.js';
import type { Calibration } from './calibration.js';
import { throughput } from './measure.js';
import { cloneModel } from './prepare.js';
import { type QdqOptions, insertQdq } from './qdq.js';
import { type QuantizePlan, convPlan } from './plan.js';
import { type QuantizeReport, newReport } from './report.js';

/** One timed plan. */
export interface AutotuneCandidate {
  label: string;
  minConvReduction: number;
  samplesPerSecond: number;
}

/** The timed plans (fastest first) and the float model's speed under the same conditions. */
export interface AutotuneResult {
  candidates: AutotuneCandidate[];
  /** Throughput of the unquantized (prepared) model, samples/s. */
  floatSamplesPerSecond: number;
  /** Threads the plans were timed with. */
  threads: number;
}

/** Options for `autotuneConvs`. */
export interface AutotuneOptions {
  prepared: Model;
  cal: Calibration;
  qdq: QdqOptions;
  /** One input batch (any batch size; it is tiled or cut to `batch`). */
  sample: Record<string, Tensor>;
  /** Batch size timed (default 64). */
  batch?: number;
  /**
   * intra-op threads per session to time with: use what the model will run with. Default 1: one
   * single-thread session per core is how `trainfer serve` runs models, and the fastest way to use several
   * cores for throughput in either precision here (the `cnn` preset on 2 cores: fp32 27k vs 24k samples/s,
   * int8 75k vs 42k samples/s against one 2-thread session).
   */
  threads?: number;
  /** Time per candidate per round, ms (default 250; three rounds, best kept). */
  budgetMs?: number;
}

/**
 * Times the candidate plans (and the float model, for reference) and returns them fastest first. Plans
 * that quantize the same set of Convs are timed once. Timing uses the intra-op thread count the model will
 * run with, because ORT's int8 and fp32 kernels scale differently with threads: int8 kernels gain little
 * from a second thread in one session (the `cnn` preset's Conv plans rank differently at 1 and 2 threads).
 * Returns no candidates when the model has no Conv to decide about.
 */
export async function autotuneConvs(o: AutotuneOptions): Promise<AutotuneResult> {
  const threads = o.threads ?? 1;
  const plans = [
    { label: 'narrow Convs float', minConvReduction: o.qdq.minConvReduction ?? 64 },
    { label: 'every Conv int8', minConvReduction: 0 },
    { label: 'every Conv float', minConvReduction: Number.POSITIVE_INFINITY },
  ];
  const built: { label: string; minConvReduction: number; bytes: Uint8Array; key: string }[] = [];
  for (const p of plans) {
    const m = cloneModel(o.prepared);
    const r: QuantizeReport = newReport('static');
    insertQdq(m, o.cal, { ...o.qdq, minConvReduction: p.minConvReduction }, r);
    const key = r.outcomes.filter((x) => x.opType === 'Conv' || x.opType === 'ConvTranspose').map((x) => `${x.node}:${x.status}`).join(',');
    if (!key || built.some((b) => b.key === key)) continue;
    built.push({ ...p, bytes: encodeModelProto(modelToProto(m)), key });
  }
  if (built.length < 2) return { candidates: [], floatSamplesPerSecond: 0, threads };
  const batch = Object.fromEntries(Object.entries(o.sample).map(([k, t]) => [k, tile(t, o.batch ?? 64)]));
  const models = [...built.map((b) => b.bytes), encodeModelProto(modelToProto(o.prepared))];
  const sessions = await Promise.all(models.map((bytes) => Session.create({ bytes }, { intraOpThreads: threads })));
  try {
    const best = sessions.map(() => 0);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < sessions.length; i++) best[i] = Math.max(best[i]!, await throughput(sessions[i]!, batch, o.budgetMs ?? 250, o.batch ?? 64));
    }
    const candidates = built.map((b, i) => ({ label: b.label, minConvReduction: b.minConvReduction, samplesPerSecond: best[i]! })).sort((a, b) => b.samplesPerSecond - a.samplesPerSecond);
    return { candidates, floatSamplesPerSecond: best[built.length]!, threads };
  } finally {
    for (const s of sessions) await s.release();
  }
}

/**
 * Runs `autotuneConvs` and applies the fastest plan to `o.qdq` (sets `minConvReduction`), noting the
 * timings in `report` — with a warning when no int8 plan beats float32 at the timed thread count.
 * Returns the decision as a plan (the default rule when there was nothing to decide), for the metadata.
 */
export async function applyFastestConvPlan(o: AutotuneOptions & { report: QuantizeReport }): Promise<QuantizePlan> {
  const tuned = await autotuneConvs(o);
  const best = tuned.candidates[0];
  if (!best) return convPlan('narrow Convs float', o.qdq.minConvReduction ?? 64);
  o.qdq.minConvReduction = best.minConvReduction;
  const fp = Math.round(tuned.floatSamplesPerSecond);
  const plans = tuned.candidates.map((t) => `${t.label} ${Math.round(t.samplesPerSecond)}/s`).join(', ');
  o.report.notes.push(`autotune (batch ${o.batch ?? 64}, ${tuned.threads} thread(s)): ${plans} → ${best.label} (float32: ${fp}/s)`);
  if (best.samplesPerSecond < tuned.floatSamplesPerSecond) {
    o.report.notes.push(
      `warning: at ${tuned.threads} thread(s) no int8 plan beats float32 on this CPU (${Math.round(best.samplesPerSecond)}/s vs ${fp}/s): the int8 model is smaller, not faster; try --threads 1 per instance or a wider model`,
    );
  }
  return convPlan(best.label, best.minConvReduction);
}

/** `x` (any dtype) with its first dim tiled or cut to `b`. */
function tile(x: Tensor, b: number): Tensor {
  const n = x.dims[0]!;
  const per = x.size / n;
  const out = new Tensor(x.dtype, [b, ...x.dims.slice(1)]);
  const src = x.data as Float32Array;
  const dst = out.data as Float32Array;
  for (let i = 0; i < b; i++) dst.set(src.subarray((i % n) * per, ((i % n) + 1) * per), i * per);
  return out;
}
