// Deep Compression packing: 1-D k-means, the Gather gradient summing the weights that share a centroid
// (with the zero entry held by a mask), the position/index codecs in every form, .tfz round trips (dense
// and --keep-shared models compute exactly the packed weights), centroid fine-tuning with data, and files
// that are truncated, corrupt, of another version or not a .tfz: one line, no output file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTrainStep } from '../../autodiff/train-step.js';
import { GraphBuilder } from '../../onnx/builder.js';
import { readModel } from '../../onnx/model-io.js';
import { Tensor } from '../../onnx/tensor.js';
import { Session } from '../../runtime/session.js';
import { Rng } from '../../util/rng.js';
import { runTrainJob } from '../../train/job.js';
import { lcg, randomTensor, runModel } from '../quantize/test-models.js';
import { mlpNet } from '../prune/test-graphs.js';
import { writeModel } from '../../onnx/model-io.js';
import { decodeIndices, decodePositions, encodeIndices, encodePositions } from './codec.js';
import { kmeans1d } from './kmeans.js';
import { packModel, unpackModel } from './pack-model.js';

const dir = mkdtempSync(join(tmpdir(), 'trainfer-pack-'));

test('k-means: linear init, Lloyd iterations, every value at its nearest centroid', () => {
  const r = lcg(1);
  const values = Float32Array.from({ length: 3000 }, (_, i) => [-1, 0.2, 2][i % 3]! + r() * 0.1);
  const { centroids, assignment } = kmeans1d(values, 3);
  assert.deepEqual(Array.from(centroids, (c) => Math.round(c * 10) / 10), [-1, 0.2, 2]);
  values.forEach((v, i) => {
    const d = Math.abs(v - centroids[assignment[i]!]!);
    for (const c of centroids) assert.ok(d <= Math.abs(v - c) + 1e-7);
  });
  const few = kmeans1d(Float32Array.of(5, 5, 7), 32);
  assert.equal(few.centroids.length, 3, 'no more centroids than values');
});

test('the Gather VJP sums the gradients of weights sharing a centroid; the masked zero entry stays 0', async () => {
  // W[2, 3] = codebook[idx]; loss = Σ W ⊙ A, so dL/dcodebook[k] = Σ_{idx = k} A.
  const idx = [1, 2, 1, 0, 3, 1];
  const A = [0.5, -1, 2, 4, 0.25, -0.75];
  const g = new GraphBuilder({ name: 'shared' });
  g.initializer('codebook', Tensor.f32([4], [0, 0.1, -0.2, 0.3]));
  g.initializer('idx', Tensor.i32([2, 3], idx));
  const a = g.input('a', 'float32', [2, 3]);
  const w = g.gather('codebook', 'idx', 0);
  const loss = g.reduceSum(g.mul(w, a), undefined, false);
  const step = buildTrainStep({ graph: g.graph, loss, params: ['codebook'], optimizer: { type: 'sgd' }, paramMasks: ['codebook'] });
  const s = await Session.create({ model: step.model }, { intraOpThreads: 1 });
  const out = await s.run({ a: Tensor.f32([2, 3], A), [step.lrInput]: Tensor.scalar('float32', 1), codebook: Tensor.f32([4], [0, 0.1, -0.2, 0.3]), [step.masks![0]!.input]: Tensor.f32([4], [0, 1, 1, 1]) });
  await s.release();
  const sums = [0, 0, 0, 0];
  idx.forEach((k, i) => (sums[k]! += A[i]!));
  const want = [0, 0.1 - sums[1]!, -0.2 - sums[2]!, 0.3 - sums[3]!];
  const got = out[step.state[0]!.output]!.toNumbers();
  got.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-6, `codebook[${i}] = ${v}, want ${want[i]}`));
  assert.ok(got[0] === 0, 'entry 0 (pruned weights) stays exactly 0 although its gradient is 4');
  const norm = out[step.gradNormOutput]!.toNumbers()[0]!;
  assert.ok(Math.abs(norm - Math.hypot(sums[1]!, sums[2]!, sums[3]!)) < 1e-5, 'summed gradient, zero entry masked');
});

