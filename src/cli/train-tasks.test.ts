// `trainfer train` / `eval` beyond classification, through the real CLI entry: a CSV with a float target
// (regression chosen and said first; no softmax in the export; metadata; eval reads it back the same
// way), multi-label targets, a tabular preset with categorical columns, an int64-ids model fine-tuned
// (written beside its input), a resumed run with early stopping that writes the same file, and bad
// input of every kind reported in one line before any step.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModel, writeModel } from '../onnx/model-io.js';
import { Rng } from '../util/rng.js';
import { pytorchStyleTokenModel } from '../train/test-fixtures.js';
import { runCli } from './test-run-cli.js';

const run = runCli;

const dir = mkdtempSync(join(tmpdir(), 'trainfer-cli-tasks-'));
const q = ['--threads', '1', '--progress', 'lines'];

/** Houses: sqft, rooms, a categorical city, and a float price with noise σ = 10k. */
function housesCsv(path: string, n: number, seed: number): void {
  const rng = Rng.fromSeed(seed);
  const cities = ['north', 'south', 'east'];
  const rows = ['sqft,rooms,city,price'];
  for (let i = 0; i < n; i++) {
    const sq = 40 + rng.uniform() * 160;
    const r = 1 + rng.int(6);
    const c = rng.int(3);
    rows.push(`${sq.toFixed(1)},${r},${cities[c]},${(1500 * sq + 8000 * r + [40000, 0, 20000][c]! + 10000 * rng.normal()).toFixed(2)}`);
  }
  writeFileSync(path, `${rows.join('\n')}\n`);
}

test('a CSV with a float target trains a regressor: task said first, RMSE near the noise, metadata, eval reads it back', async () => {
  const csv = join(dir, 'houses.csv');
  housesCsv(csv, 700, 1);
  const out = join(dir, 'houses.onnx');
  const r = await run(['train', '--model', 'mlp:32', '--data', csv, '--target', 'price', '--out', out, '--json', '--epochs', '40', ...q]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr.split('\n')[0]!, /^task: regression \(target 'price' is a float column; --task overrides\)$/);
  const j = JSON.parse(r.stdout) as { task: string; testMetrics: Record<string, number> };
  assert.equal(j.task, 'regression');
  // The noise is 10k; a 2,975-class classifier (what this CSV used to train) scores nothing like this.
  assert.ok(j.testMetrics.rmse! < 13000 && j.testMetrics.r2! > 0.97, JSON.stringify(j.testMetrics));
  const m = readModel(out);
  assert.deepEqual(m.graph.outputs.map((o) => o.name), ['predictions'], 'no softmax output for regression');
  assert.equal(m.metadata.get('trainfer.task'), 'regression');
  assert.equal(m.metadata.get('trainfer.batch_first'), 'true');
  assert.deepEqual(JSON.parse(m.metadata.get('trainfer.vocabularies')!), { city: ['east', 'north', 'south'] });
  assert.deepEqual(JSON.parse(m.metadata.get('trainfer.inputs')!).map((i: { name: string; columns: string[] }) => [i.name, i.columns]), [['features', ['sqft', 'rooms']], ['city', ['city']]]);
  // A new file whose cities come in another order: the stored vocabulary maps them to the same ids.
  const more = join(dir, 'houses2.csv');
  housesCsv(more, 200, 9);
  writeFileSync(more, readFileSync(more, 'utf8').replace('sqft,rooms,city,price\n', 'sqft,rooms,city,price\n100,3,south,160000\n'));
  const e = await run(['eval', out, '--data', more, '--json']);
  assert.equal(e.code, 0, e.stderr);
  const ej = JSON.parse(e.stdout) as { task: string; metrics: Record<string, number>; samples: number };
  assert.equal(ej.task, 'regression');
  assert.equal(ej.samples, 201);
  assert.ok(ej.metrics.rmse! < 13000, JSON.stringify(ej.metrics));
});

test('several 0/1 target columns train a multi-label model (sigmoid probabilities, micro/macro F1)', async () => {
  const rng = Rng.fromSeed(2);
  const rows = ['x1,x2,x3,cat,dog,fish'];
  for (let i = 0; i < 900; i++) {
    const x = [rng.normal(), rng.normal(), rng.normal()];
    rows.push([...x.map((v) => v.toFixed(3)), x[0]! > 0 ? 1 : 0, x[1]! + x[2]! > 0 ? 1 : 0, x[2]! > 0.5 ? 1 : 0].join(','));
  }
  const csv = join(dir, 'tags.csv');
  writeFileSync(csv, `${rows.join('\n')}\n`);
  const out = join(dir, 'tags.onnx');
  const r = await run(['train', '--model', 'mlp:32', '--data', csv, '--target', 'cat..fish', '--out', out, '--json', '--epochs', '30', '--pos-weight', 'balanced', ...q]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^task: multilabel \(3 target values per row, all 0\/1; --task overrides\), 3 outputs\n/);
  const j = JSON.parse(r.stdout) as { testMetrics: Record<string, number> };
  assert.ok(j.testMetrics.micro_f1! > 0.85 && j.testMetrics.f1! > 0.85, JSON.stringify(j.testMetrics));
  assert.deepEqual(readModel(out).graph.outputs.map((o) => o.name), ['logits', 'probabilities']);
});

