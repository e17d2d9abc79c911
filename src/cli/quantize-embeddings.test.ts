// `trainfer quantize --embeddings`: row-wise int8 (fp16 or fp32 scales) and fp16 tables of trainfer's
// recommenders, written verified, smaller by the bytes the report states, ranking as before within a
// floor; the quality effect measured with --data; bad flag combinations are one-line errors.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModel } from '../onnx/model-io.js';
import { Recommender } from '../serve/retrieval.js';
import { runCtrJob } from '../train/ctr-job.js';
import { runRetrievalJob } from '../train/recsys-job.js';
import { runCli } from './test-run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'trainfer-quantize-tables-'));
const data = 'synthetic:users=400,items=300,interactions=10,seed=5';
const tt = join(dir, 'tt.onnx');
const dlrm = join(dir, 'dlrm.onnx');

before(async () => {
  await runRetrievalJob({ model: 'two-tower', data, out: tt, epochs: 2, progress: 'none', threads: 1, topK: 20 });
  await runCtrJob({ data, out: dlrm, epochs: 1, progress: 'none', threads: 1, batchSize: 256 });
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('quantize --embeddings int8 writes a verified model 3.88× smaller in its tables (fp16 scales) that ranks as fp32 does', async () => {
  const out = join(dir, 'tt-int8.onnx');
  const r = await runCli(['quantize', tt, '--out', out, '--embeddings', 'int8', '--data', data, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { scale: string; tables: { name: string; rows: number; dim: number; bytesBefore: number; bytesAfter: number }[]; tableBytes: { ratio: number; before: number; after: number }; fileBytes: { before: number; after: number }; quality: { metric: string; before: number; after: number; relative: number }[] };
  assert.equal(j.scale, 'fp16');
  const wide = j.tables.filter((t) => t.dim === 64);
  assert.ok(wide.length >= 2);
  for (const t of wide) assert.equal(t.bytesAfter, t.rows * (64 + 2), `${t.name}: 64 int8 + one fp16 scale per row`);
  assert.ok(j.tableBytes.ratio > 3.8, `tables ${j.tableBytes.ratio}×`);
  assert.equal(j.fileBytes.after, statSync(out).size);
  const saved = j.tables.reduce((n, t) => n + t.bytesBefore - t.bytesAfter, 0);
  assert.ok(j.fileBytes.before - j.fileBytes.after >= saved * 0.95, `the file shrinks by the tables' savings: ${j.fileBytes.before} → ${j.fileBytes.after}, ${saved}`);
  const recall = j.quality.find((q) => q.metric === 'recall@10')!;
  assert.ok(recall.before > 0.05 && Math.abs(recall.relative) < 0.05, `recall@10 ${recall.before} → ${recall.after}`);
  // The written model serves: same top-10 as fp32 for most items.
  const [a, b] = [await Recommender.load(readModel(tt)), await Recommender.load(readModel(out))];
  try {
    const users = [0, 1, 2, 3, 4];
    const [x, y] = [await a.recommend({ users, k: 10 }), await b.recommend({ users, k: 10 })];
    users.forEach((u) => assert.ok(y[u]!.items.filter((i) => x[u]!.items.includes(i)).length >= 8, `user ${u}`));
  } finally {
    await a.close();
    await b.close();
  }
  // An fp32 scale: 4 bytes a row; the text report names the scale and the ratio.
  const out32 = join(dir, 'tt-int8-s32.onnx');
  const t = await runCli(['quantize', tt, '--out', out32, '--embeddings', 'int8', '--scale', 'fp32']);
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, /one fp32 scale per row/);
  assert.match(t.stdout, /all tables .* 3\.76×/);
});

test('quantize --embeddings fp16 halves the tables; a DLRM reports AUC before and after; bad flags are one-line errors', async () => {
  const out = join(dir, 'tt-fp16.onnx');
  const r = await runCli(['quantize', tt, '--out', out, '--embeddings', 'fp16', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { tableBytes: { ratio: number } }).tableBytes.ratio, 2);
  const d = await runCli(['quantize', dlrm, '--out', join(dir, 'dlrm-int8.onnx'), '--embeddings', 'int8', '--data', data]);
  assert.equal(d.code, 0, d.stderr);
  assert.match(d.stdout, /auc +0\.\d{4} → 0\.\d{4}/);
  const bad = join(dir, 'never.onnx');
  for (const [argv, re] of [
    [['--embeddings', 'int4'], /--embeddings must be int8 or fp16/],
    [['--embeddings', 'int8', '--mode', 'dynamic'], /drop --mode/],
    [['--embeddings', 'fp16', '--scale', 'fp32'], /--scale applies to --embeddings int8 only/],
    [['--scale', 'fp16'], /--scale applies to --embeddings int8 only/],
  ] as [string[], RegExp][]) {
    const e = await runCli(['quantize', tt, '--out', bad, ...argv]);
    assert.equal(e.code, 1);
    assert.match(e.stderr, re);
    assert.equal(e.stderr.trim().split('\n').length, 1);
  }
  assert.equal(existsSync(bad), false);
});
