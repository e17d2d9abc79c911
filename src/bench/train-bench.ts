/**
 * The training benchmark: a training job run through `runTrainJob` with what MLPerf Training and a
 * roofline reader want beside it — samples/s, time to a target accuracy, peak resident memory, the
 * loss curve, and achieved GFLOP/s against this machine's fp32 MatMul peak measured through
 * onnxruntime in the same run (the practical physical limit of a training step here).
 */
import { availableParallelism } from 'node:os';
import { readFileSync, statSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../onnx/builder.js';
import { estimateFlops } from '../onnx/cost.js';
import { readTextRecord } from '../train/job-text.js';
import { readModel } from '../onnx/model-io.js';
import { Session } from '../runtime/session.js';
import { type TrainJobOptions, type TrainJobResult, runTrainJob } from '../train/job.js';
import type { EpochMetrics } from '../train/progress.js';
import { Rng } from '../util/rng.js';
import { sha256 } from './machine.js';

/** fp32 MatMul throughput through onnxruntime: the yardstick for achieved GFLOP/s. */
export interface MatmulPeak {
  gflops: number;
  /** Square matrices of this size. */
  n: number;
  threads: number;
  bestMs: number;
}

/** Measures [n, n] × [n, n] fp32 MatMul through onnxruntime, best of `reps` runs. */
export async function measureMatmulPeak(o: { n?: number; threads?: number; reps?: number } = {}): Promise<MatmulPeak> {
  const n = o.n ?? 1024;
  const threads = o.threads ?? availableParallelism();
  const g = new GraphBuilder({ name: 'matmul_peak' });
  const a = g.input('a', 'float32', [n, n]);
  const b = g.input('b', 'float32', [n, n]);
  g.output(g.matMul(a, b), 'c');
  const s = await Session.create({ model: g.toModel() }, { intraOpThreads: threads });
  try {
    const rng = Rng.fromSeed(1);
    const fill = () => {
      const t = new Float32Array(n * n);
      rng.fillUniform(t);
      return t;
    };
    const feeds = { a: new ort.Tensor('float32', fill(), [n, n]), b: new ort.Tensor('float32', fill(), [n, n]) };
    const out = { c: new ort.Tensor('float32', new Float32Array(n * n), [n, n]) };
    await s.ort.run(feeds, out);
    let best = Infinity;
    for (let i = 0; i < (o.reps ?? 5); i++) {
      const t0 = performance.now();
      await s.ort.run(feeds, out);
      best = Math.min(best, performance.now() - t0);
    }
    return { gflops: (2 * n ** 3) / (best / 1000) / 1e9, n, threads, bestMs: best };
  } finally {
    await s.release();
  }
}

/** A loss point of the training curve (from the metrics log's step records). */
export interface LossPoint {
  step: number;
  epoch: number;
  loss: number;
}

/** What the training benchmark measured. */
export interface TrainingRecord {
  model: string;
  data: string;
  out: string;
  sha256: string;
  bytes: number;
  parameters: number;
  epochs: number;
  steps: number;
  batchSize: number;
  trainSeconds: number;
  samplesPerSecond: number;
  testAccuracy: number;
  history: EpochMetrics[];
  lossCurve: LossPoint[];
  /** First epoch whose validation accuracy reached `target` (MLPerf Training's time to quality, at epoch granularity). */
  timeToTarget: { target: number; seconds?: number; epoch?: number };
  /** Highest resident set size sampled during training (bytes). */
  peakRssBytes: number;
  /** Estimated FLOPs of one training sample: forward + input gradients + weight gradients (≈ 3× forward − the first layer's input gradient). */
  trainFlopsPerSample: number;
  achievedGflops: number;
  peak?: MatmulPeak;
  /** achieved ÷ peak. */
  fractionOfPeak?: number;
  threads: number;
}

/** Options for `benchTraining`. */
export interface TrainBenchOptions {
  job: TrainJobOptions;
  /** Accuracy for time-to-target (default 0.98). */
  targetAccuracy?: number;
  /** The MatMul peak measured in this run (measured here when absent and `measurePeak` is not false). */
  peak?: MatmulPeak;
  measurePeak?: boolean;
}

/**
 * Trains with `runTrainJob` and measures the run.
 *
 * @example
 * const r = await benchTraining({ job: { model: 'mlp:256', data: 'mnist', epochs: 2, out: 'mlp.onnx' } });
 * console.log(r.samplesPerSecond, r.achievedGflops, r.fractionOfPeak);
 */
export async function benchTraining(o: TrainBenchOptions): Promise<TrainingRecord> {
  const target = o.targetAccuracy ?? 0.98;
  const metricsLog = o.job.metricsLog;
  let peakRss = process.memoryUsage.rss();
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 25);
  let r: TrainJobResult;
  try {
    r = await runTrainJob(o.job);
  } finally {
    clearInterval(sampler);
  }
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
  const flops = trainingFlops(r.out);
  const achieved = (r.samplesPerSecond * flops) / 1e9;
  const peak = o.peak ?? (o.measurePeak === false ? undefined : await measureMatmulPeak({ threads: o.job.threads }));
  const hit = r.history.find((h) => (h.valAccuracy ?? -1) >= target);
  return {
    model: r.model,
    data: r.data,
    out: r.out,
    sha256: sha256(r.out),
    bytes: statSync(r.out).size,
    parameters: r.parameters,
    epochs: r.epochs,
    steps: r.steps,
    batchSize: r.batchSize,
    trainSeconds: r.trainSeconds,
    samplesPerSecond: r.samplesPerSecond,
    testAccuracy: r.testAccuracy,
    history: r.history,
    lossCurve: metricsLog ? readLossCurve(metricsLog) : [],
    timeToTarget: { target, seconds: hit?.seconds, epoch: hit?.epoch },
    peakRssBytes: peakRss,
    trainFlopsPerSample: flops,
    achievedGflops: achieved,
    peak,
    fractionOfPeak: peak ? achieved / peak.gflops : undefined,
    threads: o.job.threads ?? availableParallelism(),
  };
}

/** ≈ 3 × forward FLOPs − the first layer's input gradient (never computed), from the exported model. */
export function trainingFlops(modelPath: string): number {
  const model = readModel(modelPath);
  // A text model's rows are its maximum length (trainfer.text): its symbolic sequence dims take that size, not 1.
  const text = readTextRecord(model.metadata);
  const dims: Record<string, number> = {};
  if (text) for (const i of model.graph.feedInputs()) for (const d of (i.type?.shape ?? []).slice(1)) if (typeof d === 'string') dims[d] = text.maxLength;
  const est = estimateFlops(model, { batch: 1, dims });
  const first = est.nodes.find((n) => ['Conv', 'Gemm', 'MatMul'].includes(n.opType) && n.flops !== null);
  return 3 * est.total - (first?.flops ?? 0);
}

/** Step records (`{"type":"step","step":…,"loss":…}`) of a metrics JSONL file. */
export function readLossCurve(path: string): LossPoint[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const out: LossPoint[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    const j = JSON.parse(line) as { type?: string; step?: number; epoch?: number; loss?: number };
    if (j.type === 'step' && typeof j.step === 'number' && typeof j.loss === 'number') out.push({ step: j.step, epoch: j.epoch ?? 0, loss: j.loss });
  }
  return out;
}
