// ANN retrieval through `trainfer serve`: a retrieval model whose config.json sets "ann" builds its
// index at load in its own thread, measures recall against exact (reported in /config and /metrics),
// and answers `"parameters": {"mode": "ann", "k": …}` over REST (HTTP worker threads) and gRPC, with
// exclusion, the cold-start fallback flagged in the response parameters, and 400s for bad requests.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModel } from '../onnx/model-io.js';
import { Tensor } from '../onnx/tensor.js';
import { runRetrievalJob } from '../train/recsys-job.js';
import { InferenceClient } from './client.js';
import { addToRepository } from './example-models.js';
import { GrpcInferenceClient } from './grpc/client.js';
import { DEFAULT_MODEL_CONFIG } from './config.js';
import { Recommender } from './retrieval.js';
import { RetrievalFrontEnd } from './retrieval-serving.js';
import { InferenceServer } from './server.js';

const dir = mkdtempSync(join(tmpdir(), 'trainfer-recsys-ann-'));
const data = 'synthetic:users=300,items=200,interactions=10,seed=4';
const mfFile = join(dir, 'mf.onnx');
let server: InferenceServer;
let exact: Recommender;

before(async () => {
  await runRetrievalJob({ model: 'mf', data, out: mfFile, epochs: 2, progress: 'none', threads: 1, topK: 20 });
  const repo = join(dir, 'repo');
  const model = readModel(mfFile);
  addToRepository({ repo, name: 'retrieval', model, config: { instances: 1, maxBatchSize: 8, ann: 'usearch', annRecallSample: 100 } });
  addToRepository({ repo, name: 'exact-only', model, config: { instances: 1, maxBatchSize: 8 } });
  server = await InferenceServer.start({ repository: repo, port: 0, grpcPort: 0, httpWorkers: 2, logLevel: 'silent', processMetrics: false });
  exact = await Recommender.load(model);
});
after(async () => {
  await exact?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const ask = (user: number, exclude: number[], parameters: Record<string, string | number | boolean>) => ({
  inputs: { user: Tensor.i64([1, 1], [user]), exclude: Tensor.i64([1, Math.max(1, exclude.length)], exclude.length ? exclude : [-1]) },
  binary: true,
  parameters,
});

test('served ANN top-k matches exact (recall floor), leaves out excluded items, and is the same over REST workers and gRPC', async () => {
  const client = new InferenceClient(server.url);
  const grpc = new GrpcInferenceClient(server.grpcAddress!);
  try {
    const users = Array.from({ length: 30 }, (_, i) => i * 9);
    const exclude = users.map((u) => [u % 200, (u * 7) % 200, (u * 13 + 5) % 200]);
    const want = await exact.recommend({ users, k: 10, exclude });
    const rest = await Promise.all(users.map((u, b) => client.infer('retrieval', ask(u, exclude[b]!, { mode: 'ann', k: 10 }))));
    let hits = 0;
    for (const [b, r] of rest.entries()) {
      const items = r.outputs.items!.toNumbers();
      assert.deepEqual(r.outputs.items!.dims, [1, 10]);
      assert.equal(new Set(items).size, 10, 'distinct items');
      for (const x of exclude[b]!) assert.ok(!items.includes(x), `user ${users[b]}: excluded item ${x} came back`);
      const scores = r.outputs.scores!.toNumbers();
      for (let j = 1; j < 10; j++) assert.ok(scores[j]! <= scores[j - 1]!, 'sorted by score');
      hits += items.filter((x) => want[b]!.items.includes(x)).length;
      assert.deepEqual(r.raw.parameters, { mode: 'ann', k: 10, cold_start: 0 });
      assert.equal(r.outputs.user_vector!.dims[1], exact.info.vectorDim);
    }
    const recall = hits / (users.length * 10);
    assert.ok(recall >= 0.9, `served ANN recall@10 vs exact: ${recall}`);
    // gRPC answers the same, with the response parameters.
    const g = await grpc.infer('retrieval', ask(users[3]!, exclude[3]!, { mode: 'ann', k: 10 }));
    assert.deepEqual(g.outputs.items!.toNumbers(), rest[3]!.outputs.items!.toNumbers());
    assert.deepEqual(g.parameters, { mode: 'ann', k: 10, cold_start: 0 });
    // Exact mode with k: the model's own top-k prefix.
    const e = await client.infer('retrieval', ask(users[1]!, exclude[1]!, { k: 5 }));
    assert.deepEqual(e.outputs.items!.toNumbers(), want[1]!.items.slice(0, 5));
    assert.equal(e.raw.parameters?.mode, 'exact');
    // k beyond the model's top-K is fine for ANN (up to the catalog), padded when exclusion leaves fewer.
    const big = await client.infer('retrieval', ask(users[0]!, [], { mode: 'ann', k: 200 }));
    assert.equal(new Set(big.outputs.items!.toNumbers()).size, 200);
    const short = await client.infer('retrieval', ask(users[0]!, Array.from({ length: 195 }, (_, i) => i), { mode: 'ann', k: 10 }));
    assert.deepEqual(short.outputs.items!.toNumbers().slice(5), [-1, -1, -1, -1, -1], 'rows with fewer than k items left are padded with −1');
    assert.deepEqual(new Set(short.outputs.items!.toNumbers().slice(0, 5)), new Set([195, 196, 197, 198, 199]));
  } finally {
    grpc.close();
  }
});

test('unknown users get the cold-start fallback, flagged in the response parameters; recall is in /config and /metrics', async () => {
  const client = new InferenceClient(server.url);
  const r = await client.infer('retrieval', {
    inputs: { user: Tensor.i64([3, 1], [5, 99999, -1]), exclude: Tensor.i64([3, 1], [-1, 2, -1]) },
    binary: true,
    parameters: { mode: 'ann', k: 10 },
  });
  assert.deepEqual(r.raw.parameters, { mode: 'ann', k: 10, cold_start: 2, cold_start_rows: '1,2' });
  assert.deepEqual(r.outputs.cold_start!.toNumbers(), [0, 1, 1]);
  const [popular] = await exact.recommend({ users: [-1], k: 10, exclude: [[2]] });
  assert.deepEqual(r.outputs.items!.toNumbers().slice(10, 20), popular!.items, 'the most popular items (excluded ones left out)');
  const cfg = (await (await fetch(`${server.url}/v2/models/retrieval/config`)).json()) as { parameters: Record<string, { string_value: string }> };
  const recall = Number(cfg.parameters['trainfer.ann.recall_at_10']!.string_value);
  assert.ok(recall >= 0.9 && recall <= 1, `recall at load ${recall}`);
  assert.match(cfg.parameters['trainfer.ann.index']!.string_value, /^usearch M=16 ef_construction=128 ef=256/);
  assert.equal(cfg.parameters['trainfer.retrieval.modes']!.string_value, 'exact,ann');
  const metrics = await client.metrics();
  const line = metrics.split('\n').find((l) => l.startsWith('trainfer_ann_recall{model="retrieval",version="1"}'));
  assert.ok(line && Math.abs(Number(line.split(' ')[1]) - recall) < 1e-3, `metrics line: ${line}`);
});

test('bad retrieval requests are 400s with a JSON error, over REST and gRPC', async () => {
  const post = async (model: string, body: unknown) => {
    const res = await fetch(`${server.url}/v2/models/${model}/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as { error?: string } };
  };
  const req = (o: { exclude?: number[]; parameters?: unknown; userType?: string; user?: number[] }) => ({
    inputs: [
      { name: 'user', datatype: o.userType ?? 'INT64', shape: [1, 1], data: o.user ?? [3] },
      { name: 'exclude', datatype: 'INT64', shape: [1, (o.exclude ?? [-1]).length], data: o.exclude ?? [-1] },
    ],
    ...(o.parameters ? { parameters: o.parameters } : {}),
  });
  const cases: [string, unknown, RegExp][] = [
    ['retrieval', req({ exclude: [4, 200], parameters: { mode: 'ann' } }), /exclude.*item index 200.*not in the catalog \(0\.\.199/],
    ['retrieval', req({ exclude: [-7] }), /item index -7/],
    ['retrieval', req({ parameters: { mode: 'ann', k: 201 } }), /'k' must be an integer in 1\.\.200/],
    ['retrieval', req({ parameters: { k: 21 } }), /'k' must be an integer in 1\.\.20 .*top-K/],
    ['retrieval', req({ parameters: { k: 2.5, mode: 'ann' } }), /'k' must be an integer/],
    ['retrieval', req({ parameters: { mode: 'fast' } }), /'mode' must be "exact" or "ann"/],
    ['retrieval', req({ userType: 'FP32', user: [3.5] }), /user.*INT64/],
    ['exact-only', req({ parameters: { mode: 'ann' } }), /serves exact top-K only.*"ann": "usearch"/],
  ];
  for (const [model, body, re] of cases) {
    const r = await post(model, body);
    assert.equal(r.status, 400, JSON.stringify(r.json));
    assert.match(r.json.error ?? '', re);
  }
  // "ann" on a model that is not a retrieval model keeps it from loading, with the reason.
  await assert.rejects(RetrievalFrontEnd.open({ file: 'cnn.onnx', name: 'cnn', metadata: new Map(), inputs: ['pixels'], config: { ...DEFAULT_MODEL_CONFIG, ann: 'usearch' }, configFile: 'models/cnn/config.json' }), /models\/cnn\/config\.json: "ann": "usearch" needs a retrieval model/);
  const grpc = new GrpcInferenceClient(server.grpcAddress!);
  try {
    await assert.rejects(grpc.infer('retrieval', ask(3, [250], { mode: 'ann' })), (err: Error & { status?: number }) => err.status === 400 && /not in the catalog/.test(err.message));
  } finally {
    grpc.close();
  }
});
