// Data: IDX directories (tiny ones written here, plain and gzipped), CSV, the built-in MNIST, seeded
// splits and shuffles, the allocation-free batcher, and one-line errors that name the file and field.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { FileFormatError, TrainferError } from '../util/errors.js';
import { Batcher, checkLabels, splitValidation } from './dataset.js';
import { IDX_FILES, encodeIdx, readIdxDir } from './idx.js';
import { parseCsv, readCsv } from './csv.js';
import { loadData } from './load.js';
import { Rng } from '../util/rng.js';

function idxDir(o: { n: number; h: number; w: number; classes: number; gz?: boolean }): string {
  const dir = mkdtempSync(join(tmpdir(), 'trainfer-idx-'));
  const write = (name: string, bytes: Uint8Array) => writeFileSync(join(dir, o.gz ? `${name}.gz` : name), o.gz ? gzipSync(bytes) : bytes);
  const img = Uint8Array.from({ length: o.n * o.h * o.w }, (_, i) => i % 256);
  const lab = Uint8Array.from({ length: o.n }, (_, i) => i % o.classes);
  write(IDX_FILES.trainImages, encodeIdx([o.n, o.h, o.w], img));
  write(IDX_FILES.trainLabels, encodeIdx([o.n], lab));
  write(IDX_FILES.testImages, encodeIdx([o.n, o.h, o.w], img));
  write(IDX_FILES.testLabels, encodeIdx([o.n], lab));
  return dir;
}

test('IDX directory of any image size and class count, plain or gzipped', () => {
  for (const gz of [false, true]) {
    const s = readIdxDir(idxDir({ n: 6, h: 3, w: 5, classes: 3, gz }));
    assert.deepEqual(s.train.sampleShape, [1, 3, 5]);
    assert.equal(s.train.count, 6);
    assert.equal(s.train.numClasses, 3);
    assert.deepEqual([...s.test.y], [0, 1, 2, 0, 1, 2]);
    const b = new Batcher({ dataset: s.train, batchSize: 2 });
    b.fill(null, 0);
    assert.equal(b.x[1], Math.fround(1 / 255));
    assert.ok(Math.abs(b.x[15]! - 15 / 255) < 1e-7);
  }
});

test('IDX errors name the file and the problem', () => {
  const dir = idxDir({ n: 4, h: 2, w: 2, classes: 2 });
  writeFileSync(join(dir, IDX_FILES.trainLabels), encodeIdx([3], Uint8Array.from([0, 1, 0])));
  assert.throws(() => readIdxDir(dir), (e: Error) => e instanceof FileFormatError && /train-labels-idx1-ubyte: has 3 labels but .*train-images-idx3-ubyte has 4 images/.test(e.message));
  writeFileSync(join(dir, IDX_FILES.trainImages), Buffer.from('PK\x03\x04 not idx at all'));
  assert.throws(() => readIdxDir(dir), /train-images-idx3-ubyte: magic number 0x504b0304 is not an IDX header/);
  writeFileSync(join(dir, IDX_FILES.trainImages), encodeIdx([4, 2, 2], new Uint8Array(16)).subarray(0, 20));
  assert.throws(() => readIdxDir(dir), /train-images-idx3-ubyte: truncated: header says \[4, 2, 2\]/);
  assert.throws(() => loadData({ source: join(dir, 'nope') }), /nope: no such file or directory/);
});

test('built-in MNIST: the real 60k/10k, pixels in [0, 1]', () => {
  const { train, test: t, validation } = loadData({ source: 'mnist', validationSplit: 0.1, seed: 1 });
  assert.equal(train.count + validation!.count, 60000);
  assert.equal(validation!.count, 6000);
  assert.equal(t.count, 10000);
  assert.deepEqual(t.sampleShape, [1, 28, 28]);
  assert.equal(t.numClasses, 10);
  assert.equal(t.y[0], 7); // the famous first test digit
  const b = new Batcher({ dataset: t, batchSize: 4 });
  b.fill(null, 0);
  assert.ok(b.x.every((v) => v >= 0 && v <= 1));
  assert.ok(Math.max(...b.x) === 1);
});

