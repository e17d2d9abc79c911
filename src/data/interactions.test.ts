// Interaction data: the MovieLens layouts and generic CSV/JSONL with side features, splits, histories,
// the synthetic generator and its oracle, negative sampling (seeded, resumable), CTR rows — and every
// bad input as a one-line error naming the file and line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../util/rng.js';
import { ctrTable, userCounts } from './ctr.js';
import { interactionTable, itemCounts, readInteractions } from './interactions.js';
import { leaveLastOut, parseSplit, timeSplit, userHistory } from './interaction-splits.js';
import { AliasTable, itemLogQ, negativeSampler } from './negatives.js';
import { generateInteractions, parseSyntheticSpec } from './synthetic-interactions.js';
import type { BatchFeed, ProviderBatch } from './feed-plan.js';

const dir = mkdtempSync(join(tmpdir(), 'trainfer-inter-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

test('MovieLens u.data (tab-separated, no header) and ratings.csv give the same interactions', () => {
  const rows = [[196, 242, 3, 881250949], [186, 302, 3, 891717742], [22, 377, 1, 878887116], [196, 51, 2, 880606923], [22, 242, 5, 875747190]];
  const a = readInteractions(file('u.data', rows.map((r) => r.join('\t')).join('\n') + '\n'));
  const b = readInteractions(file('ratings.csv', `userId,movieId,rating,timestamp\n${rows.map((r) => r.join(',')).join('\n')}\n`));
  for (const d of [a, b]) {
    assert.equal(d.count, 5);
    assert.equal(d.labelKind, 'rating');
    assert.deepEqual(d.userIds, ['22', '186', '196']); // numeric order
    assert.deepEqual(d.itemIds, ['51', '242', '302', '377']);
    assert.deepEqual([...d.user], [2, 1, 0, 2, 0]);
    assert.deepEqual([...d.item], [1, 2, 3, 0, 1]);
    assert.deepEqual([...d.label], [3, 3, 1, 2, 5]);
    assert.equal(d.time[0], 881250949);
  }
});

test('generic JSONL with clicks and side features; a side feature that changes for one item is refused', () => {
  const lines = [
    { user_id: 'ann', item_id: 'x', click: 1, ts: '2024-01-01T00:00:00Z', item_category: 'toys', user_country: 'fr' },
    { user_id: 'bob', item_id: 'y', click: 0, ts: '2024-01-02T00:00:00Z', item_category: 'books', user_country: 'de' },
    { user_id: 'ann', item_id: 'y', click: 1, ts: '2024-01-03T00:00:00Z', item_category: 'books', user_country: 'fr' },
  ];
  const d = readInteractions(file('clicks.jsonl', lines.map((l) => JSON.stringify(l)).join('\n')));
  assert.equal(d.labelKind, 'click');
  assert.deepEqual([...d.label], [1, 0, 1]);
  assert.equal(d.time[1], Date.parse('2024-01-02T00:00:00Z'));
  assert.deepEqual(d.itemFeatures.map((f) => [f.name, f.vocabulary, [...f.values]]), [['item_category', ['books', 'toys'], [1, 0]]]);
  assert.deepEqual(d.userFeatures.map((f) => [f.name, [...f.values]]), [['user_country', [1, 0]]]);
  const t = interactionTable(d);
  assert.deepEqual(t.columns.map((c) => c.name), ['user', 'item', 'label', 'timestamp', 'user_country', 'item_category']);
  const bad = [...lines, { ...lines[0]!, item_category: 'games' }];
  assert.throws(() => readInteractions(file('bad.jsonl', bad.map((l) => JSON.stringify(l)).join('\n'))), /bad\.jsonl: line 4: item feature 'item_category' is 'games' here but 'toys' earlier/);
});

test('bad interaction files are one-line errors naming the file and line', () => {
  const cases: [string, string, RegExp][] = [
    ['empty.csv', '', /empty\.csv: no interactions \(the file is empty\)/],
    ['header.csv', 'user,item,rating\n', /header\.csv: no interactions \(the file has a header but no rows\)/],
    ['ragged.csv', 'user,item,rating\n1,2,3\n4,5\n', /ragged\.csv: line 3: 2 fields, expected 3/],
    ['nan.csv', 'user,item,rating\n1,2,3\n4,5,lots\n', /nan\.csv: line 3, column 'rating': 'lots' is not a number/],
    ['nouser.csv', 'a,b\n1,2\n', /nouser\.csv: no user column/],
    ['numbers.csv', '1,2,3\n4,5,6\n', /numbers\.csv: line 1: the first row holds numbers/],
    ['time.csv', 'user,item,timestamp\n1,2,yesterday\n', /time\.csv: line 2, column 'timestamp': 'yesterday' is not a timestamp/],
    ['clicks.csv', 'user,item,click\n1,2,1\n1,3,7\n', /column 'click' holds values other than 0 and 1/],
    ['u.data', '1\t2\t3\t4\n5\t\t3\t4\n', /u\.data: line 2: empty item/],
  ];
  for (const [name, text, re] of cases) assert.throws(() => readInteractions(file(name, text)), re, name);
  assert.throws(() => readInteractions(join(dir, 'missing.csv')), /missing\.csv: no such file/);
  // A test file read with the training vocabularies: unknown ids are errors, or skipped when asked.
  const f = file('test.csv', 'user,item\n1,2\n9,2\n');
  assert.throws(() => readInteractions(f, { userIds: ['1'], itemIds: ['2'] }), /line 3: user '9' is not in the model's vocabulary/);
  assert.equal(readInteractions(f, { userIds: ['1'], itemIds: ['2'], unknown: 'skip' }).count, 1);
});

test('leave-last-out holds out each user\'s latest (and second-latest) interaction; time split cuts by time; histories dedupe', () => {
  const d = readInteractions(file('loo.csv', 'user,item,timestamp\na,1,5\na,2,1\na,3,9\na,4,7\nb,1,2\nb,2,3\nc,5,1\n'));
  const s = leaveLastOut(d);
  const pairs = (x: typeof d) => Array.from({ length: x.count }, (_, i) => `${x.userIds![x.user[i]!]}:${x.itemIds![x.item[i]!]}`).sort();
  assert.deepEqual(pairs(s.test), ['a:3', 'b:2']);
  assert.deepEqual(pairs(s.validation!), ['a:4']);
  assert.deepEqual(pairs(s.train), ['a:1', 'a:2', 'b:1', 'c:5']);
  const t = timeSplit(d, { testFraction: 2 / 7, validationFraction: 0 });
  assert.deepEqual(pairs(t.test), ['a:3', 'a:4']);
  assert.deepEqual(parseSplit('time,test=0.1'), { type: 'time', testFraction: 0.1, validationFraction: 0.05 });
  assert.throws(() => parseSplit('random'), /--split random: expected leave-last-out or time/);
  assert.throws(() => leaveLastOut(readInteractions(file('single.csv', 'user,item\na,1\nb,2\n'))), /no user has two or more interactions/);
  const h = userHistory(readInteractions(file('dup.csv', 'user,item\na,2\na,1\na,2\nb,1\n')));
  assert.deepEqual([...h.start], [0, 2, 3]);
  assert.deepEqual([...h.items], [0, 1, 0]);
});

test('synthetic interactions are deterministic, power-law popular and ranked by their oracle', () => {
  const spec = parseSyntheticSpec('synthetic:users=400,items=300,interactions=12,topics=6,seed=3');
  const a = generateInteractions(spec);
  const b = generateInteractions(spec);
  assert.deepEqual(a.interactions.item, b.interactions.item);
  const d = a.interactions;
  assert.ok(d.count >= 400 * 3);
  // Distinct items per user, increasing time per user.
  for (let i = 1; i < d.count; i++) if (d.user[i] === d.user[i - 1]) assert.ok(d.time[i]! > d.time[i - 1]!);
  const h = userHistory(d);
  assert.equal(h.items.length, d.count, 'no repeated (user, item)');
  // Power law: the 10% most popular items hold far more than 10% of the interactions.
  const c = [...itemCounts(d)].sort((x, y) => y - x);
  const top = c.slice(0, 30).reduce((s, v) => s + v, 0);
  assert.ok(top / d.count > 0.3, `top 10% of items hold ${(top / d.count * 100).toFixed(1)}%`);
  // The oracle's scores are a distribution per user and favour the items the user drew.
  const scores = new Float32Array(300);
  let drawnMean = 0;
  let n = 0;
  for (let u = 0; u < 50; u++) {
    a.oracle.scores(u, scores);
    const total = scores.reduce((s, v) => s + v, 0);
    assert.ok(Math.abs(total - 1) < 1e-4, `user ${u}: scores sum to ${total}`);
    for (let k = h.start[u]!; k < h.start[u + 1]!; k++, n++) drawnMean += scores[h.items[k]!]!;
  }
  assert.ok(drawnMean / n > 3 / 300, 'drawn items score above the uniform 1/300');
  assert.throws(() => parseSyntheticSpec('synthetic:users=10'), /give users and items/);
  assert.throws(() => parseSyntheticSpec('synthetic:users=10,items=100,color=3'), /unknown setting 'color'/);
  assert.throws(() => parseSyntheticSpec('synthetic:users=10,items=20,interactions=15'), /at most half the items/);
});

test("the estimable reference: each user's topic mix estimated from their items approaches the oracle's with many items, not with few", () => {
  // Top-10 overlap of the estimable ranking with the oracle's, averaged over users.
  const overlap = (interactions: number): number => {
    const { interactions: d, oracle } = generateInteractions(parseSyntheticSpec(`synthetic:users=60,items=4000,interactions=${interactions},topics=8,seed=5`));
    const h = userHistory(d);
    const a = new Float32Array(4000);
    const b = new Float32Array(4000);
    const top = (s: Float32Array) => new Set([...s.keys()].sort((x, y) => s[y]! - s[x]!).slice(0, 10));
    let sum = 0;
    for (let u = 0; u < 60; u++) {
      const seen = h.items.subarray(h.start[u]!, h.start[u + 1]!);
      const est = oracle.estimableScores(seen, b);
      const total = est.reduce((s, v) => s + v, 0);
      assert.ok(Math.abs(total - 1) < 1e-4, `user ${u}: estimable scores sum to ${total}`);
      const o = top(oracle.scores(u, a));
      sum += [...top(est)].filter((j) => o.has(j)).length / 10;
    }
    return sum / 60;
  };
  const few = overlap(3);
  const many = overlap(300);
  assert.ok(many > 0.85, `300 items per user: top-10 overlap ${many}`);
  assert.ok(few < many - 0.1, `3 items per user: overlap ${few} vs ${many}`);
});

function batch(out: BigInt64Array | Float32Array, items: number[], n: number): ProviderBatch {
  const feeds = new Map<string, BatchFeed>([['item', { data: BigInt64Array.from(items, (i) => BigInt(i)), dtype: 'int64', shape: [1], role: 'input', columns: ['item'] }]]);
  return { out, shape: [n], size: items.length, feeds, rows: { table: { source: 't', count: 0, columns: [] }, order: null, start: 0 }, phase: 'train', step: 1 };
}

test('negative sampling: seeded, resumable through state/restore, never the row\'s positive; popularity through an alias table', () => {
  const items = [0, 1, 2, 3];
  const draw = (s: ReturnType<typeof negativeSampler>) => {
    const out = new BigInt64Array(4 * 3);
    s.fill(batch(out, items, 3));
    return [...out].map(Number);
  };
  const a = negativeSampler({ items: 5, seed: 7 });
  const first = draw(a);
  const saved = a.state!();
  const second = draw(a);
  const b = negativeSampler({ items: 5, seed: 7 });
  b.restore!(saved);
  assert.deepEqual(draw(b), second, 'restored sampler continues the same sequence');
  assert.deepEqual(draw(negativeSampler({ items: 5, seed: 7 })), first, 'same seed, same draws');
  for (let i = 0; i < 4; i++) for (let k = 0; k < 3; k++) assert.notEqual(first[i * 3 + k], items[i]);
  // Alias table frequencies follow the weights.
  const alias = new AliasTable([1, 2, 7]);
  const rng = Rng.fromSeed(1);
  const counts = [0, 0, 0];
  for (let i = 0; i < 20000; i++) counts[alias.sample(rng)]!++;
  assert.ok(Math.abs(counts[2]! / 20000 - 0.7) < 0.02 && Math.abs(counts[0]! / 20000 - 0.1) < 0.02, `alias frequencies ${counts.join(', ')}`);
  assert.throws(() => negativeSampler({ items: 1 }), /at least 2 items/);
  const lq = new Float32Array(4);
  itemLogQ({ counts: [1, 3, 0, 4] }).fill(batch(lq, items, 1));
  assert.ok(Math.abs(lq[1]! - Math.log(3 / 8)) < 1e-6 && Math.abs(lq[2]! - Math.log(0.5 / 8)) < 1e-6);
});

test('CTR rows: positives with seeded popularity negatives, dense count features, side features per row', () => {
  const { interactions: d } = generateInteractions(parseSyntheticSpec('synthetic:users=50,items=40,interactions=5,seed=1'));
  const t = ctrTable(d, { negatives: 2, itemCounts: itemCounts(d), userCounts: userCounts(d), seed: 4 });
  assert.equal(t.count, d.count * 3);
  const click = t.columns.find((c) => c.name === 'click')!.data as Float32Array;
  assert.equal(click.reduce((s, v) => s + v, 0), d.count);
  assert.deepEqual(t.columns.map((c) => c.name), ['user', 'item', 'user_segment', 'item_genre', 'user_activity', 'item_popularity', 'click']);
  const again = ctrTable(d, { negatives: 2, itemCounts: itemCounts(d), userCounts: userCounts(d), seed: 4 });
  assert.deepEqual(again.columns[1]!.data, t.columns[1]!.data, 'same seed, same negatives');
});
