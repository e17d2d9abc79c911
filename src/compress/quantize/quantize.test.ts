import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder } from '../../onnx/builder.js';
import { encodeModelProto } from '../../onnx/model-io.js';
import { modelToProto } from '../../onnx/ir-proto.js';
import { Tensor } from '../../onnx/tensor.js';
import { TrainferError } from '../../util/errors.js';
import { quantize } from './quantize.js';
import { allOpsModel, closeness, lcg, mlp, optimizedOps, randomTensor, runModel, smallCnn } from './test-models.js';

// Bounds: 8-bit activations carry ~1/255 of each tensor's range as rounding noise per layer, so a few
// layers of int8 keep the logits' cosine similarity above 0.999 (measured ≥ 0.9999 here); a bug
// (wrong scale, axis or zero point) drops it below 0.9 or moves max |Δ| to the logits' own scale.

const images = (n: number, seed: number): Tensor => {
  const r = lcg(seed);
  return Tensor.f32([n, 1, 28, 28], Array.from({ length: n * 784 }, () => Math.max(0, r() + 0.1)));
};

test('static int8: QDQ model close to fp32, fused into QLinearConv/QGemm by ORT, input model untouched', async () => {
  const model = smallCnn();
  const before = encodeModelProto(modelToProto(model));
  const calib = images(32, 5);
  const x = images(16, 6);
  const ref = (await runModel(model, { x })).logits!;
  const { model: q, report } = await quantize({ model, mode: 'static', calibration: () => [{ x: calib }], minConvReduction: 0, autotune: false });
  assert.deepEqual(encodeModelProto(modelToProto(model)), before, 'input model was modified');
  const c = closeness(ref, (await runModel(q, { x })).logits!);
  assert.ok(c.cosine > 0.999, `cosine ${c.cosine}`);
  const ops = await optimizedOps(q);
  assert.equal(ops.filter((o) => o === 'QLinearConv').length, 2, ops.join(' '));
  assert.ok(ops.includes('QGemm'), ops.join(' '));
  assert.ok(report.outcomes.some((o) => o.opType === 'Relu' && o.status === 'folded'));
  // Weights are int8 per channel; biases int32.
  const dtypes = [...q.graph.initializers.values()].map((t) => t.dtype);
  assert.ok(dtypes.includes('int8') && dtypes.includes('int32'));
  assert.ok(!dtypes.includes('float32') || [...q.graph.initializers.values()].filter((t) => t.dtype === 'float32').every((t) => t.size <= 32), 'float weights left behind');
});

test('static int8 covers every listed op; the narrow-Conv rule keeps 1-channel Convs float', async () => {
  const model = allOpsModel();
  const r = lcg(9);
  const calib = Tensor.f32([16, 2, 8, 8], Array.from({ length: 16 * 128 }, () => r() * 2));
  const x = Tensor.f32([4, 2, 8, 8], Array.from({ length: 4 * 128 }, () => r() * 2));
  const ref = await runModel(model, { x });
  const { model: q, report } = await quantize({ model, mode: 'static', calibration: () => [{ x: calib }], minConvReduction: 0, autotune: false });
  const got = await runModel(q, { x });
  for (const name of ['probs', 'emb']) {
    const c = closeness(ref[name]!, got[name]!);
    assert.ok(c.cosine > 0.99, `${name} cosine ${c.cosine}`);
  }
  const done = new Set(report.outcomes.filter((o) => o.status !== 'float').map((o) => o.opType));
  for (const op of ['Conv', 'ConvTranspose', 'MatMul', 'Gemm', 'Add', 'Mul', 'Relu', 'Clip', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'Concat', 'Reshape', 'Transpose', 'Flatten', 'Resize', 'Gather']) {
    assert.ok(done.has(op), `${op} not quantized: ${JSON.stringify(report.outcomes.filter((o) => o.opType === op))}`);
  }
  // Softmax producing a graph output stays float (probabilities keep full precision).
  assert.equal(report.outcomes.find((o) => o.opType === 'Softmax')?.status, 'float');
  const narrow = await quantize({ model: smallCnn(), mode: 'static', calibration: () => [{ x: images(8, 1) }], autotune: false });
  const convs = narrow.report.outcomes.filter((o) => o.opType === 'Conv');
  assert.deepEqual(convs.map((o) => o.status), ['float', 'quantized']);
  // The float MaxPool before the int8 region stays float after ORT's optimisations (the Relu guard stops
  // QDQ propagation from turning it into a uint8 MaxPool): the first Q comes after it.
  const ops = await optimizedOps(narrow.model);
  assert.ok(ops.indexOf('MaxPool') < ops.indexOf('QuantizeLinear'), ops.join(' '));
  const xi = images(8, 3);
  const c = closeness((await runModel(smallCnn(), { x: xi })).logits!, (await runModel(narrow.model, { x: xi })).logits!);
  assert.ok(c.cosine > 0.999, `cosine ${c.cosine}`);
});

