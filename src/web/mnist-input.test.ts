// The page's digit preprocessing (MNIST's crop, 20 px fit and centre of mass) and the benchmark statistics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadData } from '../data/load.js';
import { percentile, summarizeLatencies } from './latency-stats.js';
import { MNIST_SIDE, toMnistInput } from './mnist-input.js';
import { digitPixels } from './test-digits.js';

function centreOfMass(x: Float32Array): [number, number] {
  let m = 0;
  let cx = 0;
  let cy = 0;
  for (let i = 0; i < x.length; i++) {
    m += x[i]!;
    cx += x[i]! * ((i % MNIST_SIDE) + 0.5);
    cy += x[i]! * (Math.floor(i / MNIST_SIDE) + 0.5);
  }
  return [cx / m, cy / m];
}

test('toMnistInput: a stroke anywhere on the pad is scaled into 20 px and centred by mass', () => {
  const w = 300;
  const h = 200;
  const ink = new Float32Array(w * h);
  // A 100×20 bar in the top-left corner: its long side becomes 20 px, aspect kept (20×4).
  for (let y = 10; y < 30; y++) for (let x = 5; x < 105; x++) ink[y * w + x] = 1;
  const x = toMnistInput({ ink, width: w, height: h })!;
  assert.equal(x.length, 784);
  const on = [...x.keys()].filter((i) => x[i]! > 0.5);
  const cols = new Set(on.map((i) => i % 28));
  const rows = new Set(on.map((i) => Math.floor(i / 28)));
  assert.equal(cols.size, 20);
  assert.equal(rows.size, 4);
  const [cx, cy] = centreOfMass(x);
  assert.ok(Math.abs(cx - 14) <= 0.5 && Math.abs(cy - 14) <= 0.5, `centre of mass ${cx}, ${cy}`);
  assert.ok(Math.abs(x.reduce((a, b) => a + b, 0) - 80) < 1e-3, 'area averaging keeps the ink');
  assert.equal(toMnistInput({ ink: new Float32Array(100), width: 10, height: 10 }), undefined);
});

test('toMnistInput: a real MNIST digit blown up 10× comes back as itself', () => {
  const test = loadData({ source: 'mnist' }).test;
  for (const i of [0, 1, 2, 3]) {
    const px = digitPixels(test, i);
    const big = new Float32Array(280 * 280);
    for (let y = 0; y < 280; y++) for (let x = 0; x < 280; x++) big[y * 280 + x] = px[Math.floor(y / 10) * 28 + Math.floor(x / 10)]!;
    const back = toMnistInput({ ink: big, width: 280, height: 280, threshold: 0 })!;
    // MNIST digits are already fitted to 20 px and centred by mass, up to a pixel of rounding.
    let best = Infinity;
    for (const [dx, dy] of [[0, 0], [1, 0], [-1, 0], [0, 1], [0, -1], [1, 1], [-1, -1], [1, -1], [-1, 1]] as const) {
      let err = 0;
      for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) err += Math.abs((back[y * 28 + x] ?? 0) - (px[(y + dy) * 28 + x + dx] ?? 0)) * (y + dy >= 0 && y + dy < 28 && x + dx >= 0 && x + dx < 28 ? 1 : 0);
      best = Math.min(best, err / px.reduce((a, b) => a + b, 0));
    }
    assert.ok(best < 0.05, `digit ${i}: relative L1 ${best}`);
  }
});

test('latency stats: nearest-rank percentiles and sequential throughput', () => {
  const times = Array.from({ length: 100 }, (_, i) => 100 - i); // 1 … 100 ms, shuffled order irrelevant
  const s = summarizeLatencies(times);
  assert.equal(s.p50Ms, 50);
  assert.equal(s.p90Ms, 90);
  assert.equal(s.p99Ms, 99);
  assert.equal(s.minMs, 1);
  assert.equal(s.maxMs, 100);
  assert.equal(s.meanMs, 50.5);
  assert.equal(s.throughputPerS, 100 / 5.05);
  assert.equal(percentile([7], 0.99), 7);
  assert.ok(Number.isNaN(percentile([], 0.5)));
});
