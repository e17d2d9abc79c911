// Resuming correctly: with early stopping a run interrupted before or after its first validation ends
// with the same best weights, epochs and exported bytes as a straight run; the fingerprint refuses a
// resume whose settings or data differ, naming the field; a checkpoint directory holding another run is
// refused without --resume/--overwrite; a streamed run resumes mid-epoch exactly.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { modelToProto } from '../onnx/ir-proto.js';
import { encodeModelProto } from '../onnx/model-io.js';
import { Rng } from '../util/rng.js';
import { parseCsv } from '../data/csv.js';
import { openStream } from '../data/stream.js';
import { type Table, splitRows } from '../data/table.js';
import { Linear, ReLU } from '../nn/layers-dense.js';
import { Network } from '../nn/network.js';
import { type FitOptions, fit } from './fit.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'trainfer-resume-'));

/** Noisy 3-class blobs in 4-D: validation accuracy plateaus within a few epochs. */
function blobsCsv(n: number, seed: number): string {
  const rng = Rng.fromSeed(seed);
  const rows = Array.from({ length: n }, (_, i) => {
    const c = i % 3;
    return [...[0, 1, 2, 3].map((k) => ((k === c ? 1.2 : 0) + rng.normal()).toFixed(3)), c].join(',');
  });
  return `a,b,c,d,label\n${rows.join('\n')}\n`;
}

const data = parseCsv(blobsCsv(1200, 1), 'blobs.csv');
const { rest: train, held: validation } = splitRows(data, 0.2, Rng.fromSeed(2), 'blobs.csv (validation)');
const net = () => new Network({ inputShape: [4], seed: 7, layers: [new Linear({ outFeatures: 32 }), new ReLU(), new Linear({ outFeatures: 3 })] });
const common = (): Omit<FitOptions, 'model'> => ({ train, validation, epochs: 12, batchSize: 40, lr: 0.2, seed: 3, threads: 1, progress: 'none', earlyStopping: { patience: 1 }, monitor: 'val_loss' });

test('early stopping + resume: interrupted before or after the first validation, the run ends with the same best weights and file', async () => {
  const m0 = net();
  const straight = await fit({ model: m0, ...common() });
  assert.equal(straight.stopReason, 'early-stopping', 'the case must stop early to test anything');
  assert.ok(straight.bestEpoch < straight.epochs, `best epoch ${straight.bestEpoch} of ${straight.epochs}`);
  const fileOf = (n: Network) => encodeModelProto(modelToProto(n.inferenceGraph({})));
  const want = fileOf(m0);
  const perEpoch = Math.floor(train.count / 40);
  // Before the first validation (mid epoch 1) and after it (mid epoch 2, with a best epoch already saved).
  for (const stopAt of [5, perEpoch + 5]) {
    const dir = tmp();
    const a = await fit({ model: net(), ...common(), checkpointDir: dir, maxSteps: stopAt });
    assert.equal(a.stopReason, 'max-steps');
    const m = net();
    const b = await fit({ model: m, ...common(), checkpointDir: dir, resume: true });
    assert.equal(b.stopReason, 'early-stopping', `stop at ${stopAt}`);
    assert.equal(b.bestEpoch, straight.bestEpoch);
    assert.deepEqual(b.history.map((h) => [h.epoch, h.loss, h.valLoss]), straight.history.map((h) => [h.epoch, h.loss, h.valLoss]));
    assert.deepEqual(fileOf(m), want, `exported bytes after an interruption at step ${stopAt}`);
    // Resuming the finished run changes nothing.
    const again = net();
    const c = await fit({ model: again, ...common(), checkpointDir: dir, resume: true });
    assert.equal(c.stopReason, 'early-stopping');
    assert.deepEqual(fileOf(again), want);
  }
});

test('a resume with different settings or data is refused, naming the field', async () => {
  const dir = tmp();
  const base = { ...common(), earlyStopping: undefined, epochs: 2, checkpointDir: dir };
  await fit({ model: net(), ...base, maxSteps: 3 });
  const refuse = async (o: Partial<FitOptions>, re: RegExp) => assert.rejects(fit({ model: net(), ...base, resume: true, ...o }), re);
  await refuse({ clipGradNorm: 1 }, /checkpoint was made with clipGradNorm null, this run has 1/);
  await refuse({ loss: { type: 'cross-entropy', labelSmoothing: 0.1 } }, /checkpoint was made with losses .*"labelSmoothing":0\.1/);
  await refuse({ earlyStopping: { patience: 3 } }, /checkpoint was made with earlyStopping null, this run has \{"patience":3\}/);
  await refuse({ monitor: 'val_accuracy' }, /checkpoint was made with monitor "val_loss", this run has "val_accuracy"/);
  // Same shapes and row count, one value changed: the content hash tells them apart.
  const changed: Table = { ...train, columns: train.columns.map((c) => (c.name === 'a' ? { ...c, data: (c.data as Float32Array).map((v, i) => (i === 0 ? v + 1 : v)) } : c)) };
  await refuse({ train: changed }, /checkpoint was made on different training data/);
  // And the same settings resume.
  const ok = await fit({ model: net(), ...base, resume: true });
  assert.equal(ok.steps, 2 * Math.floor(train.count / 40));
});

test('a checkpoint directory holding another run is refused without --resume; --overwrite starts over', async () => {
  const dir = tmp();
  const log = join(dir, 'metrics.jsonl');
  const base = { ...common(), earlyStopping: undefined, epochs: 1, checkpointDir: dir, metricsLog: log };
  await fit({ model: net(), ...base, maxSteps: 4 });
  await assert.rejects(fit({ model: net(), ...base }), /holds an unfinished run \(stopped at step 4, epoch 1\); continue it with --resume, or pass --overwrite to start over/);
  writeFileSync(log, '{"old": true}\n');
  const fresh = await fit({ model: net(), ...base, overwrite: true });
  assert.equal(fresh.steps, Math.floor(train.count / 40));
  assert.ok(!readFileSync(log, 'utf8').includes('"old"'), 'the old run\'s metrics are gone');
  await assert.rejects(fit({ model: net(), ...base }), /holds a finished run/);
});

test('a streamed training set resumes mid-epoch exactly (its shard, offset and shuffle buffer travel in the checkpoint)', async () => {
  const file = join(tmp(), 'rows.csv');
  writeFileSync(file, blobsCsv(1500, 4));
  const open = () => openStream({ path: file, seed: 1, shardBytes: 4000, shuffleBuffer: 128 });
  const opts = (s: ReturnType<typeof open>): Omit<FitOptions, 'model'> => ({ train: s.train, epochs: 2, batchSize: 32, lr: 0.1, seed: 5, threads: 1, progress: 'none' });
  const straight = await fit({ model: net(), ...opts(open()) });
  const dir = tmp();
  await fit({ model: net(), ...opts(open()), checkpointDir: dir, maxSteps: 45 });
  const resumed = await fit({ model: net(), ...opts(open()), checkpointDir: dir, resume: true });
  assert.equal(resumed.steps, straight.steps);
  for (const [k, t] of straight.weights) assert.deepEqual(resumed.weights.get(k)!.data, t.data, k);
});
