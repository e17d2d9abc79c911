/**
 * The benchmark CLIs as a user runs them: `bench` in-process and against `trainfer serve` (--url),
 * `cost` and `report` on a lab results directory, and their one-line errors.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeModel } from '../onnx/model-io.js';
import { addToRepository, mnistMlp } from '../serve/example-models.js';
import { InferenceServer } from '../serve/server.js';
import { EXAMPLE_PROFILES } from '../bench/cost/profiles.js';
import { sampleLabRun } from '../bench/report/test-lab-run.js';
import { browserSkipReason } from '../testing/chromium.js';
import { runCli } from './test-run-cli.js';

const here = fileURLToPath(import.meta.url);
const isTs = here.endsWith('.ts');
const cli = here.replace(/bench\.test\.(ts|js)$/, isTs ? 'main.ts' : 'main.js');
const argv = (args: string[]) => (isTs ? ['--import', 'tsx', cli, ...args] : [cli, ...args]);
const run = (args: string[]) => spawnSync(process.execPath, argv(args), { encoding: 'utf8' });
/** Async, so the in-process server can answer while the CLI runs. */
function runAsync(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, argv(args));
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** Runs the CLI in this process (no start-up cost), capturing what it writes. */
async function inProc(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const r = await runCli(args);
  return { status: r.code, stdout: r.stdout, stderr: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'trainfer-bench-cli-'));
const model = join(dir, 'mlp.onnx');
writeModel(model, mnistMlp({ seed: 5, hidden: [16] }));
let server: InferenceServer;
before(async () => {
  const repo = join(dir, 'repo');
  addToRepository({ repo, name: 'mlp', model: mnistMlp({ seed: 5, hidden: [16] }), config: { instances: 1, threadsPerInstance: 1, maxBatchSize: 8, maxQueueDelayMs: 0 } });
  server = await InferenceServer.start({ repository: repo, port: 0, logLevel: 'silent', processMetrics: false });
});
after(async () => {
  await server.close();
});

test('bench in-process: a result file with the model hash, --json on stdout', () => {
  const out = join(dir, 'off.json');
  const r = run(['bench', model, '--scenario', 'offline', '--duration', '0.2', '--warmup', '0.05', '--instances', '1', '--out', out, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { format: string; model: { sha256: string }; result: { valid: boolean; samplesPerSecond: number } };
  assert.equal(j.format, 'trainfer-bench-result');
  assert.equal(j.model.sha256.length, 64);
  assert.ok(j.result.samplesPerSecond > 0);
  assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')).model, j.model);
});

test('bench --url against trainfer serve: single-stream through the protocol', async () => {
  const out = join(dir, 'ss.json');
  const r = await runAsync(['bench', '--url', server.url, '--model', 'mlp', '--scenario', 'single-stream', '--duration', '0.2', '--warmup', '0', '--min-queries', '20', '--out', out, '--progress', 'none']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /single-stream — mlp at http:\/\/127\.0\.0\.1:\d+/);
  assert.match(r.stdout, /VALID: p90 latency/);
  const j = JSON.parse(readFileSync(out, 'utf8')) as { target: { kind: string; binary: boolean } };
  assert.deepEqual([j.target.kind, j.target.binary], ['oip', true]);
});

test('bench --browser: the model in headless Chromium beside onnxruntime-node', { skip: browserSkipReason() }, async () => {
  const r = await runAsync(['bench', model, '--browser', '--iterations', '5', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { models: { name: string; p50Ms: number }[]; node: Record<string, { p50Ms: number }>; foreignRequests: string[] };
  assert.deepEqual(j.models.map((m) => m.name), ['mlp']);
  assert.ok(j.node.mlp!.p50Ms > 0 && j.models[0]!.p50Ms > 0);
  assert.deepEqual(j.foreignRequests, []);
});

test('bench: bad flags and missing models are one-line errors', async () => {
  for (const [args, re] of [
    [['bench', model, '--scenario', 'nope'], /--scenario must be one of single-stream, multi-stream, server, offline/],
    [['bench', '--scenario', 'offline'], /give a model file or --url/],
    [['bench', model], /--scenario is required/],
    [['bench', join(dir, 'missing.onnx'), '--scenario', 'offline'], /missing\.onnx/],
    [['bench', model, '--scenario', 'offline', '--duration', '-1'], /--duration must be positive/],
  ] as const) {
    const r = await inProc([...args]);
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('cost and report on a results directory; edited profiles are used; bad profiles are one line', async () => {
  const res = join(dir, 'run');
  mkdirSync(res);
  writeFileSync(join(res, 'lab.json'), JSON.stringify(sampleLabRun()));
  const cheap = { ...EXAMPLE_PROFILES, profiles: [{ ...EXAMPLE_PROFILES.profiles[0]!, id: 'mine', name: 'My box', pricePerHour: 0.01 }] };
  writeFileSync(join(res, 'hardware-profiles.json'), JSON.stringify(cheap));
  const c = await inProc(['cost', res, '--json']);
  assert.equal(c.status, 0, c.stderr);
  const report = JSON.parse(c.stdout) as { rows: { profile: string }[] };
  assert.deepEqual([...new Set(report.rows.map((r) => r.profile))], ['mine']);
  const text = await inProc(['cost', res, '--predictions-per-day', '5000000']);
  assert.match(text.stdout, /My box \[example\] — MNIST cnn: training/);
  const rep = await inProc(['report', res, '--out', join(res, 'r.html')]);
  assert.equal(rep.status, 0, rep.stderr);
  assert.ok(existsSync(join(res, 'r.html')) && existsSync(join(res, 'summary.md')));
  writeFileSync(join(dir, 'bad.json'), JSON.stringify({ ...EXAMPLE_PROFILES, gridGramsCo2ePerKwh: 'x' }));
  const bad = await inProc(['cost', res, '--profiles', join(dir, 'bad.json')]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /bad\.json: "gridGramsCo2ePerKwh" must be a number/);
  const none = await inProc(['report', join(dir, 'nowhere')]);
  assert.match(none.stderr, /nowhere: no such file \(expected a lab results directory/);
  const w = await inProc(['cost', '--write-profiles', join(dir, 'p.json')]);
  assert.equal(w.status, 0);
  assert.equal(JSON.parse(readFileSync(join(dir, 'p.json'), 'utf8')).asOf, '2026-12-01');
  assert.match((await inProc(['cost', '--write-profiles', join(dir, 'p.json')])).stderr, /already exists/);
});
