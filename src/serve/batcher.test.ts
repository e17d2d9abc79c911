// Tests for DynamicBatcher with a fake model (y = 2x, computed on the concatenated batch): requests are
// concatenated and split back, incompatible shapes never share a batch, and 503/504/499/400/500 fail
// only the request they concern.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../onnx/tensor.js';
import { PoolError, type PoolRunResult } from '../runtime/pool.js';
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

test('a failed batch is retried request by request: only the poison one fails (400 for a value onnxruntime rejects)', async () => {
  const batches: number[] = [];
  const retries: number[] = [];
  // fails whenever a negative value is in the run, like an out-of-range index; crashes once on the first batch of 3
  let crashed = false;
  const run = async (feeds: Record<string, Tensor>): Promise<PoolRunResult> => {
    const x = feeds.x!;
    batches.push(x.dims[0]!);
    const v = x.data as Float32Array;
    if (x.dims[0] === 3 && !crashed) {
      crashed = true;
      throw new PoolError('m: session worker crashed', 'crash', 'session worker crashed (exit code 70)');
    }
    if (v.some((e) => e < 0)) throw new PoolError("m.onnx: onnxruntime run failed: Non-zero status code returned while running Gather node. Name:'g' Status Message: /onnxruntime_src/x/gather.cc:12 virtual onnxruntime::Status onnxruntime::Gather::Compute(onnxruntime::OpKernelContext*) const idx out of range", 'run', "onnxruntime run failed: Non-zero status code returned while running Gather node. Name:'g' Status Message: /onnxruntime_src/x/gather.cc:12 virtual onnxruntime::Status onnxruntime::Gather::Compute(onnxruntime::OpKernelContext*) const idx out of range");
    return { outputs: { y: new Tensor('float32', x.dims, Float32Array.from(v, (e) => 2 * e)) }, computeMs: 1 };
  };
  const b = batcher(run, { maxQueueDelayMs: 1000, onBatchRetry: (s) => retries.push(s.requests) });
  const rows = [[1, 2, 3], [-1, 5, 6], [7, 8, 9], [10, 11, 12]];
  const results = await Promise.allSettled(rows.map((r) => b.submit({ feeds: { x: Tensor.f32([1, 3], r) }, batch: 1 })));
  assert.deepEqual(batches.slice(0, 5), [4, 1, 1, 1, 1], 'the batch of 4, then each alone');
  assert.deepEqual(retries, [4]);
  assert.deepEqual(Array.from((results[0] as PromiseFulfilledResult<{ outputs: Record<string, Tensor> }>).value.outputs.y!.data as Float32Array), [2, 4, 6]);
  const poison = (results[1] as PromiseRejectedResult).reason as InferenceError;
  assert.equal(poison.status, 400);
  assert.equal(poison.message, "the model cannot run on this request's values: Gather node 'g': idx out of range");
  assert.equal(results[2]!.status, 'fulfilled');
  assert.equal(results[3]!.status, 'fulfilled');
  // a worker crash in a batch: every request is run again alone and answered
  const crash = await Promise.all([1, 2, 3].map((k) => b.submit({ feeds: { x: Tensor.f32([1, 3], [k, k, k]) }, batch: 1 })));
  assert.deepEqual(crash.map((r) => (r.outputs.y!.data as Float32Array)[0]), [2, 4, 6]);
  assert.deepEqual(retries, [4, 3]);
});

test('runs carry the latest deadline of their requests; drain with a deadline answers the rest 503', async () => {
  const seen: (number | undefined)[] = [];
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const run = async (feeds: Record<string, Tensor>, _f: unknown, o: { timeoutMs?: number }): Promise<PoolRunResult> => {
    seen.push(o.timeoutMs);
    await gate;
    return { outputs: { y: feeds.x! }, computeMs: 1 };
  };
  const b = batcher(run as BatcherOptions['run'], { maxBatchSize: 0, timeoutMs: 5000 });
  const running = b.submit(req(1, 3, 0));
  const queued = b.submit(req(1, 3, 1));
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(seen.length, 1);
  assert.ok(seen[0]! > 4000 && seen[0]! <= 5000, `run deadline ${seen[0]}`);
  const t0 = performance.now();
  const drained = await b.drain({ deadlineMs: 50 });
  assert.ok(performance.now() - t0 < 1000);
  assert.deepEqual(drained, { abandoned: 2 });
  await assert.rejects(running, (e) => status(503)(e) && /shutting down/.test((e as Error).message));
  await assert.rejects(queued, status(503));
  await assert.rejects(b.submit(req(1, 3, 2)), status(503));
  open();
  // with nothing in flight, drain returns at once
  assert.deepEqual(await batcher(fakeModel().run).drain({ deadlineMs: 10_000 }), { abandoned: 0 });
});
