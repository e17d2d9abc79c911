// The contract the manifests rely on, checked against the real server and CLI: health paths, the
// metrics path and the queue-time histogram the autoscaler reads, and the serve flags the pods pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildProgram } from '../cli/main.js';
import { addToRepository, mnistMlp } from '../serve/example-models.js';
import { InferenceServer } from '../serve/server.js';
import { SERVE, serveArgs } from './serve-contract.js';

test('serve contract: health endpoints, metrics and the queue-time histogram the HPA scales on', async (t) => {
  const repo = mkdtempSync(join(tmpdir(), 'trainfer-contract-'));
  t.after(() => rmSync(repo, { recursive: true, force: true }));
  addToRepository({ repo, name: 'mnist', model: mnistMlp({ seed: 1, hidden: [16] }), config: { instances: 1 } });
  const server = await InferenceServer.start({ repository: repo, port: 0, logLevel: 'silent', processMetrics: false });
  t.after(() => server.close());
  for (const path of [SERVE.livePath, SERVE.readyPath]) assert.equal((await fetch(server.url + path)).status, 200, path);

  const scrape = async () => {
    const text = await (await fetch(server.url + SERVE.metricsPath)).text();
    const value = (suffix: string) => Number(new RegExp(`^${SERVE.queueHistogram}${suffix}\\{[^}]*model="mnist"[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    return { text, sum: value('_sum'), count: value('_count') };
  };
  const before = await scrape();
  assert.match(before.text, new RegExp(`^# TYPE ${SERVE.queueHistogram} histogram$`, 'm'));
  assert.match(before.text, new RegExp(`^# TYPE ${SERVE.successCounter} counter$`, 'm'));
  const body = JSON.stringify({ inputs: [{ name: 'pixels', datatype: 'FP32', shape: [1, 1, 28, 28], data: new Array(784).fill(0.5) }] });
  for (let i = 0; i < 5; i++) {
    const r = await fetch(`${server.url}/v2/models/mnist/infer`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 200);
  }
  const after = await scrape();
  // what the prometheus-adapter rule computes from two scrapes: Δsum / Δcount, seconds per request
  const count = after.count - (Number.isNaN(before.count) ? 0 : before.count);
  const sum = after.sum - (Number.isNaN(before.sum) ? 0 : before.sum);
  assert.equal(count, 5);
  assert.ok(sum >= 0 && sum / count < 1, `mean queue time ${sum / count} s`);
});

test('serve contract: every flag the pods pass is a trainfer serve option', () => {
  const serve = buildProgram().commands.find((c) => c.name() === 'serve')!;
  const longs = new Set(serve.options.map((o) => o.long));
  const args = serveArgs({ repository: '/models', port: 8000, drainSeconds: 30 });
  assert.equal(args[0], 'serve');
  for (const a of args.filter((x) => x.startsWith('--'))) assert.ok(longs.has(a), `trainfer serve has no ${a}`);
  assert.equal(serve.options.find((o) => o.long === '--port')!.defaultValue, SERVE.defaultPort);
});
