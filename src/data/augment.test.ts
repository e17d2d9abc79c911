// Augmentation: the kernel moves pixels exactly as specified (shift, flip, 90° rotation, standardisation),
// the spec parser refuses bad specs in one line, the worker thread's batches equal the in-thread kernel's
// bit for bit and depend only on the seed key and the batch index (so read-ahead order and resuming
// mid-epoch do not change them), and a fit with --augment resumed mid-epoch ends with the same weights.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../util/rng.js';
import { type ImageLayout, augmentBatch, drawTransforms, parseAugment, transformSample, transformSlots } from './augment.js';
import { AugmentLoader } from './augment-loader.js';
import type { Table } from './table.js';
import { Flatten, Linear, ReLU } from '../nn/layers-dense.js';
import { Network } from '../nn/network.js';
import { fit } from '../train/fit.js';

const plain = (channels: number, height: number, width: number): ImageLayout => ({ channels, height, width, mul: new Float32Array(channels).fill(1), add: new Float32Array(channels) });
const ramp = (n: number) => Uint8Array.from({ length: n }, (_, i) => i + 1);

test('shift, flip and standardisation move pixels exactly; outside pixels are zero before standardising', () => {
  const H = 4, W = 5;
  const src = ramp(H * W);
  const out = new Float32Array(H * W);
  transformSample(src, 0, out, 0, { dx: 1, dy: -1, angle: 0, flip: false }, plain(1, H, W));
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    const sx = x - 1, sy = y + 1;
    assert.equal(out[y * W + x], sx >= 0 && sy < H ? src[sy * W + sx] : 0, `(${x}, ${y})`);
  }
  transformSample(src, 0, out, 0, { dx: 0, dy: 0, angle: 0, flip: true }, plain(1, H, W));
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) assert.equal(out[y * W + x], src[y * W + (W - 1 - x)]);
  // Two channels, each with its own affine map; a sample at an offset.
  const two = new Uint8Array(3 + 2 * H * W);
  two.set(ramp(2 * H * W), 3);
  const o2 = new Float32Array(2 * H * W + 1);
  transformSample(two, 3, o2, 1, { dx: 0, dy: 0, angle: 0, flip: false }, { channels: 2, height: H, width: W, mul: Float32Array.of(0.5, 2), add: Float32Array.of(-1, 3) });
  for (let k = 0; k < H * W; k++) {
    assert.equal(o2[1 + k], (k + 1) * 0.5 - 1);
    assert.equal(o2[1 + H * W + k], (H * W + k + 1) * 2 + 3);
  }
});

test('a 90° rotation turns the image about its centre', () => {
  const src = ramp(9); // 3×3: 1 2 3 / 4 5 6 / 7 8 9
  const out = new Float32Array(9);
  transformSample(src, 0, out, 0, { dx: 0, dy: 0, angle: Math.PI / 2, flip: false }, plain(1, 3, 3));
  // out(x, y) = src(x' = y, y' = 2 − x): a quarter turn (clockwise on screen, y pointing down).
  const want = [7, 4, 1, 8, 5, 2, 9, 6, 3];
  want.forEach((v, i) => assert.ok(Math.abs(out[i]! - v) < 1e-4, `pixel ${i}: ${out[i]} vs ${v}`));
});

test('parseAugment: defaults, aliases and one-line errors', () => {
  assert.deepEqual(parseAugment(''), { shift: 2, rotate: 10 });
  assert.deepEqual(parseAugment('crop=3,rotate=7.5,hflip'), { shift: 3, rotate: 7.5, flip: true });
  assert.throws(() => parseAugment('shift=1.5'), /whole number of pixels/);
  assert.throws(() => parseAugment('rotate=-3'), /rotate=<number from 0 to 180>/);
  assert.throws(() => parseAugment('zoom=2'), /unknown transform 'zoom'/);
});

test('draws: shifts stay within ± shift, rotations within ± rotate, flips about half; same key same draws', () => {
  const t = transformSlots(2000);
  drawTransforms({ shift: 2, rotate: 10, flip: true }, 123, 0, t);
  assert.ok(t.every((s) => Number.isInteger(s.dx) && Math.abs(s.dx) <= 2 && Math.abs(s.dy) <= 2 && Math.abs(s.angle) <= (10 * Math.PI) / 180));
  assert.equal(new Set(t.map((s) => s.dx)).size, 5);
  const flips = t.filter((s) => s.flip).length;
  assert.ok(flips > 900 && flips < 1100, `${flips} flips of 2000`);
  const again = transformSlots(2000);
  drawTransforms({ shift: 2, rotate: 10, flip: true }, 123, 0, again);
  assert.deepEqual(again, t);
  drawTransforms({ shift: 2, rotate: 10, flip: true }, 123, 1, again);
  assert.notDeepEqual(again, t);
});

