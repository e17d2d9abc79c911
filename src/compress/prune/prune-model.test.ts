// pruneModel end to end on a small CSV task: gradual magnitude pruning while fine-tuning (masks in the step
// graph: exact sparsity per tensor, pruned weights exactly 0 through SGD momentum and Adam), structured
// pruning + fine-tuning (hidden layers halved, accuracy kept), one-shot without data, the per-layer
// report's counts and FLOPs, and bad input (one line, no output file, input unchanged).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModel } from '../../onnx/model-io.js';
import { Rng } from '../../util/rng.js';
import { runTrainJob } from '../../train/job.js';
import { MagnitudePruning } from './gradual.js';
import { countZeros, prunableWeights } from './magnitude.js';
import { pruneModel } from './prune-model.js';
import { isPruningStep, resolveSchedule, sparsityAt } from './schedule.js';

const dir = mkdtempSync(join(tmpdir(), 'trainfer-prune-'));
const csv = join(dir, 'blobs.csv');
const base = join(dir, 'mlp.onnx');
const hash = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

/** Three classes of 8-D Gaussian blobs. */
function blobs(path: string, n: number, seed: number): void {
  const rng = Rng.fromSeed(seed);
  const rows = [`${Array.from({ length: 8 }, (_, k) => `f${k}`).join(',')},label`];
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    const f = Array.from({ length: 8 }, (_, k) => (k % 3 === c ? 2 : 0) + rng.normal() * 0.8);
    rows.push(`${f.map((v) => v.toFixed(3)).join(',')},${c}`);
  }
  writeFileSync(path, `${rows.join('\n')}\n`);
}

const ready = (async () => {
  blobs(csv, 1500, 1);
  await runTrainJob({ model: 'mlp:48,24', data: csv, out: base, epochs: 4, seed: 1, progress: 'none', threads: 1, optimizer: 'adam', lr: 0.01 });
})();

test('Zhu & Gupta schedule: s_t = s_f + (s_i − s_f)(1 − (t − t0)/(nΔt))³ at t0 + kΔt', () => {
  const s = resolveSchedule({ kind: 'gradual', final: 0.9, initial: 0.1, begin: 11, end: 111, frequency: 10, totalSteps: 150 });
  assert.equal(sparsityAt(s, 11), 0.1);
  assert.ok(Math.abs(sparsityAt(s, 61) - (0.9 + (0.1 - 0.9) * 0.5 ** 3)) < 1e-12);
  assert.equal(sparsityAt(s, 111), 0.9);
  assert.equal(sparsityAt(s, 140), 0.9);
  assert.deepEqual([10, 11, 12, 21, 111, 121].map((t) => isPruningStep(s, t)), [false, true, false, true, true, false]);
  const d = resolveSchedule({ kind: 'gradual', final: 0.5, totalSteps: 400 });
  assert.deepEqual([d.begin, d.end, d.frequency], [1, 300, 9]);
});

test('gradual unstructured pruning while fine-tuning: exact sparsity per tensor, zeros stay zero, accuracy kept', async () => {
  await ready;
  const before = hash(base);
  const out = join(dir, 'mlp-p80.onnx');
  const r = await pruneModel({ input: base, out, data: csv, sparsity: 0.8, epochs: 3, seed: 1, threads: 1 });
  assert.equal(hash(base), before, 'the input is never modified');
  assert.equal(r.kind, 'unstructured');
  assert.equal(r.schedule?.kind, 'gradual');
  const m = readModel(out);
  for (const w of prunableWeights(m)) {
    const t = m.graph.initializers.get(w.name)!;
    const { zeros, total } = countZeros(t);
    assert.equal(zeros, Math.round(0.8 * total), `${w.name}: ${zeros} of ${total} zero`);
  }
  for (const l of r.report.layers) {
    assert.equal(l.kept, l.total - Math.round(0.8 * l.total));
    assert.ok(Math.abs(l.flopsAfter - l.flopsBefore * (l.kept / l.total)) < 1e-6 * l.flopsBefore, `${l.tensor}: sparse FLOPs`);
  }
  assert.equal(r.report.flops.executed, r.report.flops.before, 'dense kernels still run every multiply-add');
  assert.ok(r.accuracy && r.accuracy.after >= r.accuracy.before - 0.03, `accuracy ${JSON.stringify(r.accuracy)}`);
  assert.ok(r.accuracy.before > 0.85);
});

