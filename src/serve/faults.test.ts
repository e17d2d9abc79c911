// Faults in a live server: a poison request in a batch fails alone (400, no server paths); every 500
// and every worker crash is logged with the request id and counted; a run past its deadline retires and
// replaces its worker so the next request is served; failed restarts back off and give up (503, not a
// hang) until the model is reloaded; close() drains with a deadline even while a run is stuck.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeModel } from '../onnx/model-io.js';
import { Tensor } from '../onnx/tensor.js';
import { CRASH_WORKER, PoolError } from '../runtime/pool.js';
import { InferenceClient } from './client.js';
import { InferenceError } from './errors.js';
import { addToRepository, mnistMlp } from './example-models.js';
import { InferenceServer } from './server.js';
import { allocationModel, gatherModel, slowLoopModel } from './test-models.js';

let repo: string;
let server: InferenceServer;
let client: InferenceClient;
const logs: Record<string, unknown>[] = [];

before(async () => {
  repo = mkdtempSync(join(tmpdir(), 'trainfer-faults-'));
  const small = { instances: 1, threadsPerInstance: 1 };
  addToRepository({ repo, name: 'gather', model: gatherModel(), config: { ...small, maxBatchSize: 8, maxQueueDelayMs: 300 } });
  addToRepository({ repo, name: 'alloc', model: allocationModel(), config: small });
  addToRepository({ repo, name: 'slow', model: slowLoopModel(), config: { ...small, maxBatchSize: 0, timeoutMs: 400 } });
  addToRepository({ repo, name: 'mlp', model: mnistMlp({ seed: 3 }), config: small });
  addToRepository({ repo, name: 'fragile', model: mnistMlp({ seed: 4 }), config: small });
  server = await InferenceServer.start({
    repository: repo, port: 0, logLevel: 'warn', processMetrics: false, restart: { backoffMs: 20, maxAttempts: 3 },
    logDestination: { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) },
  });
  client = new InferenceClient(server.url);
});

after(async () => {
  await server?.close();
  rmSync(repo, { recursive: true, force: true });
});

async function metric(name: string, ...labels: string[]): Promise<number> {
  const text = await client.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.every((x) => l.includes(x)));
  return line ? Number(line.split(' ').pop()) : 0;
}
async function until(what: string, cond: () => Promise<boolean> | boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
const noPaths = (msg: string) => {
  assert.ok(!msg.includes(repo), `message names the repository: ${msg}`);
  assert.doesNotMatch(msg, /onnxruntime_src|\.cc:\d|\.onnx\b/, msg);
};

test('a poison request in a batch fails alone with 400 and no server paths; its neighbours get their answers', async () => {
  const idx = (rows: number[][]) => Tensor.i64([rows.length, 2], rows.flat());
  const requests = [[[0, 1]], [[2, 3], [4, 5]], [[1, 99]], [[9, -1]]];
  const results = await Promise.allSettled(requests.map((r, k) => client.infer('gather', { inputs: { idx: idx(r) }, id: `g${k}` })));
  const [a, b, poison, d] = results;
  for (const [k, r] of [[0, a], [1, b], [3, d]] as const) {
    assert.equal(r!.status, 'fulfilled', `request ${k}: ${(r as PromiseRejectedResult).reason}`);
    const rows = requests[k]!.flat().map((i) => (i < 0 ? 10 + i : i));
    assert.deepEqual(Array.from((r as PromiseFulfilledResult<Awaited<ReturnType<typeof client.infer>>>).value.outputs.y!.data as Float32Array), rows.flatMap((i) => [3 * i, 3 * i + 1, 3 * i + 2]));
  }
  assert.equal(poison!.status, 'rejected');
  const err = (poison as PromiseRejectedResult).reason as InferenceError;
  assert.equal(err.status, 400, err.message);
  assert.match(err.message, /the model cannot run on this request's values: Gather node '[^']*': indices element out of data bounds, idx=99 must be within the inclusive range \[-10,9\]/);
  noPaths(err.message);
  assert.equal(await metric('trainfer_batch_retries_total', 'model="gather"'), 1);
  const retry = logs.find((l) => l.msg === 'a batch failed; its requests were run again one by one');
  assert.ok(retry, 'the retry is logged');
  assert.equal((retry.requestIds as string[]).length, 4);
  assert.equal(await metric('trainfer_inference_request_failure', 'model="gather"', 'reason="invalid"'), 1);
});

test('a 500 is logged with the request id (also echoed as x-request-id), without server paths in the answer', async () => {
  const res = await fetch(`${server.url}/v2/models/alloc/infer`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'alloc-1' },
    body: JSON.stringify({ inputs: [{ name: 'n', shape: [2], datatype: 'INT64', data: [1_000_000, 10_000_000] }] }),
  });
  assert.equal(res.status, 500);
  assert.equal(res.headers.get('x-request-id'), 'alloc-1');
  const { error } = (await res.json()) as { error: string };
  assert.match(error, /^the model failed to run: ConstantOfShape node '[^']*': .*Failed to allocate memory for requested buffer of size 40000000000000$/);
  noPaths(error);
  const line = logs.find((l) => l.reqId === 'alloc-1');
  assert.ok(line, 'the 500 is logged');
  assert.equal(line.level, 50);
  assert.match(String(line.err), /Failed to allocate memory/);
  // an id the server did not get from the client is generated and echoed
  const plain = await fetch(`${server.url}/v2/models/nope/infer`, { method: 'POST', body: '{}' });
  assert.match(plain.headers.get('x-request-id') ?? '', /^req-[0-9a-z]+$/);
});

