// End-to-end tests of the inference server over loopback: endpoints and metadata, JSON and binary
// inference checked against an in-process Session, every datatype, dynamic batching, 503/504, bad
// input, client disconnects, load/unload and metrics.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder } from '../onnx/builder.js';
import { Tensor } from '../onnx/tensor.js';
import { Session, availableDevices } from '../runtime/session.js';
import { InferenceClient } from './client.js';
import { InferenceError } from './errors.js';
import { addToRepository, mnistMlp } from './example-models.js';
import { InferenceServer } from './server.js';
import { tensorToJson } from './protocol.js';
import { EXTENSIONS } from './server.js';

let repo: string;
let server: InferenceServer;
let client: InferenceClient;
const sessions: Record<string, Session> = {};

function typesModel() {
  const g = new GraphBuilder({ name: 'types' });
  const a = g.input('a', 'float32', ['batch', 3]);
  const flag = g.input('flag', 'bool', ['batch', 3]);
  const idx = g.input('idx', 'int64', ['batch', 3]);
  const h = g.input('h', 'float16', ['batch', 3]);
  const s = g.input('s', 'string', ['batch']);
  g.output(g.where(flag, a, g.neg(a)), 'signed', { dtype: 'float32', shape: ['batch', 3] });
  g.output(g.mul(idx, g.constant(Tensor.i64([], [2]))), 'doubled', { dtype: 'int64', shape: ['batch', 3] });
  g.output(g.add(h, h), 'h2', { dtype: 'float16', shape: ['batch', 3] });
  g.output(g.identity(s), 'echo', { dtype: 'string', shape: ['batch'] });
  g.output(g.not(flag), 'notflag', { dtype: 'bool', shape: ['batch', 3] });
  return g.toModel();
}

before(async () => {
  repo = mkdtempSync(join(tmpdir(), 'trainfer-serve-'));
  const small = { instances: 1, threadsPerInstance: 1 };
  const f1 = addToRepository({ repo, name: 'mnist', version: 1, model: mnistMlp({ seed: 1 }), config: { ...small, maxBatchSize: 16, maxQueueDelayMs: 100 } });
  const f2 = addToRepository({ repo, name: 'mnist', version: 2, model: mnistMlp({ seed: 2 }) });
  const ft = addToRepository({ repo, name: 'types', model: typesModel(), config: { ...small, maxBatchSize: 8, maxQueueDelayMs: 0, allowNonFinite: true } });
  // Requests wait in these models' queues for a long time, so queue-full, timeout and disconnect are deterministic.
  addToRepository({ repo, name: 'queued', model: mnistMlp({ seed: 3 }), config: { ...small, maxBatchSize: 64, maxQueueDelayMs: 2000, maxQueueSize: 2, timeoutMs: 600 } });
  addToRepository({ repo, name: 'held', model: mnistMlp({ seed: 4 }), config: { ...small, maxBatchSize: 64, maxQueueDelayMs: 3000, timeoutMs: 0 } });
  for (const [k, f] of Object.entries({ v1: f1, v2: f2, types: ft })) sessions[k] = await Session.create({ path: f }, { intraOpThreads: 1 });
  server = await InferenceServer.start({ repository: repo, port: 0, logLevel: 'silent', bodyLimitBytes: 1024 * 1024, processMetrics: false });
  client = new InferenceClient(server.url);
});

after(async () => {
  await server?.close();
  for (const s of Object.values(sessions)) await s.release();
  rmSync(repo, { recursive: true, force: true });
});

async function http(path: string, init: RequestInit = {}): Promise<{ status: number; body: Record<string, unknown>; headers: Headers; text: string }> {
  const res = await fetch(server.url + path, init);
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text);
  } catch {
    // empty or non-JSON body
  }
  return { status: res.status, body, headers: res.headers, text };
}
const post = (path: string, body: unknown) => http(path, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } });

function image(k: number, n = 1): Tensor {
  return Tensor.f32([n, 1, 28, 28], Array.from({ length: n * 784 }, (_, i) => Math.abs(Math.sin(i * 0.37 + k))));
}
function assertClose(got: Tensor, want: Tensor, what: string): void {
  assert.deepEqual(got.dims, want.dims, what);
  const g = got.toNumbers();
  const w = want.toNumbers();
  for (let i = 0; i < w.length; i++) assert.ok(Math.abs(g[i]! - w[i]!) <= 1e-5 * (1 + Math.abs(w[i]!)), `${what}[${i}]: ${g[i]} vs ${w[i]}`);
}
async function metric(name: string, ...labels: string[]): Promise<number> {
  const text = await client.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.every((x) => l.includes(x)));
  return line ? Number(line.split(' ').pop()) : 0;
}

