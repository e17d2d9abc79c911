// Fuzz test of the HTTP API: 5,000 seeded, malformed-by-construction requests (JSON and binary, every
// endpoint): 4,500 through the full fastify pipeline in process and 500 over a real loopback socket; every
// one must get a 4xx with a one-line {"error"} (or an empty 4xx for health), the server must stay
// healthy and correct, its RSS bounded, and no worker may have restarted. The figures are printed as a
// test diagnostic (requests by kind, statuses, peak RSS).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder } from '../onnx/builder.js';
import { Tensor } from '../onnx/tensor.js';
import { Session } from '../runtime/session.js';
import { InferenceClient } from './client.js';
import { addToRepository, mnistMlp } from './example-models.js';
import { InferenceServer } from './server.js';
import { type FuzzRequest, MalformedRequests } from './test-fuzz.js';

const IN_PROCESS = 4500;
const OVER_SOCKET = 500;
const BODY_LIMIT = 256 * 1024;

let repo: string;
let server: InferenceServer;

function multiModel() {
  const g = new GraphBuilder({ name: 'multi' });
  const a = g.input('a', 'float32', ['batch', 3]);
  const flag = g.input('flag', 'bool', ['batch', 3]);
  const idx = g.input('idx', 'int64', ['batch', 3]);
  const h = g.input('h', 'float16', ['batch', 3]);
  const s = g.input('s', 'string', ['batch']);
  g.output(g.where(flag, a, g.neg(a)), 'signed', { dtype: 'float32', shape: ['batch', 3] });
  g.output(g.mul(idx, g.constant(Tensor.i64([], [2]))), 'doubled', { dtype: 'int64', shape: ['batch', 3] });
  g.output(g.add(h, h), 'h2', { dtype: 'float16', shape: ['batch', 3] });
  g.output(g.identity(s), 'echo', { dtype: 'string', shape: ['batch'] });
  return g.toModel();
}

before(async () => {
  repo = mkdtempSync(join(tmpdir(), 'trainfer-fuzz-'));
  addToRepository({ repo, name: 'mnist', model: mnistMlp({ seed: 11 }), config: { instances: 1, maxBatchSize: 8 } });
  addToRepository({ repo, name: 'multi', model: multiModel(), config: { instances: 1, maxBatchSize: 8 } });
  server = await InferenceServer.start({ repository: repo, port: 0, logLevel: 'silent', processMetrics: false, bodyLimitBytes: BODY_LIMIT });
});

after(async () => {
  await server?.close();
  rmSync(repo, { recursive: true, force: true });
});

interface Outcome { status: number; body: string }

async function viaInject(r: FuzzRequest): Promise<Outcome> {
  const res = await server.app.inject({ method: r.method, url: r.url, headers: r.headers, payload: r.body });
  return { status: res.statusCode, body: res.body };
}

async function viaSocket(r: FuzzRequest): Promise<Outcome> {
  const res = await fetch(server.url + r.url, { method: r.method, headers: r.headers, body: r.body });
  return { status: res.status, body: await res.text() };
}

test('5,000 malformed requests (4,500 in process, 500 over a socket): every one a 4xx, the server healthy and bounded after', async (t) => {
  const gen = new MalformedRequests(20261201, BODY_LIMIT);
  const byKind: Record<string, number> = {};
  const byStatus: Record<string, number> = {};
  const wrong: string[] = [];
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  const t0 = performance.now();
  const run = async (n: number, send: (r: FuzzRequest) => Promise<Outcome>, parallel: number) => {
    for (let i = 0; i < n; i += parallel) {
      const batch = Array.from({ length: Math.min(parallel, n - i) }, () => gen.next());
      const outcomes = await Promise.all(batch.map(async (r) => {
        try {
          return await send(r);
        } catch (err) {
          return { status: -1, body: String(err) };
        }
      }));
      batch.forEach((r, k) => {
        const o = outcomes[k]!;
        const family = r.kind.split(':').slice(0, 2).join(':');
        byKind[family] = (byKind[family] ?? 0) + 1;
        byStatus[o.status] = (byStatus[o.status] ?? 0) + 1;
        let ok = o.status >= 400 && o.status < 500;
        if (ok && o.body.length > 0) {
          try {
            const e = (JSON.parse(o.body) as { error?: unknown }).error;
            ok = typeof e === 'string' && e.length > 0 && !e.includes('\n');
          } catch {
            ok = false;
          }
        }
        if (!ok && wrong.length < 10) wrong.push(`${r.kind} ${r.method} ${r.url.slice(0, 80)} → ${o.status} ${o.body.slice(0, 200)}`);
      });
      peak = Math.max(peak, process.memoryUsage().rss);
    }
  };
  await run(IN_PROCESS, viaInject, 16);
  await run(OVER_SOCKET, viaSocket, 8);
  const ms = performance.now() - t0;
  const figures = { requests: IN_PROCESS + OVER_SOCKET, inProcess: IN_PROCESS, overSocket: OVER_SOCKET, byKind, byStatus, ms: Math.round(ms), rssBeforeMiB: Math.round(rss0 / 2 ** 20), peakRssMiB: Math.round(peak / 2 ** 20), rssAfterMiB: Math.round(process.memoryUsage().rss / 2 ** 20) };
  t.diagnostic(`fuzz figures: ${JSON.stringify(figures)}`);
  assert.deepEqual(wrong, [], 'every malformed request gets a 4xx with a one-line error');
  assert.ok(peak - rss0 < 300 * 2 ** 20, `RSS grew by ${((peak - rss0) / 2 ** 20).toFixed(0)} MiB`);
  assert.ok(Object.keys(byKind).length >= 14, `kinds: ${Object.keys(byKind).join(', ')}`);

  // healthy and correct afterwards, with no worker restarted
  const client = new InferenceClient(server.url);
  assert.equal(await client.live(), true);
  assert.equal(await client.ready(), true);
  const x = Tensor.f32([2, 1, 28, 28], Array.from({ length: 1568 }, (_, i) => (i % 7) / 7));
  const session = await Session.create({ path: join(repo, 'mnist', '1', 'model.onnx') }, { intraOpThreads: 1 });
  const want = (await session.run({ pixels: x })).logits!;
  await session.release();
  for (const binary of [false, true]) {
    const got = (await client.infer('mnist', { inputs: { pixels: x }, binary })).outputs.logits!;
    assert.deepEqual(Array.from(got.data as Float32Array), Array.from(want.data as Float32Array));
  }
  assert.doesNotMatch(await client.metrics(), /trainfer_worker_restarts_total\{/);
  assert.equal(server.repository.loaded().reduce((n, v) => n + v.pool.restarts, 0), 0);
});
