// `trainfer score`: predictions in row order equal onnxruntime's; shards tile the rows; a shard killed
// with SIGKILL after a checkpoint and rerun gives merged output byte-identical to an uninterrupted run;
// a finished shard is not redone; a shard started differently is refused; the merge refuses missing or
// incomplete shards; `trainfer deploy job`'s command lines are real flags.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeIdx } from '../data/idx.js';
import { writeModel } from '../onnx/model-io.js';
import { Tensor } from '../onnx/tensor.js';
import { Session } from '../runtime/session.js';
import { mnistMlp } from '../serve/example-models.js';
import { mergeShards } from '../serve/score/merge.js';
import { parseShard, scoreShard, shardRange } from '../serve/score/shard.js';
import { readState, shardFiles } from '../serve/score/state.js';
import { slowLoopModel } from '../serve/test-models.js';

const self = fileURLToPath(import.meta.url);
const isTs = self.endsWith('.ts');
const mainFile = join(self, '..', isTs ? 'main.ts' : 'main.js');
const nodeArgs = (args: string[]) => [...(isTs ? ['--import', 'tsx'] : []), mainFile, ...args];

let dir: string;
let mlp: string;
let images: string;
let slow: string;
let slowCsv: string;
const N_IMAGES = 300;
const N_SLOW = 120;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'trainfer-score-'));
  mlp = join(dir, 'mlp.onnx');
  writeModel(mlp, mnistMlp({ seed: 9 }));
  const px = new Uint8Array(N_IMAGES * 784).map((_, i) => (i * 31 + (i >> 9)) % 256);
  images = join(dir, 'images-idx3-ubyte');
  writeFileSync(images, encodeIdx([N_IMAGES, 28, 28], px));
  slow = join(dir, 'slow.onnx');
  writeModel(slow, slowLoopModel());
  // each row loops 600 MatMuls (a few ms; the model takes one row per run, its `iters` input being [1]):
  // long enough to kill a shard between checkpoints
  slowCsv = join(dir, 'slow.csv');
  writeFileSync(slowCsv, `a,b,c,d,iters,label\n${Array.from({ length: N_SLOW }, (_, i) => `${i},${i / 4},${-i},0.5,600,${i % 2}`).join('\n')}\n`);
});
after(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[]): ChildProcess {
  return spawn(process.execPath, nodeArgs(args), { stdio: ['ignore', 'pipe', 'pipe'] });
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, stderr })));
}

test('shards: i/N parsing and contiguous ranges that tile the rows', () => {
  assert.deepEqual(parseShard('2/5'), { index: 2, count: 5 });
  for (const bad of ['5/5', '-1/3', '1', 'a/b', '0/0']) assert.throws(() => parseShard(bad), /--shard must look like i\/N/);
  let at = 0;
  for (let i = 0; i < 7; i++) {
    const r = shardRange(100, { index: i, count: 7 });
    assert.equal(r.start, at);
    at = r.end;
  }
  assert.equal(at, 100);
});

test('an IDX file through an MLP: every row in order, equal to onnxruntime; a rerun does nothing; another batch size is refused', async () => {
  const out = join(dir, 'mlp-out');
  const r = await scoreShard({ model: mlp, input: images, out, batchSize: 32, instances: 2 });
  assert.equal(r.rows, N_IMAGES);
  assert.equal(r.scored, N_IMAGES);
  const lines = readFileSync(r.file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { row: number; logits: number[] });
  assert.deepEqual(lines.map((l) => l.row), Array.from({ length: N_IMAGES }, (_, i) => i));
  const s = await Session.create({ path: mlp }, { intraOpThreads: 1 });
  const px = readFileSync(images).subarray(16);
  const x = Tensor.f32([N_IMAGES, 1, 28, 28], Float32Array.from(px, (v) => v / 255));
  const want = (await s.run({ pixels: x })).logits!.data as Float32Array;
  await s.release();
  lines.forEach((l, i) => l.logits.forEach((v, k) => assert.ok(Math.abs(v - want[i * 10 + k]!) < 1e-5, `row ${i} logit ${k}: ${v} vs ${want[i * 10 + k]}`)));
  const bytes = readFileSync(r.file);
  const again = await scoreShard({ model: mlp, input: images, out, batchSize: 32, instances: 2 });
  assert.equal(again.scored, 0);
  assert.deepEqual(readFileSync(r.file), bytes);
  await assert.rejects(scoreShard({ model: mlp, input: images, out, batchSize: 16 }), /started with --batch-size 32/);
  await assert.rejects(scoreShard({ model: slow, input: images, out, batchSize: 32 }), /started with a different model/);
});

