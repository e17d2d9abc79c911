// The server keeps answering health checks and /metrics while a model is saturated, because inference
// runs on worker threads. Checked by the ORDER in which responses complete — no timing assertion: each
// request is tiny (one row in, one row out, so JSON work on the main thread is negligible) but its
// graph is slow (the row is expanded to 2048 rows, then chained through 512×512 MatMuls), so if
// inference blocked the event loop, health and metrics could only answer after a run finished.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder } from '../onnx/builder.js';
import { Tensor } from '../onnx/tensor.js';
import { addToRepository } from './example-models.js';
import { InferenceServer } from './server.js';

const WIDTH = 512;
const DEPTH = 16;
const ROWS = 2048; // one request: 2048 rows × 16 MatMuls of 512×512 ≈ 17 GFLOP

/** x: [1, 512] → expand to [2048, 512] → 16 MatMuls with one shared permutation weight → mean → y: [1, 512]. */
function slowModel() {
  const g = new GraphBuilder({ name: 'slow' });
  const x = g.input('x', 'float32', ['batch', WIDTH]);
  let h = g.expand(x, g.int64s([ROWS, WIDTH]));
  const w = new Float32Array(WIDTH * WIDTH);
  for (let i = 0; i < WIDTH; i++) w[i * WIDTH + ((i * 7 + 3) % WIDTH)] = 1; // a permutation: values stay finite
  const wName = g.initializer('w', new Tensor('float32', [WIDTH, WIDTH], w));
  for (let i = 0; i < DEPTH; i++) h = g.matMul(h, wName);
  g.output(g.reduceMean(h, [0]), 'y', { dtype: 'float32', shape: ['batch', WIDTH] });
  return g.toModel();
}

let repo: string;
let server: InferenceServer;

before(async () => {
  repo = mkdtempSync(join(tmpdir(), 'trainfer-saturate-'));
  addToRepository({ repo, name: 'slow', model: slowModel(), config: { instances: 1, threadsPerInstance: 1, maxBatchSize: 0, maxQueueDelayMs: 0 } });
  server = await InferenceServer.start({ repository: repo, port: 0, logLevel: 'silent', processMetrics: false });
});

after(async () => {
  await server?.close();
  rmSync(repo, { recursive: true, force: true });
});

test('health, readiness, metadata and metrics answer while inference is saturated', async () => {
  const order: string[] = [];
  const body = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, WIDTH], data: new Array(WIDTH).fill(0.5) }] });
  const infer = (i: number) =>
    fetch(`${server.url}/v2/models/slow/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then(async (r) => {
      assert.equal(r.status, 200, await r.clone().text());
      const out = (await r.json()) as { outputs: { data: number[] }[] };
      assert.equal(out.outputs[0]!.data[0], 0.5); // a permutation chain keeps the values
      order.push(`infer${i}`);
    });
  // Three requests; batching is off (maxBatchSize 0), so they run one after another on one worker.
  const inferences = [infer(0), infer(1), infer(2)];
  // Wait until the server holds all three requests (in-flight gauge = 3), then probe the control plane.
  let seen = false;
  for (let i = 0; i < 2000 && !seen; i++) {
    const m = await (await fetch(`${server.url}/metrics`)).text();
    seen = /trainfer_inference_inflight_requests\{[^}]*model="slow"[^}]*\} 3\b/.test(m);
    if (!seen) await new Promise((r) => setTimeout(r, 5));
  }
  assert.ok(seen, 'the three requests never showed as in flight');
  const probes = ['/v2/health/live', '/v2/health/ready', '/v2/models/slow', '/v2/models/slow/ready', '/metrics'].map((p) =>
    fetch(server.url + p).then((r) => {
      assert.equal(r.status, 200, p);
      order.push(p);
    }),
  );
  await Promise.all([...probes, ...inferences]);
  const firstInfer = order.findIndex((e) => e.startsWith('infer'));
  const lastProbe = Math.max(...order.map((e, i) => (e.startsWith('/') ? i : -1)));
  assert.ok(lastProbe < firstInfer || firstInfer === -1, `control plane answered after an inference finished: ${order.join(' → ')}`);
});
