// Tests for `trainfer serve` and `trainfer infer` as real processes: infer prints outputs equal to an
// in-process session and sends `--version` as the model version, SIGTERM finishes the request in flight
// and exits 0 (or, past --drain-timeout-ms, answers 503 and exits), a bad config, an empty repository
// and bad flag values fail with one line.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor } from '../onnx/tensor.js';
import { Session } from '../runtime/session.js';
import { addToRepository, mnistMlp } from '../serve/example-models.js';
import { writeModel } from '../onnx/model-io.js';
import { slowLoopModel } from '../serve/test-models.js';
import { main } from './main.js';

const self = fileURLToPath(import.meta.url);
const isTs = self.endsWith('.ts');
const mainFile = join(self, '..', isTs ? 'main.ts' : 'main.js');
const nodeArgs = (args: string[]) => [...(isTs ? ['--import', 'tsx'] : []), mainFile, ...args];

let dir: string;
let repo: string;
let modelFile: string;
let v1File: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'trainfer-cli-serve-'));
  repo = join(dir, 'repo');
  const small = { instances: 1, threadsPerInstance: 1 };
  modelFile = addToRepository({ repo, name: 'fast', model: mnistMlp({ seed: 5 }), config: { ...small, maxBatchSize: 0 } });
  // requests wait 1.5 s in this queue: long enough to send SIGTERM while one is in flight
  addToRepository({ repo, name: 'held', model: mnistMlp({ seed: 6 }), config: { ...small, maxBatchSize: 8, maxQueueDelayMs: 1500, timeoutMs: 0 } });
  v1File = addToRepository({ repo, name: 'versioned', version: 1, model: mnistMlp({ seed: 7 }), config: small });
  addToRepository({ repo, name: 'versioned', version: 2, model: mnistMlp({ seed: 8 }) });
});
after(() => rmSync(dir, { recursive: true, force: true }));

