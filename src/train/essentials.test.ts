// Trainer essentials against references: parameter groups (the no-decay group's one-step update equals
// the undecayed one, the decayed group's differs by exactly lr·wd·W), freezing, gradient accumulation
// equal to the large-batch step (SGD momentum + clipping + weight decay, and Adam), weight EMA against a
// host-side float64 EMA, callbacks that stop, keep-best and top-k files, the plateau schedule,
// continuing a finished run (= a straight longer run, bit for bit), exact resume of each, and the LR
// range test.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Tensor } from '../onnx/tensor.js';
import { Rng } from '../util/rng.js';
import { parseCsv } from '../data/csv.js';
import { type Table, splitRows } from '../data/table.js';
import { Linear, ReLU } from '../nn/layers-dense.js';
import { LayerNorm } from '../nn/layers-conv.js';
import { Network } from '../nn/network.js';
import { loadCheckpoint } from './checkpoint.js';
import type { TrainingExtension } from './extension.js';
import { type FitOptions, fit } from './fit.js';
import { findLr } from './find-lr.js';
import { parseSchedule, plateauStep } from './schedule.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'trainfer-essentials-'));

function blobs(n: number, seed: number): Table {
  const rng = Rng.fromSeed(seed);
  const rows = Array.from({ length: n }, (_, i) => {
    const c = i % 3;
    return [...[0, 1, 2, 3].map((k) => ((k === c ? 1.5 : 0) + rng.normal()).toFixed(3)), c].join(',');
  });
  return parseCsv(`a,b,c,d,label\n${rows.join('\n')}\n`, 'blobs.csv');
}

const data = blobs(640, 1);
const { rest: train, held: validation } = splitRows(data, 0.25, Rng.fromSeed(2), 'blobs.csv (validation)');
const mlp = () => new Network({ inputShape: [4], seed: 7, layers: [new Linear({ outFeatures: 16 }), new ReLU(), new Linear({ outFeatures: 3 })] });
const base = (): Omit<FitOptions, 'model'> => ({ train, epochs: 2, batchSize: 16, lr: 0.1, seed: 3, threads: 1, progress: 'none' });

function maxDiff(a: ReadonlyMap<string, Tensor>, b: ReadonlyMap<string, Tensor>): number {
  let d = 0;
  for (const [k, t] of a) {
    const u = b.get(k)!.data as Float32Array;
    (t.data as Float32Array).forEach((x, i) => { d = Math.max(d, Math.abs(x - u[i]!)); });
  }
  return d;
}
const same = (a: ReadonlyMap<string, Tensor>, b: ReadonlyMap<string, Tensor>) => {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [k, t] of a) assert.deepEqual(t.data, b.get(k)!.data, k);
};

test('parameter groups: rank ≤ 1 parameters skip weight decay by default; --decay-all decays them by exactly lr·wd·W', async () => {
  const net = () => new Network({ inputShape: [4], seed: 7, layers: [new Linear({ outFeatures: 8 }), new LayerNorm(), new ReLU(), new Linear({ outFeatures: 3 })] });
  const one = (wd: number, decayAll?: boolean) => fit({ model: net(), ...base(), epochs: 1, batchSize: train.count, lr: 0.5, optimizer: { type: 'sgd', weightDecay: wd }, weightDecayAll: decayAll });
  const [groups, all, none] = [await one(0.2), await one(0.2, true), await one(0)];
  // One SGD step from the same state: the LayerNorm scale (initially 1) of the no-decay group equals the undecayed update…
  assert.deepEqual(groups.weights.get('ln1.scale')!.data, none.weights.get('ln1.scale')!.data);
  // …the decayed one is lower by lr·wd·1 = 0.1; matrices decay in both.
  const s = groups.weights.get('ln1.scale')!.data as Float32Array;
  (all.weights.get('ln1.scale')!.data as Float32Array).forEach((x, i) => assert.ok(Math.abs(s[i]! - x - 0.1) < 1e-6, `scale ${i}: ${s[i]} vs ${x}`));
  assert.deepEqual(groups.weights.get('linear1.weight')!.data, all.weights.get('linear1.weight')!.data);
  assert.notDeepEqual(groups.weights.get('linear1.weight')!.data, none.weights.get('linear1.weight')!.data);
});

