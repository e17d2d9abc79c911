// The trainer end to end on real MNIST subsets (fixed seeds, one thread): an accuracy floor, a resume
// that continues bit for bit, an export that matches the training graph's forward pass, and a clear
// stop on a diverging loss.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModel, writeModel } from '../onnx/model-io.js';
import { Tensor } from '../onnx/tensor.js';
import { Session } from '../runtime/session.js';
import { loadTable } from '../data/load.js';
import { getColumn, headRows as take } from '../data/table.js';
import { BatchNorm } from '../nn/layers-conv.js';
import { Dropout, Flatten, Linear, Normalize, ReLU } from '../nn/layers-dense.js';
import { Network } from '../nn/network.js';
import { buildPreset } from '../nn/presets.js';
import { evaluate } from './evaluate.js';
import { fit } from './fit.js';

const mnist = loadTable({ source: 'mnist' });
const testPixels = getColumn(mnist.test, 'pixels').data as Uint8Array;
const train5k = take(mnist.train, 5000);
const test2k = take(mnist.test, 2000);
const tmp = () => mkdtempSync(join(tmpdir(), 'trainfer-fit-'));

test('mlp on 5k MNIST images reaches ≥ 90% test accuracy (seeded)', async () => {
  const net = buildPreset({ spec: 'mlp:64', inputShape: [1, 28, 28], numClasses: 10, normalize: { mean: [0.1307], std: [0.3081] }, seed: 1 });
  const log = join(tmp(), 'metrics.jsonl');
  const r = await fit({ model: net, train: train5k, validation: take(mnist.test, 500), epochs: 2, batchSize: 64, lr: 0.1, schedule: { type: 'onecycle' }, seed: 1, threads: 1, progress: 'none', metricsLog: log, logEvery: 20, trackGradNorm: true });
  assert.equal(r.steps, 2 * Math.floor(5000 / 64));
  assert.equal(r.history.length, 2);
  assert.ok(r.history[1]!.loss < r.history[0]!.loss);
  const ev = await evaluate({ model: net.inferenceGraph({}), data: test2k, threads: 1 });
  assert.ok(ev.accuracy >= 0.9, `accuracy ${ev.accuracy}`);
  const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; valAccuracy?: number; gradNorm?: number });
  assert.ok(lines.filter((l) => l.type === 'step').every((l) => l.gradNorm! > 0));
  assert.equal(lines.filter((l) => l.type === 'epoch').length, 2);
  assert.ok(lines.filter((l) => l.type === 'step').length >= 7);
  assert.ok(lines.at(-1)!.valAccuracy! > 0.85);
});

function resumable(): Network {
  // BatchNorm (buffers), Dropout (random inputs) and Adam (optimizer state + step count): everything a resume must carry.
  return new Network({
    inputShape: [1, 28, 28],
    seed: 3,
    layers: [new Normalize({ mean: [0.13], std: [0.31] }), new Flatten(), new Linear({ outFeatures: 32 }), new BatchNorm(), new ReLU(), new Dropout({ rate: 0.2 }), new Linear({ outFeatures: 10 })],
  });
}

test('N steps straight = N/2 steps, kill, --resume, N/2 steps: identical parameters bit for bit', async () => {
  const data = take(mnist.train, 1000);
  const common = { train: data, epochs: 3, batchSize: 50, optimizer: { type: 'adam' as const }, lr: 0.003, schedule: { type: 'cosine' as const, warmup: 5 }, seed: 11, threads: 1, progress: 'none' as const };
  const straight = await fit({ model: resumable(), ...common });
  assert.equal(straight.steps, 60);
  const dir = tmp();
  const first = await fit({ model: resumable(), ...common, checkpointDir: dir, maxSteps: 30 });
  assert.equal(first.stopReason, 'max-steps');
  assert.equal(first.steps, 30);
  const second = await fit({ model: resumable(), ...common, checkpointDir: dir, resume: true });
  assert.equal(second.steps, 60);
  assert.equal(second.history.length, 3);
  // Epoch metrics too: the interrupted epoch's sums travel in the checkpoint.
  assert.deepEqual(second.history.map((h) => [h.step, h.loss, h.accuracy]), straight.history.map((h) => [h.step, h.loss, h.accuracy]));
  assert.deepEqual([...straight.weights.keys()].sort(), [...second.weights.keys()].sort());
  for (const [k, t] of straight.weights) {
    const a = new Uint32Array((t.data as Float32Array).slice().buffer);
    const b = new Uint32Array((second.weights.get(k)!.data as Float32Array).slice().buffer);
    assert.deepEqual(b, a, `${k} differs after resume`);
  }
  // A different configuration refuses to resume.
  await assert.rejects(fit({ model: resumable(), ...common, batchSize: 25, checkpointDir: dir, resume: true }), /checkpoint was made with batchSize 50, this run has 25/);
});

