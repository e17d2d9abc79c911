import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Dataset } from '../../data/dataset.js';
import { GraphBuilder } from '../../onnx/builder.js';
import { Tensor } from '../../onnx/tensor.js';
import { PLAN_METADATA_KEY } from './plan.js';
import { quantizeQat } from './qat-file.js';
import { quantize } from './quantize.js';
import { closeness, lcg, mlp, randomTensor, runModel } from './test-models.js';

test('static: a BatchNorm with γ ≈ 0 folded into a Conv keeps its bias (weight scale raised, not the int32 bias clamped)', async () => {
  const r = lcg(31);
  const g = new GraphBuilder({ name: 'bn0' });
  const x = g.input('x', 'float32', ['N', 4, 8, 8]);
  const conv = g.conv(x, g.constant(randomTensor([3, 4, 3, 3], r, 0.6)), undefined, { pads: [1, 1, 1, 1] });
  const bn = g.batchNormalization(conv, g.constant(Tensor.f32([3], [1, 1e-9, 0.8])), g.constant(Tensor.f32([3], [0.1, 0.5, -0.2])), g.constant(Tensor.f32([3], [0, 0, 0])), g.constant(Tensor.f32([3], [1, 1, 1])));
  g.output(bn, 'y');
  const model = g.toModel({ opset: 17 });
  const batch = (seed: number): Tensor => randomTensor([4, 4, 8, 8], lcg(seed), 2, 0.5);
  const { model: q, report } = await quantize({ model, mode: 'static', calibration: () => [{ x: batch(1) }, { x: batch(2) }], minConvReduction: 0 });
  assert.ok(report.outcomes.some((o) => o.opType === 'Conv' && o.status === 'quantized' && o.detail.includes('int32 bias')));
  const biases = [...q.graph.initializers.values()].filter((t) => t.dtype === 'int32');
  assert.ok(biases.length > 0 && biases.every((t) => Array.from(t.data as Int32Array).every((v) => Math.abs(v) < 2 ** 31 - 1)), 'an int32 bias saturated');
  const xs = batch(9);
  const want = (await runModel(model, { x: xs })).y!;
  const got = (await runModel(q, { x: xs })).y!;
  // Channel 1 is the constant β = 0.5 (γ ≈ 0 wipes the Conv); clamping the bias would leave ≈ 0 there.
  const hw = 64;
  const ch1 = Array.from(got.data as Float32Array).filter((_, i) => Math.floor(i / hw) % 3 === 1);
  assert.ok(ch1.every((v) => Math.abs(v - 0.5) < 0.01), `channel 1: ${ch1.slice(0, 4)}`);
  assert.ok(closeness(want, got).cosine > 0.999);
});

test('static: a denormal activation range and a denormal weight channel give finite outputs', async () => {
  const g = new GraphBuilder({ name: 'tiny' });
  const x = g.input('x', 'float32', ['N', 4]);
  const tiny = g.mul(x, g.scalar(1e-40)); // calibrated range ≈ 1e-40: a denormal scale unless guarded
  const w = Tensor.f32([4, 2], [1e-42, 0.5, -2e-42, 0.25, 3e-42, -0.5, 0, 0.125]);
  g.output(g.add(g.matMul(g.add(tiny, x), g.constant(w)), g.matMul(tiny, g.constant(randomTensor([4, 2], lcg(3))))), 'y');
  const model = g.toModel({ opset: 17 });
  const xs = randomTensor([8, 4], lcg(4), 2);
  const { model: q } = await quantize({ model, mode: 'static', calibration: () => [{ x: xs }] });
  const y = (await runModel(q, { x: xs })).y!;
  assert.ok(Array.from(y.data as Float32Array).every(Number.isFinite), 'NaN or Inf in the output');
  assert.ok(closeness((await runModel(model, { x: xs })).y!, y).cosine > 0.99);
  for (const [k, t] of q.graph.initializers) {
    if (k.endsWith('_scale')) assert.ok(Array.from(t.data as Float32Array).every((v) => v >= 1.1754943508222875e-38), `denormal or zero scale ${k}: ${t.toNumbers()}`);
  }
});

test('fp16: a weight with values beyond ±65504 stays float32 (with a note) instead of becoming Inf', async () => {
  const g = new GraphBuilder({ name: 'big' });
  const x = g.input('x', 'float32', ['N', 3]);
  const big = g.constant(Tensor.f32([3, 2], [1e5, -2, 0.5, 70000, 1, -3]));
  const small = g.constant(randomTensor([2, 2], lcg(5)));
  g.output(g.matMul(g.matMul(x, big), small), 'y');
  const model = g.toModel({ opset: 17 });
  const { model: q, report } = await quantize({ model, mode: 'fp16' });
  const dtypes = [...q.graph.initializers.values()].map((t) => `${t.dtype}[${t.dims}]`);
  assert.ok(dtypes.includes('float32[3,2]') && dtypes.includes('float16[2,2]'), dtypes.join(' '));
  assert.ok(report.notes.some((n) => /beyond ±65504/.test(n)), report.notes.join('\n'));
  const xs = randomTensor([4, 3], lcg(6));
  const y = (await runModel(q, { x: xs })).y!;
  assert.ok(Array.from(y.data as Float32Array).every(Number.isFinite));
  assert.ok(closeness((await runModel(model, { x: xs })).y!, y).cosine > 0.9999);
});

/** Four Gaussian blobs in 16-D, labelled by blob. */
function blobs(n: number, seed: number): Dataset {
  const r = lcg(seed);
  const x = new Float32Array(n * 16);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 4;
    for (let k = 0; k < 16; k++) x[i * 16 + k] = (k % 4 === y[i] ? 1.5 : 0) + r() * (1 + (i % 7));
  }
  return { source: 'blobs', kind: 'tabular', sampleShape: [16], x, scale: 1, y, count: n, numClasses: 4 };
}

test('QAT honours --exclude and --percentile, calibrates on more than 512 samples, and records its plan', async () => {
  const model = mlp([16, 32, 4], 7);
  const train = blobs(1500, 1);
  const first = model.graph.nodes.find((n) => n.opType === 'MatMul')!.name;
  const run = (percentile: number) => quantizeQat({ model, train, steps: 3, batchSize: 32, threads: 1, autotune: false, exclude: [first], method: 'percentile', percentile, calibSize: 1200 });
  const a = await run(99);
  assert.ok(a.report.outcomes.some((o) => o.node === first && o.status === 'float' && o.detail === 'excluded'), 'excluded node was quantized');
  const mm = a.model.graph.nodes.find((n) => n.name === first)!;
  assert.ok(a.model.graph.initializers.get(mm.inputs[1]!)?.dtype === 'float32', 'excluded MatMul reads a quantized weight');
  assert.ok(a.report.notes.some((n) => n.includes('over 1200 sample(s) with percentile')), a.report.notes.join('\n'));
  assert.ok(a.model.metadata.has(PLAN_METADATA_KEY));
  // A different percentile clips differently: different activation scales.
  const b = await run(99.999);
  const scales = (m: typeof a.model) => [...m.graph.initializers].filter(([k, t]) => k.endsWith('_scale') && t.size === 1).map(([, t]) => t.toNumbers()[0]!);
  assert.notDeepEqual(scales(a.model), scales(b.model));
});
