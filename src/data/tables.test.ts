// Tables of typed columns from text: CSV and JSONL type detection and its errors, feed plans (dtype from
// the model, column→input mappings, symbolic dims), the batcher over any dtypes, streams that resume
// exactly, and the generated data sets.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileFormatError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { halfToFloat } from '../onnx/dtype.js';
import { Batcher, packTable } from './batcher.js';
import { builtinInfo, friedman1Function, loadBuiltin } from './builtin.js';
import { parseCsv } from './csv.js';
import { type FeedSpec, parseFeedMapping, planFeeds } from './feed-plan.js';
import { parseJsonl } from './jsonl.js';
import { openStream } from './stream.js';
import { columnToFloat64, getColumn } from './table.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'trainfer-tables-'));

test('CSV columns are typed: int64, float32, bool, categorical (sorted vocabulary), text; quoted fields and newlines', () => {
  const t = parseCsv('id,price,ok,city,review\n3,1.5,true,Oslo,"great, would buy"\n4,2,false,Bergen,"line one\nline two"\n5,3.25,true,Oslo,meh it is fine\n', 'h.csv');
  assert.deepEqual(t.columns.map((c) => [c.name, c.dtype, c.kind]), [['id', 'int64', 'numeric'], ['price', 'float32', 'numeric'], ['ok', 'bool', 'numeric'], ['city', 'int64', 'categorical'], ['review', 'string', 'text']]);
  assert.deepEqual(getColumn(t, 'city').vocabulary, ['Bergen', 'Oslo']);
  assert.deepEqual([...(getColumn(t, 'city').data as BigInt64Array)], [1n, 0n, 1n]);
  assert.deepEqual(getColumn(t, 'review').data, ['great, would buy', 'line one\nline two', 'meh it is fine']);
  assert.deepEqual([...(getColumn(t, 'ok').data as Uint8Array)], [1, 0, 1]);
  const forced = parseCsv('zip,y\n1010,0\n2020,1\n1010,1\n', 'z.csv', { columnTypes: { zip: 'categorical' } });
  assert.deepEqual(getColumn(forced, 'zip').vocabulary, ['1010', '2020']);
  // A test file encodes with the training file's vocabulary; unknown categories go to the unknown bucket.
  const test2 = parseCsv('zip,y\n2020,0\n9999,1\n', 'z2.csv', { vocabularies: { zip: ['1010', '2020'] } });
  assert.deepEqual([...(getColumn(test2, 'zip').data as BigInt64Array)], [1n, 2n]);
  assert.throws(() => parseCsv('zip,y\n2020,cat\n', 'z3.csv', { vocabularies: { y: ['dog'] }, strictColumns: ['y'] }), /z3\.csv: line 2, column 'y': 'cat' is not one of the 1 known values \(dog\)/);
});

