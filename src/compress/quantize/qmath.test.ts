import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../onnx/tensor.js';
import { F32_TINY, biasSafeWeightScale, dequantizeWeight, paramsFromRange, quantizeBias, quantizeValue, quantizeWeight, roundHalfEven } from './qmath.js';

test('paramsFromRange matches hand-computed scales and zero points', () => {
  // uint8 asymmetric over [0, 2.55]: scale 0.01, zp 0.
  let p = paramsFromRange(0, 2.55, { qtype: 'uint8', symmetric: false });
  assert.ok(Math.abs(p.scale - 0.01) < 1e-9);
  assert.equal(p.zeroPoint, 0);
  // uint8 asymmetric over [-1, 3]: scale 4/255, zp round(1/(4/255)) = round(63.75) = 64.
  p = paramsFromRange(-1, 3, { qtype: 'uint8', symmetric: false });
  assert.ok(Math.abs(p.scale - 4 / 255) < 1e-7);
  assert.equal(p.zeroPoint, 64);
  // int8 symmetric over [-0.5, 2]: scale 2/127 (range ±127), zp 0.
  p = paramsFromRange(-0.5, 2, { qtype: 'int8', symmetric: true });
  assert.ok(Math.abs(p.scale - 2 / 127) < 1e-7);
  assert.equal(p.zeroPoint, 0);
  // A range not containing 0 is widened to include it: [1, 2] → [0, 2].
  p = paramsFromRange(1, 2, { qtype: 'uint8', symmetric: false });
  assert.ok(Math.abs(p.scale - 2 / 255) < 1e-7);
  assert.equal(p.zeroPoint, 0);
  // reduce_range halves the integer range for int8 weights: ±63.
  p = paramsFromRange(-1, 1, { qtype: 'int8', symmetric: true, reduceRange: true });
  assert.ok(Math.abs(p.scale - 1 / 63) < 1e-7);
});

test('roundHalfEven rounds ties to even like ONNX QuantizeLinear', () => {
  assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6].map(roundHalfEven), [0, 2, 2, -0, -2, 2, 3]);
});

test('per-channel weight scales match a JS reference and dequantize within half a step', () => {
  // W [3, 2, 2]: channel c holds values scaled by (c + 1).
  const values = [0.1, -0.4, 0.25, 0.3, -0.2, 0.8, 0.5, -0.6, 1.2, -0.3, 0.9, 0.15];
  const w = Tensor.f32([3, 2, 2], values);
  const q = quantizeWeight(w, { qtype: 'int8', axis: 0, symmetric: true });
  for (let c = 0; c < 3; c++) {
    const amax = Math.max(...values.slice(c * 4, c * 4 + 4).map(Math.abs));
    assert.ok(Math.abs(q.params.scale[c]! - amax / 127) < 1e-7, `channel ${c} scale`);
    assert.equal(q.params.zeroPoint[c], 0);
  }
  const back = dequantizeWeight(q);
  values.forEach((v, i) => assert.ok(Math.abs(back[i]! - v) <= q.params.scale[Math.floor(i / 4)]! / 2 + 1e-7));
  // Per tensor: one scale from the global max.
  const t = quantizeWeight(w, { qtype: 'int8', symmetric: true });
  assert.equal(t.params.scale.length, 1);
  assert.ok(Math.abs(t.params.scale[0]! - 1.2 / 127) < 1e-7);
  // Per channel along axis 1 of a [2, 3] matrix (MatMul weight columns).
  const m = quantizeWeight(Tensor.f32([2, 3], [1, -2, 0.5, -3, 1, 0.25]), { qtype: 'int8', axis: 1, symmetric: true });
  assert.deepEqual(Array.from(m.params.scale, (s) => +(s * 127).toFixed(5)), [3, 2, 0.5]);
});

test('biases quantize to int32 with scale = input scale × weight scale', () => {
  const b = quantizeBias(Tensor.f32([2], [0.5, -1]), 0.02, Float32Array.of(0.01, 0.05));
  assert.deepEqual(Array.from(b.q.data as Int32Array), [Math.round(0.5 / 0.0002), Math.round(-1 / 0.001)]);
  assert.equal(b.q.dtype, 'int32');
});

