// Compressing a text classifier end to end on a small fixed-seed text task (a trained transformer with its
// tokenizer.json): the attention fusion computes what the standard-op graph computes (onnxruntime, with
// padding); dynamic int8 (QAttention + int8 MatMuls + int8 embedding rows), static int8 calibrated on
// tokenized text and fp16 agree with fp32 and keep accuracy, each written with its tokenizer beside; a
// bag-of-embeddings and a smaller transformer distilled from the teacher's cached soft labels beat a floor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModel } from '../onnx/model-io.js';
import { fuseAttention } from '../onnx/fuse-attention.js';
import { Session } from '../runtime/session.js';
import { Rng } from '../util/rng.js';
import { runTrainJob } from '../train/job.js';
import { quantizeFile } from './quantize/pipeline.js';
import { textBatches, textModel, textTable } from './quantize/text-data.js';
import { distillModel } from './distill/distill.js';

const dir = mkdtempSync(join(tmpdir(), 'trainfer-text-compress-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const csv = join(dir, 'mail.csv');
const teacher = join(dir, 'teacher', 'model.onnx');

/** Texts of 6–24 words: class 1 holds one of a few words only with another (a pair, not a single word). */
function mail(path: string, n: number, seed: number): void {
  const rng = Rng.fromSeed(seed);
  const common = 'the a of to and in is it for on with as at by this that from or be are was we you they have not'.split(' ');
  const topic = 'offer money meeting report prize schedule account team free project invoice lunch'.split(' ');
  const rows = ['text,label'];
  for (let i = 0; i < n; i++) {
    const len = 6 + rng.int(19);
    const words = Array.from({ length: len }, () => common[rng.int(common.length)]!);
    const a = topic[rng.int(topic.length)]!;
    const b = topic[rng.int(topic.length)]!;
    words.splice(rng.int(len), 0, a);
    words.splice(rng.int(len), 0, b);
    const label = Number(['offer', 'prize', 'free', 'money'].includes(a) && ['offer', 'prize', 'free', 'money', 'account', 'invoice'].includes(b));
    rows.push(`"${words.join(' ')}",${label}`);
  }
  writeFileSync(path, `${rows.join('\n')}\n`);
}

const ready = (async () => {
  mail(csv, 1200, 7);
  return runTrainJob({ model: 'transformer:1,32,2', data: csv, out: teacher, maxLength: 32, vocabSize: 200, epochs: 6, seed: 1, progress: 'none', threads: 1, lr: 0.003 });
})();

async function logits(file: string, feeds: Record<string, import('../onnx/tensor.js').Tensor>): Promise<Float32Array> {
  const s = await Session.create({ path: file }, { intraOpThreads: 1 });
  try {
    return (await s.run(feeds))['logits']!.data as Float32Array;
  } finally {
    await s.release();
  }
}

test('attention fusion: one com.microsoft.Attention per block, the same logits with padding', async () => {
  const r = await ready;
  assert.ok(r.testAccuracy >= 0.9, `teacher ${r.testAccuracy}`);
  const model = readModel(teacher);
  const [feeds] = await textBatches({ model, text: textModel(model, teacher)!, table: textTable(csv, 'test', 64), batchSize: 64 });
  // rows of 6–26 words padded to 32 tokens: the mask matters
  assert.ok([...(feeds!.attention_mask!.data as BigInt64Array)].some((v) => v === 0n));
  const fused = readModel(teacher);
  const f = fuseAttention(fused);
  assert.equal(f.fused.length, 1);
  assert.deepEqual({ heads: f.fused[0]!.heads, hidden: f.fused[0]!.hidden }, { heads: 2, hidden: 32 });
  assert.equal(fused.graph.nodes.filter((n) => n.opType === 'Softmax').length, model.graph.nodes.filter((n) => n.opType === 'Softmax').length - 1);
  const file = join(dir, 'fused.onnx');
  const { writeModel } = await import('../onnx/model-io.js');
  writeModel(file, fused);
  const a = await logits(teacher, feeds!);
  const b = await logits(file, feeds!);
  let maxDiff = 0;
  for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
  assert.ok(maxDiff < 1e-4, `max |Δ| ${maxDiff}`);
});

test('dynamic int8, static int8 (calibrated on tokenized text) and fp16 of a text model: close to fp32, tokenizer beside', async () => {
  await ready;
  const floatBytes = statSync(teacher).size;
  const model = readModel(teacher);
  const [feeds] = await textBatches({ model, text: textModel(model, teacher)!, table: textTable(csv, 'test', 128), batchSize: 128 });
  const ref = await logits(teacher, feeds!);
  const cases = [
    { mode: 'dynamic', calib: undefined, maxDiff: 0.25, size: 0.45 },
    { mode: 'static', calib: csv, maxDiff: 0.5, size: 0.6 },
    { mode: 'fp16', calib: undefined, maxDiff: 0.01, size: 0.6 },
  ] as const;
  for (const c of cases) {
    const out = join(dir, c.mode, 'model.onnx');
    const r = await quantizeFile({ input: teacher, output: out, mode: c.mode, calib: c.calib, calibSize: 256, data: csv, evalSize: 300, threads: 1, budgetMs: 100 });
    assert.ok(existsSync(join(dir, c.mode, 'tokenizer.json')), `${c.mode}: tokenizer beside`);
    const acc = r.text!.accuracy!;
    assert.ok(acc.quantized >= acc.float - 0.02, `${c.mode}: accuracy ${acc.float} → ${acc.quantized}`);
    assert.ok(r.comparison!.agreement.top1 >= 0.97, `${c.mode}: top-1 agreement ${r.comparison!.agreement.top1}`);
    const q = await logits(out, feeds!);
    let maxDiff = 0;
    for (let i = 0; i < q.length; i++) maxDiff = Math.max(maxDiff, Math.abs(q[i]! - ref[i]!));
    assert.ok(maxDiff < c.maxDiff, `${c.mode}: max |Δ logits| ${maxDiff}`);
    assert.ok(statSync(out).size < c.size * floatBytes, `${c.mode}: ${statSync(out).size} of ${floatBytes} bytes`);
    if (c.mode === 'dynamic') {
      const ops = readModel(out).graph.nodes.map((n) => n.opType);
      assert.ok(ops.includes('QAttention') && ops.includes('MatMulInteger'), ops.join(' '));
    }
  }
});

test('distillation of the text teacher: bag-of-embeddings and 1-layer students from cached soft labels beat a floor', async () => {
  await ready;
  for (const student of ['transformer:0,32,1', 'transformer:1,16,2']) {
    const out = join(dir, student.replace(/[:,]/g, '_'), 'model.onnx');
    const r = await distillModel({ teacher, student, data: csv, out, epochs: 6, seed: 2, threads: 1, lr: 0.003, temperature: 2, alpha: 0.5 });
    assert.ok(existsSync(join(dir, student.replace(/[:,]/g, '_'), 'tokenizer.json')), `${student}: tokenizer beside`);
    assert.ok(r.teacherSeconds > 0);
    assert.ok(r.student.testAccuracy >= 0.85, `${student}: ${r.student.testAccuracy} (teacher ${r.teacher.testAccuracy})`);
    assert.ok(r.student.parameters < r.teacher.parameters, `${student}: ${r.student.parameters} vs ${r.teacher.parameters} parameters`);
  }
  await assert.rejects(distillModel({ teacher, student: 'mlp:8', data: csv, out: join(dir, 'bad', 'model.onnx') }), /a text teacher .* distils into a transformer\[:L,D,H\] preset/);
  assert.ok(!existsSync(join(dir, 'bad', 'model.onnx')));
});

test('a teacher trained on the email preparation: its student records the same preparation, so it is scored and served as trained', async () => {
  await ready;
  const t = join(dir, 'prepared-teacher', 'model.onnx');
  await runTrainJob({ model: 'transformer:0,16,1', data: csv, out: t, maxLength: 32, vocabSize: 200, epochs: 2, seed: 1, progress: 'none', threads: 1, lr: 0.003, textPreprocess: 'email' });
  assert.equal(textModel(readModel(t), t)?.preprocess, 'email');
  const out = join(dir, 'prepared-student', 'model.onnx');
  const r = await distillModel({ teacher: t, student: 'transformer:0,16,1', data: csv, out, epochs: 2, seed: 2, threads: 1, lr: 0.003 });
  assert.equal(textModel(readModel(out), out)?.preprocess, 'email');
  assert.ok(r.student.testAccuracy >= 0.8, `student ${r.student.testAccuracy} (teacher ${r.teacher.testAccuracy})`);
});