test('--stream trains from a file read in shards (standardised by the scan\'s statistics) as well as from memory', async () => {
  const rng = Rng.fromSeed(8);
  const rows = ['a,b,label'];
  for (let i = 0; i < 3000; i++) rows.push(`${(500 + 100 * ((i % 2) * 1.5 + rng.normal())).toFixed(2)},${(rng.normal() * 0.01).toFixed(5)},${i % 2}`);
  const csv = join(dir, 'stream.csv');
  writeFileSync(csv, `${rows.join('\n')}\n`);
  const r = await run(['train', '--model', 'mlp:8', '--data', csv, '--stream', '--epochs', '3', '--out', join(dir, 'stream.onnx'), '--json', ...q]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /\(streamed\)/);
  const j = JSON.parse(r.stdout) as { testMetrics: Record<string, number> };
  assert.ok(j.testMetrics.accuracy! > 0.7 && j.testMetrics.auc! > 0.8, JSON.stringify(j.testMetrics));
});

test('the customers data set: numeric + categorical columns through a preset with one embedding per category', async () => {
  const out = join(dir, 'customers.onnx');
  const r = await run(['train', '--model', 'mlp:32', '--data', 'customers', '--epochs', '4', '--out', out, '--json', '--monitor', 'val_f1', '--class-weights', 'balanced', ...q]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^task: classification \(target 'segment' holds 3 categories/);
  const j = JSON.parse(r.stdout) as { testMetrics: Record<string, number>; testHeads: Record<string, { confusion: number[][] }> };
  assert.ok(j.testMetrics.accuracy! > 0.68, JSON.stringify(j.testMetrics));
  assert.equal(j.testHeads.logits!.confusion.length, 3);
  assert.deepEqual(readModel(out).graph.inputs.map((i) => i.name), ['features', 'city', 'plan']);
});

test('an int64-ids model fine-tunes from integer CSV columns; -finetuned.onnx lands beside the input', async () => {
  const sub = join(dir, 'models');
  mkdirSync(sub);
  const src = join(sub, 'tok.onnx');
  writeModel(src, pytorchStyleTokenModel(3));
  const rng = Rng.fromSeed(3);
  const rows = [`${Array.from({ length: 8 }, (_, i) => `t${i + 1}`).join(',')},label`];
  for (let r = 0; r < 600; r++) {
    const ids = Array.from({ length: 8 }, () => rng.int(20)).map((v) => (v === 7 ? 8 : v));
    if (r % 2 === 0) ids[rng.int(8)] = 7;
    rows.push(`${ids.join(',')},${r % 2 === 0 ? 1 : 0}`);
  }
  const csv = join(dir, 'tok.csv');
  writeFileSync(csv, `${rows.join('\n')}\n`);
  const r = await run(['train', '--model', src, '--data', csv, '--json', '--epochs', '10', '--optimizer', 'adam', '--lr', '0.02', ...q]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { out: string; task: string; testMetrics: Record<string, number> };
  assert.equal(j.out, join(sub, 'tok-finetuned.onnx'));
  assert.ok(existsSync(j.out));
  assert.equal(j.task, 'classification', 'two classes into a two-score model: softmax cross-entropy');
  assert.ok(j.testMetrics.accuracy! > 0.85, JSON.stringify(j.testMetrics));
});

test('a run with early stopping, interrupted and resumed, writes the same file as a straight run', async () => {
  const rng = Rng.fromSeed(6);
  const rows = ['a,b,c,label'];
  for (let i = 0; i < 1500; i++) rows.push([0, 1, 2].map((k) => ((k === i % 3 ? 1 : 0) + rng.normal()).toFixed(3)).join(',') + `,${i % 3}`);
  const csv = join(dir, 'es.csv');
  writeFileSync(csv, `${rows.join('\n')}\n`);
  const args = ['train', '--model', 'mlp:16', '--data', csv, '--epochs', '10', '--patience', '1', '--validation-split', '0.2', '--lr', '0.3', '--json', ...q];
  const a = await run([...args, '--out', join(dir, 'es-a.onnx')]);
  assert.equal(a.code, 0, a.stderr);
  const ja = JSON.parse(a.stdout) as { stopReason: string; bestEpoch: number; epochs: number };
  assert.equal(ja.stopReason, 'early-stopping');
  const ck = join(dir, 'es-ck');
  const b1 = await run([...args, '--out', join(dir, 'es-b.onnx'), '--checkpoint-dir', ck, '--max-steps', '40']);
  assert.equal(b1.code, 0, b1.stderr);
  const refused = await run([...args, '--out', join(dir, 'es-b.onnx'), '--checkpoint-dir', ck]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /es-ck: holds an unfinished run \(stopped at step 40, epoch \d+\); continue it with --resume, or pass --overwrite/);
  const b2 = await run([...args, '--out', join(dir, 'es-b.onnx'), '--checkpoint-dir', ck, '--resume']);
  assert.equal(b2.code, 0, b2.stderr);
  assert.equal((JSON.parse(b2.stdout) as { bestEpoch: number }).bestEpoch, ja.bestEpoch);
  assert.deepEqual(readFileSync(join(dir, 'es-b.onnx')), readFileSync(join(dir, 'es-a.onnx')));
});

test('bad input is one line naming the source and the fix, before any step; nothing is written', async () => {
  const write = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const many = (f: (i: number) => string, n = 60) => Array.from({ length: n }, (_, i) => f(i)).join('\n');
  const decades = write('decades.csv', `x,y\n${many((i) => `${i},${(i % 3) * 10}`)}\n`);
  const stray = write('stray.csv', `x,label\n${many((i) => `${i},${i === 41 ? '1.5' : i % 4}`)}\n`);
  const noHeader = write('nohead.csv', `${many((i) => `${i},${i % 2}`)}\n`);
  const text = write('text.csv', `review,label\n${many((i) => `"this is review number ${i}",${i % 2}`)}\n`);
  const small = write('small.csv', `x,label\n${many((i) => `${i},${i % 2}`, 30)}\n`);
  const ck = join(dir, 'ck-bad');
  const cases: [string[], RegExp][] = [
    [['--data', decades], /decades\.csv: target 'y' holds the integer labels \{0, 10, 20\}, not 0\.\.K-1 .*pass --column-type y=categorical to use the values as class names, or --task regression/],
    [['--data', stray], /stray\.csv: line 43, column 'label': '1\.5' is not an integer, but every other value is \(labels \{0, 1, 2, 3\}\): fix the row, or pass --task regression/],
    [['--data', noHeader], /nohead\.csv: line 1: the first row holds numbers \(0, 0\), not column names: add a header row/],
    [['--data', text], /text\.csv: column 'review' is text; mlp:8 takes numbers, categories and images: train --model transformer on text, or leave it out with --exclude review/],
    [['--data', small, '--target', 'price'], /small\.csv: no column named 'price' \(columns: x, label\)/],
    [['--data', small, '--loss', 'mse'], /--loss mse does not fit task binary \(use bce\)/],
    [['--data', small, '--class-weights', '1,2,3', '--task', 'classification'], /class weights: 3 given but head 'logits' has 2 classes/],
    [['--data', small, '--lr', '0'], /--lr must be a positive number, got '0'/],
    [['--data', small, '--lr', '-0.1'], /--lr must be a positive number, got '-0\.1'/],
    [['--data', small, '--resume'], /--resume needs --checkpoint-dir/],
    [['--data', small, '--batch-size', '64'], /--batch-size 64 is larger than the 23 training samples of .*small\.csv/],
    [['--data', small, '--monitor', 'val_bogus'], /--monitor val_bogus: expected val_loss, val_accuracy/],
    [['--data', small, '--target', 'x', '--monitor', 'val_auc'], /--monitor val_auc: head 'logits' \(classification, \[30\]\) reports val_loss, val_accuracy, val_precision, val_recall, val_f1, val_top5/],
    [['--data', small, '--task', 'regresion'], /--task must be classification, binary, multilabel, regression, got 'regresion'/],
    [['--data', 'mnist', '--model', join(dir, 'tok.onnx'), '--trainable', '(fc'], /--trainable '\(fc': not a valid regular expression/],
    [['--data', small, '--checkpoint-dir', ck, '--resume'], /ck-bad.checkpoint\.trainfer: no checkpoint to resume from/],
  ];
  writeModel(join(dir, 'tok.onnx'), pytorchStyleTokenModel(0));
  const out = join(dir, 'never.onnx');
  for (const [args, re] of cases) {
    const model = args.includes('--model') ? [] : ['--model', 'mlp:8'];
    const r = await run(['train', ...model, ...args, '--out', out, '--threads', '1', '--progress', 'none']);
    assert.equal(r.code, 1, `${args.join(' ')} → exit ${r.code}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one line for ${args.join(' ')}: ${r.stderr}`);
    assert.match(lines[0]!, /^trainfer: /);
    assert.match(lines[0]!, re);
    assert.ok(!lines[0]!.includes('node_modules'), lines[0]);
    assert.ok(!existsSync(out), `no output after ${args.join(' ')}`);
  }
});

test('`trainfer demo` (npm start) leaves no temporary directory behind', async () => {
  const before = new Set(readdirSync(tmpdir()).filter((n) => n.startsWith('trainfer-demo-')));
  const r = await run(['demo', '--epochs', '1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /test accuracy of the exported model: 9\d\.\d\d%/);
  const left = readdirSync(tmpdir()).filter((n) => n.startsWith('trainfer-demo-') && !before.has(n));
  assert.deepEqual(left, []);
});
