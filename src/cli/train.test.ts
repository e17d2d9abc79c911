// `trainfer train` / `trainfer eval` through the real CLI entry: a tiny CSV run with --json, eval of the
// exported file, and bad input (unreadable data, shapes that disagree, labels out of range, a NaN loss):
// one line on stderr, exit 1, no output file.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeModel } from '../onnx/model-io.js';
import { IDX_FILES, encodeIdx } from '../data/idx.js';
import { Rng } from '../util/rng.js';
import { pytorchStyleMlp } from '../train/test-fixtures.js';
import { availableDevices } from '../runtime/session.js';
import { runCli } from './test-run-cli.js';

const run = runCli;

const dir = mkdtempSync(join(tmpdir(), 'trainfer-cli-'));

/** Two Gaussian blobs per class in 4-D, 3 classes, with string labels. */
function blobsCsv(path: string, n: number, seed: number): void {
  const rng = Rng.fromSeed(seed);
  const names = ['alpha', 'beta', 'gamma'];
  const rows = ['f1,f2,f3,f4,kind'];
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    const f = [0, 1, 2, 3].map((k) => (k === c ? 3 : 0) + rng.normal() * 0.7 + 10);
    rows.push(`${f.map((v) => v.toFixed(3)).join(',')},${names[c]}`);
  }
  writeFileSync(path, `${rows.join('\n')}\n`);
}

test('train on a CSV with --json, then eval the exported model', async () => {
  const csv = join(dir, 'blobs.csv');
  blobsCsv(csv, 600, 1);
  const out = join(dir, 'blobs.onnx');
  const r = await run(['train', '--model', 'mlp:16', '--data', csv, '--out', out, '--json', '--threads', '1', '--seed', '3']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as Record<string, number | string>;
  for (const k of ['testAccuracy', 'epochs', 'trainSeconds', 'samplesPerSecond', 'parameters', 'out']) assert.ok(k in j, `missing ${k}`);
  assert.equal(j.out, out);
  assert.equal(j.parameters, 4 * 16 + 16 + 16 * 3 + 3);
  assert.ok((j.testAccuracy as number) >= 0.9, `test accuracy ${j.testAccuracy}`);
  const e = await run(['eval', out, '--data', csv, '--json']);
  assert.equal(e.code, 0, e.stderr);
  assert.ok((JSON.parse(e.stdout) as { testAccuracy: number }).testAccuracy >= 0.9);
});

test('bad input: one line, exit 1, nothing written', async () => {
  const out = join(dir, 'never.onnx');
  const badDir = join(dir, 'idx');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(badDir);
  writeFileSync(join(badDir, IDX_FILES.trainImages), 'garbage!');
  const cases: [string[], RegExp][] = [
    [['--model', 'mlp:8', '--data', badDir], /train-images-idx3-ubyte: magic number 0x67617262 is not an IDX header/],
    [['--model', 'mlp:8', '--data', join(dir, 'missing.csv')], /missing\.csv: no such file or directory/],
    [['--model', 'mlp:8', '--data', 'mnist', '--lr', '1e9', '--optimizer', 'sgd', '--momentum', '0', '--limit', '2000'], /loss became (NaN|-?Infinity) at step \d+ .*try a lower learning rate/],
    [['--model', 'mlp:8', '--data', 'mnist', '--epochs', 'two'], /--epochs must be a positive integer, got 'two'/],
    [['--model', 'mlp:8', '--data', 'mnist', '--resume', '--checkpoint-dir', join(dir, 'ck')], /no checkpoint to resume from/],
    [['--model', 'mlp:8', '--data', 'mnist', '--schedule', 'linear'], /unknown schedule 'linear'/],
    [['--model', 'mlp:8', '--data', 'mnist', '--device', 'gpu'], /--device must be cpu or cuda, got 'gpu'/],
  ];
  // Without a CUDA build of onnxruntime-node, asking for it is a clear error, not a silent CPU fallback.
  if (!availableDevices().includes('cuda')) cases.push([['--model', 'mlp:8', '--data', 'mnist', '--limit', '512', '--device', 'cuda'], /device 'cuda' is not available/]);
  const torch = join(dir, 'torch.onnx');
  writeModel(torch, pytorchStyleMlp(0));
  const csv = join(dir, 'blobs2.csv');
  blobsCsv(csv, 60, 2);
  cases.push([['--model', torch, '--data', csv], /torch\.onnx: input 'input\.1' expects \[1, 28, 28\] per sample \(784 values\) but .*blobs2\.csv columns f1\.\.f4 \(4 columns\) give 4 values per row/]);
  const wide = join(dir, 'wide');
  mkdirSync(wide);
  const n = 40;
  const imgs = new Uint8Array(n * 784);
  const labels = Uint8Array.from({ length: n }, (_, i) => i % 13);
  for (const [img, lab] of [[IDX_FILES.trainImages, IDX_FILES.trainLabels], [IDX_FILES.testImages, IDX_FILES.testLabels]] as const) {
    writeFileSync(join(wide, img), encodeIdx([n, 28, 28], imgs));
    writeFileSync(join(wide, lab), encodeIdx([n], labels));
  }
  cases.push([['--model', torch, '--data', wide, '--validation-split', '0'], /label 1[0-2] of sample \d+ is out of range: the model has 10 classes/]);
  for (const [args, re] of cases) {
    const r = await run(['train', ...args, '--out', out, '--threads', '1', '--progress', 'none']);
    assert.equal(r.code, 1, `${args.join(' ')} → exit ${r.code}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one line for ${args.join(' ')}: ${r.stderr}`);
    assert.match(lines[0]!, /^trainfer: /);
    assert.match(lines[0]!, re);
    assert.ok(!existsSync(out), `no output after ${args.join(' ')}`);
  }
  const e = await run(['eval', join(dir, 'nope.onnx'), '--data', 'mnist']);
  assert.equal(e.code, 1);
  assert.match(e.stderr, /^trainfer: .*nope\.onnx.*\n$/);
});
