// distillModel on a small CSV task: a student learns from a teacher's logits (cached as a column or computed
// alongside every batch — the same student either way), a teacher that ends in a Softmax is read before it,
// α = 0 is exactly training from scratch, and bad input (class-count mismatch, T, α) is one line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModel, writeModel } from '../../onnx/model-io.js';
import { Rng } from '../../util/rng.js';
import { runTrainJob } from '../../train/job.js';
import { withOutputs } from '../common/score.js';
import { distillModel } from './distill.js';

const dir = mkdtempSync(join(tmpdir(), 'trainfer-distill-'));
const csv = join(dir, 'blobs.csv');
const csv4 = join(dir, 'blobs4.csv');
const teacher = join(dir, 'teacher.onnx');

/** `classes` classes of 8-D Gaussian blobs with a nonlinear twist (a teacher has something to teach). */
function blobs(path: string, n: number, seed: number, classes: number): void {
  const rng = Rng.fromSeed(seed);
  const rows = [`${Array.from({ length: 8 }, (_, k) => `f${k}`).join(',')},label`];
  for (let i = 0; i < n; i++) {
    const c = i % classes;
    const f = Array.from({ length: 8 }, (_, k) => (k % classes === c ? 1.5 : 0) + rng.normal() * 0.9);
    f[7] = f[0]! * f[1]! + rng.normal() * 0.1;
    rows.push(`${f.map((v) => v.toFixed(3)).join(',')},${c}`);
  }
  writeFileSync(path, `${rows.join('\n')}\n`);
}

const ready = (async () => {
  blobs(csv, 1500, 1, 3);
  blobs(csv4, 400, 2, 4);
  await runTrainJob({ model: 'mlp:64,32', data: csv, out: teacher, epochs: 6, seed: 1, progress: 'none', threads: 1, optimizer: 'adam', lr: 0.005 });
})();

const common = { data: csv, epochs: 3, seed: 3, threads: 1, batchSize: 64 } as const;
const weightsOf = (f: string) => [...readModel(f).graph.initializers].filter(([, t]) => t.dtype === 'float32').map(([k, t]) => [k, Array.from(t.data as Float32Array)]);

test('a student distilled from cached teacher logits equals one distilled live, and learns the task', async () => {
  await ready;
  const cached = join(dir, 'cached.onnx');
  const live = join(dir, 'live.onnx');
  const a = await distillModel({ ...common, teacher, student: 'mlp:8', out: cached, temperature: 3, alpha: 0.8 });
  const b = await distillModel({ ...common, teacher, student: 'mlp:8', out: live, temperature: 3, alpha: 0.8, teacherMode: 'live' });
  assert.equal(a.teacherMode, 'cache');
  assert.ok(a.teacherSeconds > 0);
  assert.deepEqual(weightsOf(live), weightsOf(cached), 'the same teacher logits, the same student');
  assert.equal(a.student.testAccuracy, b.student.testAccuracy);
  assert.ok(a.teacher.testAccuracy > 0.8, `teacher ${a.teacher.testAccuracy}`);
  assert.ok(a.student.testAccuracy > 0.75, `student ${a.student.testAccuracy}`);
  assert.ok(a.student.parameters < a.teacher.parameters / 10);
  assert.equal(JSON.parse(readModel(cached).metadata.get('trainfer.distilled_from')!).temperature, 3);
});

test('a teacher whose only output is a Softmax is read before it (the same logits)', async () => {
  await ready;
  const soft = join(dir, 'softmax-teacher.onnx');
  const t = readModel(teacher);
  writeModel(soft, withOutputs(t, t.graph.outputs.filter((o) => o.name === 'probabilities')));
  assert.deepEqual(readModel(soft).graph.outputs.map((o) => o.name), ['probabilities']);
  const a = join(dir, 's1.onnx');
  const b = join(dir, 's2.onnx');
  await distillModel({ ...common, teacher, student: 'mlp:8', out: a, alpha: 1 });
  await distillModel({ ...common, teacher: soft, student: 'mlp:8', out: b, alpha: 1 });
  assert.deepEqual(weightsOf(b), weightsOf(a));
});

test('alpha 0 is exactly training the student from scratch with the same settings', async () => {
  await ready;
  const d = join(dir, 'alpha0.onnx');
  const s = join(dir, 'scratch.onnx');
  const r = await distillModel({ ...common, teacher, student: 'mlp:8', out: d, alpha: 0 });
  const j = await runTrainJob({ model: 'mlp:8', data: csv, out: s, epochs: 3, seed: 3, threads: 1, batchSize: 64, progress: 'none' });
  assert.deepEqual(weightsOf(d), weightsOf(s));
  assert.equal(r.student.testAccuracy, j.testAccuracy);
});

test('bad input: class counts that differ, temperature, alpha, missing files — one line, no output', async () => {
  await ready;
  const out = join(dir, 'bad.onnx');
  await assert.rejects(distillModel({ ...common, data: csv4, teacher, student: 'mlp:8', out }), /^TrainferError: distill: teacher .*teacher\.onnx has 3 classes but student mlp:8 has 4 \(on .*blobs4\.csv\); they must predict the same classes$/);
  await assert.rejects(distillModel({ ...common, teacher, student: 'mlp:8', out, temperature: 0 }), /--temperature must be a positive number, got 0/);
  await assert.rejects(distillModel({ ...common, teacher, student: 'mlp:8', out, alpha: 1.5 }), /--alpha must be in \[0, 1\], got 1.5/);
  await assert.rejects(distillModel({ ...common, teacher: join(dir, 'nope.onnx'), student: 'mlp:8', out }), /--teacher .*nope\.onnx: no such file/);
  await assert.rejects(distillModel({ ...common, teacher, student: 'resnet9', out }), /--student resnet9: expected a preset/);
  assert.ok(!existsSync(out));
});
