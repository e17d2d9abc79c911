// Layers through `checkLayer`: shapes, parameter counts, inference vs training forward on onnxruntime,
// plus the mode-dependent layers (BatchNorm, Dropout) against hand-computed references.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { checkLayer } from './layer-check.js';
import { Activation, Dropout, Embedding, Flatten, GELU, Linear, Normalize, ReLU, Rescale, Sigmoid, Tanh } from './layers-dense.js';
import type { Layer } from './layer.js';
import { AvgPool2d, BatchNorm, Conv2d, GlobalAvgPool, LayerNorm, MaxPool2d } from './layers-conv.js';
import { Residual, Sequential } from './compose.js';
import { Network } from './network.js';
import { buildPreset } from './presets.js';

test('dense layers: shapes, parameter counts, both modes agree', async () => {
  await checkLayer({ layer: new Linear({ outFeatures: 5 }), inputShape: [4], outputShape: [5], parameters: 25 });
  await checkLayer({ layer: new Linear({ outFeatures: 5, bias: false }), inputShape: [2, 4], outputShape: [2, 5], parameters: 20 });
  for (const act of [new ReLU(), new GELU(), new Sigmoid(), new Tanh()]) await checkLayer({ layer: act, inputShape: [6], outputShape: [6], parameters: 0 });
  await checkLayer({ layer: new Flatten(), inputShape: [2, 3, 4], outputShape: [24], parameters: 0 });
  await checkLayer({ layer: new Embedding({ numEmbeddings: 7, dim: 3 }), inputShape: [5], outputShape: [5, 3], parameters: 21, inputKind: 'tokens', vocab: 7 });
  await checkLayer({ layer: new LayerNorm(), inputShape: [8], outputShape: [8], parameters: 16 });
});

test('conv and pooling layers: shapes and parameter counts', async () => {
  await checkLayer({ layer: new Conv2d({ outChannels: 4, kernelSize: 3, padding: 'same' }), inputShape: [2, 6, 6], outputShape: [4, 6, 6], parameters: 4 * 2 * 9 + 4 });
  await checkLayer({ layer: new Conv2d({ outChannels: 4, kernelSize: 3, stride: 2, bias: false }), inputShape: [2, 7, 7], outputShape: [4, 3, 3], parameters: 72 });
  await checkLayer({ layer: new Conv2d({ outChannels: 4, kernelSize: 3, groups: 2, padding: 1 }), inputShape: [2, 5, 5], outputShape: [4, 5, 5], parameters: 4 * 1 * 9 + 4 });
  await checkLayer({ layer: new MaxPool2d({ kernelSize: 2 }), inputShape: [3, 6, 6], outputShape: [3, 3, 3], parameters: 0 });
  await checkLayer({ layer: new AvgPool2d({ kernelSize: 3, stride: 1, padding: 1 }), inputShape: [3, 5, 5], outputShape: [3, 5, 5], parameters: 0 });
  await checkLayer({ layer: new GlobalAvgPool(), inputShape: [3, 4, 4], outputShape: [3], parameters: 0 });
});

test('composition: Sequential and Residual (with and without projection)', async () => {
  const seq = new Sequential({ layers: [new Linear({ outFeatures: 6 }), new ReLU(), new Linear({ outFeatures: 4 })] });
  await checkLayer({ layer: seq, inputShape: [4], outputShape: [4], parameters: 30 + 28 });
  const r = await checkLayer({ layer: new Residual({ body: [new Linear({ outFeatures: 4 }), new Tanh()] }), inputShape: [4], outputShape: [4], parameters: 20 });
  assert.ok(r.inference.some((v, i) => v !== r.input.toNumbers()[i]), 'residual changes its input');
  await checkLayer({ layer: new Residual({ body: [new Linear({ outFeatures: 3 })], projection: [new Linear({ outFeatures: 3, bias: false })] }), inputShape: [4], outputShape: [3], parameters: 15 + 12 });
  assert.throws(() => new Network({ layers: [new Residual({ body: [new Linear({ outFeatures: 3 })] })], inputShape: [4] }), /skip path gives \[4\]/);
});

test('BatchNorm: batch statistics in training, running statistics in inference', async () => {
  const r = await checkLayer({ layer: new BatchNorm(), inputShape: [2, 3, 3], outputShape: [2, 3, 3], parameters: 4, batch: 4, sameInBothModes: false });
  // Fresh running stats (mean 0, var 1): inference is x / sqrt(1 + eps).
  r.inference.forEach((v, i) => assert.ok(Math.abs(v - r.input.toNumbers()[i]! / Math.sqrt(1 + 1e-5)) < 1e-5));
  // Training normalises each channel over batch and space: mean 0, variance ~1.
  for (let c = 0; c < 2; c++) {
    const vals: number[] = [];
    for (let n = 0; n < 4; n++) for (let k = 0; k < 9; k++) vals.push(r.training[n * 18 + c * 9 + k]!);
    const mean = vals.reduce((a, b) => a + b, 0) / vals.length;
    const v = vals.reduce((a, b) => a + (b - mean) ** 2, 0) / vals.length;
    assert.ok(Math.abs(mean) < 1e-5, `channel ${c} mean ${mean}`);
    assert.ok(Math.abs(v - 1) < 1e-3, `channel ${c} variance ${v}`);
  }
  const tg = new Network({ layers: [new BatchNorm(), new Flatten()], inputShape: [2, 3, 3] }).trainingGraph();
  assert.deepEqual(tg.buffers.map((b) => b.name), ['bn1.running_mean', 'bn1.running_var']);
});