test('exported .onnx: self-contained, dynamic batch, raw [0,1] pixels, matches the training forward pass', async () => {
  const net = buildPreset({ spec: 'mlp:32', inputShape: [1, 28, 28], numClasses: 10, normalize: { mean: [0.1307], std: [0.3081] }, seed: 2 });
  const r = await fit({ model: net, train: take(mnist.train, 2000), epochs: 3, batchSize: 50, lr: 0.1, schedule: { type: 'onecycle' }, seed: 2, threads: 1, progress: 'none' });
  const file = join(tmp(), 'model.onnx');
  writeModel(file, net.inferenceGraph({ weights: r.weights }));
  const model = readModel(file);
  assert.deepEqual(model.graph.inputs.map((i) => [i.name, i.type?.shape]), [['pixels', ['batch', 1, 28, 28]]]);
  assert.equal(model.graph.outputs[0]!.name, 'logits');
  const session = await Session.create({ path: file }, { intraOpThreads: 1 });
  const fwd = net.forwardGraph({ training: true });
  fwd.g.output(fwd.heads[0]!.value, 'out');
  const trainSession = await Session.create({ model: fwd.g.toModel() }, { intraOpThreads: 1 });
  for (const n of [1, 7]) {
    const x = new Tensor('float32', [n, 1, 28, 28], new Float32Array(n * 784));
    for (let i = 0; i < n; i++) for (let k = 0; k < 784; k++) (x.data as Float32Array)[i * 784 + k] = testPixels[i * 784 + k]! / 255;
    const a = (await session.run({ pixels: x })).logits!.data as Float32Array;
    const b = (await trainSession.run({ pixels: x })).out!.data as Float32Array;
    assert.equal(a.length, n * 10);
    a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) < 1e-5, `logit ${i}: ${v} vs ${b[i]}`));
  }
  const ev = await evaluate({ model, data: test2k, threads: 1 });
  assert.ok(ev.accuracy > 0.85, `exported accuracy ${ev.accuracy}`);
  await session.release();
  await trainSession.release();
});

test('a diverging run stops with the step and a lower-learning-rate hint', async () => {
  const net = buildPreset({ spec: 'mlp:32', inputShape: [1, 28, 28], numClasses: 10, seed: 1 });
  const dir = tmp();
  await assert.rejects(
    fit({ model: net, train: take(mnist.train, 2000), epochs: 1, batchSize: 100, lr: 1e9, optimizer: { type: 'sgd' }, threads: 1, progress: 'none', checkpointDir: dir }),
    /loss became (NaN|-?Infinity) at step \d+ \(epoch 1, lr 1\.00e\+9\); training diverged — try a lower learning rate, e\.g\. --lr 1\.0e\+8/,
  );
});

test('early stopping ends the run after `patience` epochs without improvement and keeps the best weights', async () => {
  const net = buildPreset({ spec: 'mlp:16', inputShape: [1, 28, 28], numClasses: 10, seed: 5 });
  const seen: number[] = [];
  const r = await fit({
    model: net, train: take(mnist.train, 1000), validation: take(mnist.test, 200), epochs: 6, batchSize: 50, seed: 1, threads: 1, progress: 'none',
    // minDelta 1: only the first epoch counts as an improvement.
    earlyStopping: { patience: 2, minDelta: 1 },
    onEpochEnd: (m) => void seen.push(m.epoch),
  });
  assert.deepEqual(seen, [1, 2, 3]);
  assert.equal(r.stopReason, 'early-stopping');
  assert.equal(r.epochs, 3);
  // The kept weights are epoch 1's: rerun one epoch with the same seed and compare.
  const again = buildPreset({ spec: 'mlp:16', inputShape: [1, 28, 28], numClasses: 10, seed: 5 });
  const one = await fit({ model: again, train: take(mnist.train, 1000), epochs: 6, batchSize: 50, seed: 1, threads: 1, progress: 'none', maxSteps: 20 });
  for (const [k, t] of r.weights) assert.deepEqual(t.data, one.weights.get(k)!.data, `${k} is epoch 1's`);
});

test('an interrupt (AbortSignal, as Ctrl-C sends) checkpoints the step it stopped at; --resume finishes identically', async () => {
  const data = take(mnist.train, 1000);
  const common = { train: data, epochs: 1, batchSize: 50, seed: 4, threads: 1 };
  const straight = await fit({ model: resumable(), ...common, progress: 'none' });
  const dir = tmp();
  const ac = new AbortController();
  const reporter = { epochStart() {}, epochEnd() {}, message() {}, stop() {}, step: (batch: number) => void (batch === 7 && ac.abort()) };
  await assert.rejects(fit({ model: resumable(), ...common, progress: reporter, checkpointDir: dir, signal: ac.signal }), /interrupted at step 7 \(epoch 1\); checkpoint written to .*; continue with --resume/);
  const resumed = await fit({ model: resumable(), ...common, progress: 'none', checkpointDir: dir, resume: true });
  assert.equal(resumed.steps, 20);
  for (const [k, t] of straight.weights) assert.deepEqual(resumed.weights.get(k)!.data, t.data, k);
});
