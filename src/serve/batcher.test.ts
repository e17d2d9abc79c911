// Tests for DynamicBatcher with a fake model (y = 2x, computed on the concatenated batch): requests are
// concatenated and split back, incompatible shapes never share a batch, and 503/504/499/400/500 fail
// only the request they concern.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../onnx/tensor.js';
import type { PoolRunResult } from '../runtime/pool.js';
import { Cancellation, DynamicBatcher, type BatcherOptions } from './batcher.js';
import { InferenceError } from './errors.js';

function fakeModel(o: { gate?: () => Promise<void>; fail?: boolean } = {}) {
  const batches: number[][] = [];
  const run = async (feeds: Record<string, Tensor>): Promise<PoolRunResult> => {
    const x = feeds.x!;
    batches.push([...x.dims]);
    await o.gate?.();
    if (o.fail) throw new Error('kaboom');
    const y = Float32Array.from(x.data as Float32Array, (v) => 2 * v);
    return { outputs: { y: new Tensor('float32', x.dims, y) }, computeMs: 1 };
  };
  return { run, batches };
}

const batcher = (run: BatcherOptions['run'], o: Partial<BatcherOptions> = {}) =>
  new DynamicBatcher({ maxBatchSize: 8, maxQueueDelayMs: 1000, maxQueueSize: 100, timeoutMs: 0, concurrency: 1, run, ...o });
const req = (rows: number, cols: number, k: number) => {
  const x = Tensor.f32([rows, cols], Array.from({ length: rows * cols }, (_, i) => k * 100 + i));
  return { feeds: { x }, batch: rows, expect: Array.from(x.data as Float32Array, (v) => 2 * v) };
};
const status = (s: number) => (e: unknown) => e instanceof InferenceError && e.status === s;

test('requests are concatenated along dim 0 up to maxBatchSize and split back per request', async () => {
  const m = fakeModel();
  const b = batcher(m.run);
  const reqs = [req(1, 3, 0), req(2, 3, 1), req(1, 3, 2), req(4, 3, 3)]; // 8 rows: dispatches at once
  const results = await Promise.all(reqs.map((r) => b.submit({ feeds: r.feeds, batch: r.batch })));
  assert.deepEqual(m.batches, [[8, 3]]);
  results.forEach((res, k) => {
    assert.deepEqual(res.outputs.y!.dims, [reqs[k]!.batch, 3]);
    assert.deepEqual(Array.from(res.outputs.y!.data as Float32Array), reqs[k]!.expect);
    assert.equal(res.batchSize, 8);
  });
});

test('a partial batch runs after maxQueueDelayMs; shapes that differ never share a batch', async () => {
  const m = fakeModel();
  const b = batcher(m.run, { maxQueueDelayMs: 20 });
  const a = req(1, 3, 0);
  const c = req(1, 4, 1);
  const d = req(1, 3, 2);
  const out = await Promise.all([a, c, d].map((r) => b.submit({ feeds: r.feeds, batch: r.batch })));
  assert.deepEqual(m.batches, [[2, 3], [1, 4]]);
  assert.deepEqual(Array.from(out[1]!.outputs.y!.data as Float32Array), c.expect);
  assert.deepEqual(Array.from(out[2]!.outputs.y!.data as Float32Array), d.expect);
});

test('a full queue answers 503 with Retry-After; a too-large batch 400', async () => {
  const m = fakeModel();
  const b = batcher(m.run, { maxQueueSize: 2, maxQueueDelayMs: 30 });
  const first = [b.submit(req(1, 3, 0)), b.submit(req(1, 3, 1))];
  await assert.rejects(b.submit(req(1, 3, 2)), (e) => status(503)(e) && (e as InferenceError).headers['Retry-After'] === '1');
  await assert.rejects(b.submit(req(9, 3, 3)), status(400));
  assert.equal((await Promise.all(first)).length, 2);
});

test('timeouts: 504 while queued (removed) and while running (result ignored); others unaffected', async () => {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const m = fakeModel({ gate: () => gate });
  const b = batcher(m.run, { maxBatchSize: 0, timeoutMs: 30 });
  const running = b.submit(req(1, 3, 0));
  const queued = b.submit(req(1, 3, 1));
  await assert.rejects(running, status(504));
  await assert.rejects(queued, status(504));
  assert.equal(b.queued, 0);
  open();
  const b2 = batcher(fakeModel().run, { maxBatchSize: 0, timeoutMs: 1000 });
  const r = req(2, 3, 5);
  assert.deepEqual(Array.from((await b2.submit(r)).outputs.y!.data as Float32Array), r.expect);
  await b.drain();
  assert.equal(m.batches.length, 1); // the timed-out queued request never ran
});

test('an aborted request leaves the queue with 499; a failing run fails its batch with 500 only', async () => {
  const m = fakeModel();
  const b = batcher(m.run, { maxQueueDelayMs: 50 });
  const ac = new AbortController();
  const gone = b.submit({ ...req(1, 3, 0), signal: ac.signal });
  const stays = b.submit(req(1, 3, 1));
  ac.abort();
  await assert.rejects(gone, status(499));
  const r = await stays;
  assert.deepEqual(r.outputs.y!.dims, [1, 3]);
  assert.deepEqual(m.batches, [[1, 3]]);

  // The server's Cancellation works the same way, and one already aborted is refused at once.
  const c = new Cancellation();
  const cancelled = b.submit({ ...req(1, 3, 2), signal: c });
  c.abort();
  c.abort();
  await assert.rejects(cancelled, status(499));
  await assert.rejects(b.submit({ ...req(1, 3, 3), signal: c }), status(499));
  assert.deepEqual(m.batches, [[1, 3]]);

  const bad = batcher(fakeModel({ fail: true }).run, { maxBatchSize: 2 });
  const both = [bad.submit(req(1, 3, 0)), bad.submit(req(1, 3, 1))];
  for (const p of both) await assert.rejects(p, (e) => status(500)(e) && /kaboom/.test((e as Error).message));
});
