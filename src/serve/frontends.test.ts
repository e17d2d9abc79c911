// The multi-core front end (httpWorkers ≥ 2): every REST guarantee holds across HTTP worker threads —
// each answer equals onnxruntime's for that request alone while hundreds of requests, good and bad, are
// spread over the threads by the kernel; bad ones get a 4xx without failing others; metrics are one
// view over every thread (request counts add up; each thread's CPU is reported); request ids stay unique;
// loads and unloads reach every thread; close drains requests in flight on every thread.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor } from '../onnx/tensor.js';
import { Session } from '../runtime/session.js';
import { InferenceClient, buildRequest } from './client.js';
import { decodeInferResponse } from './protocol.js';
import { addToRepository, mnistMlp } from './example-models.js';
import { slowLoopModel } from './test-models.js';
import { InferenceServer, defaultHttpWorkers } from './server.js';

let repo: string;
let server: InferenceServer;
let session: Session;

before(async () => {
  repo = mkdtempSync(join(tmpdir(), 'trainfer-fronts-'));
  addToRepository({ repo, name: 'mnist', model: mnistMlp({ seed: 5 }), config: { instances: 1, maxBatchSize: 8, maxQueueDelayMs: 2 } });
  addToRepository({ repo, name: 'plain', model: mnistMlp({ seed: 6 }), config: { instances: 1, maxBatchSize: 0 } });
  server = await InferenceServer.start({ repository: repo, port: 0, logLevel: 'silent', processMetrics: false, httpWorkers: 3 });
  session = await Session.create({ path: join(repo, 'mnist', '1', 'model.onnx') }, { intraOpThreads: 1 });
});

after(async () => {
  await session?.release();
  await server?.close();
  rmSync(repo, { recursive: true, force: true });
});

const image = (k: number, n = 1) => Tensor.f32([n, 1, 28, 28], Array.from({ length: 784 * n }, (_, i) => ((i * 7 + k * 13) % 101) / 101));