test('CSV errors name the file, line and column: no header, a stray word in numbers, empty numeric cells, ragged rows', () => {
  const bad: [string, RegExp][] = [
    ['1,2,3\n4,5,6\n', /n\.csv: line 1: the first row holds numbers \(1, 2, 3\), not column names: add a header row/],
    [`a,label\n${Array.from({ length: 30 }, (_, i) => `${i},0`).join('\n')}\nn/a,1\n`, /n\.csv: line 32, column 'a': 'n\/a' is not a number \(the column's other values are numeric; fix the value, or pass --column-type a=categorical\)/],
    ['a,label\n1,0\n,1\n', /n\.csv: line 3, column 'a': empty value in a column of numbers/],
    ['a,label\n1,0,3\n', /n\.csv: line 2 has 3 fields but the header has 2/],
    ['a,a\n1,2\n', /column name 'a' appears twice/],
    ['', /empty file/],
  ];
  for (const [csv, re] of bad) assert.throws(() => parseCsv(csv, 'n.csv'), (e: Error) => e instanceof FileFormatError && re.test(e.message), csv.slice(0, 30));
});

test('JSONL: scalars, fixed-shape arrays (int ids, float vectors), nested keys; errors name line and key', () => {
  const t = parseJsonl('{"ids":[3,1,4],"emb":[0.5,1.5],"user":{"city":"Oslo"},"y":1}\n\n{"ids":[1,5,9],"emb":[2,3],"user":{"city":"Rome"},"y":0}\n', 'r.jsonl');
  assert.deepEqual(t.columns.map((c) => [c.name, c.dtype, c.shape, c.kind]), [['ids', 'int64', [3], 'numeric'], ['emb', 'float32', [2], 'numeric'], ['user.city', 'int64', [], 'categorical'], ['y', 'int64', [], 'numeric']]);
  assert.deepEqual([...(getColumn(t, 'ids').data as BigInt64Array)], [3n, 1n, 4n, 1n, 5n, 9n]);
  assert.deepEqual([...(getColumn(t, 'emb').data as Float32Array)], [0.5, 1.5, 2, 3]);
  assert.throws(() => parseJsonl('{"a":[1,2]}\n{"a":[1,2,3]}\n', 'r.jsonl'), /r\.jsonl: line 2, key 'a': array of shape \[3\] but line 1 has \[2\]/);
  assert.throws(() => parseJsonl('{"a":1,"b":2}\n{"a":3}\n', 'r.jsonl'), /r\.jsonl: line 2: missing key 'b'/);
  assert.throws(() => parseJsonl('{"a":1}\n{"a":\n', 'r.jsonl'), /r\.jsonl: line 2: not valid JSON/);
});

const spec = (name: string, dtype: FeedSpec['dtype'], shape: (number | string)[], role: FeedSpec['role'] = 'input'): FeedSpec => ({ name, dtype, shape, role });

test('feed plan: the model input dtype decides how columns are read (16 integer columns → int64 ids [16])', () => {
  const header = [...Array.from({ length: 16 }, (_, i) => `c${i + 1}`), 'price', 'y'];
  const rows = Array.from({ length: 5 }, (_, r) => [...Array.from({ length: 16 }, (_, i) => (r * 16 + i) % 50), (r * 1.5).toFixed(2), r % 2].join(','));
  const t = parseCsv(`${header.join(',')}\n${rows.join('\n')}\n`, 'ids.csv');
  const plan = planFeeds({ specs: [spec('ids', 'int64', ['seq']), spec('target', 'int64', [], 'target')], table: t, bindings: { ids: { columns: parseFeedMapping('ids=c1..c16', header).ids! }, target: { columns: ['y'] } } });
  assert.deepEqual(plan.dims, { seq: 16 });
  assert.deepEqual(plan.feeds[0]!.shape, [16]);
  const b = new Batcher({ plan, batchSize: 4 });
  b.fill(packTable(t, plan), [4, 3, 2, 1], 0);
  assert.deepEqual([...(b.buffer('ids').data as BigInt64Array).slice(0, 16)].map(Number), Array.from({ length: 16 }, (_, i) => (64 + i) % 50));
  // Several inputs from one mapping, one column list each; a float column into int ids is checked value by value.
  assert.deepEqual(parseFeedMapping('ids=c1..c3,dense=price,y', header), { ids: ['c1', 'c2', 'c3'], dense: ['price', 'y'] });
  assert.throws(() => planFeeds({ specs: [spec('ids', 'int64', [1])], table: t, bindings: { ids: { columns: ['price'] } } }), /ids\.csv: column 'price' holds 1\.5 \(row 2\) but input 'ids' \(int64\) takes integers/);
  assert.throws(() => planFeeds({ specs: [spec('ids', 'int64', [4])], table: t, bindings: { ids: { columns: ['c1', 'c2', 'c3'] } } }), /input 'ids' expects \[4\] per sample \(4 values\) but ids\.csv columns c1, c2, c3 give 3 values per row/);
  assert.throws(() => planFeeds({ specs: [spec('a', 'float32', [1]), spec('b', 'float32', [1])], table: t }), /the model takes 2 inputs \(a, b\) that no column is named after: map columns to them with --inputs/);
  assert.throws(() => planFeeds({ specs: [spec('x', 'float32', [1])], table: t, bindings: { x: { columns: ['nope'] } } }), /ids\.csv: no column named 'nope' for input 'x'/);
  assert.throws(() => planFeeds({ specs: [spec('x', 'float32', [17]), spec('target', 'float32', [], 'target')], table: t }), /loss target 'target' has no data/);
  assert.throws(() => parseFeedMapping('c1..c3', header), /expected name=columns/);
  assert.throws(() => parseFeedMapping('ids=c3..c1', header), /'c1' comes before 'c3'/);
});

test('batcher: float16, int32, bool and standardised float feeds from one table, nothing allocated per batch', () => {
  const t = parseCsv('a,b,flag,n\n1,10,true,7\n3,30,false,8\n', 'm.csv');
  const plan = planFeeds({
    specs: [{ ...spec('x', 'float32', [2]), normalize: { mean: [2, 20], std: [1, 10] } }, spec('h', 'float16', [1]), spec('m', 'bool', [1]), spec('k', 'int32', [1])],
    table: t,
    bindings: { x: { columns: ['a', 'b'] }, h: { columns: ['a'] }, m: { columns: ['flag'] }, k: { columns: ['n'] } },
  });
  const b = new Batcher({ plan, batchSize: 2 });
  const before = b.buffers.map((x) => x.data);
  b.fill(packTable(t, plan), null, 0);
  assert.deepEqual([...(b.buffer('x').data as Float32Array)], [-1, -1, 1, 1]);
  assert.deepEqual([...(b.buffer('h').data as Uint16Array)].map(halfToFloat), [1, 3]);
  assert.deepEqual([...(b.buffer('m').data as Uint8Array)], [1, 0]);
  assert.deepEqual([...(b.buffer('k').data as Int32Array)], [7, 8]);
  b.buffers.forEach((x, i) => assert.equal(x.data, before[i]));
});

test('a stream reads every training row once per epoch, shuffled, and resumes mid-epoch exactly', () => {
  const file = join(tmp(), 'big.csv');
  const n = 3000;
  writeFileSync(file, `x,y\n${Array.from({ length: n }, (_, i) => `${i},${i % 3}`).join('\n')}\n`);
  const s = openStream({ path: file, validationSplit: 0.1, seed: 3, shardBytes: 2000, shuffleBuffer: 100 });
  assert.equal(s.train.count + s.validation!.count + s.test.count, n);
  const rows = (t: ReturnType<typeof s.train.nextBatch>) => [...columnToFloat64(getColumn(t, 'x'))];
  const epoch = (rng: Rng) => {
    s.train.startEpoch(rng.state());
    const out: number[] = [];
    for (let b = 0; b < Math.floor(s.train.count / 50); b++) out.push(...rows(s.train.nextBatch(50)));
    return out;
  };
  const e1 = epoch(Rng.fromSeed(1));
  assert.equal(new Set(e1).size, e1.length);
  assert.notDeepEqual(e1.slice(0, 50), [...e1].sort((a, b) => a - b).slice(0, 50), 'shuffled');
  // Interrupt after 7 batches, save the position as JSON, continue in a fresh stream: the same rows follow.
  s.train.startEpoch(Rng.fromSeed(1).state());
  for (let b = 0; b < 7; b++) s.train.nextBatch(50);
  const saved = JSON.parse(JSON.stringify(s.train.state()));
  const again = openStream({ path: file, validationSplit: 0.1, seed: 3, shardBytes: 2000, shuffleBuffer: 100 }).train;
  again.restore(saved);
  assert.deepEqual(rows(again.nextBatch(50)), e1.slice(350, 400));
  // Validation/test rows are never training rows.
  const held = new Set([...s.test.batches(500)].flatMap(rows));
  assert.ok(e1.every((v) => !held.has(v)));
  assert.equal(held.size, s.test.count);
});

test('generated data sets: deterministic, with their ground truth', () => {
  const a = loadBuiltin('friedman1');
  const b = loadBuiltin('friedman1');
  assert.deepEqual(getColumn(a.train, 'y').data, getColumn(b.train, 'y').data);
  assert.equal(a.train.count, 20000);
  // The noise is N(0, 1): residuals of the true function have std ≈ 1.
  const x = a.test.columns.slice(0, 10).map((c) => c.data as Float32Array);
  const y = getColumn(a.test, 'y').data as Float32Array;
  let sq = 0;
  for (let i = 0; i < a.test.count; i++) sq += (y[i]! - friedman1Function(x.map((c) => c[i]!))) ** 2;
  assert.ok(Math.abs(Math.sqrt(sq / a.test.count) - 1) < 0.03);
  assert.equal(builtinInfo('friedman1').bestPossible.value, 1);
  const c = loadBuiltin('customers');
  assert.deepEqual(c.train.columns.map((k) => [k.name, k.kind]), [['age', 'numeric'], ['income', 'numeric'], ['tenure_months', 'numeric'], ['visits_per_month', 'numeric'], ['city', 'categorical'], ['plan', 'categorical'], ['segment', 'categorical']]);
  const bayes = builtinInfo('customers').bestPossible.value;
  assert.ok(bayes > 0.6 && bayes < 0.95, `Bayes accuracy ${bayes}`);
});