test('kill -9 mid-shard and rerun: merged output byte-identical to an uninterrupted run', async () => {
  const shards = 3;
  const clean = join(dir, 'clean');
  const killed = join(dir, 'killed');
  const args = (out: string, i: number) => ['score', slow, '--input', slowCsv, '--out', out, '--shard', `${i}/${shards}`, '--instances', '1', '--quiet'];
  const runs = await Promise.all(Array.from({ length: shards }, (_, i) => exited(cli(args(clean, i)))));
  for (const r of runs) assert.equal(r.code, 0, r.stderr);
  const m1 = mergeShards({ out: clean, shards });
  assert.equal(m1.rows, N_SLOW);
  const reference = readFileSync(m1.file);

  // shard 1: killed once its state records some rows but not all, then rerun
  const victim = cli(args(killed, 1));
  const done = exited(victim);
  const { state } = shardFiles(killed, { index: 1, count: shards });
  let seen: ReturnType<typeof readState>;
  for (let t0 = performance.now(); performance.now() - t0 < 30_000; await new Promise((r) => setTimeout(r, 2))) {
    try {
      seen = readState(state);
    } catch {
      seen = undefined;
    }
    if (seen && seen.rowsDone > 0) break;
  }
  victim.kill('SIGKILL');
  const k = await done;
  assert.equal(k.signal, 'SIGKILL');
  const atKill = readState(state)!;
  assert.ok(!atKill.complete && atKill.rowsDone > 0 && atKill.rowsDone < N_SLOW / shards, `killed mid-shard: ${JSON.stringify(atKill)}`);
  const rerun = await exited(cli([...args(killed, 1).filter((a) => a !== '--quiet')]));
  assert.equal(rerun.code, 0, rerun.stderr);
  assert.match(rerun.stderr, /resumed at row \d+ of the shard/);
  await assert.rejects(async () => mergeShards({ out: killed, shards }), /shard 0\/3 is missing/);
  for (const r of await Promise.all([0, 2].map((i) => exited(cli(args(killed, i)))))) assert.equal(r.code, 0, r.stderr);
  const m2 = mergeShards({ out: killed, shards });
  assert.deepEqual(readFileSync(m2.file), reference);
  const rows = reference.toString('utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { row: number; y: number[] });
  assert.deepEqual(rows.map((r) => r.row), Array.from({ length: N_SLOW }, (_, i) => i));
  assert.deepEqual(rows[7]!.y, [7, 7 / 4, -7, 0.5]);
});

test('merge: an incomplete shard is named; the CLI prints one-line errors', async () => {
  const out = join(dir, 'partial');
  await scoreShard({ model: mlp, input: images, out, shard: { index: 0, count: 2 } });
  assert.throws(() => mergeShards({ out, shards: 2 }), /shard 1\/2 is missing/);
  const { state } = shardFiles(out, { index: 0, count: 2 });
  const s = readState(state)!;
  writeFileSync(state, JSON.stringify({ ...s, complete: false }));
  assert.throws(() => mergeShards({ out, shards: 2 }), /shard 0\/2 is not complete/);
  const bad = await exited(cli(['score', mlp, '--input', join(dir, 'nope.csv'), '--out', out]));
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^trainfer: .*nope\.csv: no such file\n$/);
  const noShards = await exited(cli(['score', '--merge', out]));
  assert.match(noShards.stderr, /^trainfer: --merge needs --shards N\n$/);
});
