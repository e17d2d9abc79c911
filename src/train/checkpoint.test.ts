// Checkpoints round-trip exactly, reject damaged files with one line, and survive a SIGKILL at any
// moment of a write: the file on disk is always a complete old or new checkpoint.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor } from '../onnx/tensor.js';
import { FileFormatError } from '../util/errors.js';
import { type Checkpoint, loadCheckpoint, saveCheckpoint } from './checkpoint.js';

function ckpt(version: number, size: number): Checkpoint {
  return {
    meta: { version: 2, fingerprint: 'fp', step: version, epoch: 0, batchInEpoch: version, shuffleRngAtEpochStart: [1, 2, 3, 4], dropoutRng: [5, 6, 7, 8], trainer: { note: 'x' } },
    tensors: new Map([
      ['w', new Tensor('float32', [size], new Float32Array(size).fill(version))],
      ['b', Tensor.f32([3], [version, -0, NaN])],
      ['i', Tensor.i64([2], [version, -version])],
    ]),
  };
}

test('round trip is exact (bits, dtypes, meta)', () => {
  const path = join(mkdtempSync(join(tmpdir(), 'trainfer-ckpt-')), 'c.trainfer');
  const c = ckpt(7, 5);
  saveCheckpoint(path, c);
  const r = loadCheckpoint(path);
  assert.deepEqual(r.meta, c.meta);
  for (const [k, t] of c.tensors) {
    const u = r.tensors.get(k)!;
    assert.equal(u.dtype, t.dtype);
    assert.deepEqual(u.dims, t.dims);
    assert.deepEqual(new Uint8Array((u.data as Float32Array).buffer, (u.data as Float32Array).byteOffset, u.byteLength), new Uint8Array((t.data as Float32Array).buffer, (t.data as Float32Array).byteOffset, t.byteLength));
  }
});

test('non-finite numbers in the header survive (an Infinity best loss is not null after a resume)', () => {
  const path = join(mkdtempSync(join(tmpdir(), 'trainfer-ckpt-')), 'c.trainfer');
  const c = ckpt(1, 2);
  c.meta.trainer = { best: Infinity, worst: -Infinity, auc: NaN, history: [{ valLoss: 0.5 }] };
  saveCheckpoint(path, c);
  assert.deepEqual(loadCheckpoint(path).meta.trainer, { best: Infinity, worst: -Infinity, auc: NaN, history: [{ valLoss: 0.5 }] });
});

test('damaged files are one-line FileFormatErrors naming the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'trainfer-ckpt-'));
  const path = join(dir, 'c.trainfer');
  saveCheckpoint(path, ckpt(1, 100));
  const bytes = readFileSync(path);
  writeFileSync(path, bytes.subarray(0, bytes.length - 10));
  assert.throws(() => loadCheckpoint(path), (e: Error) => e instanceof FileFormatError && e.message.startsWith(`${path}: truncated`));
  writeFileSync(path, 'hello');
  assert.throws(() => loadCheckpoint(path), /not a Trainfer checkpoint/);
  assert.throws(() => loadCheckpoint(join(dir, 'none')), /no checkpoint here/);
});

test('a kill in the middle of writing never leaves a corrupt checkpoint', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trainfer-ckpt-'));
  const path = join(dir, 'c.trainfer');
  const size = 2_000_000; // 8 MB per write: the kill lands mid-write most of the time
  saveCheckpoint(path, ckpt(0, size));
  const url = new URL('./checkpoint.js', import.meta.url).href;
  const tensorUrl = new URL('../onnx/tensor.js', import.meta.url).href;
  const script = `
    const { saveCheckpoint } = await import(${JSON.stringify(url)});
    const { Tensor } = await import(${JSON.stringify(tensorUrl)});
    for (let v = 1; ; v++) {
      const meta = { version: 2, fingerprint: 'fp', step: v, epoch: 0, batchInEpoch: v, shuffleRngAtEpochStart: [1,2,3,4], dropoutRng: [5,6,7,8], trainer: {} };
      saveCheckpoint(${JSON.stringify(path)}, { meta, tensors: new Map([['w', new Tensor('float32', [${size}], new Float32Array(${size}).fill(v))]]) });
      if (v === 1) process.stdout.write('go\\n');
    }`;
  for (const delay of [5, 37, 90]) {
    const child = spawn(process.execPath, [...process.execArgv, '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    await new Promise((r) => setTimeout(r, delay));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const c = loadCheckpoint(path);
    const w = c.tensors.get('w')!.data as Float32Array;
    assert.equal(w.length, size);
    assert.ok(w.every((x) => x === c.meta.step), 'tensor bytes belong to the version named in the header');
  }
});