/** One request on its own connection (so the kernel spreads them over the threads). */
function post(path: string, body: string | Uint8Array, headers: Record<string, string> = {}): Promise<{ status: number; body: string; bytes: Buffer; headers: http.IncomingHttpHeaders }> {
  const agent = new http.Agent({ keepAlive: false });
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(server.url + path), { method: 'POST', agent, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => {
        const bytes = Buffer.concat(parts);
        resolve({ status: res.statusCode!, body: bytes.toString('utf8'), bytes, headers: res.headers });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('default HTTP workers: the cores the instances leave, at least 2; none on one core', () => {
  assert.equal(defaultHttpWorkers({ cores: 2, instanceThreads: 2 }), 2);
  assert.equal(defaultHttpWorkers({ cores: 16, instanceThreads: 4 }), 12);
  assert.equal(defaultHttpWorkers({ cores: 8, instanceThreads: 16 }), 2);
  assert.equal(defaultHttpWorkers({ cores: 1, instanceThreads: 1 }), 0);
  assert.equal(server.httpWorkers, 3);
});

test('300 requests over 3 threads, a third of them bad: every good answer is its own, every bad one a 4xx', async () => {
  const n = 300;
  const wants = new Map<number, Float32Array>();
  for (let k = 0; k < 12; k++) wants.set(k, (await session.run({ pixels: image(k) })).logits!.data as Float32Array);
  const results = await Promise.all(Array.from({ length: n }, async (_, i) => {
    const k = i % 12;
    const model = i % 2 === 0 ? 'mnist' : 'plain';
    if (i % 3 === 2) {
      const bad = [`{"inputs":[{"name":"pixels","shape":[1,1,28,28],"datatype":"FP32","data":[1,2]}]}`, '{"inputs": [', `{"inputs":[{"name":"nope","shape":[1],"datatype":"FP32","data":[1]}]}`][i % 9 === 2 ? 0 : i % 9 === 5 ? 1 : 2]!;
      return { i, k, model, bad: true, r: await post(`/v2/models/${model}/infer`, bad) };
    }
    const req = buildRequest({ inputs: { pixels: image(k) }, binary: i % 4 === 0, id: `r${i}` });
    return { i, k, model, bad: false, r: await post(`/v2/models/${model}/infer`, req.body, req.headers) };
  }));
  for (const { i, k, model, bad, r } of results) {
    if (bad) {
      assert.ok(r.status >= 400 && r.status < 500, `request ${i}: ${r.status} ${r.body}`);
      assert.match(JSON.parse(r.body).error, /^[^\n]+$/);
      continue;
    }
    assert.equal(r.status, 200, `request ${i}: ${r.body.slice(0, 200)}`);
    if (model === 'plain') continue; // a different model: checked for status only
    const header = r.headers['inference-header-content-length'];
    const { response, tensors } = decodeInferResponse(r.bytes, typeof header === 'string' ? header : undefined);
    assert.equal(response.id, `r${i}`);
    assert.deepEqual(Array.from(tensors.get('logits')!.data as Float32Array), Array.from(wants.get(k)!), `request ${i}`);
  }
});

test('binary answers over the worker threads are exact', async () => {
  const client = new InferenceClient(server.url);
  const x = image(3, 5);
  const want = (await session.run({ pixels: x })).logits!;
  const got = await Promise.all(Array.from({ length: 24 }, () => client.infer('mnist', { inputs: { pixels: x }, binary: true })));
  for (const g of got) assert.deepEqual(Array.from(g.outputs.logits!.data as Float32Array), Array.from(want.data as Float32Array));
});

test('metrics are one view over every thread; request ids are unique across threads', async () => {
  const client = new InferenceClient(server.url);
  const count = async () => Number(/^trainfer_inference_request_success\{model="plain",version="1"\} (\d+)/m.exec(await client.metrics())?.[1] ?? 0);
  const before = await count();
  const ids = await Promise.all(Array.from({ length: 60 }, async () => {
    const r = await post('/v2/models/plain/infer', '{"inputs": [');
    return String(r.headers['x-request-id']);
  }));
  assert.equal(new Set(ids).size, ids.length, 'request ids are unique');
  const req = buildRequest({ inputs: { pixels: image(1) } });
  await Promise.all(Array.from({ length: 45 }, () => post('/v2/models/plain/infer', req.body)));
  assert.equal(await count(), before + 45);
  const text = await client.metrics();
  const failures = Number(/^trainfer_inference_request_failure\{model="plain",version="1",reason="[^"]+"\} (\d+)/m.exec(text)?.[1] ?? 0);
  assert.ok(failures >= 60, `failures counted over every thread: ${failures}`);
  if (process.platform === 'linux') {
    for (const t of ['main', 'http-0', 'http-1', 'http-2']) assert.match(text, new RegExp(`^trainfer_thread_cpu_seconds_total\\{thread="${t}"\\} [0-9.]+$`, 'm'));
  }
});

test('unload and load reach every thread', async () => {
  const client = new InferenceClient(server.url);
  const req = buildRequest({ inputs: { pixels: image(2) } });
  await client.unloadModel('plain');
  const gone = await Promise.all(Array.from({ length: 12 }, () => post('/v2/models/plain/infer', req.body)));
  assert.deepEqual([...new Set(gone.map((r) => r.status))], [404]);
  await client.loadModel('plain');
  const back = await Promise.all(Array.from({ length: 12 }, () => post('/v2/models/plain/infer', req.body)));
  assert.deepEqual([...new Set(back.map((r) => r.status))], [200]);
});

test('close drains requests in flight on every thread', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trainfer-fronts-drain-'));
  try {
    // each run loops ~40k MatMuls (tens of ms): 12 requests queue on one instance, arriving over 2 threads
    addToRepository({ repo: dir, name: 'slow', model: slowLoopModel(), config: { instances: 1, maxBatchSize: 0 } });
    const s = await InferenceServer.start({ repository: dir, port: 0, logLevel: 'silent', processMetrics: false, httpWorkers: 2 });
    const req = buildRequest({ inputs: { x: Tensor.f32([1, 4], [1, 2, 3, 4]), iters: Tensor.i64([1], [40_000]) } });
    const send = () => fetch(`${s.url}/v2/models/slow/infer`, { method: 'POST', body: req.body, headers: { 'content-type': 'application/json' } }).then((r) => r.status);
    const inflight = Array.from({ length: 12 }, () => send());
    const t0 = performance.now();
    while (s.repository.resolve('slow').batcher.queued + s.repository.resolve('slow').pool.inFlight < 12 && performance.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 5));
    const closed = s.close({ deadlineMs: 20_000 });
    const statuses = await Promise.all(inflight);
    const result = await closed;
    assert.deepEqual([...new Set(statuses)], [200]);
    assert.deepEqual(result, { abandoned: 0, stuck: 0 });
    await assert.rejects(fetch(`${s.url}/v2/health/live`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
