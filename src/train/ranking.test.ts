// Ranking metrics by hand, the exported retrieval model's positions against a brute-force JS ranking,
// and trained recommenders against floors on synthetic data (fixed seeds): MF and two-tower well above
// the popularity baseline and a fair share of the planted-factor oracle; DLRM's AUC likewise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModel } from '../onnx/model-io.js';
import { Session } from '../runtime/session.js';
import { Tensor } from '../onnx/tensor.js';
import { RankingAccumulator, positionOf } from './ranking-metrics.js';
import { evaluateRetrieval } from './ranking-eval.js';
import { runRetrievalJob } from './recsys-job.js';
import { runCtrJob } from './ctr-job.js';
import { loadRecsysData } from './recsys-data.js';
import { userHistory } from '../data/interaction-splits.js';

const dir = mkdtempSync(join(tmpdir(), 'trainfer-rank-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('ranking metrics by hand: recall, hit rate, NDCG, MRR and AUC over users', () => {
  const acc = new RankingAccumulator([1, 3]);
  acc.update([0], 10); // hit at the top
  acc.update([2, 5], 10); // two relevant, one in the top 3
  const r = acc.result();
  assert.equal(r.users, 2);
  assert.equal(r['recall@1'], 0.5);
  assert.equal(r['recall@3'], (1 + 0.5) / 2);
  assert.equal(r['hit_rate@3'], 1);
  const ndcg2 = (1 / Math.log2(4)) / (1 + 1 / Math.log2(3));
  assert.ok(Math.abs(r['ndcg@3']! - (1 + ndcg2) / 2) < 1e-12);
  assert.ok(Math.abs(r.mrr! - (1 + 1 / 3) / 2) < 1e-12);
  // AUC: user 1: 9 negatives all below → 1; user 2: 8 negatives, item at 2 has 2 above, at 5 has 4 above (one is relevant).
  assert.ok(Math.abs(r.auc! - (1 + ((8 - 2) + (8 - 4)) / 16) / 2) < 1e-12);
  assert.equal(positionOf([0.5, 0.9, 0.1, 0.7], 0.5, [1]), 1);
  assert.throws(() => new RankingAccumulator([0]), /K values must be positive integers/);
});

test('MF: trained sparsely, exported, ranked in its own graph exactly as a brute-force ranking; beats popularity', async () => {
  const data = 'synthetic:users=600,items=300,interactions=15,seed=2';
  const out = join(dir, 'mf.onnx');
  const r = await runRetrievalJob({ model: 'mf', data, out, epochs: 4, progress: 'none', threads: 1, seed: 1, topK: 300 });
  const e = r.eval;
  assert.ok(e.model['recall@10']! > 1.5 * e.popularity['recall@10']!, `mf ${e.model['recall@10']} vs popularity ${e.popularity['recall@10']}`);
  assert.ok(e.model['recall@10']! > 0.5 * e.oracle!['recall@10']!, `mf ${e.model['recall@10']} vs oracle ${e.oracle!['recall@10']}`);
  assert.ok(e.oracle!['recall@10']! >= e.model['recall@10']! - 0.05, 'the oracle is (about) the ceiling');
  // Brute force over the exported file: its top-10 with exclusion, against positions from scores.
  const model = readModel(out);
  const { splits } = loadRecsysData({ data });
  const seen = userHistory(splits.train);
  const s = await Session.create({ path: out }, { intraOpThreads: 1 });
  const acc = new RankingAccumulator([10, 50]);
  for (let i = 0; i < splits.test.count; i++) {
    const u = splits.test.user[i]!;
    const ex = [...seen.items.subarray(seen.start[u]!, seen.start[u + 1]!)];
    const res = await s.run({ user: Tensor.i64([1, 1], [u]), exclude: Tensor.i64([1, ex.length], ex) });
    const items = res.items!.toNumbers().slice(0, 300 - ex.length);
    for (const x of ex) assert.ok(!items.includes(x), 'seen items are excluded');
    acc.update([items.indexOf(splits.test.item[i]!)], 300 - ex.length);
  }
  await s.release();
  const brute = acc.result();
  assert.ok(Math.abs(brute['recall@10']! - e.model['recall@10']!) < 1e-9 && Math.abs(brute.mrr! - e.model.mrr!) < 0.01, `graph ${JSON.stringify(e.model)} vs brute ${JSON.stringify(brute)}`);
  const again = await evaluateRetrieval({ model, seen: [splits.train], test: splits.test, maxUsers: 100, seed: 1 });
  assert.equal(again.users, 100);
});

test('two-tower with in-batch softmax (logQ) and side features beats popularity; DLRM ranks clicks above its floor', async () => {
  const data = 'synthetic:users=600,items=300,interactions=15,seed=2';
  const tt = await runRetrievalJob({ model: 'two-tower', data, out: join(dir, 'tt.onnx'), epochs: 4, batchSize: 256, progress: 'none', threads: 1, seed: 1 });
  assert.ok(tt.eval.model['recall@10']! > 1.3 * tt.eval.popularity['recall@10']!, `two-tower ${tt.eval.model['recall@10']} vs popularity ${tt.eval.popularity['recall@10']}`);
  const ctr = await runCtrJob({ data, out: join(dir, 'dlrm.onnx'), epochs: 2, progress: 'none', threads: 1, batchSize: 256, sparseLr: 0.2 });
  assert.ok(ctr.testMetrics.auc! > 0.68, `dlrm AUC ${ctr.testMetrics.auc}`);
  assert.ok(ctr.oracleAuc! > ctr.testMetrics.auc! - 0.02, `oracle AUC ${ctr.oracleAuc} vs dlrm ${ctr.testMetrics.auc}`);
  assert.ok(ctr.testMetrics.log_loss! < 0.6, `log loss ${ctr.testMetrics.log_loss}`);
});