test('codecs: positions (bitmap, runs, dense) and indices (bytes, packed) decode to what was encoded', () => {
  const rng = Rng.fromSeed(3);
  for (const density of [0.02, 0.3, 1]) {
    const mask = Uint8Array.from({ length: 5000 }, () => (rng.uniform() < density ? 1 : 0));
    const nz = mask.reduce((s, x) => s + x, 0);
    const e = encodePositions(mask);
    assert.deepEqual(decodePositions(e.form, e.bytes, mask.length, nz, 'f', 'p'), mask, `density ${density} (${e.form})`);
    for (const form of ['bitmap', 'runs'] as const) {
      const forced = encodePositions(mask, form);
      assert.equal(forced.form, form);
      assert.deepEqual(decodePositions(form, forced.bytes, mask.length, nz, 'f', 'p'), mask, `${form} at density ${density}`);
    }
  }
  for (const bits of [1, 3, 5, 8]) {
    const idx = Uint16Array.from({ length: 777 }, () => Math.floor(rng.uniform() * 2 ** bits));
    for (const form of ['bytes', 'packed'] as const) {
      const e = encodeIndices(idx, bits, form);
      assert.deepEqual(decodeIndices(form, e.bytes, idx.length, bits, 2 ** bits, 'f', 'i'), idx, `${bits} bits (${form})`);
    }
  }
  assert.throws(() => decodeIndices('bytes', encodeIndices(Uint16Array.of(0, 9), 4, 'bytes').bytes, 2, 4, 8, 'm.tfz', "tensor 'w' indices"), /^FileFormatError: m\.tfz: corrupt tensor 'w' indices \(index 9 with 8 centroids\)$/);
});

test('.tfz round trip: the decompressed model (dense or keep-shared) computes exactly the packed weights', async () => {
  const src = join(dir, 'mlp.onnx');
  writeModel(src, mlpNet(11));
  const tfz = join(dir, 'mlp.tfz');
  const r = await packModel({ input: src, out: tfz, bits: 4, sparsity: 0.75 });
  assert.ok(r.sizes.tfz < r.sizes.onnx / 2, `${r.sizes.tfz} vs ${r.sizes.onnx} (a tiny model: the skeleton dominates)`);
  assert.ok(Math.abs(r.sparsity - 0.75) < 0.01);
  assert.equal(r.tensors.length, 3);
  for (const t of r.tensors) assert.ok(t.indicesBytes <= t.indicesOrder0Bytes * 1.25 + 20, `${t.name}: brotli ${t.indicesBytes} B vs order-0 ${t.indicesOrder0Bytes} B`);
  const dense = join(dir, 'mlp-dense.onnx');
  const shared = join(dir, 'mlp-shared.onnx');
  await unpackModel({ input: tfz, out: dense });
  const u = await unpackModel({ input: tfz, out: shared, keepShared: true });
  assert.ok(u.sizes.onnx < readFileSync(dense).length, 'keep-shared: uint8 indices + codebooks');
  const m = readModel(dense);
  for (const name of ['fc1.weight', 'fc2.weight', 'fc3.weight']) {
    const w = m.graph.initializers.get(name)!.toNumbers();
    assert.ok(new Set(w.filter((v) => v !== 0)).size <= 16, `${name}: at most 2^4 distinct non-zero values`);
  }
  const ks = readModel(shared);
  assert.equal(ks.graph.initializers.get('fc1.weight.indices')!.dtype, 'uint8');
  assert.ok(ks.graph.nodes.some((n) => n.opType === 'Gather' && n.outputs[0] === 'fc1.weight'));
  const x = { x: randomTensor([4, 20], lcg(12), 2) };
  const a = await runModel(m, x);
  const b = await runModel(ks, x);
  assert.deepEqual(Array.from(b.logits!.data as Float32Array), Array.from(a.logits!.data as Float32Array));
});

