// Data: IDX directories (tiny ones written here, plain and gzipped), the built-in MNIST, seeded splits and
// shuffles, and one-line errors that name the file and field. (CSV/JSONL typing, feed plans, the batcher
// and streams: tables.test.ts.)
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { FileFormatError } from '../util/errors.js';
import { Batcher, packTable } from './batcher.js';
import { datasetFromTable, tableFromDataset } from './dataset.js';
import { planFeeds } from './feed-plan.js';
import { IDX_FILES, encodeIdx, readIdxDir } from './idx.js';
import { loadData, loadTable } from './load.js';
import { getColumn, splitRows } from './table.js';
import { parseCsv } from './csv.js';
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

test('IDX directory of any image size and class count, plain or gzipped: pixels (bytes, scale 1/255) + label columns', () => {
  for (const gz of [false, true]) {
    const s = readIdxDir(idxDir({ n: 6, h: 3, w: 5, classes: 3, gz }));
    assert.deepEqual(s.train.columns.map((c) => [c.name, c.dtype, c.shape]), [['pixels', 'uint8', [1, 3, 5]], ['label', 'int64', []]]);
    assert.equal(s.train.count, 6);
    assert.deepEqual([...(getColumn(s.test, 'label').data as BigInt64Array)].map(Number), [0, 1, 2, 0, 1, 2]);
    const plan = planFeeds({ specs: [{ name: 'pixels', dtype: 'float32', shape: [1, 3, 5], role: 'input' }, { name: 'target', dtype: 'int64', shape: [], role: 'target' }], table: s.train, bindings: { target: { columns: ['label'] } } });
    const b = new Batcher({ plan, batchSize: 2 });
    b.fill(packTable(s.train, plan), null, 0);
    const x = b.buffer('pixels').data as Float32Array;
    assert.equal(x[1], Math.fround(1 / 255));
    assert.ok(Math.abs(x[15]! - 15 / 255) < 1e-7);
    assert.deepEqual([...(b.buffer('target').data as BigInt64Array)], [0n, 1n]);
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
  assert.throws(() => loadTable({ source: join(dir, 'nope') }), /nope: no such file or directory/);
});

test('built-in MNIST: the real 60k/10k, named `mnist` in messages (not a node_modules path)', () => {
  const { train, test: t, validation } = loadTable({ source: 'mnist', validationSplit: 0.1, seed: 1 });
  assert.equal(train.count + validation!.count, 60000);
  assert.equal(validation!.count, 6000);
  assert.equal(t.count, 10000);
  assert.equal(train.source, 'mnist');
  assert.equal(t.source, 'mnist (test)');
  assert.deepEqual(getColumn(t, 'pixels').shape, [1, 28, 28]);
  assert.equal((getColumn(t, 'label').data as BigInt64Array)[0], 7n); // the famous first test digit
  // The single-tensor view, for code that feeds one float input.
  const legacy = loadData({ source: 'mnist' });
  assert.deepEqual(legacy.test.sampleShape, [1, 28, 28]);
  assert.equal(legacy.test.numClasses, 10);
  assert.equal(legacy.test.y[0], 7);
  assert.equal(legacy.test.scale, 1 / 255);
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

test('row splits are seeded and disjoint; the batcher reuses its buffers', () => {
  const t = parseCsv(`x,label\n${Array.from({ length: 100 }, (_, i) => `${i},${i % 2}`).join('\n')}\n`, 's.csv');
  const s1 = splitRows(t, 0.2, Rng.fromSeed(9), 'held');
  const s2 = splitRows(t, 0.2, Rng.fromSeed(9), 'held');
  assert.equal(s1.held!.count, 20);
  assert.deepEqual(getColumn(s1.held!, 'x').data, getColumn(s2.held!, 'x').data);
  const all = new Set([...(getColumn(s1.rest, 'x').data as BigInt64Array), ...(getColumn(s1.held!, 'x').data as BigInt64Array)]);
  assert.equal(all.size, 100);
  const plan = planFeeds({ specs: [{ name: 'features', dtype: 'float32', shape: [1], role: 'input' }, { name: 'target', dtype: 'int64', shape: [], role: 'target' }], table: s1.rest, bindings: { target: { columns: ['label'] } } });
  const b = new Batcher({ plan, batchSize: 8 });
  const x = b.buffer('features').data;
  const packed = packTable(s1.rest, plan);
  const order = Rng.fromSeed(1).permutation(s1.rest.count);
  b.fill(packed, order, 8);
  assert.equal(b.buffer('features').data, x);
  assert.equal((x as Float32Array)[0], Number((getColumn(s1.rest, 'x').data as BigInt64Array)[order[8]!]));
  assert.equal(b.fill(packed, order, 75), 5);
});

test('the single-tensor view and back: features + class names survive', () => {
  const t = parseCsv('a,b,species\n1,2,setosa\n3,4,virginica\n5,6,setosa\n', 'iris.csv');
  const d = datasetFromTable(t);
  assert.deepEqual(d.sampleShape, [2]);
  assert.deepEqual(d.classNames, ['setosa', 'virginica']);
  assert.deepEqual([...d.y], [0, 1, 0]);
  assert.deepEqual([...d.x], [1, 2, 3, 4, 5, 6]);
  const back = tableFromDataset(d);
  assert.deepEqual(back.columns.map((c) => [c.name, c.kind]), [['features', 'numeric'], ['label', 'categorical']]);
  assert.deepEqual(getColumn(back, 'label').vocabulary, ['setosa', 'virginica']);
});
