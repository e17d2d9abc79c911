import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Histogram, MinMax, entropyThreshold, percentileRange } from './calib-stats.js';

test('MinMax tracks the range over batches', () => {
  const m = new MinMax();
  m.update([1, 2, 3]);
  m.update([-4, 0.5]);
  assert.deepEqual(m.range(), { min: -4, max: 3 });
  assert.deepEqual(new MinMax().range(), { min: 0, max: 0 });
});

test('percentile cuts the tails of a signed histogram', () => {
  // 0..999 uniformly, one bin per value: 99% keeps [5, 995].
  const xs = Array.from({ length: 1000 }, (_, i) => i + 0.5);
  const h = new Histogram(0, 1000, 1000);
  h.update(xs);
  const r = percentileRange(h, 99, { min: 0.5, max: 999.5 });
  assert.equal(r.min, 5);
  assert.equal(r.max, 995);
  // A single outlier does not stretch the range.
  const h2 = new Histogram(0, 100, 100);
  h2.update([...Array(9999).fill(1.5), 99.5]);
  assert.equal(percentileRange(h2, 99.9, { min: 1.5, max: 99.5 }).max, 2);
});

test('entropy threshold clips a long tail but keeps a uniform range', () => {
  // Uniform on [0, 1): the best threshold is (nearly) the whole range.
  const u = new Histogram(0, 1, 2048, true);
  u.update(Array.from({ length: 200000 }, (_, i) => (i % 2048) / 2048 + 1e-6));
  assert.ok(entropyThreshold(u) > 0.95);
  // Gaussian-like mass near 0 plus a few huge outliers: the threshold lands far below the max.
  const t = new Histogram(0, 100, 2048, true);
  const xs: number[] = [];
  let s = 7;
  for (let i = 0; i < 100000; i++) {
    const a = (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
    const b = (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
    xs.push(Math.sqrt(-2 * Math.log(a + 1e-12)) * Math.cos(2 * Math.PI * b));
  }
  xs.push(100, 99, 98);
  t.update(xs);
  const thr = entropyThreshold(t);
  assert.ok(thr > 2.5 && thr < 10, `threshold ${thr}`);
});

test('entropy keeps the rare large values when a spike holds most of the mass', () => {
  // 90 % of values sit at 0.4 (a constant background response), 10 % spread up to 7: clipping near 0.4
  // would minimise KL but destroy the signal; the guard keeps ≥ 99.9 % of the non-zero values.
  const h = new Histogram(0, 7, 2048, true);
  const xs: number[] = [];
  for (let i = 0; i < 90000; i++) xs.push(0.4);
  for (let i = 0; i < 10000; i++) xs.push((i / 10000) * 7);
  h.update(xs);
  assert.ok(entropyThreshold(h) > 6.9, `threshold ${entropyThreshold(h)}`);
  assert.ok(entropyThreshold(h, 128, 1) < 1, 'without the guard KL clips onto the spike');
});
