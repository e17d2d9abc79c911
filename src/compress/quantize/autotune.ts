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
import { type QuantizeReport, newReport } from './report.js';

/** One timed plan. */
export interface AutotuneCandidate {
  label: string;
  minConvReduction: number;
  samplesPerSecond: number;
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
  threads?: number;
  /** Time per candidate per round, ms (default 250; three rounds, best kept). */
  budgetMs?: number;
}

/**
 * Times the candidate plans and returns them fastest first. Plans that quantize the same set of Convs
 * are timed once. Returns an empty list when the model has no Conv to decide about.
 */
export async function autotuneConvs(o: AutotuneOptions): Promise<AutotuneCandidate[]> {
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
  if (built.length < 2) return [];
  const [name, x] = Object.entries(o.sample)[0]!;
  const batch = tile(x, o.batch ?? 64);
  const sessions = await Promise.all(built.map((b) => Session.create({ bytes: b.bytes }, { intraOpThreads: o.threads ?? 1 })));
  try {
    const best = built.map(() => 0);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < sessions.length; i++) best[i] = Math.max(best[i]!, await throughput(sessions[i]!, batch, name, o.budgetMs ?? 250));
    }
    return built.map((b, i) => ({ label: b.label, minConvReduction: b.minConvReduction, samplesPerSecond: best[i]! })).sort((a, b) => b.samplesPerSecond - a.samplesPerSecond);
  } finally {
    for (const s of sessions) await s.release();
  }
}

/** `x` with its first dim tiled or cut to `b`. */
function tile(x: Tensor, b: number): Tensor {
  const n = x.dims[0]!;
  const per = x.size / n;
  const src = x.data as Float32Array;
  const out = new Float32Array(b * per);
  for (let i = 0; i < b; i++) out.set(src.subarray((i % n) * per, ((i % n) + 1) * per), i * per);
  return new Tensor('float32', [b, ...x.dims.slice(1)], out);
}