test('freeze: matching parameters keep their initial values, the rest train; bad patterns are one-line errors', async () => {
  const m = mlp();
  const init = new Map([...m.trainingGraph({}).graph.initializers].map(([k, t]) => [k, t.clone()]));
  const r = await fit({ model: m, ...base(), epochs: 1, freeze: '^linear1\\.' });
  assert.deepEqual(r.frozen.sort(), ['linear1.bias', 'linear1.weight']);
  assert.deepEqual(r.weights.get('linear1.weight')!.data, init.get('linear1.weight')!.data);
  assert.deepEqual(r.weights.get('linear1.bias')!.data, init.get('linear1.bias')!.data);
  assert.notDeepEqual(r.weights.get('linear2.weight')!.data, init.get('linear2.weight')!.data);
  await assert.rejects(fit({ model: mlp(), ...base(), freeze: 'conv' }), /^TrainferError: --freeze conv: matches none of the 4 trainable parameters \(linear1\.weight, /);
  await assert.rejects(fit({ model: mlp(), ...base(), freeze: 'linear' }), /--freeze linear: freezes every trainable parameter/);
  await assert.rejects(fit({ model: mlp(), ...base(), freeze: '(' }), /--freeze '\(': not a valid regular expression/);
});

test('gradient accumulation: 4 × 16 equals one batch of 64 (SGD momentum + clipping + weight decay, Adam); resume mid-group is exact', async () => {
  for (const optimizer of [{ type: 'sgd' as const, momentum: 0.9, weightDecay: 0.01 }, { type: 'adam' as const }]) {
    const lr = optimizer.type === 'sgd' ? 0.1 : 0.01;
    const big = await fit({ model: mlp(), ...base(), batchSize: 64, optimizer, lr, clipGradNorm: 0.5, schedule: { type: 'cosine' } });
    const acc = await fit({ model: mlp(), ...base(), batchSize: 16, accumulate: 4, optimizer, lr, clipGradNorm: 0.5, schedule: { type: 'cosine' } });
    assert.equal(acc.steps, 4 * big.steps);
    const d = maxDiff(acc.weights, big.weights);
    assert.ok(d < 2e-6, `${optimizer.type}: max |Δw| ${d}`);
    // The last micro-batches that do not fill an optimizer step are dropped: same samples per epoch.
    assert.equal(acc.history[0]!.step, big.history[0]!.step * 4);
    // Interrupted after 6 micro-batches (half-way through an accumulation group), then resumed.
    const dir = tmp();
    await fit({ model: mlp(), ...base(), batchSize: 16, accumulate: 4, optimizer, lr, clipGradNorm: 0.5, schedule: { type: 'cosine' }, checkpointDir: dir, maxSteps: 6 });
    const resumed = await fit({ model: mlp(), ...base(), batchSize: 16, accumulate: 4, optimizer, lr, clipGradNorm: 0.5, schedule: { type: 'cosine' }, checkpointDir: dir, resume: true });
    same(resumed.weights, acc.weights);
  }
  await assert.rejects(fit({ model: mlp(), ...base(), accumulate: 0 }), /--accumulate must be a positive integer, got 0/);
  await assert.rejects(fit({ model: mlp(), ...base(), batchSize: 100, accumulate: 10 }), /fewer than one batch of 1000 \(10 × 100\)/);
});

test('weight EMA: the result holds the moving average of every step\'s weights (host float64 reference); exact resume', async () => {
  const decay = 0.9;
  let ema: Map<string, Float64Array> | undefined;
  const reference: TrainingExtension = {
    name: 'ema-reference',
    prepareGraph: ({ graph, params }) => {
      ema = new Map(params.map((p) => [p, Float64Array.from(graph.initializers.get(p)!.data as Float32Array)]));
    },
    afterStep: ({ weights }) => {
      for (const [k, t] of weights()) {
        const e = ema!.get(k);
        if (e) (t.data as Float32Array).forEach((x, i) => { e[i] = decay * e[i]! + (1 - decay) * x; });
      }
    },
  };
  const plain = await fit({ model: mlp(), ...base() });
  const r = await fit({ model: mlp(), ...base(), ema: { decay }, extensions: [reference] });
  for (const [k, e] of ema!) {
    const got = r.weights.get(k)!.data as Float32Array;
    e.forEach((x, i) => assert.ok(Math.abs(got[i]! - x) < 1e-5, `${k}[${i}]: ${got[i]} vs ${x}`));
  }
  // Training itself is unchanged by EMA; only the weights handed out differ.
  assert.ok(maxDiff(r.weights, plain.weights) > 1e-3);
  const dir = tmp();
  await fit({ model: mlp(), ...base(), ema: { decay }, checkpointDir: dir, maxSteps: 9 });
  same((await fit({ model: mlp(), ...base(), ema: { decay }, checkpointDir: dir, resume: true })).weights, (await fit({ model: mlp(), ...base(), ema: { decay } })).weights);
});

test('callbacks: afterStep, onValidationEnd and onEpochEnd see the run and can stop it', async () => {
  const losses: number[] = [];
  const r = await fit({ model: mlp(), ...base(), extensions: [{ name: 'stop-at-7', afterStep: ({ step, loss }) => { losses.push(loss); return step === 7 ? 'stop' : undefined; } }] });
  assert.equal(r.steps, 7);
  assert.equal(r.stopReason, 'callback');
  assert.equal(losses.length, 7);
  assert.ok(losses.every((l) => l > 0 && Number.isFinite(l)));
  const seen: string[] = [];
  const e = await fit({
    model: mlp(), ...base(), validation, epochs: 5,
    extensions: [{
      name: 'watch',
      onValidationEnd: ({ epoch, metrics }) => void seen.push(`val ${epoch + 1} ${metrics.val!.accuracy! > 0}`),
      onEpochEnd: ({ epoch }) => { seen.push(`end ${epoch + 1}`); return epoch === 1 ? 'stop' : undefined; },
    }],
  });
  assert.equal(e.epochs, 2);
  assert.equal(e.stopReason, 'callback');
  assert.deepEqual(seen, ['val 1 true', 'end 1', 'val 2 true', 'end 2']);
});

/** Overrides the validation loss with a scripted sequence (to test selection deterministically). */
const scripted = (values: number[]): TrainingExtension => ({ name: 'scripted-val', onValidationEnd: ({ epoch, metrics }) => { metrics.val!.loss = values[epoch]!; } });

test('keep-best and top-k: the best epoch\'s weights are returned, the k best are kept on disk; resume keeps them', async () => {
  const dir = tmp();
  const o = { ...base(), validation, epochs: 5, keepBest: true, saveTopK: 2, checkpointDir: dir, extensions: [scripted([3, 1, 2, 0.5, 4])] };
  const r = await fit({ model: mlp(), ...o });
  assert.equal(r.bestEpoch, 4);
  assert.deepEqual(r.topK!.map((t) => t.epoch), [4, 2]);
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('best-')).sort(), ['best-epoch-2.trainfer', 'best-epoch-4.trainfer']);
  same(loadCheckpoint(join(dir, 'best-epoch-4.trainfer')).tensors, r.weights);
  const last = await fit({ model: mlp(), ...base(), validation, epochs: 5 });
  assert.ok(maxDiff(r.weights, last.weights) > 1e-4, 'keep-best returns an earlier epoch than the last');
  // Interrupted in epoch 3 and resumed: same selection, same files.
  const dir2 = tmp();
  await fit({ model: mlp(), ...o, checkpointDir: dir2, maxSteps: 50 });
  const b = await fit({ model: mlp(), ...o, checkpointDir: dir2, resume: true });
  assert.equal(b.bestEpoch, 4);
  same(b.weights, r.weights);
  assert.ok(!existsSync(join(dir2, 'best-epoch-1.trainfer')));
});

