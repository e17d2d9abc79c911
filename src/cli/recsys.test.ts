// The recommender commands through the real CLI entry (in-process): train mf on a MovieLens-layout
// file and on synthetic data, recommend (exclusion, cold start said in the output), eval with the
// oracle beside the model — and bad input: one line on stderr, exit 1, no output file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../util/rng.js';
import { runCli } from './test-run-cli.js';

const run = runCli;

const dir = mkdtempSync(join(tmpdir(), 'trainfer-recsys-cli-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** A MovieLens u.data-style file: 80 users, 60 items; even users interact with odd items and odd users with even ones. */
function uData(path: string): void {
  const rng = Rng.fromSeed(9);
  const lines: string[] = [];
  for (let u = 1; u <= 80; u++) {
    const seen = new Set<number>();
    for (let n = 0; n < 12; n++) {
      let it = 0;
      do it = 1 + ((rng.int(30) * 2 + (u % 2)) % 60);
      while (seen.has(it));
      seen.add(it);
      lines.push(`${u}\t${it}\t${1 + rng.int(5)}\t${880000000 + n * 1000 + u}`);
    }
  }
  writeFileSync(path, `${lines.join('\n')}\n`);
}

test('train mf on u.data, recommend with exclusion and a cold-start user, eval the exported file', async () => {
  const data = join(dir, 'u.data');
  uData(data);
  const out = join(dir, 'ml.onnx');
  const t = await run(['train', '--model', 'mf', '--data', data, '--out', out, '--epochs', '3', '--progress', 'none', '--threads', '1', '--json']);
  assert.equal(t.code, 0, t.stderr);
  const r = JSON.parse(t.stdout) as { users: number; items: number; eval: { model: Record<string, number>; popularity: Record<string, number> } };
  assert.equal(r.users, 80);
  assert.equal(r.items, 60);
  assert.ok(r.eval.model['recall@10']! > r.eval.popularity['recall@10']!, 'the planted parity preference is learned');
  const rec = await run(['recommend', out, '--user', '2', '--user', 'stranger', '--k', '5', '--exclude-seen', data, '--json']);
  assert.equal(rec.code, 0, rec.stderr);
  const j = JSON.parse(rec.stdout) as { users: { user: string; coldStart: boolean; excluded: number; items: { item: string; score: number }[] }[] };
  assert.equal(j.users[0]!.excluded, 12);
  assert.equal(j.users[0]!.items.length, 5);
  assert.ok(j.users[0]!.items.every((x) => Number(x.item) % 2 === 1), `user 2 (even) gets the odd items it prefers: ${j.users[0]!.items.map((x) => x.item).join(', ')}`);
  assert.equal(j.users[1]!.coldStart, true);
  const text = await run(['recommend', out, '--user', 'stranger', '--k', '3']);
  assert.match(text.stdout, /user 'stranger' is not in the model \(80 users\): cold-start fallback, the most popular items/);
  const ev = await run(['eval', out, '--data', data, '--json']);
  assert.equal(ev.code, 0, ev.stderr);
  const e = JSON.parse(ev.stdout) as { users: number; model: Record<string, number> };
  assert.equal(e.users, 80);
  assert.equal(e.model['recall@10'], r.eval.model['recall@10']);
});

test('eval on synthetic data prints the oracle beside the model', async () => {
  const out = join(dir, 'syn.onnx');
  const data = 'synthetic:users=200,items=100,interactions=8,seed=5';
  assert.equal((await run(['train', '--model', 'mf', '--data', data, '--out', out, '--epochs', '2', '--progress', 'none', '--threads', '1'])).code, 0);
  const ev = await run(['eval', out, '--data', data, '--k', '5,20']);
  assert.equal(ev.code, 0, ev.stderr);
  assert.match(ev.stdout, /oracle +recall@5 [\d.]+%/);
  assert.match(ev.stdout, /model\/oracle recall@5: [\d.]+%/);
});

test('bad recommender input: one line, exit 1, nothing written', async () => {
  const empty = join(dir, 'empty.csv');
  writeFileSync(empty, 'user,item,rating\n');
  const bad = join(dir, 'bad.csv');
  writeFileSync(bad, 'user,item,rating\n1,2,5\n3,,4\n');
  const out = join(dir, 'never.onnx');
  const cases: [string[], RegExp][] = [
    [['train', '--model', 'mf', '--data', empty, '--out', out], /empty\.csv: no interactions \(the file has a header but no rows\)/],
    [['train', '--model', 'mf', '--data', bad, '--out', out], /bad\.csv: line 3: empty item/],
    [['train', '--model', 'mf', '--data', join(dir, 'nope.csv'), '--out', out], /nope\.csv: no such file/],
    [['train', '--model', 'mf', '--data', 'synthetic:users=50', '--out', out], /give users and items/],
    [['train', '--model', 'mf', '--data', 'synthetic:users=50,items=40', '--loss', 'huber', '--out', out], /--loss huber: a retrieval model trains with bpr, softmax, bce, mse/],
    [['train', '--model', 'mf', '--data', 'synthetic:users=50,items=40', '--loss', 'softmax', '--out', out], /--loss softmax needs user and item vectors without biases/],
    [['train', '--model', 'two-tower', '--data', 'synthetic:users=50,items=40', '--task', 'binary', '--out', out], /--task does not apply to --model two-tower/],
    [['train', '--model', 'mf', '--data', 'synthetic:users=50,items=40', '--sparse-optimizer', 'lion', '--out', out], /--sparse-optimizer must be rowwise-adagrad, adagrad, sparse-adam, sgd or dense/],
    [['train', '--model', 'dlrm', '--data', 'synthetic:users=50,items=40', '--top-k', '5', '--out', out], /--top-k applies to mf and two-tower, not dlrm/],
    [['train', '--model', 'mf', '--data', 'synthetic:users=50,items=40', '--loss', 'mse', '--out', out], /--loss mse fits explicit ratings; .* has implicit feedback/],
  ];
  for (const [argv, re] of cases) {
    const r = await run(argv);
    assert.equal(r.code, 1, `${argv.join(' ')}: exit ${r.code}`);
    assert.match(r.stderr, re, argv.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
  }
  assert.equal(existsSync(out), false);
  const model = join(dir, 'syn.onnx');
  const big = await run(['recommend', model, '--user', '1', '--k', '500']);
  assert.match(big.stderr, /--k 500 is larger than the model's top-K \(100/);
  const dlrmAsRetrieval = await run(['recommend', join(dir, 'nope.onnx'), '--user', '1']);
  assert.equal(dlrmAsRetrieval.code, 1);
});
