/**
 * The lab's recommender workload end to end on tiny synthetic data (600 users × 300 items, one epoch):
 * the trained two-tower beats the popularity baseline's floor, its int8 and fp16 table variants are
 * smaller and keep recall@10, every variant is benchmarked through the load generator (user ids as
 * samples), and the report lists the workload.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLabRun } from './lab-run.js';
import { recsysWorkload } from './recsys.js';
import { runLab } from './run-lab.js';

const tiny = recsysWorkload({ id: 'tiny-recsys', title: 'tiny two-tower', data: 'synthetic:users=600,items=300', quickData: 'synthetic:users=600,items=300', epochs: 1, quickEpochs: 2, dim: 16, evalUsers: 600 });

test('lab: the two-tower workload trains, builds int8/fp16 table variants, benchmarks and reports them', async () => {
  const out = mkdtempSync(join(tmpdir(), 'trainfer-lab-recsys-'));
  const r = await runLab({ out, quick: true, registry: [tiny], durationsMs: { singleStream: 100, multiStream: 100, offline: 150, serverTrial: 100 }, warmupMs: 20, searchTrials: 2, progress: 'none', threads: 1 });
  const w = readLabRun(r.dir).run.workloads[0]!;
  assert.deepEqual(w.variants.map((v) => v.id), ['fp32', 'tables-int8', 'tables-fp16']);
  assert.equal(w.quality.name, 'recall@10');
  const [fp32, int8, fp16] = w.variants as [typeof w.variants[0], typeof w.variants[0], typeof w.variants[0]];
  // Popularity reaches ~8% recall@10 on this data; the oracle ~30%.
  assert.ok(fp32.quality > 0.12, `fp32 recall@10 ${fp32.quality}`);
  assert.equal(w.training.testAccuracy, fp32.quality);
  assert.ok(w.training.samplesPerSecond > 0 && w.training.trainFlopsPerSample > 0);
  assert.ok(int8.bytes < fp32.bytes * 0.5 && fp16.bytes < fp32.bytes * 0.75, `${fp32.bytes} → ${int8.bytes} / ${fp16.bytes}`);
  assert.ok(Math.abs(int8.quality - fp32.quality) <= 0.03, `int8 ${int8.quality} vs ${fp32.quality}`);
  assert.ok(Math.abs(fp16.quality - fp32.quality) <= 0.01, `fp16 ${fp16.quality} vs ${fp32.quality}`);
  for (const v of w.variants) assert.ok(v.bench.offline.samplesPerSecond > 0 && v.bench.singleStream.latencyMs.p50 > 0, v.id);
  assert.match(readFileSync(join(r.dir, 'summary.md'), 'utf8'), /\| tiny two-tower \| int8 tables \|/);
});