test('global magnitude pruning under Adam: exactly 60% of all prunable weights zero, layers at different sparsities', async () => {
  await ready;
  const out = join(dir, 'mlp-adam.onnx');
  const r = await pruneModel({ input: base, out, data: csv, sparsity: 0.6, scope: 'global', epochs: 2, optimizer: 'adam', lr: 0.002, seed: 2, threads: 1 });
  const m = readModel(out);
  const names = prunableWeights(m).map((w) => w.name);
  const total = names.reduce((s, n) => s + m.graph.initializers.get(n)!.size, 0);
  const zeros = names.reduce((s, n) => s + countZeros(m.graph.initializers.get(n)!).zeros, 0);
  assert.equal(zeros, Math.round(0.6 * total), 'global: 60% of all prunable weights');
  assert.ok(new Set(r.report.layers.map((l) => l.sparsity.toFixed(3))).size > 1, 'global: layers end at different sparsities');
  // The extension's own record: targets rise to the final sparsity.
  const ext = new MagnitudePruning({ params: names, sparsity: 0.6 });
  assert.deepEqual(ext.stepOptions(), { paramMasks: names });
});

test('structured pruning + fine-tuning: hidden layers halved, the file smaller, accuracy kept', async () => {
  await ready;
  const out = join(dir, 'mlp-half.onnx');
  const r = await pruneModel({ input: base, out, data: csv, sparsity: 0.5, structured: true, epochs: 2, seed: 1, threads: 1 });
  const m = readModel(out);
  const dims = prunableWeights(m).map((w) => m.graph.initializers.get(w.name)!.dims.join('x'));
  assert.deepEqual(dims, ['8x24', '24x12', '12x3']);
  assert.equal(r.groups?.filter((g) => g.after < g.before).length, 2);
  assert.ok(r.sizes.output < r.sizes.input * 0.6, `${r.sizes.output} vs ${r.sizes.input}`);
  assert.ok(r.report.flops.after < r.report.flops.before * 0.6);
  assert.equal(r.report.flops.after, r.report.flops.executed, 'structured: what runs is what is left');
  assert.ok(r.accuracy && r.accuracy.after >= r.accuracy.before - 0.03, JSON.stringify(r.accuracy));
});

test('one-shot pruning without data, and bad input: one line, no output, input unchanged', async () => {
  await ready;
  const out = join(dir, 'oneshot.onnx');
  const r = await pruneModel({ input: base, out, sparsity: 0.5 });
  assert.equal(r.schedule?.kind, 'oneshot');
  assert.equal(r.accuracy, undefined);
  assert.ok(Math.abs(r.report.weights.sparsity - 0.5) < 0.01);
  const bad = join(dir, 'bad.onnx');
  await assert.rejects(pruneModel({ input: base, out: bad, sparsity: 1 }), /^TrainferError: --sparsity must be in \[0, 1\), got 1$/);
  await assert.rejects(pruneModel({ input: base, out: bad, sparsity: -0.1 }), /--sparsity must be in \[0, 1\)/);
  await assert.rejects(pruneModel({ input: base, out: base, sparsity: 0.5 }), /--out must differ from the input/);
  await assert.rejects(pruneModel({ input: base, out: bad, sparsity: 0.5, schedule: 'gradual' }), /--schedule gradual prunes while fine-tuning: it needs --data/);
  await assert.rejects(pruneModel({ input: join(dir, 'missing.onnx'), out: bad, sparsity: 0.5 }), /missing\.onnx/);
  assert.ok(!existsSync(bad));
});
