/**
 * The lab's language workload end to end at tiny sizes (transformer:1,16,2 on 32 tokens of 300 emails,
 * one epoch): the tokenizer travels with the trained model, the dynamic-int8 variant keeps the fp32
 * accuracy, every variant is benchmarked through the load generator (token-id rows as samples), the
 * report lists the workload, and `--quick` leaves the full-size workload out unless it is named.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLabRun } from './lab-run.js';
import { runLab } from './run-lab.js';
import { spamWorkload } from './spam.js';
import { WORKLOADS } from './workloads.js';

const tiny = spamWorkload({
  id: 'tiny-spam', title: 'tiny spam transformer', preset: 'transformer:1,16,2', quickPreset: 'transformer:1,16,2', epochs: 1, quickEpochs: 1,
  maxLength: 32, quickMaxLength: 32, vocabSize: 400, quickVocabSize: 400, quickLimit: 300, quickSamples: 64, samples: 64, targetAccuracy: 0.7,
});

test('lab: the spam transformer trains with its tokenizer, builds int8, benchmarks and reports it; --quick leaves the full workload out', async () => {
  assert.deepEqual(WORKLOADS.filter((w) => w.fullOnly).map((w) => w.id), ['spam-transformer']);
  const out = mkdtempSync(join(tmpdir(), 'trainfer-lab-spam-'));
  const r = await runLab({ out, quick: true, registry: [tiny], workloads: ['tiny-spam'], durationsMs: { singleStream: 100, multiStream: 100, offline: 150, serverTrial: 100 }, warmupMs: 20, searchTrials: 2, progress: 'none', threads: 1 });
  const w = readLabRun(r.dir).run.workloads[0]!;
  assert.deepEqual(w.variants.map((v) => v.id), ['fp32', 'int8-dynamic']);
  assert.equal(w.quality.name, 'test accuracy');
  const [fp32, int8] = w.variants as [typeof w.variants[0], typeof w.variants[0]];
  // 854 of the 1,241 test emails are ham: a model that learned nothing scores 68.8%.
  assert.ok(fp32.quality > 0.75, `fp32 accuracy ${fp32.quality}`);
  assert.ok(Math.abs(int8.quality - fp32.quality) <= 0.02, `int8 ${int8.quality} vs ${fp32.quality}`);
  assert.ok(w.training.samplesPerSecond > 0);
  // FLOPs counted over the 32-token rows, not 1 token: the block's matrix products alone are 2·12·16² per token, ×3 with the backward pass.
  assert.ok(w.training.trainFlopsPerSample > 3 * 2 * 12 * 16 * 16 * 32 * 0.9, `${w.training.trainFlopsPerSample} FLOPs per sample`);
  assert.ok(existsSync(join(r.dir, 'models', 'tiny-spam', 'tokenizer.json')));
  for (const v of w.variants) assert.ok(v.bench.offline.samplesPerSecond > 0 && v.bench.singleStream.latencyMs.p50 > 0, v.id);
  assert.match(readFileSync(join(r.dir, 'summary.md'), 'utf8'), /\| tiny spam transformer \| int8 dynamic \|/);
  // --reuse: the cached model comes back with its tokenizer.
  const again = await runLab({ out, quick: true, reuse: true, registry: [tiny], workloads: ['tiny-spam'], durationsMs: { singleStream: 50, multiStream: 50, offline: 50, serverTrial: 50 }, warmupMs: 0, searchTrials: 1, progress: 'none', threads: 1 });
  const w2 = readLabRun(again.dir).run.workloads[0]!;
  assert.equal(w2.reused, true);
  assert.equal(w2.variants[0]!.quality, fp32.quality);
});