test('plateau schedule: the rate halves after `patience` epochs without improvement; warnings for end-planned schedules', async () => {
  assert.deepEqual(parseSchedule('plateau,factor=0.5,patience=1'), { type: 'plateau', factor: 0.5, patience: 1, minFactor: undefined, warmup: undefined });
  assert.throws(() => parseSchedule('plateau,factor=2'), /factor must be in \(0, 1\), got 2/);
  const s = { type: 'plateau' as const, patience: 2, factor: 0.5 };
  let st = { scale: 1, bad: 0 } as Parameters<typeof plateauStep>[1];
  const scales = [1, 0.9, 0.95, 0.99, 0.8, 0.85, 0.86].map((v) => (st = plateauStep(s, st, v, 'min').state).scale);
  assert.deepEqual(scales, [1, 1, 1, 0.5, 0.5, 0.5, 0.25]);
  const messages: string[] = [];
  const reporter = { epochStart() {}, step() {}, epochEnd() {}, stop() {}, message: (m: string) => void messages.push(m) };
  const r = await fit({ model: mlp(), ...base(), validation, epochs: 4, schedule: { type: 'plateau', patience: 1 }, progress: reporter, extensions: [scripted([1, 2, 0.5, 0.7])] });
  assert.deepEqual(r.history.map((h) => h.lr), [0.1, 0.1, 0.05, 0.05]);
  assert.ok(messages.some((m) => /plateau: val_loss has not improved for 1 epochs; learning rate now 0\.05/.test(m)), messages.join('\n'));
  await fit({ model: mlp(), ...base(), validation, epochs: 1, schedule: { type: 'onecycle' }, earlyStopping: { patience: 3 }, progress: reporter });
  assert.ok(messages.some((m) => /^warning: --schedule onecycle plans its decay for all 1 epochs, but early stopping \(patience 3\)/.test(m)));
});

