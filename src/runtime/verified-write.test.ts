import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attr } from '../onnx/attr.js';
import { GraphBuilder } from '../onnx/builder.js';
import { readModel } from '../onnx/model-io.js';
import { Tensor } from '../onnx/tensor.js';
import { TrainferError } from '../util/errors.js';
import { sampleFeeds } from './sample-feeds.js';
import { writeModelVerified } from './verified-write.js';

/** Two inputs (float features with a symbolic batch, int64 ids into a table) → one output. */
function twoInputModel() {
  const g = new GraphBuilder({ name: 'two' });
  const x = g.input('x', 'float32', ['batch', 3]);
  const ids = g.input('ids', 'int64', ['batch', 'seq']);
  g.initializer('table', Tensor.f32([5, 3], Array.from({ length: 15 }, (_, i) => i / 10)));
  const emb = g.reduceMean(g.gather('table', ids), [1], false); // [batch, 3]
  g.output(g.add(x, emb), 'y');
  return g.toModel();
}

/** An opset-13 Slice without its starts/ends inputs: ORT refuses to load it. */
function brokenModel() {
  const g = new GraphBuilder({ name: 'broken' });
  const x = g.input('x', 'float32', [4]);
  const [y] = g.op('Slice', [x], { starts: attr.ints([0]), ends: attr.ints([2]) });
  g.output(y!, 'y');
  return g.toModel({ opset: 13 });
}

test('sampleFeeds builds one tensor per input with each dtype and resolved dims', () => {
  const feeds = sampleFeeds({ model: twoInputModel(), dims: { batch: 2 }, defaultDim: 7 });
  assert.deepEqual(Object.keys(feeds).sort(), ['ids', 'x']);
  assert.equal(feeds.x!.dtype, 'float32');
  assert.deepEqual(feeds.x!.dims, [2, 3]);
  assert.equal(feeds.ids!.dtype, 'int64');
  assert.deepEqual(feeds.ids!.dims, [2, 7]);
  assert.ok(feeds.x!.toNumbers().every((v) => v >= 0 && v < 1));
});

test('writeModelVerified writes a multi-input int64 model that runs, and nothing else', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tf-verify-'));
  const out = join(dir, 'm.onnx');
  await writeModelVerified({ path: out, model: twoInputModel() });
  assert.deepEqual(readdirSync(dir), ['m.onnx']);
  assert.equal(readModel(out).graph.feedInputs().length, 2);
});

test('a model onnxruntime cannot load is not written, the old file stays, no temp files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tf-verify-'));
  const out = join(dir, 'm.onnx');
  writeFileSync(out, 'previous');
  await assert.rejects(writeModelVerified({ path: out, model: brokenModel() }), (e: Error) => {
    assert.ok(e instanceof TrainferError);
    assert.ok(e.message.startsWith(`${out}: not written: onnxruntime cannot load it`), e.message);
    assert.ok(!e.message.includes('\n'));
    return true;
  });
  assert.equal(readFileSync(out, 'utf8'), 'previous');
  assert.deepEqual(readdirSync(dir), ['m.onnx']);
});

test('a model that loads but fails on its sample run is not written either', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tf-verify-'));
  const out = join(dir, 'm.onnx');
  const model = twoInputModel();
  // An out-of-range id makes Gather fail at run time.
  const feeds = { ...sampleFeeds({ model }), ids: Tensor.i64([1, 1], [99]) };
  await assert.rejects(writeModelVerified({ path: out, model, feeds }), /not written: onnxruntime cannot run it on a sample/);
  assert.equal(existsSync(out), false);
  assert.deepEqual(readdirSync(dir), []);
});

test('external data lands beside the model, verified as one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tf-verify-'));
  const out = join(dir, 'm.onnx');
  await writeModelVerified({ path: out, model: twoInputModel(), write: { externalDataThreshold: 16 } });
  assert.deepEqual(readdirSync(dir).sort(), ['m.onnx', 'm.onnx.data']);
});