test('rounding matches onnxruntime QuantizeLinear at ties (half to even, float32 division)', async () => {
  const { runOrt } = await import('../../onnx/test-ort.js');
  const { GraphBuilder } = await import('../../onnx/builder.js');
  const { modelToProto } = await import('../../onnx/ir-proto.js');
  const { encodeModelProto } = await import('../../onnx/model-io.js');
  const xs = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5, 0.05, 0.15, 0.25, 0.35, -0.45, 12.7, -12.75];
  for (const scale of [1, 0.1]) {
    const g = new GraphBuilder({ name: 'q' });
    g.output(g.op1('QuantizeLinear', [g.input('x', 'float32', [xs.length]), g.constant(Tensor.f32([], [scale])), g.constant(new Tensor('int8', [], Int8Array.of(0)))]), 'y');
    const ort = (await runOrt(encodeModelProto(modelToProto(g.toModel({ opset: 13 }))), { x: Tensor.f32([xs.length], xs) })).y!;
    assert.deepEqual(xs.map((x) => quantizeValue(x, Math.fround(scale), 0, -128, 127)), Array.from(ort.data as Int8Array), `scale ${scale}`);
  }
  // Zero point and bias ties: qmin − rmin/scale = 0.5 → 0 (Math.round would say 1); 2.5 bias steps → 2.
  assert.equal(paramsFromRange(-0.5, 254.5, { qtype: 'uint8', symmetric: false }).zeroPoint, 0);
  assert.deepEqual(Array.from(quantizeBias(Tensor.f32([2], [2.5, -3.5]), 1, Float32Array.of(1)).q.data as Int32Array), [2, -4]);
});

test('tiny and denormal ranges get scale 1, never a denormal or zero scale', () => {
  for (const [lo, hi] of [[0, 1e-40], [-1e-39, 1e-39], [0, 0], [-1e-45, 0]] as const) {
    for (const qtype of ['uint8', 'int8'] as const) {
      for (const symmetric of [false, true]) {
        const p = paramsFromRange(lo, hi, { qtype, symmetric });
        assert.equal(p.scale, 1, `[${lo}, ${hi}] ${qtype} symmetric=${symmetric}`);
      }
    }
  }
  // A weight channel of denormals beside a normal one: finite scales, and the tiny channel quantizes to 0.
  const w = quantizeWeight(Tensor.f32([2, 3], [1e-41, -2e-41, 3e-42, 0.5, -0.25, 0.125]), { qtype: 'int8', axis: 0, symmetric: true });
  assert.ok(Array.from(w.params.scale).every((s) => s >= F32_TINY && Number.isFinite(s)), String(w.params.scale));
  assert.deepEqual(Array.from(w.q.data as Int8Array).slice(0, 3), [0, 0, 0]);
  const b = quantizeBias(Tensor.f32([2], [0.3, -0.2]), 0.01, w.params.scale);
  assert.ok(Array.from(b.q.data as Int32Array).every((v) => Number.isFinite(v) && Math.abs(v) < 2 ** 31 - 1));
});

test('a bias that would overflow int32 raises the weight scale as onnxruntime does (its PR #22020 example)', () => {
  // input scale 0.5, weight scale 7.843e-10, bias [5, -4.5]: 5 / (0.5 · 7.843e-10) ≈ 1.3e10 > 2³¹.
  const bias = Tensor.f32([2], [5, -4.5]);
  const safe = biasSafeWeightScale(bias, 0.5, Float32Array.of(7.843e-10));
  assert.ok(safe, 'scale not raised');
  const want = (1.0001 * 2 * 5) / (2 ** 32 - 2) / 0.5;
  assert.ok(Math.abs(safe[0]! / want - 1) < 1e-5, `${safe[0]} vs ${want}`);
  const q = quantizeBias(bias, 0.5, safe);
  const back = Array.from(q.q.data as Int32Array, (v, i) => v * q.scale[i]!);
  assert.ok(Math.abs(back[0]! - 5) < 1e-6 && Math.abs(back[1]! + 4.5) < 1e-6, String(back));
  assert.ok(Array.from(q.q.data as Int32Array).every((v) => Math.abs(v) < 2 ** 31 - 1));
  // Per channel: only the channel that needs it changes; a safe bias changes nothing.
  const pc = biasSafeWeightScale(Tensor.f32([2], [0.5, 0.5]), 0.02, Float32Array.of(1e-12, 0.01));
  assert.ok(pc && pc[0]! > 1e-12 && pc[1] === Math.fround(0.01));
  assert.equal(biasSafeWeightScale(Tensor.f32([2], [0.5, 0.5]), 0.02, Float32Array.of(0.01, 0.01)), undefined);
});
