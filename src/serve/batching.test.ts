// When the server batches, and that a request's answer never depends on its neighbours: the rule
// (maxBatchSize > 0, or "auto" only for models that declare trainfer.batch_first), models with
// batch-coupled operators never batched, and — end to end — a dynamic-int8 model's answers bitwise
// equal to running each request alone while concurrent requests with very different ranges arrive.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor } from '../onnx/tensor.js';
import { Session } from '../runtime/session.js';
import { BATCH_FIRST_KEY, decideBatching } from './batching-policy.js';
import { InferenceClient } from './client.js';
import { addToRepository, mnistMlp } from './example-models.js';
import { type ModelFacts, scanModelFacts } from './model-facts.js';
import { InferenceServer } from './server.js';
import { dynamicInt8Model, slowLoopModel } from './test-models.js';
import { encodeModelProto } from '../onnx/model-io.js';
import { modelToProto } from '../onnx/ir-proto.js';

const facts = (ops: string[], batchFirst?: string): ModelFacts => ({ ops: new Set(ops), metadata: new Map(batchFirst === undefined ? [] : [[BATCH_FIRST_KEY, batchFirst]]) });
const dyn = [{ name: 'x', shape: [-1, 16] }, { name: 'y', shape: [-1, 8] }];

test('batching needs maxBatchSize > 0, or auto with trainfer.batch_first; coupled ops and fixed dims never batch', () => {
  const d = (configured: number | 'auto', f: ModelFacts, tensors = dyn, autoMaxBatchSize = 32) => decideBatching({ configured, autoMaxBatchSize, facts: f, tensors, where: 'm/config.json' });
  assert.equal(d('auto', facts([':MatMul'], 'true')).maxBatchSize, 32);
  assert.equal(d('auto', facts([':MatMul'], 'true'), dyn, 8).maxBatchSize, 8);
  assert.equal(d('auto', facts([':MatMul'], 'true'), dyn, 0).maxBatchSize, 0);
  // a sequence-first model with dynamic dims everywhere is not batched unless it says so
  assert.match(d('auto', facts([':MatMul'])).reason, /does not declare trainfer\.batch_first=true/);
  assert.equal(d('auto', facts([':MatMul'])).maxBatchSize, 0);
  assert.equal(d('auto', facts([':MatMul'], 'false')).maxBatchSize, 0);
  assert.equal(d(16, facts([':MatMul'])).maxBatchSize, 16);
  assert.equal(d(0, facts([':MatMul'], 'true')).maxBatchSize, 0);
  const fixed = [{ name: 'x', shape: [1, 16] }, { name: 'y', shape: [-1, 8] }];
  assert.match(d('auto', facts([':MatMul'], 'true'), fixed).reason, /'x' has no dynamic first dimension/);
  assert.throws(() => d(8, facts([':MatMul']), fixed), (e: Error) => e.message === "m/config.json: maxBatchSize 8 needs a dynamic first (batch) dimension on every input and output, but 'x' has no dynamic first dimension (shape [1, 16]); set maxBatchSize to 0");
  for (const op of [':DynamicQuantizeLinear', 'com.microsoft:DynamicQuantizeMatMul']) {
    const auto = d('auto', facts([':MatMul', op], 'true'));
    assert.equal(auto.maxBatchSize, 0, op);
    assert.match(auto.reason, /computes one activation scale and zero point for its whole input/);
    assert.throws(() => d(8, facts([op])), /maxBatchSize 8: this model cannot be batched: .*set maxBatchSize to 0/);
  }
});

test('the model scan finds metadata and operators in subgraphs', () => {
  const m = slowLoopModel();
  m.metadata.set(BATCH_FIRST_KEY, 'true');
  const f = scanModelFacts(encodeModelProto(modelToProto(m)));
  assert.equal(f.metadata.get(BATCH_FIRST_KEY), 'true');
  assert.ok(f.ops.has(':Loop'));
  assert.ok(f.ops.has(':MatMul'), 'the Loop body is scanned');
  assert.ok(scanModelFacts(encodeModelProto(modelToProto(dynamicInt8Model()))).ops.has(':DynamicQuantizeLinear'));
});

let repo: string;
let server: InferenceServer;
let client: InferenceClient;