test('static int8 softmax inside the graph uses the fixed [0, 1] range; symmetric int8 activations keep Relu', async () => {
  const g = new GraphBuilder({ name: 'sm' });
  const x = g.input('x', 'float32', ['N', 16]);
  const r = lcg(4);
  const h = g.softmax(g.matMul(x, g.constant(randomTensor([16, 8], r))));
  g.output(g.matMul(g.relu(h), g.constant(randomTensor([8, 4], r))), 'y');
  const model = g.toModel({ opset: 17 });
  const xs = Tensor.f32([32, 16], Array.from({ length: 512 }, () => r() * 4));
  const { model: q, report } = await quantize({ model, mode: 'static', calibration: () => [{ x: xs }], activationType: 'int8', activationSymmetric: true });
  assert.equal(report.outcomes.find((o) => o.opType === 'Relu')?.status, 'quantized');
  const c = closeness((await runModel(model, { x: xs })).y!, (await runModel(q, { x: xs })).y!);
  assert.ok(c.cosine > 0.995, `cosine ${c.cosine}`);
});

test('dynamic int8: MatMul/Gemm run as DynamicQuantizeMatMul after ORT fusion, close to fp32', async () => {
  const model = mlp([64, 128, 10]);
  const r = lcg(3);
  const x = Tensor.f32([8, 64], Array.from({ length: 512 }, () => r() * 2));
  const ref = (await runModel(model, { x })).logits!;
  for (const perChannel of [true, false]) {
    const { model: q } = await quantize({ model, mode: 'dynamic', perChannel });
    const c = closeness(ref, (await runModel(q, { x })).logits!);
    assert.ok(c.cosine > 0.999, `perChannel ${perChannel}: cosine ${c.cosine}`);
    assert.ok((await optimizedOps(q)).includes('DynamicQuantizeMatMul'));
  }
  const conv = await quantize({ model: smallCnn(), mode: 'dynamic', dynamicConv: true });
  assert.equal(conv.report.outcomes.filter((o) => o.opType === 'Conv' && o.status === 'quantized').length, 2);
  const xi = images(4, 2);
  const cc = closeness((await runModel(smallCnn(), { x: xi })).logits!, (await runModel(conv.model, { x: xi })).logits!);
  assert.ok(cc.cosine > 0.999, `ConvInteger cosine ${cc.cosine}`);
});

test('fp16: weights stored as float16, float32 I/O kept, outputs within fp16 rounding', async () => {
  const model = smallCnn();
  const { model: q } = await quantize({ model, mode: 'fp16' });
  assert.ok([...q.graph.initializers.values()].every((t) => t.dtype !== 'float32'));
  assert.equal(q.graph.inputs[0]!.type?.dtype, 'float32');
  const x = images(4, 8);
  const c = closeness((await runModel(model, { x })).logits!, (await runModel(q, { x })).logits!);
  // fp16 weights carry a relative error ≤ 2^-11 each; the logits stay within ~1e-3 of their scale.
  assert.ok(c.cosine > 0.99999 && c.maxDiff < 0.01, JSON.stringify(c));
  const bytes = encodeModelProto(modelToProto(q)).byteLength / encodeModelProto(modelToProto(model)).byteLength;
  assert.ok(bytes < 0.55, `size ratio ${bytes}`);
});

test('a model with nothing to quantize is a one-line error', async () => {
  const g = new GraphBuilder({ name: 'relu_only' });
  g.output(g.relu(g.input('x', 'float32', ['N', 4])), 'y');
  for (const mode of ['dynamic', 'int4', 'static'] as const) {
    await assert.rejects(quantize({ model: g.toModel(), mode, calibration: () => [{ x: Tensor.f32([1, 4], [1, 2, 3, 4]) }] }), (e: Error) => e instanceof TrainferError && /nothing to quantize/.test(e.message) && !e.message.includes('\n'));
  }
});

test('static int8 autotune times the Conv plans and float32 at the given threads, applies the fastest and says so', async () => {
  const model = smallCnn();
  const { model: q, report } = await quantize({ model, mode: 'static', calibration: () => [{ x: images(8, 5) }], threads: 1 });
  const note = report.notes.find((n) => n.startsWith('autotune'));
  assert.ok(note, report.notes.join('\n'));
  assert.match(note, /1 thread\(s\)/);
  assert.match(note, /float32: \d+\/s/);
  // The chosen plan's label is the first listed, and the Convs were quantized according to it.
  const chosen = /→ (.+?) \(float32/.exec(note)![1]!;
  const statuses = report.outcomes.filter((o) => o.opType === 'Conv').map((o) => o.status);
  const expected = { 'every Conv int8': ['quantized', 'quantized'], 'every Conv float': ['float', 'float'], 'narrow Convs float': ['float', 'quantized'] }[chosen];
  assert.deepEqual(statuses, expected, `${chosen}: ${statuses.join(',')}`);
  const slower = report.notes.some((n) => n.startsWith('warning: at 1 thread(s) no int8 plan beats float32'));
  const floatRate = Number(/→ .+?\(float32: (\d+)\/s\)/.exec(note)![1]);
  const best = Number(new RegExp(`${chosen} (\\d+)/s`).exec(note)![1]);
  assert.equal(slower, best < floatRate);
  const xi = images(4, 6);
  const c = closeness((await runModel(model, { x: xi })).logits!, (await runModel(q, { x: xi })).logits!);
  assert.ok(c.cosine > 0.999, `cosine ${c.cosine}`);
});