test('truncated, corrupt, other-version and foreign files: one line naming the file, no output', async () => {
  const src = join(dir, 'mlp2.onnx');
  writeModel(src, mlpNet(12));
  const tfz = join(dir, 'ok.tfz');
  await packModel({ input: src, out: tfz, bits: 3, sparsity: 0.5 });
  const good = readFileSync(tfz);
  const out = join(dir, 'never.onnx');
  const cases: [string, Uint8Array, RegExp][] = [
    ['truncated.tfz', good.subarray(0, good.length - 100), /truncated\.tfz: truncated: \d+ of \d+ bytes$/],
    ['flipped.tfz', Uint8Array.from(good, (b, i) => (i === good.length >> 1 ? b ^ 0x40 : b)), /flipped\.tfz: corrupt: checksum mismatch/],
    ['v2.tfz', Uint8Array.from(good, (b, i) => (i === 4 ? 2 : b)), /v2\.tfz: \.tfz format version 2; this trainfer reads version 1 \(written by a newer trainfer\)$/],
    ['model.tfz', readFileSync(src), /model\.tfz: not a \.tfz file/],
    ['tail.tfz', Buffer.concat([good, Buffer.from([0])]), /tail\.tfz: corrupt: 1 bytes after the end/],
  ];
  for (const [name, bytes, re] of cases) {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    await assert.rejects(unpackModel({ input: p, out }), (err: Error) => {
      assert.match(err.message, re);
      assert.ok(!err.message.includes('\n'));
      return true;
    });
    assert.ok(!existsSync(out), `${name}: no output file`);
  }
  await assert.rejects(packModel({ input: src, out: join(dir, 'b.tfz'), bits: 9 }), /--bits must be an integer from 1 to 8, got 9/);
  await assert.rejects(packModel({ input: src, out: join(dir, 'b.tfz'), bits: 0 }), /--bits must be an integer from 1 to 8, got 0/);
  await assert.rejects(packModel({ input: src, out: join(dir, 'b.tfz'), sparsity: 1.2 }), /--sparsity must be in \[0, 1\)/);
  assert.ok(!existsSync(join(dir, 'b.tfz')));
});

test('with data: pruning while fine-tuning, centroid fine-tuning, accuracy of the decompressed model', async () => {
  const csv = join(dir, 'blobs.csv');
  const rng = Rng.fromSeed(4);
  const rows = ['a,b,c,d,e,f,label'];
  for (let i = 0; i < 1200; i++) {
    const c = i % 3;
    rows.push(`${[0, 1, 2, 3, 4, 5].map((k) => ((k % 3 === c ? 2 : 0) + rng.normal() * 0.8).toFixed(3)).join(',')},${c}`);
  }
  writeFileSync(csv, `${rows.join('\n')}\n`);
  const src = join(dir, 'blobs.onnx');
  await runTrainJob({ model: 'mlp:32', data: csv, out: src, epochs: 4, seed: 1, threads: 1, progress: 'none', optimizer: 'adam', lr: 0.01 });
  const tfz = join(dir, 'blobs.tfz');
  const r = await packModel({ input: src, out: tfz, data: csv, bits: 3, sparsity: 0.5, epochs: 3, centroidEpochs: 1, centroidLr: 1e-3, threads: 1, seed: 1 });
  assert.ok(r.accuracy, 'accuracy measured');
  assert.ok(r.accuracy.after >= r.accuracy.before - 0.04, JSON.stringify(r.accuracy));
  const back = join(dir, 'blobs-back.onnx');
  await unpackModel({ input: tfz, out: back });
  assert.equal(readModel(back).metadata.get('trainfer.task'), 'classification', 'metadata survives');
});