before(async () => {
  repo = mkdtempSync(join(tmpdir(), 'trainfer-batching-'));
  // auto: the model declares itself batch-first, so without the coupled-op rule it would be batched
  // (and with the 100 ms delay, concurrent requests would share a batch)
  addToRepository({ repo, name: 'dyn', model: dynamicInt8Model(), config: { instances: 1, maxQueueDelayMs: 100 } });
  const plain = mnistMlp({ seed: 5 });
  plain.metadata.delete(BATCH_FIRST_KEY);
  addToRepository({ repo, name: 'plain', model: plain, config: { instances: 1, maxQueueDelayMs: 100 } });
  addToRepository({ repo, name: 'auto', model: mnistMlp({ seed: 6 }), config: { instances: 1, maxQueueDelayMs: 100 } });
  server = await InferenceServer.start({ repository: repo, port: 0, logLevel: 'silent', processMetrics: false, autoMaxBatchSize: 16 });
  client = new InferenceClient(server.url);
});

after(async () => {
  await server?.close();
  rmSync(repo, { recursive: true, force: true });
});

async function execs(model: string): Promise<number> {
  const line = (await client.metrics()).split('\n').find((l) => l.startsWith(`trainfer_inference_exec_count{model="${model}"`));
  return line ? Number(line.split(' ').pop()) : 0;
}

test('a dynamic-int8 model: each answer is bitwise equal to running the request alone, whatever arrives with it', async () => {
  const cfg = (await (await fetch(`${server.url}/v2/models/dyn/config`)).json()) as { max_batch_size: number; dynamic_batching?: unknown; parameters: Record<string, { string_value: string }> };
  assert.equal(cfg.max_batch_size, 0);
  assert.equal(cfg.dynamic_batching, undefined);
  assert.match(cfg.parameters['trainfer.batching']!.string_value, /DynamicQuantizeLinear computes one activation scale/);
  // requests whose value ranges differ by orders of magnitude: a shared scale would change every one of them
  const xs = Array.from({ length: 8 }, (_, k) => Tensor.f32([1 + (k % 2), 16], Array.from({ length: (1 + (k % 2)) * 16 }, (_, i) => Math.sin(i * 0.7 + k) * 10 ** (k % 4 - 1))));
  const session = await Session.create({ path: join(repo, 'dyn', '1', 'model.onnx') }, { intraOpThreads: 1 });
  const alone = await Promise.all(xs.map(async (x) => Array.from((await session.run({ x })).y!.data as Float32Array)));
  await session.release();
  const before = await execs('dyn');
  const served = await Promise.all(xs.map((x) => client.infer('dyn', { inputs: { x }, binary: true })));
  served.forEach((r, k) => assert.deepEqual(Array.from(r.outputs.y!.data as Float32Array), alone[k], `request ${k}`));
  assert.equal((await execs('dyn')) - before, xs.length, 'each request ran alone');
});

test('a model that does not say it is batch-first runs each request alone; one that does is batched with the server limit', async () => {
  const x = Tensor.f32([1, 1, 28, 28], new Array(784).fill(0.5));
  const plainBefore = await execs('plain');
  await Promise.all(Array.from({ length: 6 }, () => client.infer('plain', { inputs: { pixels: x } })));
  assert.equal((await execs('plain')) - plainBefore, 6);
  assert.equal(((await (await fetch(`${server.url}/v2/models/plain/config`)).json()) as { max_batch_size: number }).max_batch_size, 0);
  const autoBefore = await execs('auto');
  await Promise.all(Array.from({ length: 6 }, () => client.infer('auto', { inputs: { pixels: x } })));
  assert.ok((await execs('auto')) - autoBefore < 6, 'concurrent requests to a batch-first model share batches');
  assert.equal(((await (await fetch(`${server.url}/v2/models/auto/config`)).json()) as { max_batch_size: number }).max_batch_size, 16);
});

test('an explicit maxBatchSize on a model that cannot honour it fails the load with one line naming the file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trainfer-batching-bad-'));
  try {
    addToRepository({ repo: dir, name: 'dyn', model: dynamicInt8Model(), config: { instances: 1, maxBatchSize: 8 } });
    await assert.rejects(InferenceServer.start({ repository: dir, port: 0, logLevel: 'silent', processMetrics: false }),
      (e: Error) => /dyn\/config\.json: maxBatchSize 8: this model cannot be batched: DynamicQuantizeLinear computes one activation scale/.test(e.message) && !e.message.includes('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
