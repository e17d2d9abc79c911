import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder } from '../onnx/builder.js';
import { Tensor } from '../onnx/tensor.js';
import { TrainferError } from '../util/errors.js';
import { Session, availableDevices } from './session.js';

function reluModel() {
  const g = new GraphBuilder({ name: 'relu' });
  g.output(g.relu(g.input('x', 'float32', ['n'])), 'y');
  return g.toModel();
}

test('runs a model and returns typed tensors', async () => {
  const s = await Session.create({ model: reluModel() }, { intraOpThreads: 1 });
  const out = await s.run({ x: Tensor.f32([3], [-1, 0, 2.5]) });
  assert.deepEqual(out.y!.toNumbers(), [0, 0, 2.5]);
  assert.deepEqual(s.inputNames, ['x']);
  await s.release();
});

test('profiling writes a JSON trace and endProfiling returns its path', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tf-prof-'));
  const s = await Session.create({ model: reluModel() }, { intraOpThreads: 1, profile: true, profileFilePrefix: join(dir, 'p') });
  await s.run({ x: Tensor.f32([2], [1, -1]) });
  const file = s.endProfiling();
  assert.ok(file.startsWith(join(dir, 'p_')));
  const events = JSON.parse(readFileSync(file, 'utf8')) as { name: string }[];
  assert.ok(events.some((e) => e.name.includes('Relu')), 'profile lists the Relu kernel');
});

test('cuda without a CUDA build is a one-line error', { skip: availableDevices().includes('cuda') ? 'the CUDA provider is installed here' : false }, async () => {
  await assert.rejects(Session.create({ model: reluModel() }, { device: 'cuda' }), (e: Error) => e instanceof TrainferError && /cuda/.test(e.message) && !e.message.includes('\n'));
});

test('a file ORT cannot load names the file in one line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tf-bad-'));
  const p = join(dir, 'bad.onnx');
  writeFileSync(p, 'not a model');
  await assert.rejects(Session.create({ path: p }), (e: Error) => e instanceof TrainferError && e.message.startsWith(`${p}: `) && !e.message.includes('\n'));
});

test('a feed of the wrong dtype fails as a TrainferError, not a crash', async () => {
  const s = await Session.create({ model: reluModel() }, { intraOpThreads: 1 });
  await assert.rejects(s.run({ x: Tensor.i32([2], [1, 2]) }), TrainferError);
});
