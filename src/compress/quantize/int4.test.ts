import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder } from '../../onnx/builder.js';
import { Tensor } from '../../onnx/tensor.js';
import { packInt4, unpackInt4 } from './int4.js';
import { quantize } from './quantize.js';
import { lcg, randomTensor, runModel } from './test-models.js';

test('int4 packing round-trips within a step per block (half a step asymmetric; ragged K)', () => {
  const r = lcg(11);
  const k = 70; // not a multiple of the block: the last block is partial
  const n = 5;
  const w = Float32Array.from({ length: k * n }, () => r() * 2);
  for (const symmetric of [true, false]) {
    const p = packInt4(w, k, n, 32, symmetric);
    assert.equal(p.nBlocks, 3);
    assert.equal(p.data.length, n * 3 * 16);
    const back = unpackInt4(p, k, n, 32);
    for (let i = 0; i < k; i++) {
      for (let c = 0; c < n; c++) {
        const s = Math.abs(p.scales[c * 3 + Math.floor(i / 32)]!);
        // Symmetric maps the extreme to −8, so a value near +max can clamp at +7: at most one step off.
        assert.ok(Math.abs(back[i * n + c]! - w[i * n + c]!) <= (symmetric ? s : s / 2) + 1e-6, `k ${i} n ${c} sym ${symmetric}`);
      }
    }
  }
  // Symmetric: the block's largest-magnitude value maps exactly to −8·scale.
  const one = packInt4(Float32Array.from([0.5, -1, 0.25, 0, ...new Array(12).fill(0)]), 16, 1, 16, true);
  assert.equal(one.scales[0], Math.fround(-1 / -8));
  assert.equal(unpackInt4(one, 16, 1, 16)[1], -1);
});

test('MatMulNBits on onnxruntime equals x · dequantized W computed in JS', async () => {
  const r = lcg(12);
  const [k, n, m] = [96, 40, 3];
  const g = new GraphBuilder({ name: 'mm' });
  const x = g.input('x', 'float32', ['N', k]);
  const w = randomTensor([k, n], r, 2);
  g.output(g.matMul(x, g.constant(w)), 'y');
  const xs = randomTensor([m, k], r, 2);
  for (const symmetric of [true, false]) {
    const { model: q } = await quantize({ model: g.toModel({ opset: 17 }), mode: 'int4', int4Symmetric: symmetric, int4MinElements: 0, blockSize: 32, accuracyLevel: 0 });
    const got = (await runModel(q, { x: xs })).y!.data as Float32Array;
    const wq = unpackInt4(packInt4(w.data as Float32Array, k, n, 32, symmetric), k, n, 32);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let ref = 0;
        for (let t = 0; t < k; t++) ref += (xs.data as Float32Array)[i * k + t]! * wq[t * n + j]!;
        assert.ok(Math.abs(got[i * n + j]! - ref) < 1e-3 * (1 + Math.abs(ref)), `[${i},${j}] ${got[i * n + j]} vs ${ref}`);
      }
    }
  }
});

test('int4 skips small weights and reports them', async () => {
  const g = new GraphBuilder({ name: 'small' });
  g.output(g.matMul(g.input('x', 'float32', ['N', 4]), g.constant(Tensor.f32([4, 2], [1, 2, 3, 4, 5, 6, 7, 8]))), 'y');
  await assert.rejects(quantize({ model: g.toModel(), mode: 'int4' }), /nothing to quantize.*smaller than 4096/);
});
