/**
 * The language workload of the lab: the `transformer` preset trained on the SpamAssassin corpus
 * (`--data spam`: 4,805 training / 1,241 test emails, split by checksum) with its WordPiece tokenizer
 * written beside the model, fp32 / dynamic int8 / fp16 variants, the test emails tokenized once (rows of
 * the tokenizer's maximum length, as one served email is) as the load generator's samples, and test
 * accuracy as the quality. Training a transformer takes minutes, so `--quick` leaves it out unless it is
 * named (`trainfer lab --quick --workload spam-transformer`), and then trains a small one on a prefix.
 */
import { dirname, join } from 'node:path';
import { getColumn, type TableSplits } from '../../data/table.js';
import { tokenRole } from '../../data/text-feeds.js';
import { loadSpam } from '../../data/spam.js';
import { TextTokenizer } from '../../data/tokenizer.js';
import type { Model } from '../../onnx/ir.js';
import { readModel } from '../../onnx/model-io.js';
import { Tensor } from '../../onnx/tensor.js';
import { evaluate } from '../../train/evaluate.js';
import { openTextFeedsFor } from '../../train/job-text.js';
import { TrainferError } from '../../util/errors.js';
import { TensorSampleLibrary } from '../qsl.js';
import { benchTraining } from '../train-bench.js';
import { dynamicInt8Variant, fp16Variant, fp32Variant } from './variants.js';
import type { LabContext, Workload } from './workload.js';

/** What distinguishes one spam workload from another. */
export interface SpamWorkloadSpec {
  id: string;
  title: string;
  /** Preset, e.g. `transformer:2,128,4`. */
  preset: string;
  quickPreset: string;
  epochs: number;
  quickEpochs: number;
  /** Tokens per row. */
  maxLength: number;
  quickMaxLength: number;
  vocabSize: number;
  quickVocabSize: number;
  /** Quick runs train on this many emails (both classes: the split is in checksum order). */
  quickLimit: number;
  /** Test emails the load generator draws from (quick / full). */
  quickSamples: number;
  samples: number;
  targetAccuracy: number;
}

function spamData(ctx: LabContext): TableSplits {
  let d = ctx.cache.get('spam') as TableSplits | undefined;
  if (!d) {
    d = loadSpam();
    ctx.cache.set('spam', d);
  }
  return d;
}

/** A spam-classification workload for a transformer preset (exported for experiments and tests). */
export function spamWorkload(s: SpamWorkloadSpec): Workload {
  const pick = <T>(ctx: LabContext, quick: T, full: T) => (ctx.quick ? quick : full);
  return {
    id: s.id,
    title: s.title,
    task: 'text classification (SpamAssassin emails, 4,805 train / 1,241 test)',
    quality: { name: 'test accuracy', percent: true, higherIsBetter: true },
    bench: { offlineBatch: 32, samplesPerQuery: 8, latencyBoundMs: 10 },
    fullOnly: true,
    recipe: (ctx) => ({
      workload: s.id, preset: pick(ctx, s.quickPreset, s.preset), data: 'spam', seed: ctx.seed, epochs: pick(ctx, s.quickEpochs, s.epochs),
      maxLength: pick(ctx, s.quickMaxLength, s.maxLength), vocabSize: pick(ctx, s.quickVocabSize, s.vocabSize), limit: ctx.quick ? s.quickLimit : undefined,
    }),
    async train(ctx, out, metricsLog) {
      return benchTraining({
        job: {
          model: pick(ctx, s.quickPreset, s.preset), data: 'spam', out, seed: ctx.seed, epochs: pick(ctx, s.quickEpochs, s.epochs), maxLength: pick(ctx, s.quickMaxLength, s.maxLength),
          vocabSize: pick(ctx, s.quickVocabSize, s.vocabSize), trainLimit: ctx.quick ? s.quickLimit : undefined, metricsLog, threads: ctx.threads, progress: 'auto',
        },
        targetAccuracy: s.targetAccuracy,
        peak: ctx.peak,
      });
    },
    // Static int8 needs token-id calibration data, which `quantize --calib` does not read yet: not a variant here.
    variants: [fp32Variant, dynamicInt8Variant, fp16Variant],
    samples(ctx, model, file) {
      const tokenizer = TextTokenizer.load(join(dirname(file), 'tokenizer.json'));
      const texts = (getColumn(spamData(ctx).test!, 'text').data as string[]).slice(0, pick(ctx, s.quickSamples, s.samples));
      return tokenSamples({ model, tokenizer, texts, name: `${s.id}:test` });
    },
    async evaluate(ctx, path) {
      const test = spamData(ctx).test!;
      const model = readModel(path);
      const feeds = await openTextFeedsFor({ model, file: path, data: test });
      if (!feeds) throw new TrainferError(`${path}: no tokenizer.json beside it`);
      try {
        return (await evaluate({ model, data: test, target: 'label', feeds: feeds.feeds, threads: ctx.threads })).accuracy;
      } finally {
        await feeds.close();
      }
    },
  };
}

/** Texts tokenized into the model's token inputs (int64 or int32 rows of the tokenizer's maximum length) as a sample library. */
async function tokenSamples(o: { model: Model; tokenizer: TextTokenizer; texts: string[]; name: string }): Promise<TensorSampleLibrary> {
  const b = await o.tokenizer.encodeBatch(o.texts, { pad: 'max' });
  const inputs: Record<string, Tensor> = {};
  for (const i of o.model.graph.feedInputs()) {
    const role = tokenRole(i.name);
    const src = role === 'ids' ? b.ids : role === 'mask' ? b.mask : new Uint8Array(b.ids.length);
    inputs[i.name] = i.type?.dtype === 'int32' ? new Tensor('int32', [b.count, b.length], Int32Array.from(src)) : new Tensor('int64', [b.count, b.length], BigInt64Array.from(src, (v) => BigInt(v)));
  }
  return TensorSampleLibrary.fromTensors({ name: o.name, inputs });
}

/**
 * `transformer` (2 layers, d_model 128, 4 heads, 256 tokens, 8,000 WordPiece tokens, 4 epochs) on spam —
 * left out of `--quick`; named in a quick run it trains `transformer:1,32,2` on 64 tokens of 600 emails for one epoch.
 */
export const spamTransformer: Workload = spamWorkload({
  id: 'spam-transformer', title: 'spam transformer', preset: 'transformer:2,128,4', quickPreset: 'transformer:1,32,2', epochs: 4, quickEpochs: 1,
  maxLength: 256, quickMaxLength: 64, vocabSize: 8000, quickVocabSize: 2000, quickLimit: 600, quickSamples: 256, samples: 1241, targetAccuracy: 0.95,
});