test('a worker crash is logged with the ids of the requests it held and counted as a restart', async () => {
  const mv = server.repository.resolve('mlp');
  const x = Tensor.f32([1, 1, 28, 28], new Array(784).fill(0.25));
  mv.pool[CRASH_WORKER](0);
  // sent to the worker after the crash message: the worker exits without running it
  await assert.rejects(mv.pool.run({ pixels: x }, undefined, { tags: ['crash-req-7'] }), (e) => e instanceof PoolError && e.kind === 'crash');
  await until('the restart metric', async () => (await metric('trainfer_worker_restarts_total', 'model="mlp"', 'cause="crash"')) === 1);
  const line = logs.find((l) => l.msg === 'session worker crashed; replacing it');
  assert.ok(line);
  assert.equal(line.level, 50);
  assert.deepEqual(line.requestIds, ['crash-req-7']);
  assert.equal(line.exitCode, 70);
  await until('the replacement', () => mv.pool.size === 1);
  assert.deepEqual((await client.infer('mlp', { inputs: { pixels: x } })).outputs.logits!.dims, [1, 10]);
});

test('a run past its deadline gets 504, its worker is replaced at once, and the old thread exits when its run returns', async () => {
  const x = Tensor.f32([1, 4], [1, 2, 3, 4]);
  const hung = client.infer('slow', { inputs: { x, iters: Tensor.i64([1], [1_000_000]) }, id: 'hung-1' });
  await assert.rejects(hung, (e) => e instanceof InferenceError && e.status === 504 && /timed out/.test(e.message));
  // the hung worker is out of rotation and a replacement is in it while the old thread still runs
  const mv = server.repository.resolve('slow');
  await until('the replacement', () => mv.pool.size === 1 && mv.pool.hung === 1);
  // without a replacement this request would wait behind the hung run and time out too
  const next = await client.infer('slow', { inputs: { x, iters: Tensor.i64([1], [10]) } });
  assert.deepEqual(Array.from(next.outputs.y!.data as Float32Array), [1, 2, 3, 4]);
  assert.equal(await metric('trainfer_worker_restarts_total', 'model="slow"', 'cause="hung"'), 1);
  assert.ok(logs.some((l) => l.msg?.toString().startsWith('a run passed its deadline') && (l.requestIds as string[]).length === 1), 'the hung run is logged');
  await until('the retired worker to exit', async () => (await metric('trainfer_worker_hung', 'model="slow"')) === 0, 30_000);
  assert.ok(logs.some((l) => l.msg === 'a retired worker returned from its run and exited'));
});

test('failed restarts back off and give up: requests get 503 instead of waiting; a reload recovers', async () => {
  const mv = server.repository.resolve('fragile');
  const file = join(repo, 'fragile', '1', 'model.onnx');
  writeFileSync(file, 'not an onnx model');
  mv.pool[CRASH_WORKER](0);
  await until('the crash', async () => (await metric('trainfer_worker_restarts_total', 'model="fragile"')) === 1);
  const x = Tensor.f32([1, 1, 28, 28], new Array(784).fill(0.5));
  await assert.rejects(client.infer('fragile', { inputs: { pixels: x } }), (e) => e instanceof InferenceError && e.status === 503 && /the model is unavailable: no instance is running: 3 restart attempts failed/.test(e.message));
  assert.equal(await metric('trainfer_worker_start_failures_total', 'model="fragile"'), 3);
  assert.equal((await fetch(`${server.url}/v2/health/ready`)).status, 400);
  assert.equal((await fetch(`${server.url}/v2/models/fragile/ready`)).status, 503);
  assert.match((await client.repositoryIndex()).find((r) => r.name === 'fragile')!.reason, /3 restart attempts failed/);
  assert.ok(logs.some((l) => l.level === 60 && l.model === 'fragile'), 'giving up is logged as fatal');
  writeModel(file, mnistMlp({ seed: 4 }));
  await client.loadModel('fragile');
  assert.deepEqual((await client.infer('fragile', { inputs: { pixels: x } })).outputs.logits!.dims, [1, 10]);
  assert.equal((await fetch(`${server.url}/v2/health/ready`)).status, 200);
});

test('close() drains with a deadline: a stuck run gets 503 and close returns instead of waiting for it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trainfer-drain-'));
  addToRepository({ repo: dir, name: 'slow', model: slowLoopModel(), config: { instances: 1, maxBatchSize: 0, timeoutMs: 0 } });
  const s = await InferenceServer.start({ repository: dir, port: 0, logLevel: 'silent', processMetrics: false });
  try {
    const c = new InferenceClient(s.url);
    const stuck = c.infer('slow', { inputs: { x: Tensor.f32([1, 4], [0, 0, 0, 0]), iters: Tensor.i64([1], [1_000_000]) } }).then(() => 200, (e: InferenceError) => e);
    await until('the run to start', () => s.repository.resolve('slow').pool.inFlight === 1);
    const t0 = performance.now();
    const result = await s.close({ deadlineMs: 300 });
    const ms = performance.now() - t0;
    assert.deepEqual(result, { abandoned: 1, stuck: 1 });
    assert.ok(ms < 2000, `close took ${ms.toFixed(0)} ms`);
    const answer = await stuck;
    assert.ok(answer instanceof InferenceError && answer.status === 503 && /shutting down/.test(answer.message), String(answer));
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
