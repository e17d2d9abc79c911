// The tokenizer: a WordPiece vocabulary learned from the spam training split, saved as a standard
// tokenizer.json that the pure-JS @huggingface/tokenizers (what the browser page runs) encodes to the
// same ids; exact prefix truncation (equal to tokenizing the whole email and truncating) on real emails;
// the worker thread gives the same rows as the calling thread; bad tokenizer files are one-line errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer as JsTokenizer } from '@huggingface/tokenizers';
import { getColumn } from './table.js';
import { loadSpam } from './spam.js';
import { TextTokenizer, tk } from './tokenizer.js';
import { SPECIAL_TOKENS, trainTokenizer } from './tokenizer-train.js';
import { TokenizerWorker } from './tokenizer-worker.js';

const spam = loadSpam();
const texts = (getColumn(spam.train, 'text').data as string[]).slice(0, 600);
const tok = trainTokenizer({ texts, vocabSize: 1500, maxLength: 48 });

test('spam split: deterministic by checksum, 6,046 emails, class 1 is spam', () => {
  assert.equal(spam.train.count + spam.test!.count, 6046);
  assert.equal(spam.test!.count, 1241);
  const labels = getColumn(spam.test!, 'label');
  assert.deepEqual(labels.vocabulary, ['ham', 'spam']);
  assert.equal([...(labels.data as BigInt64Array)].filter((v) => v === 1n).length, 387);
});

test('trainTokenizer: the requested vocabulary size, specials first ([PAD] = 0), [CLS] … [SEP] rows', async () => {
  assert.equal(tok.vocabSize, 1500);
  SPECIAL_TOKENS.forEach((s, i) => assert.equal(tok.tokenId(s), i));
  assert.equal(tok.padId, 0);
  const b = await tok.encodeBatch(['Free MONEY now!', '']);
  assert.equal(b.length, 48);
  assert.equal(b.ids[0], tok.tokenId('[CLS]'));
  assert.deepEqual([...b.ids.subarray(48, 51)], [2, 3, 0], 'an empty text is [CLS] [SEP] and padding');
  assert.equal(b.lengths[1], 2);
  assert.deepEqual([...b.mask.subarray(48, 51)], [1, 1, 0]);
  // Words split into known subwords: nothing is unknown, and the pieces spell the (lower-cased) words.
  const words = await tok.tokens('Received: from LOCALHOST by Example.com; Mon, 22 Jul 2002');
  assert.equal(words[0], '[CLS]');
  assert.equal(words.at(-1), '[SEP]');
  assert.ok(!words.includes('[UNK]'), words.join(' '));
  assert.equal(words.slice(1, -1).join(' ').replace(/ ##/g, ''), 'received : from localhost by example . com ; mon , 22 jul 2002');
  const longest = await tok.encodeBatch(['a b c', 'a'], { pad: 'longest' });
  assert.equal(longest.length, 5);
});

test('tokenizer.json is standard: @huggingface/tokenizers (the page) gives the same ids', async () => {
  const json = JSON.parse(tok.toJsonText()) as Record<string, unknown>;
  const js = new JsTokenizer(json, {});
  const sample = ['Subject: Win a FREE prize — claim now!!!', 'Hi Bob, the meeting notes are attached. Café at 12?', texts[3]!.slice(0, 120)];
  const ours = await tok.encodeBatch(sample, { maxLength: 512 });
  sample.forEach((s, i) => {
    const ids = js.encode(s).ids;
    assert.deepEqual([...ours.ids.subarray(i * 512, i * 512 + ids.length)], ids, s);
  });
});

test('truncation is exact: a prefix-tokenized email equals the whole email tokenized and truncated', async () => {
  const emails = (getColumn(spam.train, 'text').data as string[]).slice(1000, 1150);
  const b = await tok.encodeBatch(emails);
  const ref = tk.Tokenizer.fromString(JSON.stringify({ ...tok.json, truncation: { direction: 'Right', max_length: 48, strategy: 'LongestFirst', stride: 0 }, padding: null }));
  let truncated = 0;
  for (let i = 0; i < emails.length; i++) {
    const e = await ref.encode(emails[i]!, null, { addSpecialTokens: true });
    assert.deepEqual([...b.ids.subarray(i * 48, i * 48 + e.getLength())], e.getIds(), `email ${i}`);
    assert.equal(b.lengths[i], e.getLength());
    truncated += b.truncated[i]!;
  }
  assert.ok(truncated > 100, `most emails are longer than 48 tokens (${truncated} truncated)`);
});

test('TokenizerWorker: the same rows off the main thread; closes cleanly', async () => {
  const w = await TokenizerWorker.start({ json: tok.toJsonText(), source: 'test' });
  const sample = texts.slice(0, 40);
  const [a, b] = await Promise.all([w.encodeBatch(sample), tok.encodeBatch(sample)]);
  assert.deepEqual(a.ids, b.ids);
  assert.deepEqual(a.mask, b.mask);
  await w.close();
  await assert.rejects(w.encodeBatch(['x']), /closed/);
});

test('bad tokenizer files: one-line errors naming the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tok-'));
  try {
    const p = join(dir, 'tokenizer.json');
    assert.throws(() => TextTokenizer.load(join(dir, 'missing.json')), /missing\.json: cannot read the tokenizer \(no such file\)/);
    writeFileSync(p, '{"model": ');
    assert.throws(() => TextTokenizer.load(p), /tokenizer\.json.*not valid JSON/);
    writeFileSync(p, '{"version": "1.0"}');
    assert.throws(() => TextTokenizer.load(p), /no "model" object/);
    writeFileSync(p, JSON.stringify({ version: '1.0', model: { type: 'Nope' } }));
    assert.throws(() => TextTokenizer.load(p), /not a tokenizer\.json the tokenizers library can load/);
    assert.throws(() => trainTokenizer({ texts: ['', '  '] }), /every training text is empty/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