test('continuing a finished run: --resume with more epochs equals a straight longer run, bit for bit', async () => {
  const dir = tmp();
  const first = await fit({ model: mlp(), ...base(), epochs: 2, checkpointDir: dir });
  assert.equal(first.stopReason, 'completed');
  const more = await fit({ model: mlp(), ...base(), epochs: 4, checkpointDir: dir, resume: true });
  const straight = await fit({ model: mlp(), ...base(), epochs: 4 });
  assert.equal(more.epochs, 4);
  same(more.weights, straight.weights);
  // Resuming with the epochs it now has changes nothing.
  same((await fit({ model: mlp(), ...base(), epochs: 4, checkpointDir: dir, resume: true })).weights, straight.weights);
});

test('LR range test: an exponential ramp, the curve, a suggestion inside it, the weights left as they were', async () => {
  const m = mlp();
  const before = m.trainingGraph({}).graph.initializers.get('linear1.weight')!.clone();
  const r = await findLr({ model: m, train, batchSize: 16, steps: 60, minLr: 1e-4, maxLr: 10, threads: 1, progress: 'none' });
  assert.ok(r.points.length >= 10 && r.points.length <= 60);
  assert.ok(Math.abs(r.points[0]!.lr - 1e-4) < 1e-9);
  for (let i = 1; i < r.points.length; i++) assert.ok(r.points[i]!.lr > r.points[i - 1]!.lr);
  assert.ok(r.minLossLr > 1e-4 && r.minLossLr <= 10, `min-loss lr ${r.minLossLr}`);
  assert.equal(r.suggestedLr, r.minLossLr / 10);
  // lr up to 10 on this data blows the loss up: the ramp stops early.
  assert.ok(r.diverged && r.points.length < 60, `diverged ${r.diverged} after ${r.points.length}`);
  assert.deepEqual(m.trainingGraph({}).graph.initializers.get('linear1.weight')!.data, before.data);
});
