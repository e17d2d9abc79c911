// Serving recommenders: a retrieval model (exact top-K in its graph; ANN through usearch over its
// catalog) and a DLRM ranker through the OIP server with dynamic batching, unknown ids answered by the
// documented fallbacks (cold start: the most popular items; a ranker's unseen id: the mean row) without
// failing batch neighbours; row-wise int8 / fp16 tables smaller with the same answers (within rounding).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModel, writeModel } from '../onnx/model-io.js';
import { Tensor } from '../onnx/tensor.js';
import { Session } from '../runtime/session.js';
import { quantizeEmbeddingTables } from '../compress/embedding-tables.js';
import { runCtrJob } from '../train/ctr-job.js';
import { runRetrievalJob } from '../train/recsys-job.js';
import { InferenceClient } from './client.js';
import { addToRepository } from './example-models.js';
import { Recommender } from './retrieval.js';
import { InferenceServer } from './server.js';

const dir = mkdtempSync(join(tmpdir(), 'trainfer-recsys-serve-'));
const data = 'synthetic:users=300,items=200,interactions=10,seed=4';
let mfFile = '';
let dlrmFile = '';

before(async () => {
  mfFile = join(dir, 'mf.onnx');
  dlrmFile = join(dir, 'dlrm.onnx');
  await runRetrievalJob({ model: 'mf', data, out: mfFile, epochs: 2, progress: 'none', threads: 1, topK: 20 });
  await runCtrJob({ data, out: dlrmFile, epochs: 1, progress: 'none', threads: 1, batchSize: 256 });
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('exact and ANN retrieval agree, exclude what they are told, and fall back to popular items for unknown users', async () => {
  const rec = await Recommender.load(readModel(mfFile), { ann: 'usearch' });
  try {
    const users = [0, 5, 17, rec.user('nobody')];
    assert.equal(users[3], -1);
    const exclude = [[1, 2, 3], [], [10], []];
    const exact = await rec.recommend({ users, k: 10, exclude });
    const ann = await rec.recommend({ users, k: 10, exclude, mode: 'ann' });
    for (let b = 0; b < 3; b++) {
      assert.equal(new Set(exact[b]!.items).size, 10, 'distinct items');
      for (const x of exclude[b]!) assert.ok(!exact[b]!.items.includes(x) && !ann[b]!.items.includes(x), 'excluded items are left out');
      const overlap = ann[b]!.items.filter((i) => exact[b]!.items.includes(i)).length;
      assert.ok(overlap >= 9, `user ${users[b]}: ANN shares ${overlap}/10 with exact`);
      for (let j = 1; j < 10; j++) assert.ok(exact[b]!.scores[j]! <= exact[b]!.scores[j - 1]!, 'sorted by score');
    }
    assert.equal(exact[3]!.coldStart, true);
    assert.equal(ann[3]!.coldStart, true);
    assert.deepEqual(ann[3]!.items, exact[3]!.items, 'cold start takes the same popular items either way');
    await assert.rejects(rec.recommend({ users: [0], k: 21 }), /k must be an integer in 1\.\.20/);
  } finally {
    await rec.close();
  }
});

test('the OIP server serves the retrieval model and the DLRM ranker with dynamic batching; unknown ids never fail a batch', async () => {
  const repo = join(dir, 'repo');
  const cfg = { instances: 1, threadsPerInstance: 1, maxBatchSize: 8, maxQueueDelayMs: 20 };
  addToRepository({ repo, name: 'retrieval', model: readModel(mfFile), config: cfg });
  addToRepository({ repo, name: 'ranker', model: readModel(dlrmFile), config: cfg });
  const server = await InferenceServer.start({ repository: repo, port: 0, logLevel: 'silent', processMetrics: false });
  const local = await Session.create({ path: dlrmFile }, { intraOpThreads: 1 });
  try {
    const client = new InferenceClient(server.url);
    // Concurrent requests (batched together), one of them for an unknown user.
    const users = [3, 4, 99999, 7];
    const answers = await Promise.all(users.map((u) => client.infer('retrieval', { inputs: { user: Tensor.i64([1, 1], [u]), exclude: Tensor.i64([1, 1], [-1]) }, binary: true })));
    const rec = await Recommender.load(readModel(mfFile));
    const want = await rec.recommend({ users: users.map((u) => (u < 300 ? u : -1)), k: 20 });
    await rec.close();
    answers.forEach((a, b) => {
      assert.deepEqual(a.outputs.items!.toNumbers(), want[b]!.items, `user ${users[b]}`);
      assert.equal(a.outputs.cold_start!.toNumbers()[0], users[b] === 99999 ? 1 : 0);
    });
    // The ranker: in-process and served scores agree; an unseen user and item still get an answer.
    const row = (user: number, item: number) => ({ dense: Tensor.f32([1, 2], [1.5, 2.0]), user: Tensor.i64([1, 1], [user]), item: Tensor.i64([1, 1], [item]), user_segment: Tensor.i64([1, 1], [0]), item_genre: Tensor.i64([1, 1], [1]) });
    const pairs: [number, number][] = [[1, 2], [5, 6], [123456, 7], [8, -3]];
    const served = await Promise.all(pairs.map(([u, i]) => client.infer('ranker', { inputs: row(u, i), binary: true })));
    for (const [b, [u, i]] of pairs.entries()) {
      const p = served[b]!.outputs.probabilities!.toNumbers()[0]!;
      const l = (await local.run(row(u, i))).probabilities!.toNumbers()[0]!;
      assert.ok(p > 0 && p < 1 && Math.abs(p - l) < 1e-6, `(${u}, ${i}): served ${p} vs local ${l}`);
    }
  } finally {
    await local.release();
    await server.close();
  }
});

test('row-wise int8 tables are ~4× smaller and rank as fp32 does; fp16 halves them', async () => {
  const m = readModel(mfFile);
  const i8 = quantizeEmbeddingTables(m, { dtype: 'int8' });
  const f16 = quantizeEmbeddingTables(m, { dtype: 'fp16' });
  for (const t of i8.tables) assert.ok(t.bytesBefore / t.bytesAfter > 3.3, `${t.name}: ${t.bytesBefore} → ${t.bytesAfter}`);
  for (const t of f16.tables) assert.equal(t.bytesBefore / t.bytesAfter, 2);
  assert.deepEqual(i8.tables.map((t) => t.name).sort(), ['item_matrix_t', 'user_embedding'], 'the [users, 1] bias stays float');
  const files = { fp32: mfFile, int8: join(dir, 'mf-int8.onnx'), fp16: join(dir, 'mf-fp16.onnx') };
  writeModel(files.int8, i8.model);
  writeModel(files.fp16, f16.model);
  assert.ok(statSync(files.int8).size < statSync(files.fp32).size / 2.5);
  const top = async (f: string) => {
    const r = await Recommender.load(readModel(f), { ann: f === files.int8 ? 'usearch' : undefined });
    const res = await r.recommend({ users: [0, 1, 2, 3], k: 10 });
    const ann = f === files.int8 ? await r.recommend({ users: [0, 1, 2, 3], k: 10, mode: 'ann' }) : undefined;
    await r.close();
    return { res, ann };
  };
  const base = (await top(files.fp32)).res;
  for (const f of [files.int8, files.fp16]) {
    const { res, ann } = await top(f);
    res.forEach((r, b) => {
      const overlap = r.items.filter((i) => base[b]!.items.includes(i)).length;
      assert.ok(overlap >= 8, `${f} user ${b}: ${overlap}/10 shared with fp32`);
      r.scores.forEach((s, j) => assert.ok(Math.abs(s - base[b]!.scores[j]!) < 0.05 * (1 + Math.abs(base[b]!.scores[j]!)), `${f}: score ${s} vs ${base[b]!.scores[j]}`));
    });
    if (ann) ann.forEach((r, b) => assert.ok(r.items.filter((i) => res[b]!.items.includes(i)).length >= 8, 'ANN over the dequantized int8 catalog'));
  }
  // DLRM tables quantize too (its Gathers), and the ranker still answers.
  const d8 = quantizeEmbeddingTables(readModel(dlrmFile), { dtype: 'int8' });
  assert.equal(d8.tables.length, 4);
  assert.throws(() => quantizeEmbeddingTables(readModel(dlrmFile), { dtype: 'int4' as 'int8' }), /int8 or fp16/);
});
