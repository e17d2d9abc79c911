/**
 * Before/after measurements of a quantized model against its float original, both run on
 * onnxruntime-node in the same process: file size, batch-1 latency (p50, p99), batch-64 throughput,
 * accuracy on labelled data, and output agreement (max |Δ|, mean cosine similarity, top-1 agreement).
 * What they run on comes from `measure-inputs.ts` (a dataset, or synthetic feeds for any model).
 */
import type { Tensor } from '../../onnx/tensor.js';
import { Session, toOrt } from '../../runtime/session.js';
import type { MeasureInputs } from './measure-inputs.js';

/** Speed and size of one model. */
export interface ModelMetrics {
  fileBytes: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** Samples per second at `throughputBatch`. */
  throughput: number;
  /** Top-1 accuracy on the labelled data (0–1), when given. */
  accuracy?: number;
}

/** How closely the quantized model's first output follows the float model's. */
export interface Agreement {
  maxAbsDiff: number;
  /** Mean over samples of the cosine similarity of the output vectors. */
  cosine: number;
  /** Fraction of samples whose argmax matches. */
  top1: number;
  samples: number;
}

/** A before/after comparison. */
export interface Comparison {
  float: ModelMetrics;
  quantized: ModelMetrics;
  agreement: Agreement;
  throughputBatch: number;
  threads: number | 'default';
}

/** Options for `compareModels`. */
export interface CompareOptions {
  floatBytes: Uint8Array;
  quantizedBytes: Uint8Array;
  /** What both models run on (`datasetInputs` or `syntheticInputs`). */
  inputs: MeasureInputs;
  /** Wall-clock budget per timing measurement (default 1500 ms). */
  budgetMs?: number;
  /** intra-op threads (default: onnxruntime's choice). */
  threads?: number;
}

/**
 * Measures both models on the same inputs. Sessions are created and released here.
 *
 * @example
 * const c = await compareModels({ floatBytes, quantizedBytes, inputs: syntheticInputs({ model }) });
 * c.agreement.cosine; // mean per-sample cosine similarity of the first float output
 */
export async function compareModels(o: CompareOptions): Promise<Comparison> {
  const opts = o.threads === undefined ? {} : { intraOpThreads: o.threads };
  const fs = await Session.create({ bytes: o.floatBytes }, opts);
  const qs = await Session.create({ bytes: o.quantizedBytes }, opts);
  const budget = o.budgetMs ?? 1500;
  try {
    let n = 0;
    let maxAbsDiff = 0;
    let cosSum = 0;
    let agree = 0;
    let correctF = 0;
    let correctQ = 0;
    let labelled = false;
    for (const { feeds, labels } of o.inputs.batches()) {
      const yf = firstFloat(await fs.run(feeds));
      const yq = firstFloat(await qs.run(feeds));
      if (!yf || !yq) continue;
      const b = yf.dims[0] ?? 1;
      const a = yf.data as Float32Array;
      const c = yq.data as Float32Array;
      const per = a.length / Math.max(1, b);
      for (let s = 0; s < b; s++) {
        let dot = 0;
        let na = 0;
        let nc = 0;
        let af = 0;
        let aq = 0;
        for (let k = 0; k < per; k++) {
          const u = a[s * per + k]!;
          const v = c[s * per + k]!;
          const d = Math.abs(u - v);
          if (d > maxAbsDiff || Number.isNaN(d)) maxAbsDiff = Number.isNaN(d) ? Infinity : d;
          dot += u * v;
          na += u * u;
          nc += v * v;
          if (u > a[s * per + af]!) af = k;
          if (v > c[s * per + aq]!) aq = k;
        }
        cosSum += na === 0 && nc === 0 ? 1 : dot / Math.sqrt(na * nc || 1);
        if (af === aq) agree++;
        if (labels) {
          labelled = true;
          const label = labels[s]!;
          if (af === label) correctF++;
          if (aq === label) correctQ++;
        }
      }
      n += b;
    }
    // Three alternating rounds per model, so background load hits both alike; latency percentiles pool
    // the rounds' samples, throughput keeps the best round.
    const acc0 = (): { times: number[]; tp: number } => ({ times: [], tp: 0 });
    const [af, aq] = [acc0(), acc0()];
    for (let round = 0; round < 3; round++) {
      for (const [s, a] of [[fs, af], [qs, aq]] as const) {
        a.times.push(...(await latencySamples(s, o.inputs.single, budget / 3)));
        a.tp = Math.max(a.tp, await throughput(s, o.inputs.batch, budget / 3, o.inputs.batchSize));
      }
    }
    const summarize = (a: { times: number[]; tp: number }): Omit<ModelMetrics, 'fileBytes' | 'accuracy'> => ({ ...percentiles(a.times), throughput: a.tp });
    const acc = (c: number): number | undefined => (labelled && n ? c / n : undefined);
    return {
      float: { fileBytes: o.floatBytes.byteLength, ...summarize(af), accuracy: acc(correctF) },
      quantized: { fileBytes: o.quantizedBytes.byteLength, ...summarize(aq), accuracy: acc(correctQ) },
      agreement: { maxAbsDiff, cosine: n ? cosSum / n : 1, top1: n ? agree / n : 1, samples: n },
      throughputBatch: o.inputs.batchSize,
      threads: o.threads ?? 'default',
    };
  } finally {
    await fs.release();
    await qs.release();
  }
}

/** The first float32 output (the one agreement and accuracy are measured on). */
function firstFloat(out: Record<string, Tensor>): Tensor | undefined {
  return Object.values(out).find((t) => t.dtype === 'float32');
}
/** Batch-1 run times (ms): warm up, then time single runs until the budget is spent (≥ 10 runs). */
export async function latencySamples(s: Session, input: Record<string, Tensor>, budgetMs: number): Promise<number[]> {
  const feeds = ortFeeds(input);
  for (let i = 0; i < 5; i++) await s.ort.run(feeds);
  const times: number[] = [];
  const end = performance.now() + budgetMs;
  while (times.length < 10 || (performance.now() < end && times.length < 5000)) {
    const t0 = performance.now();
    await s.ort.run(feeds);
    times.push(performance.now() - t0);
  }
  return times;
}

/** p50 and p99 of run times. */
export function percentiles(times: number[]): { latencyP50Ms: number; latencyP99Ms: number } {
  const t = [...times].sort((a, b) => a - b);
  const q = (p: number): number => t[Math.min(t.length - 1, Math.floor(p * t.length))]!;
  return { latencyP50Ms: q(0.5), latencyP99Ms: q(0.99) };
}

/** Samples/s with feeds holding `batchSize` samples: warm up, then run until the budget is spent (≥ 5 runs). */
export async function throughput(s: Session, input: Record<string, Tensor>, budgetMs: number, batchSize: number): Promise<number> {
  const feeds = ortFeeds(input);
  for (let i = 0; i < 3; i++) await s.ort.run(feeds);
  let runs = 0;
  const t0 = performance.now();
  while (runs < 5 || performance.now() - t0 < budgetMs) {
    await s.ort.run(feeds);
    runs++;
  }
  return (runs * batchSize) / ((performance.now() - t0) / 1000);
}

function ortFeeds(input: Record<string, Tensor>): Record<string, ReturnType<typeof toOrt>> {
  return Object.fromEntries(Object.entries(input).map(([k, t]) => [k, toOrt(t)]));
}