test('health, server metadata, model metadata, readiness and config', async () => {
  assert.equal((await http('/v2/health/live')).status, 200);
  assert.equal((await http('/v2/health/ready')).status, 200);
  assert.deepEqual(await client.serverMetadata(), { name: 'trainfer', version: '0.1.0', extensions: [...EXTENSIONS] });
  const meta = await client.modelMetadata('mnist');
  assert.deepEqual(meta, {
    name: 'mnist', versions: ['1', '2'], platform: 'onnxruntime_onnx',
    inputs: [{ name: 'pixels', datatype: 'FP32', shape: [-1, 1, 28, 28] }],
    outputs: [{ name: 'logits', datatype: 'FP32', shape: [-1, 10] }],
  });
  const types = await client.modelMetadata('types', '1');
  assert.deepEqual(types.inputs.map((i) => i.datatype), ['FP32', 'BOOL', 'INT64', 'FP16', 'BYTES']);
  assert.equal(await client.modelReady('mnist'), true);
  assert.equal(await client.modelReady('mnist', '2'), true);
  assert.equal(await client.modelReady('mnist', '7'), false);
  assert.equal(await client.modelReady('nope'), false);
  // Triton's ModelConfig schema: dims without the batch dimension when max_batch_size > 0
  const cfg = (await http('/v2/models/mnist/versions/1/config')).body;
  assert.equal(cfg.name, 'mnist');
  assert.equal(cfg.platform, 'onnxruntime_onnx');
  assert.equal(cfg.max_batch_size, 16);
  assert.deepEqual(cfg.input, [{ name: 'pixels', data_type: 'TYPE_FP32', format: 'FORMAT_NONE', dims: [1, 28, 28], is_shape_tensor: false, allow_ragged_batch: false, optional: false }]);
  assert.deepEqual(cfg.output, [{ name: 'logits', data_type: 'TYPE_FP32', dims: [10], label_filename: '', is_shape_tensor: false }]);
  assert.deepEqual(cfg.dynamic_batching, {
    preferred_batch_size: [], max_queue_delay_microseconds: 100_000, preserve_ordering: false, priority_levels: 0, default_priority_level: 0,
    default_queue_policy: { timeout_action: 'REJECT', default_timeout_microseconds: 30_000_000, allow_timeout_override: false, max_queue_size: 256 },
  });
  assert.deepEqual(cfg.instance_group, [{ name: 'mnist_0', kind: 'KIND_CPU', count: 1, gpus: [], secondary_devices: [], profile: [], passive: false, host_policy: '' }]);
  assert.deepEqual((cfg.parameters as Record<string, unknown>)['trainfer.batching'], { string_value: 'maxBatchSize is set in config.json' });
  const typesCfg = (await http('/v2/models/types/config')).body as { input: { data_type: string; dims: number[] }[] };
  assert.deepEqual(typesCfg.input.map((i) => `${i.data_type}${JSON.stringify(i.dims)}`), ['TYPE_FP32[3]', 'TYPE_BOOL[3]', 'TYPE_INT64[3]', 'TYPE_FP16[3]', 'TYPE_STRING[]']);
});

test('JSON inference matches the in-process session; no version means the highest; id is echoed', async () => {
  const x = image(1, 2);
  const nested = [0, 1].map((b) => [Array.from({ length: 28 }, (_, r) => Array.from((x.data as Float32Array).subarray(b * 784 + r * 28, b * 784 + r * 28 + 28)))]);
  const r = await post('/v2/models/mnist/infer', { id: 'req-42', inputs: [{ name: 'pixels', shape: [2, 1, 28, 28], datatype: 'FP32', data: nested }] });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.id, 'req-42');
  assert.equal(r.body.model_version, '2');
  const out = (r.body.outputs as { name: string; datatype: string; shape: number[]; data: number[] }[])[0]!;
  assert.equal(out.datatype, 'FP32');
  const want2 = (await sessions.v2!.run({ pixels: x })).logits!;
  assertClose(Tensor.f32(out.shape, out.data), want2, 'v2 logits');
  const v1 = await client.infer('mnist', { inputs: { pixels: x }, version: '1', outputs: ['logits'] });
  assert.equal(v1.modelVersion, '1');
  assertClose(v1.outputs.logits!, (await sessions.v1!.run({ pixels: x })).logits!, 'v1 logits');
});