function startServe(args: string[]): Promise<{ child: ChildProcess; url: string; stderr: () => string }> {
  const child = spawn(process.execPath, nodeArgs(['serve', ...args]), { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stdout!.resume();
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (b: Buffer) => {
      err += b.toString();
      const m = /listening on (http:\/\/[^ ]+)/.exec(err);
      if (m) resolve({ child, url: m[1]!, stderr: () => err });
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${err}`)));
  });
}

/** Runs `main` in this process (for commands that fail before serving anything), capturing what it writes. */
async function runHere(args: string[]): Promise<{ code: number; stderr: string }> {
  const err: string[] = [];
  const ew = process.stderr.write;
  process.stderr.write = ((s: string) => (err.push(String(s)), true)) as typeof process.stderr.write;
  try {
    return { code: await main(args), stderr: err.join('') };
  } finally {
    process.stderr.write = ew;
  }
}

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, nodeArgs(args), (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }));
  });
}

test('trainfer infer prints the outputs; SIGTERM finishes the request in flight and exits 0', async () => {
  const { child, url, stderr } = await startServe([repo, '--port', '0', '--quiet']);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    const x = Tensor.f32([2, 1, 28, 28], Array.from({ length: 2 * 784 }, (_, i) => (i % 13) / 13));
    const input = join(dir, 'request.json');
    writeFileSync(input, JSON.stringify({ id: 'cli-1', inputs: [{ name: 'pixels', shape: [2, 1, 28, 28], datatype: 'FP32', data: Array.from(x.data as Float32Array) }] }));
    const session = await Session.create({ path: modelFile }, { intraOpThreads: 1 });
    const want = Array.from((await session.run({ pixels: x })).logits!.data as Float32Array);
    await session.release();
    const r = await run(['infer', url, 'fast', '--input', input, '--json', '--binary']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { id: string; outputs: { name: string; shape: number[]; data: number[] }[] };
    assert.equal(out.id, 'cli-1');
    assert.deepEqual(out.outputs[0]!.shape, [2, 10]);
    out.outputs[0]!.data.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-5, `logit ${i}`));
    const top = [0, 1].map((row) => want.slice(row * 10, row * 10 + 10).reduce((b, v, i, a) => (v > a[b]! ? i : b), 0));
    const human = await run(['infer', url, 'fast', '--input', input]);
    assert.match(human.stdout, /logits {2}FP32 \[2, 10\]/);
    assert.ok(human.stdout.includes(`argmax ${JSON.stringify(top)}`), human.stdout);
    // --version is infer's model version, not the program's version
    const v1 = await run(['infer', url, 'versioned', '--input', input, '--version', '1', '--json']);
    assert.equal(v1.code, 0, v1.stderr);
    const v1Out = JSON.parse(v1.stdout) as { model_version: string; outputs: { data: number[] }[] };
    assert.equal(v1Out.model_version, '1');
    const s1 = await Session.create({ path: v1File }, { intraOpThreads: 1 });
    const want1 = Array.from((await s1.run({ pixels: x })).logits!.data as Float32Array);
    await s1.release();
    v1Out.outputs[0]!.data.forEach((v, i) => assert.ok(Math.abs(v - want1[i]!) < 1e-5, `v1 logit ${i}`));
    assert.equal((JSON.parse((await run(['infer', url, 'versioned', '--input', input, '--json'])).stdout) as { model_version: string }).model_version, '2');
    const missing = await run(['infer', url, 'nope', '--input', input]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^trainfer: server answered 404: unknown model 'nope'\n$/);

    // a request that sits in 'held's queue for 1.5 s, then SIGTERM while it is in flight
    const body = JSON.stringify({ inputs: [{ name: 'pixels', shape: [1, 1, 28, 28], datatype: 'FP32', data: new Array(784).fill(0.5) }] });
    const inflight = fetch(`${url}/v2/models/held/infer`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    for (let i = 0; i < 300; i++) {
      const m = await (await fetch(`${url}/metrics`)).text();
      if (/trainfer_inference_inflight_requests\{model="held",version="1"\} 1/.test(m)) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill('SIGTERM');
    const res = await inflight;
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { outputs: { shape: number[] }[] }).outputs[0]!.shape.join(), '1,10');
    assert.equal(await exited, 0);
    assert.match(stderr(), /SIGTERM: finishing requests in flight/);
    await assert.rejects(fetch(`${url}/v2/health/live`));
  } finally {
    child.kill('SIGKILL');
  }
});

test('a bad config.json fails the start with one line naming the file and field', async () => {
  const bad = join(dir, 'bad');
  addToRepository({ repo: bad, name: 'm', model: mnistMlp(), config: { instances: 0 } });
  const r = await run(['serve', bad, '--port', '0']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^trainfer: .*bad\/m\/config\.json: field 'instances' must be an integer >= 1, got 0\n$/);
});

test('serve refuses a repository without a loadable model, showing the layout it expects', async () => {
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  const flat = join(dir, 'flat');
  mkdirSync(flat);
  writeModel(join(flat, 'model.onnx'), mnistMlp());
  const shallow = join(dir, 'shallow');
  mkdirSync(join(shallow, 'mnist'), { recursive: true });
  writeModel(join(shallow, 'mnist', 'model.onnx'), mnistMlp());
  const e = await runHere(['serve', empty, '--port', '0']);
  const f = await runHere(['serve', flat, '--port', '0']);
  const s = await runHere(['serve', shallow, '--port', '0']);
  assert.equal(e.code, 1);
  assert.match(e.stderr, /^trainfer: .*empty: no model in this repository; expected <repository>\/<model>\/<version>\/model\.onnx, e\.g\. .*empty\/mnist\/1\/model\.onnx\n$/);
  assert.equal(f.code, 1);
  assert.match(f.stderr, /^trainfer: .*flat: no model in this repository; .*\(found model\.onnx directly in it: move it to .*flat\/<model>\/1\/model\.onnx\)\n$/);
  assert.equal(s.code, 1);
  assert.match(s.stderr, /^trainfer: .*shallow\/mnist: no version directory holds a model\.onnx; expected .*shallow\/mnist\/<version>\/model\.onnx .*\(found model\.onnx directly in it: move it to .*shallow\/mnist\/1\/model\.onnx\)\n$/);
});

test('bad serve and infer flag values are one-line errors, before anything is loaded or sent', async () => {
  const input = join(dir, 'request.json');
  const cases: [string[], RegExp][] = [
    [['serve', repo, '--port', '99999'], /^trainfer: --port must be an integer from 0 to 65535, got '99999'\n$/],
    [['serve', repo, '--port', '-1'], /^trainfer: --port must be an integer from 0 to 65535, got '-1'\n$/],
    [['serve', repo, '--max-uploads', '0'], /^trainfer: --max-uploads must be a positive integer, got '0'\n$/],
    [['serve', repo, '--log-level', 'loud'], /^trainfer: --log-level must be one of trace, debug, info, warn, error, fatal, silent, got 'loud'\n$/],
    [['serve', repo, '--drain-timeout-ms', '-5'], /^trainfer: --drain-timeout-ms must be a number >= 0, got '-5'\n$/],
    [['infer', 'http://127.0.0.1:1', 'm', '--input', input, '--version', 'latest'], /^trainfer: --version must be a positive integer \(a model version\), got 'latest'\n$/],
    [['infer', 'localhost:8000', 'm', '--input', input], /^trainfer: <url> must be an http:\/\/ or https:\/\/ URL, got 'localhost:8000'\n$/],
  ];
  for (const [args, re] of cases) {
    const r = await runHere(args);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.stderr, re);
  }
});

test('SIGTERM past --drain-timeout-ms: the stuck request gets 503 and the server exits without waiting for it', async () => {
  const slowRepo = join(dir, 'slow-repo');
  addToRepository({ repo: slowRepo, name: 'slow', model: slowLoopModel(), config: { instances: 1, maxBatchSize: 0, timeoutMs: 0 } });
  const { child, url, stderr } = await startServe([slowRepo, '--port', '0', '--quiet', '--drain-timeout-ms', '300']);
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  try {
    // a run of ~1 s (a million loop iterations), well past the 300 ms drain deadline
    const body = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [0, 0, 0, 0] }, { name: 'iters', shape: [1], datatype: 'INT64', data: [1_000_000] }] });
    const stuck = fetch(`${url}/v2/models/slow/infer`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    for (let i = 0; i < 300; i++) {
      const m = await (await fetch(`${url}/metrics`)).text();
      if (/trainfer_inference_inflight_requests\{model="slow",version="1"\} 1/.test(m)) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const t0 = performance.now();
    child.kill('SIGTERM');
    const res = await stuck;
    assert.equal(res.status, 503);
    assert.match(((await res.json()) as { error: string }).error, /shutting down/);
    const how = await exited;
    assert.ok(performance.now() - t0 < 2000, `exit took ${(performance.now() - t0).toFixed(0)} ms`);
    assert.equal(how.signal, 'SIGKILL');
    assert.match(stderr(), /1 request\(s\) were still in flight at the drain deadline and got 503/);
    assert.match(stderr(), /1 run\(s\) still inside onnxruntime cannot be interrupted; exiting with SIGKILL/);
  } finally {
    child.kill('SIGKILL');
  }
});
