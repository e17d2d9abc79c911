// `trainfer train` trainer-essential flags through the real CLI entry: --find-lr prints a JSON curve and a
// suggestion and writes nothing; --accumulate/--ema/--freeze/--keep-best/--save-top-k train and export;
// --patience without --schedule picks the plateau schedule (said in the first lines); bad values are
// one-line errors.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../util/rng.js';
import { runCli } from './test-run-cli.js';

const run = runCli;

const dir = mkdtempSync(join(tmpdir(), 'trainfer-cli-essentials-'));
const csv = join(dir, 'blobs.csv');
{
  const rng = Rng.fromSeed(1);
  const rows = ['f1,f2,f3,f4,label'];
  for (let i = 0; i < 600; i++) rows.push(`${[0, 1, 2, 3].map((k) => ((k === i % 3 ? 2 : 0) + rng.normal()).toFixed(3)).join(',')},${i % 3}`);
  writeFileSync(csv, `${rows.join('\n')}\n`);
}
const q = ['--threads', '1', '--progress', 'none'];

test('--find-lr: a JSON curve and a suggested lr, nothing written', async () => {
  const out = join(dir, 'never.onnx');
  const r = await run(['train', '--model', 'mlp:16', '--data', csv, '--find-lr', '--find-lr-steps', '30', '--find-lr-range', '1e-4,3', '--batch-size', '16', '--out', out, '--json', ...q]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { points: { lr: number; loss: number }[]; suggestedLr: number; minLossLr: number };
  assert.ok(j.points.length >= 10 && j.points.length <= 30);
  assert.ok(j.suggestedLr > 1e-5 && j.suggestedLr < 3);
  assert.ok(!existsSync(out));
  const bad = await run(['train', '--model', 'mlp:16', '--data', csv, '--find-lr', '--find-lr-range', '1,0.1', ...q]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr.trim(), /^trainfer: --find-lr-range expects min,max with 0 < min < max/);
});

test('--accumulate, --ema, --freeze, --keep-best, --save-top-k train and export; --patience picks the plateau schedule', async () => {
  const ck = join(dir, 'ck');
  const out = join(dir, 'acc.onnx');
  const r = await run(['train', '--model', 'mlp:16', '--data', csv, '--epochs', '4', '--batch-size', '16', '--accumulate', '2', '--ema', '0.9', '--freeze', '^linear1\\.bias$', '--keep-best', '--save-top-k', '2', '--checkpoint-dir', ck, '--patience', '2', '--validation-split', '0.2', '--out', out, '--json', '--threads', '1', '--progress', 'lines']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { testAccuracy: number; schedule: string; steps: number };
  assert.ok(j.testAccuracy > 0.6, `accuracy ${j.testAccuracy}`);
  assert.match(j.schedule, /^plateau,patience=1,warmup=\d+$/);
  assert.match(r.stderr, /plateau,patience=1,warmup=\d+ \(--patience: a schedule that does not assume the last epoch\)/);
  assert.equal(readdirSync(ck).filter((f) => f.startsWith('best-epoch-')).length, 2);
  assert.ok(existsSync(out));
  const bad = await run(['train', '--model', 'mlp:16', '--data', csv, '--freeze', 'conv', ...q]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr.trim(), /^trainfer: --freeze conv: matches none of the 4 trainable parameters/);
  const topk = await run(['train', '--model', 'mlp:16', '--data', csv, '--save-top-k', '2', ...q]);
  assert.equal(topk.code, 1);
  assert.match(topk.stderr.trim(), /^trainfer: --save-top-k needs --checkpoint-dir$/);
});