test('Dropout: mask = u ≥ p scaled by 1/(1-p) in training, identity in inference', async () => {
  const keep = await checkLayer({ layer: new Dropout({ rate: 0.25 }), inputShape: [8], outputShape: [8], parameters: 0, sameInBothModes: false, randomValue: 0.5 });
  keep.training.forEach((v, i) => assert.ok(Math.abs(v - keep.inference[i]! / 0.75) < 1e-6));
  keep.inference.forEach((v, i) => assert.equal(v, Math.fround(keep.input.toNumbers()[i]!)));
  const drop = await checkLayer({ layer: new Dropout({ rate: 0.25 }), inputShape: [8], outputShape: [8], parameters: 0, sameInBothModes: false, randomValue: 0.1 });
  drop.training.forEach((v) => assert.equal(Math.abs(v), 0));
  const tg = new Network({ layers: [new Dropout({ rate: 0.5 }), new Linear({ outFeatures: 2 })], inputShape: [3] }).trainingGraph();
  assert.equal(tg.random.length, 1);
  assert.deepEqual(tg.random[0]!.shape, [3]);
  assert.equal(new Network({ layers: [new Dropout({ rate: 0.5 })], inputShape: [3] }).inferenceGraph().graph.feedInputs().length, 1);
});

test('Normalize standardises per channel inside the graph', async () => {
  const r = await checkLayer({ layer: new Normalize({ mean: [0.5, -1], std: [2, 4] }), inputShape: [2, 2, 2], outputShape: [2, 2, 2], parameters: 0, batch: 1 });
  const x = r.input.toNumbers();
  r.inference.forEach((v, i) => assert.ok(Math.abs(v - (i < 4 ? (x[i]! - 0.5) / 2 : (x[i]! + 1) / 4)) < 1e-6));
});

test('seeded initialisation: same seed same weights, He scale', () => {
  const a = buildPreset({ spec: 'mlp:64', inputShape: [1, 28, 28], numClasses: 10, seed: 3 });
  const b = buildPreset({ spec: 'mlp:64', inputShape: [1, 28, 28], numClasses: 10, seed: 3 });
  const c = buildPreset({ spec: 'mlp:64', inputShape: [1, 28, 28], numClasses: 10, seed: 4 });
  const w = (n: Network) => n.store.params.get('linear1.weight')!.data as Float32Array;
  assert.deepEqual(w(a), w(b));
  assert.notDeepEqual(w(a), w(c));
  const v = w(a).reduce((s, x) => s + x * x, 0) / w(a).length;
  assert.ok(Math.abs(v - 2 / 784) / (2 / 784) < 0.05, `He variance ${v}`);
});

test('presets: parameter counts and clear errors', () => {
  assert.equal(buildPreset({ spec: 'lenet300', inputShape: [1, 28, 28], numClasses: 10 }).parameterCount(), 784 * 300 + 300 + 300 * 100 + 100 + 1010);
  assert.equal(buildPreset({ spec: 'mlp:256', inputShape: [1, 28, 28], numClasses: 10 }).parameterCount(), 203530);
  assert.throws(() => buildPreset({ spec: 'mlp:abc', inputShape: [4], numClasses: 3 }), /hidden sizes must be positive integers/);
  assert.throws(() => buildPreset({ spec: 'cnn', inputShape: [4], numClasses: 3 }), /cnn needs image data/);
  assert.throws(() => buildPreset({ spec: 'resnet', inputShape: [4], numClasses: 3 }), /unknown model preset 'resnet'/);
  assert.throws(() => new Network({ layers: [new Conv2d({ outChannels: 2, kernelSize: 3 })], inputShape: [8] }), /Conv2d: expects \[C, H, W\]/);
});

test('every layer is a class built with new and one options object; a bare number or array is a one-line error', () => {
  const layers: Layer[] = [
    new Linear({ outFeatures: 2 }), new ReLU(), new GELU(), new Sigmoid(), new Tanh(), new Activation({ kind: 'relu' }), new Flatten(),
    new Dropout({ rate: 0.1 }), new Embedding({ numEmbeddings: 3, dim: 2 }), new Normalize({ mean: [0], std: [1] }), new Rescale({ scale: [1], shift: [0] }),
    new Conv2d({ outChannels: 2, kernelSize: 1 }), new MaxPool2d({ kernelSize: 2 }), new AvgPool2d({ kernelSize: 2 }), new GlobalAvgPool(),
    new BatchNorm(), new LayerNorm(), new Sequential({ layers: [] }), new Residual({ body: [] }),
  ];
  for (const l of layers) assert.equal(typeof l.build, 'function', l.type);
  assert.equal(new Dropout({ rate: 0.3 }).options.rate, 0.3);
  assert.equal(new ReLU().type, 'ReLU');
  assert.ok(new ReLU() instanceof Activation);
  const loose = (C: new (o: never) => Layer, arg: unknown): (() => Layer) => () => new C(arg as never);
  assert.throws(loose(Dropout, 0.1), /^TrainferError: Dropout: takes one options object, e\.g\. new Dropout\(\{ rate: 0\.1 \}\) \(got 0\.1\)$/);
  assert.throws(loose(Sequential, [new ReLU()]), /Sequential: takes one options object.*got an array/);
  assert.throws(loose(MaxPool2d, 2), /MaxPool2d: takes one options object/);
  assert.throws(loose(Linear, 10), /Linear: takes one options object/);
  assert.throws(() => new Linear({ outFeatures: 0 }), /Linear: outFeatures must be a positive integer, got 0/);
  assert.throws(() => new Activation({ kind: 'swish' as never }), /Activation: kind must be one of relu, gelu, sigmoid, tanh, got swish/);
  assert.throws(() => new Dropout({ rate: 1 }), /Dropout: rate must be in \[0, 1\), got 1/);
});
