// Tests for `trainfer serve` and `trainfer infer` as real processes: infer prints outputs equal to an
// in-process session, SIGTERM finishes the request in flight and exits 0, a bad config fails the start.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor } from '../onnx/tensor.js';
import { Session } from '../runtime/session.js';
import { addToRepository, mnistMlp } from '../serve/example-models.js';

const self = fileURLToPath(import.meta.url);
const isTs = self.endsWith('.ts');
const mainFile = join(self, '..', isTs ? 'main.ts' : 'main.js');
const nodeArgs = (args: string[]) => [...(isTs ? ['--import', 'tsx'] : []), mainFile, ...args];

let dir: string;
let repo: string;
let modelFile: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'trainfer-cli-serve-'));
  repo = join(dir, 'repo');
  const small = { instances: 1, threadsPerInstance: 1 };
  modelFile = addToRepository({ repo, name: 'fast', model: mnistMlp({ seed: 5 }), config: { ...small, maxBatchSize: 0 } });
  // requests wait 1.5 s in this queue: long enough to send SIGTERM while one is in flight
  addToRepository({ repo, name: 'held', model: mnistMlp({ seed: 6 }), config: { ...small, maxBatchSize: 8, maxQueueDelayMs: 1500, timeoutMs: 0 } });
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