test('binary tensor data extension: request, response headers, per-output choice', async () => {
  const x = image(2);
  const res = await client.infer('mnist', { inputs: { pixels: x }, version: '1', binary: true });
  assertClose(res.outputs.logits!, (await sessions.v1!.run({ pixels: x })).logits!, 'binary logits');
  assert.deepEqual(res.raw.outputs[0]!.parameters, { binary_data_size: 40 });
  // a JSON request that asks for one binary output
  const raw = await fetch(`${server.url}/v2/models/types/infer`, { method: 'POST', body: JSON.stringify({
    inputs: [
      { name: 'a', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }, { name: 'flag', shape: [1, 3], datatype: 'BOOL', data: [true, false, true] },
      { name: 'idx', shape: [1, 3], datatype: 'INT64', data: [1, 2, 3] }, { name: 'h', shape: [1, 3], datatype: 'FP16', data: [1, 2, 0] },
      { name: 's', shape: [1], datatype: 'BYTES', data: ['hi'] },
    ],
    outputs: [{ name: 'signed', parameters: { binary_data: true } }, { name: 'echo' }],
  }) });
  assert.equal(raw.status, 200);
  assert.equal(raw.headers.get('content-type'), 'application/octet-stream');
  const headerLength = Number(raw.headers.get('inference-header-content-length'));
  const bytes = Buffer.from(await raw.arrayBuffer());
  const head = JSON.parse(bytes.subarray(0, headerLength).toString()) as { outputs: { name: string; data?: unknown; parameters?: unknown }[] };
  assert.deepEqual(head.outputs.map((o) => o.name), ['signed', 'echo']);
  assert.deepEqual(head.outputs[1]!.data, ['hi']);
  assert.deepEqual(Array.from(new Float32Array(bytes.buffer.slice(bytes.byteOffset + headerLength, bytes.byteOffset + headerLength + 12))), [1, -2, 3]);
});

test('every datatype the model uses, JSON and binary, matches the session', async () => {
  const inputs = {
    a: Tensor.f32([2, 3], [1, 2, 3, -4, 5.5, 6]),
    flag: new Tensor('bool', [2, 3], Uint8Array.from([1, 0, 1, 0, 0, 1])),
    idx: Tensor.i64([2, 3], [1, -2, 3, 2 ** 40, 5, 6]),
    h: new Tensor('float16', [2, 3], Uint16Array.from([0x3c00, 0x4000, 0, 0xbc00, 0x3800, 0x4400])),
    s: new Tensor('string', [2], ['hello', 'wörld']),
  };
  const want = await sessions.types!.run(inputs);
  for (const binary of [false, true]) {
    const res = await client.infer('types', { inputs, binary });
    for (const [name, t] of Object.entries(want)) {
      const got = res.outputs[name]!;
      assert.equal(got.dtype, t.dtype, `${name} binary=${binary}`);
      assert.deepEqual(got.dims, t.dims);
      assert.deepEqual(tensorToJson(got), tensorToJson(t), `${name} binary=${binary}`);
    }
  }
});

test('dynamic batching concatenates concurrent requests and splits the outputs back', async () => {
  const labels = 'model="mnist",version="1"';
  const before = await metric('trainfer_inference_exec_count', labels);
  const n = 24;
  const xs = Array.from({ length: n }, (_, k) => image(100 + k, 1 + (k % 2)));
  const results = await Promise.all(xs.map((x) => client.infer('mnist', { inputs: { pixels: x }, version: '1' })));
  const execs = (await metric('trainfer_inference_exec_count', labels)) - before;
  assert.ok(execs >= 3 && execs < n, `expected batches to merge requests: ${execs} executions for ${n} requests`);
  for (let k = 0; k < n; k++) assertClose(results[k]!.outputs.logits!, (await sessions.v1!.run({ pixels: xs[k]! })).logits!, `request ${k}`);
  const text = await client.metrics();
  assert.match(text, /trainfer_inference_batch_size_bucket\{le="16",model="mnist",version="1"\}/);
});

test('a full queue answers 503 with Retry-After; a request past its deadline 504', async () => {
  const body = { inputs: [{ name: 'pixels', shape: [1, 1, 28, 28], datatype: 'FP32', data: new Array(784).fill(0.5) }] };
  const rs = await Promise.all([0, 1, 2].map(() => post('/v2/models/queued/infer', body)));
  const statuses = rs.map((r) => r.status).sort();
  assert.deepEqual(statuses, [503, 504, 504]);
  const full = rs.find((r) => r.status === 503)!;
  assert.equal(full.headers.get('retry-after'), '1');
  assert.match(String(full.body.error), /queue is full/);
  assert.match(String(rs.find((r) => r.status === 504)!.body.error), /timed out after 600 ms/);
  assert.equal(await metric('trainfer_inference_request_failure', 'reason="timeout"'), 2);
  assert.equal(await metric('trainfer_inference_request_failure', 'reason="rejected"'), 1);
});