test('CSV: header, numeric features, label column by name or default, class names', () => {
  const csv = 'a,b,species\n1,2,setosa\n3,4,virginica\n\n5,6,setosa\n';
  const d = parseCsv(csv, 'iris.csv');
  assert.deepEqual(d.sampleShape, [2]);
  assert.deepEqual(d.classNames, ['setosa', 'virginica']);
  assert.deepEqual([...d.y], [0, 1, 0]);
  assert.deepEqual([...d.x], [1, 2, 3, 4, 5, 6]);
  const e = parseCsv('label,x\n2,0.5\n0,"1.5"\n', 'n.csv');
  assert.equal(e.numClasses, 3);
  assert.deepEqual([...e.x], [0.5, 1.5]);
  const f = parseCsv('x,y,cls\n1,2,0\n', 'f.csv', { labelColumn: 'x' });
  assert.deepEqual(f.featureNames, ['y', 'cls']);
  assert.throws(() => parseCsv('a,label\n1,0\nfoo,1\n', 'bad.csv'), /bad.csv: line 3, column 'a': 'foo' is not a number/);
  assert.throws(() => parseCsv('a,label\n1,0,3\n', 'bad.csv'), /bad.csv: line 2 has 3 fields but the header has 2/);
  assert.throws(() => parseCsv('a,b\n1,0\n', 'bad.csv', { labelColumn: 'nope' }), /no column named 'nope'/);
  assert.throws(() => readCsv('/nonexistent/x.csv'), (err: Error) => err instanceof FileFormatError && err.message === '/nonexistent/x.csv: no such file');
});

test('labels out of range are reported with the sample', () => {
  const d = parseCsv('x,label\n1,0\n2,7\n', 'l.csv');
  assert.throws(() => checkLabels(d, 3), (e: Error) => e instanceof TrainferError && /l.csv: label 7 of sample 1 is out of range: the model has 3 classes/.test(e.message));
});

test('RNG: seeded, state round-trips, permutations are permutations', () => {
  const a = Rng.fromSeed(5);
  a.uniform();
  const saved = a.state();
  const x = [a.uniform(), a.nextU32(), a.normal()];
  const b = Rng.fromState(saved);
  assert.deepEqual([b.uniform(), b.nextU32(), b.normal()], x);
  const p = Rng.fromSeed(1).permutation(1000);
  assert.deepEqual([...p].sort((m, n) => m - n), Array.from({ length: 1000 }, (_, i) => i));
  assert.notDeepEqual([...Rng.fromSeed(1).permutation(10)], [...Rng.fromSeed(2).permutation(10)]);
  const u = new Float32Array(10000);
  Rng.fromSeed(3).fillUniform(u);
  const mean = u.reduce((s, v) => s + v, 0) / u.length;
  assert.ok(Math.abs(mean - 0.5) < 0.02 && u.every((v) => v >= 0 && v < 1));
});

test('validation split is seeded and disjoint; batcher reuses its buffers', () => {
  const d = parseCsv(`x,label\n${Array.from({ length: 100 }, (_, i) => `${i},${i % 2}`).join('\n')}\n`, 's.csv');
  const s1 = splitValidation(d, 0.2, Rng.fromSeed(9));
  const s2 = splitValidation(d, 0.2, Rng.fromSeed(9));
  assert.equal(s1.validation!.count, 20);
  assert.deepEqual([...s1.validation!.x], [...s2.validation!.x]);
  const all = new Set([...s1.train.x, ...s1.validation!.x]);
  assert.equal(all.size, 100);
  const b = new Batcher({ dataset: s1.train, batchSize: 8 });
  const x = b.x;
  const labels = b.labels;
  const order = Rng.fromSeed(1).permutation(s1.train.count);
  b.fill(order, 8);
  assert.equal(b.x, x);
  assert.equal(b.labels, labels);
  assert.equal(b.x[0], s1.train.x[order[8]!]);
  assert.equal(b.labels[0], BigInt(s1.train.y[order[8]!]!));
  assert.equal(b.fill(order, 75), 5);
});

test('batcher standardises per channel while copying (what the training graph leaves out)', () => {
  const d = parseCsv('a,b,label\n1,10,0\n3,30,1\n', 'n.csv');
  const b = new Batcher({ dataset: d, batchSize: 2, normalize: { mean: [2, 20], std: [1, 10] } });
  b.fill(null, 0);
  assert.deepEqual([...b.x], [-1, -1, 1, 1]);
  assert.throws(() => new Batcher({ dataset: d, batchSize: 2, normalize: { mean: [0, 0, 0], std: [1, 1, 1] } }), /3 channels but samples have 2 values/);
});

test('CSV class names from training index a test file with fewer classes the same way', () => {
  const d = parseCsv('x,label\n1,cat\n2,dog\n', 'test.csv', { classNames: ['ant', 'cat', 'dog'] });
  assert.deepEqual([...d.y], [1, 2]);
  assert.equal(d.numClasses, 3);
  assert.throws(() => parseCsv('x,label\n1,eel\n', 'test.csv', { classNames: ['ant', 'cat'] }), /test.csv: data row 1, column 'label': label 'eel' is not one of the classes ant, cat/);
});
