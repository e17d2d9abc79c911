import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../onnx/tensor.js';
import { dequantizeWeight, paramsFromRange, quantizeBias, quantizeWeight, roundHalfEven } from './qmath.js';

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
