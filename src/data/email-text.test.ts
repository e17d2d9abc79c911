// The `email` text preparation on built messages (quoted-printable with a Latin-1 charset, base64,
// encoded-word subjects, multipart/alternative, HTML-only with style/script/comments and entities,
// routing headers dropped, long header values cut), plain text passing through, and training feeds
// (worker and main thread) tokenizing the prepared text. Serving: src/serve/text-email.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { textTokenizerJson } from '../web/test-text.js';
import { emailText, hasHeaderBlock, htmlText, parseTextPreprocess, preprocessTexts } from './email-text.js';
import type { FeedProvider } from './feed-plan.js';
import { textFeeds } from './text-feeds.js';
import { TextTokenizer } from './tokenizer.js';

const CRLF = (lines: string[]) => lines.join('\r\n');

test('email: quoted-printable Latin-1 body with soft breaks, encoded-word subject, routing headers dropped', async () => {
  const raw = CRLF([
    'Received: from mx.example.org (mx [10.0.0.1]) by a.example.com; Mon, 2 Sep 2002 10:00:00 +0100',
    'Received: from b.example.com by mx.example.org',
    'Message-ID: <1234@example.org>',
    'Date: Mon, 2 Sep 2002 10:00:00 +0100',
    'From: =?ISO-8859-1?Q?Ren=E9?= <rene@example.org>',
    'Subject: =?UTF-8?B?Q2Fmw6kgb2ZmZXI=?=',
    'List-Id: A very long mailing list description that goes on and on <list.example.org>',
    'Content-Type: text/plain; charset=ISO-8859-1',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'Caf=E9 au lait, tr=E8s bon. This line is cut by a soft=',
    ' break and =3D signs stay.',
  ]);
  const t = await emailText(raw);
  const [head, body] = t.split('\n\n');
  assert.deepEqual(head!.split('\n'), [
    'Subject: Café offer',
    'From: René <rene@example.org>',
    'list-id: A very long mailing list description tha',
    'content-type: text/plain; charset=ISO-8859-1',
    'content-transfer-encoding: quoted-printable',
  ]);
  assert.equal(body, 'Café au lait, très bon. This line is cut by a soft break and = signs stay.');
  assert.ok(!t.includes('Received') && !t.includes('1234@example.org') && !t.includes('2002'));
});

test('email: base64 UTF-8 part of a multipart/alternative is read; its HTML twin is not', async () => {
  const raw = CRLF([
    'From: shop@example.com',
    'Subject: Deals',
    'MIME-Version: 1.0',
    'Content-Type: multipart/alternative; boundary="XYZ"',
    '',
    'This is a MIME message.',
    '--XYZ',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from('Grüße: 50% off today only!\n', 'utf8').toString('base64'),
    '--XYZ',
    'Content-Type: text/html; charset=utf-8',
    '',
    '<p>HTML twin</p>',
    '--XYZ--',
  ]);
  const body = (await emailText(raw)).split('\n\n').slice(1).join('\n\n');
  assert.equal(body, 'Grüße: 50% off today only!');
});

test('email: an HTML-only message becomes its text (style, script, comments gone; entities decoded)', async () => {
  const raw = CRLF([
    'From: "Promo" <promo@example.net>',
    'Subject: You won',
    'Content-Type: text/html',
    '',
    '<html><head><title>t</title><style>p { color: red }</style></head><body>',
    '<!-- hidden words --><script>var x = 1;</script>',
    '<p>Claim your&nbsp;<b>FREE</b> prize&nbsp;&amp; more&#33;</p><br>Click <a href="http://x.example/">here</a>',
    '</body></html>',
  ]);
  const t = await emailText(raw);
  assert.equal(t, 'Subject: You won\nFrom: Promo <promo@example.net>\ncontent-type: text/html\n\nClaim your FREE prize & more!\nClick here');
  // A pathological page (many unclosed '<') is still linear work and loses nothing but tags.
  assert.equal(htmlText(`${'<'.repeat(100_000)}ok`).endsWith('ok'), true);
});

test('plain text without a header block passes through (spacing tidied); detection of header blocks', async () => {
  assert.equal(await emailText('WIN a FREE prize,   claim now'), 'WIN a FREE prize, claim now');
  assert.equal(await emailText('Note: call me\nplease, about the meeting'), 'Note: call me\nplease, about the meeting');
  assert.equal(await emailText(''), '');
  assert.equal(hasHeaderBlock('Subject: hi\n\nbody'), true);
  assert.equal(hasHeaderBlock('From someone@example.com Mon Sep  2 10:00:00 2002\nSubject: x\n\nbody'), true);
  assert.equal(hasHeaderBlock(' indented: no\n\nbody'), false);
  assert.equal(hasHeaderBlock('hello world: not a header\n\nbody'), false);
  assert.deepEqual(await preprocessTexts(['a', 'b'], 'none'), ['a', 'b']);
  assert.throws(() => parseTextPreprocess('html'), /--text-preprocess "html": expected one of none, email/);
});

const RAW = CRLF(['Received: by mx.example.org', 'Subject: win free money now', 'Content-Transfer-Encoding: quoted-printable', '', 'claim your prize=', 's now']);

test('training feeds (worker and main thread) tokenize the prepared email', async () => {
  const tokenizer = TextTokenizer.fromJson(textTokenizerJson() as Record<string, unknown>);
  const prepared = await emailText(RAW);
  const want = await tokenizer.encodeBatch([prepared]);
  // Training feeds (worker and main thread) tokenize the prepared text.
  for (const worker of [true, false]) {
    const tf = await textFeeds({ tokenizer, column: 'text', inputs: ['input_ids'], preprocess: 'email', worker });
    const table = { source: 't', count: 1, columns: [{ name: 'text', dtype: 'string' as const, shape: [], data: [RAW], kind: 'text' as const }] };
    const out = new BigInt64Array(tokenizer.maxLength);
    await (tf.feeds.input_ids as { provider: FeedProvider }).provider.fill({ rows: { table, start: 0 }, size: 1, shape: [tokenizer.maxLength], out } as never);
    await tf.close();
    assert.deepEqual([...out].map(Number), [...want.ids], `worker ${worker}`);
  }
});