test('bad input gets the right status and a one-line {"error"}; the server keeps serving', async () => {
  const px = (o: Record<string, unknown> = {}) => ({ inputs: [{ name: 'pixels', shape: [1, 1, 28, 28], datatype: 'FP32', data: new Array(784).fill(0.1), ...o }] });
  const cases: [string, Promise<Awaited<ReturnType<typeof http>>>, number, RegExp][] = [
    ['malformed JSON', post('/v2/models/mnist/infer', '{"inputs": [1,'), 400, /^malformed JSON/],
    ['empty body', http('/v2/models/mnist/infer', { method: 'POST' }), 400, /empty request body/],
    ['unknown model', post('/v2/models/nope/infer', px()), 404, /unknown model 'nope'/],
    ['unknown version', post('/v2/models/mnist/versions/9/infer', px()), 404, /no version '9'/],
    ['wrong datatype', post('/v2/models/mnist/infer', px({ datatype: 'FP64' })), 400, /datatype FP64 does not match the model's FP32/],
    ['wrong shape', post('/v2/models/mnist/infer', px({ shape: [1, 784] })), 400, /shape \[1, 784\] does not match the model's \[-1, 1, 28, 28\]/],
    ['wrong count', post('/v2/models/mnist/infer', px({ data: [1, 2, 3] })), 400, /needs 784 elements, 'data' has 3/],
    ['unknown input', post('/v2/models/mnist/infer', { inputs: [...px().inputs, { name: 'extra', shape: [1], datatype: 'FP32', data: [1] }] }), 400, /unknown input 'extra'/],
    ['missing input', post('/v2/models/types/infer', { inputs: [{ name: 'a', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] }), 400, /missing input 'flag'/],
    ['unknown output', post('/v2/models/mnist/infer', { ...px(), outputs: [{ name: 'probs' }] }), 400, /unknown output 'probs'/],
    ['infinity', post('/v2/models/mnist/infer', '{"inputs":[{"name":"pixels","shape":[1,1,28,28],"datatype":"FP32","data":[1e999' + ',0'.repeat(783) + ']}]}'), 400, /element 0 is NaN or infinite/],
    ['batch too large', post('/v2/models/mnist/versions/1/infer', px({ shape: [17, 1, 28, 28], data: new Array(17 * 784).fill(0) })), 400, /batch size 17 exceeds the model's maxBatchSize 16/],
    ['body too large', post('/v2/models/mnist/infer', px({ data: new Array(200000).fill(0.123456789) })), 413, /larger than the limit of 1048576 bytes/],
    ['bad name', http('/v2/repository/models/bad%20name!/load', { method: 'POST' }), 400, /not a plain directory name/],
    ['no route', http('/v2/nothing'), 404, /no such endpoint/],
  ];
  for (const [what, p, status, re] of cases) {
    const r = await p;
    assert.equal(r.status, status, `${what}: ${r.text}`);
    assert.match(String(r.body.error), re, what);
    assert.ok(!String(r.body.error).includes('\n'), what);
  }
  // binary NaN is refused too (mnist does not allow non-finite inputs) …
  const nan = Tensor.f32([1, 1, 28, 28], new Array(784).fill(0));
  (nan.data as Float32Array)[5] = NaN;
  await assert.rejects(client.infer('mnist', { inputs: { pixels: nan }, binary: true }), (e) => e instanceof InferenceError && e.status === 400 && /element 5 is NaN/.test(e.message));
  // … but the types model's config allows it
  const ok = await client.infer('types', { inputs: {
    a: Tensor.f32([1, 3], [Infinity, 0, 1]), flag: new Tensor('bool', [1, 3], Uint8Array.from([1, 1, 1])), idx: Tensor.i64([1, 3], [0, 0, 0]),
    h: new Tensor('float16', [1, 3], new Uint16Array(3)), s: new Tensor('string', [1], ['']),
  }, binary: true, outputs: ['signed'] });
  assert.deepEqual(ok.outputs.signed!.toNumbers(), [Infinity, 0, 1]);
  const good = await client.infer('mnist', { inputs: { pixels: image(3) } });
  assert.deepEqual(good.outputs.logits!.dims, [1, 10]);
});

test('a client that disconnects mid-request is dropped without affecting others', async () => {
  const body = JSON.stringify({ inputs: [{ name: 'pixels', shape: [1, 1, 28, 28], datatype: 'FP32', data: new Array(784).fill(0.2) }] });
  const ac = new AbortController();
  const gone = fetch(`${server.url}/v2/models/held/infer`, { method: 'POST', body, signal: ac.signal, headers: { 'content-type': 'application/json' } });
  // the request waits 3 s in the queue: abort once the server has it
  for (let i = 0; i < 200 && (await metric('trainfer_inference_inflight_requests', 'model="held"')) === 0; i++) await new Promise((r) => setTimeout(r, 5));
  ac.abort();
  await assert.rejects(gone);
  for (let i = 0; i < 200 && (await metric('trainfer_inference_request_failure', 'reason="canceled"')) === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(await metric('trainfer_inference_request_failure', 'model="held"', 'reason="canceled"'), 1);
  assert.equal(await metric('trainfer_inference_pending_request_count', 'model="held"'), 0);
  const r = await client.infer('mnist', { inputs: { pixels: image(4) }, version: '1' });
  assertClose(r.outputs.logits!, (await sessions.v1!.run({ pixels: image(4) })).logits!, 'after disconnect');
});

test('repository: index, unload, load, a model added at run time, bad config', async () => {
  assert.deepEqual((await client.repositoryIndex()).map((r) => `${r.name}/${r.version}/${r.state}`), ['held/1/READY', 'mnist/1/READY', 'mnist/2/READY', 'queued/1/READY', 'types/1/READY']);
  await client.unloadModel('types');
  assert.equal(await client.modelReady('types'), false);
  assert.equal((await post('/v2/models/types/infer', { inputs: [{ name: 'a', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] })).status, 404);
  assert.deepEqual((await client.repositoryIndex()).find((r) => r.name === 'types'), { name: 'types', state: 'UNAVAILABLE', reason: 'unloaded' });
  assert.equal((await client.repositoryIndex({ ready: true })).some((r) => r.name === 'types'), false);
  await client.loadModel('types');
  assert.equal(await client.modelReady('types'), true);

  addToRepository({ repo, name: 'late', model: mnistMlp({ seed: 9 }), config: { instances: 1, threadsPerInstance: 1 } });
  await client.loadModel('late');
  assert.deepEqual((await client.infer('late', { inputs: { pixels: image(5) } })).outputs.logits!.dims, [1, 10]);

  mkdirSync(join(repo, 'broken', '1'), { recursive: true });
  writeFileSync(join(repo, 'broken', 'config.json'), JSON.stringify({ maxBatchSize: -1 }));
  const bad = await post('/v2/repository/models/broken/load', '');
  assert.equal(bad.status, 400);
  assert.match(String(bad.body.error), /^broken\/config.json: field 'maxBatchSize' must be "auto" or an integer >= 0, got -1$/);
  assert.equal((await post('/v2/repository/models/missing/load', '')).status, 404);
  if (!availableDevices().includes('cuda')) {
    addToRepository({ repo, name: 'gpu', model: mnistMlp({ seed: 3 }), config: { instances: 1, device: 'cuda' } });
    const gpu = await post('/v2/repository/models/gpu/load', '');
    assert.ok(gpu.status >= 400, `status ${gpu.status}`);
    assert.match(String(gpu.body.error), /device 'cuda' is not available/);
    assert.doesNotMatch(String(gpu.body.error), /\n/);
  }
  assert.equal((await post('/v2/repository/models/mnist/unload', '')).status, 200);
  assert.equal((await post('/v2/repository/models/mnist/unload', '')).status, 404);
  await client.loadModel('mnist');
});

test('metrics expose the Triton-like families per model and version', async () => {
  const text = await client.metrics();
  for (const family of ['trainfer_inference_request_success', 'trainfer_inference_request_failure', 'trainfer_inference_count', 'trainfer_inference_exec_count',
    'trainfer_inference_request_duration_us', 'trainfer_inference_queue_duration_us', 'trainfer_inference_compute_infer_duration_us',
    'trainfer_inference_request_duration_seconds', 'trainfer_inference_queue_duration_seconds', 'trainfer_inference_batch_size', 'trainfer_inference_inflight_requests',
    'trainfer_inference_pending_request_count']) {
    assert.match(text, new RegExp(`# TYPE ${family} `), family);
  }
  assert.ok((await metric('trainfer_inference_request_success', 'model="mnist",version="1"')) >= 24);
  assert.ok((await metric('trainfer_inference_compute_infer_duration_us', 'model="mnist",version="1"')) > 0);
});
