/**
 * The recommender workload of the lab: the two-tower retrieval model (`trainfer train --model
 * two-tower`: sparse row-wise Adagrad tables, in-batch sampled softmax with logQ) trained on the
 * planted-factor synthetic interactions, its embedding tables as fp32, row-wise int8 and fp16
 * variants, test users (with nothing excluded) as the load generator's samples — each query is one
 * user's top-100 over the whole catalog — and recall@10 of the held-out interaction as the quality.
 */
import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { quantizeEmbeddingTables } from '../../compress/embedding-tables.js';
import { readModel } from '../../onnx/model-io.js';
import { Tensor } from '../../onnx/tensor.js';
import { writeModelVerified } from '../../runtime/verified-write.js';
import { evaluateRetrieval } from '../../train/ranking-eval.js';
import { type RecsysData, loadRecsysData } from '../../train/recsys-data.js';
import { runRetrievalJob } from '../../train/recsys-job.js';
import { sha256 } from '../machine.js';
import { TensorSampleLibrary } from '../qsl.js';
import type { TrainingRecord } from '../train-bench.js';
import { fp32Variant } from './variants.js';
import type { LabContext, VariantSpec, Workload } from './workload.js';

/** What distinguishes one recommender workload from another. */
export interface RecsysWorkloadSpec {
  id: string;
  title: string;
  /** Full lab data (quick runs use `quickData`). */
  data: string;
  quickData: string;
  epochs: number;
  quickEpochs: number;
  dim: number;
  /** Test users evaluated (seeded sample). */
  evalUsers: number;
}

function recsysData(ctx: LabContext, source: string): RecsysData {
  const key = `recsys:${source}`;
  let d = ctx.cache.get(key) as RecsysData | undefined;
  if (!d) {
    d = loadRecsysData({ data: source });
    ctx.cache.set(key, d);
  }
  return d;
}

/** A retrieval model's check feeds: one known user, one cold-start user. */
const checkFeeds = () => ({ user: Tensor.i64([2, 1], [0, -1]), exclude: Tensor.i64([2, 1], [-1, 0]) });

/** Embedding tables (and the catalog) quantized row-wise to int8 or cast to fp16. */
export function embeddingTablesVariant(dtype: 'int8' | 'fp16'): VariantSpec {
  return {
    id: `tables-${dtype}`,
    label: `${dtype} tables`,
    quick: true,
    async build({ base, out }) {
      const r = quantizeEmbeddingTables(readModel(base), { dtype });
      await writeModelVerified({ path: out, model: r.model, feeds: checkFeeds() });
      const before = r.tables.reduce((s, t) => s + t.bytesBefore, 0);
      const after = r.tables.reduce((s, t) => s + t.bytesAfter, 0);
      return { notes: `${r.tables.map((t) => t.name).join(', ')}: ${(before / 2 ** 20).toFixed(1)} → ${(after / 2 ** 20).toFixed(1)} MiB (${(before / after).toFixed(2)}×)` };
    },
  };
}

/** A two-tower retrieval workload on synthetic interactions (exported for experiments and tests). */
export function recsysWorkload(s: RecsysWorkloadSpec): Workload {
  const source = (ctx: LabContext) => (ctx.quick ? s.quickData : s.data);
  return {
    id: s.id,
    title: s.title,
    task: 'top-K retrieval (synthetic planted-factor interactions, leave-last-out)',
    quality: { name: 'recall@10', percent: true, higherIsBetter: true },
    bench: { offlineBatch: 64, samplesPerQuery: 8, latencyBoundMs: 20 },
    recipe: (ctx) => ({ workload: s.id, model: 'two-tower', data: source(ctx), seed: ctx.seed, epochs: ctx.quick ? s.quickEpochs : s.epochs, dim: s.dim }),
    async train(ctx, out) {
      let peakRss = process.memoryUsage.rss();
      const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 25);
      let r;
      try {
        r = await runRetrievalJob({ model: 'two-tower', data: source(ctx), out, epochs: ctx.quick ? s.quickEpochs : s.epochs, dim: s.dim, seed: ctx.seed, evalUsers: s.evalUsers, threads: ctx.threads, progress: 'auto' });
      } finally {
        clearInterval(sampler);
      }
      ctx.log(`  two-tower recall@10 ${(r.eval.model['recall@10']! * 100).toFixed(2)}%${r.eval.oracle ? ` (planted-factor oracle ${(r.eval.oracle['recall@10']! * 100).toFixed(2)}%)` : ''}; ${r.sparse}`);
      // Per sample: both towers (embeddings + side features → 2·dim → dim MLPs) and a row of in-batch logits, × 3 for the backward pass.
      const batch = r.history.length ? Math.round(r.trainInteractions / Math.max(1, r.steps / r.epochs)) : 1024;
      const inWidth = s.dim + Math.min(16, s.dim);
      const flops = 3 * (2 * 2 * (inWidth * 2 * s.dim + 2 * s.dim * s.dim) + 2 * batch * s.dim);
      const achieved = (r.samplesPerSecond * flops) / 1e9;
      const record: TrainingRecord = {
        model: 'two-tower', data: r.data, out, sha256: sha256(out), bytes: statSync(out).size, parameters: r.parameters, epochs: r.epochs, steps: r.steps, batchSize: batch,
        trainSeconds: r.trainSeconds, samplesPerSecond: r.samplesPerSecond, testAccuracy: r.eval.model['recall@10']!, history: r.history, lossCurve: [],
        timeToTarget: { target: r.eval.oracle ? 0.9 * r.eval.oracle['recall@10']! : 1 }, peakRssBytes: Math.max(peakRss, process.memoryUsage.rss()),
        trainFlopsPerSample: flops, achievedGflops: achieved, peak: ctx.peak, fractionOfPeak: ctx.peak ? achieved / ctx.peak.gflops : undefined, threads: ctx.threads ?? availableParallelism(),
      };
      return record;
    },
    variants: [fp32Variant, embeddingTablesVariant('int8'), embeddingTablesVariant('fp16')],
    samples(ctx) {
      const d = recsysData(ctx, source(ctx));
      const users = [...new Set(d.splits.test.user)].slice(0, 4096);
      return TensorSampleLibrary.fromTensors({ name: `${s.id}:test-users`, inputs: { user: Tensor.i64([users.length, 1], users), exclude: Tensor.i64([users.length, 1], users.map(() => -1)) } });
    },
    async evaluate(ctx, path) {
      const d = recsysData(ctx, source(ctx));
      const r = await evaluateRetrieval({ model: readModel(path), seen: [d.splits.train], test: d.splits.test, oracle: d.oracle, maxUsers: s.evalUsers, seed: ctx.seed, threads: ctx.threads });
      return r.model['recall@10']!;
    },
  };
}

/** Two-tower retrieval on synthetic 50k users × 20k items (quick: 10k × 5k). */
export const recsysTwoTower: Workload = recsysWorkload({
  id: 'recsys-two-tower', title: 'two-tower retrieval', data: 'synthetic:users=50000,items=20000', quickData: 'synthetic:users=10000,items=5000',
  epochs: 4, quickEpochs: 2, dim: 64, evalUsers: 5000,
});