test('AugmentLoader: worker batches equal the in-thread kernel bit for bit, in any request order', async () => {
  const layout: ImageLayout = { channels: 1, height: 12, width: 12, mul: Float32Array.of(1 / 255), add: Float32Array.of(-0.5) };
  const n = 100, batch = 16, size = 144;
  const rng = Rng.fromSeed(4);
  const images = Uint8Array.from({ length: n * size }, () => Math.floor(rng.uniform() * 256));
  const spec = { shift: 2, rotate: 15, flip: true };
  const order = Rng.fromSeed(5).permutation(n);
  const steps = Math.floor(n / batch);
  const worker = AugmentLoader.create({ images, layout, spec, batchSize: batch, lookahead: 3 });
  const local = AugmentLoader.create({ images, layout, spec, batchSize: batch, thread: false });
  try {
    worker.begin(order, 77, steps);
    local.begin(order, 77, steps);
    const seen: Float32Array[] = [];
    for (let b = 0; b < steps; b++) {
      const w = (await worker.batch(b)).slice();
      assert.deepEqual(w, (await local.batch(b)).slice(), `batch ${b}`);
      const ref = new Float32Array(batch * size);
      augmentBatch({ src: images, dst: ref, order, start: b * batch, n: batch, b, key: 77, spec, layout, scratch: transformSlots(batch) });
      assert.deepEqual(w, ref);
      seen.push(w);
    }
    // A resumed epoch starting at batch 3 gets the same batch 3; another key gives other pixels.
    worker.begin(order, 77, steps);
    assert.deepEqual((await worker.batch(3)).slice(), seen[3]);
    worker.begin(order, 78, steps);
    assert.notDeepEqual((await worker.batch(3)).slice(), seen[3]);
    // The pixels really changed: not just the standardised originals.
    const untouched = Float32Array.from({ length: batch * size }, (_, k) => images[order[Math.floor(k / size)]! * size + (k % size)]! / 255 - 0.5);
    assert.notDeepEqual(seen[0], untouched);
  } finally {
    await worker.close();
    await local.close();
  }
});

/** Tiny "images": 1×8×8 bytes whose class is the bright quadrant. */
function quadrants(n: number, seed: number): Table {
  const rng = Rng.fromSeed(seed);
  const px = new Uint8Array(n * 64);
  const label = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 4;
    label[i] = BigInt(c);
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) {
      const q = (y < 4 ? 0 : 2) + (x < 4 ? 0 : 1);
      px[i * 64 + y * 8 + x] = Math.min(255, Math.floor((q === c ? 180 : 20) + rng.uniform() * 60));
    }
  }
  return { source: 'quadrants', count: n, columns: [{ name: 'pixels', dtype: 'uint8', shape: [1, 8, 8], data: px, kind: 'image', scale: 1 / 255 }, { name: 'label', dtype: 'int64', shape: [], data: label, kind: 'numeric' }] };
}

test('fit --augment: resumed mid-epoch it ends with the same weights; augmentation changes training', async () => {
  const train = quadrants(256, 1);
  const net = () => new Network({ inputShape: [1, 8, 8], seed: 3, layers: [new Flatten(), new Linear({ outFeatures: 16 }), new ReLU(), new Linear({ outFeatures: 4 })] });
  const common = { train, epochs: 2, batchSize: 32, lr: 0.1, seed: 9, threads: 1, progress: 'none' as const, augment: { shift: 1, rotate: 10 } };
  const straight = await fit({ model: net(), ...common });
  const dir = mkdtempSync(join(tmpdir(), 'trainfer-augment-'));
  const first = await fit({ model: net(), ...common, checkpointDir: dir, maxSteps: 11 });
  assert.equal(first.stopReason, 'max-steps');
  const resumed = await fit({ model: net(), ...common, checkpointDir: dir, resume: true });
  assert.equal(resumed.steps, straight.steps);
  for (const [k, t] of straight.weights) assert.deepEqual(resumed.weights.get(k)!.data, t.data, k);
  const without = await fit({ model: net(), ...common, augment: undefined });
  const w = [...without.weights.values()][0]!.data as Float32Array;
  assert.notDeepEqual(w, [...straight.weights.values()][0]!.data);
  await assert.rejects(() => fit({ model: net(), ...common, checkpointDir: dir, resume: true, augment: { shift: 2 } }), /augment/);
});
