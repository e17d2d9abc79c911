// A served text model trained with the `email` preparation (its trainfer.text metadata says so) gets a
// raw email's prepared text tokenized, in the tokenizer worker; a model without it reads the raw text.
// An unknown preparation in the metadata is refused, not ignored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emailText } from '../data/email-text.js';
import { TextTokenizer } from '../data/tokenizer.js';
import { writeModel } from '../onnx/model-io.js';
import { Tensor } from '../onnx/tensor.js';
import { TEXT_METADATA_KEY, readTextRecord } from '../train/job-text.js';
import { textClassifier, textTokenizerJson } from '../web/test-text.js';
import { TextFrontEnd } from './text-input.js';

const RAW = ['Received: by mx.example.org', 'Subject: win free money now', 'Content-Transfer-Encoding: quoted-printable', '', 'claim your prize=', 's now'].join('\r\n');

test('serving applies the preparation recorded in trainfer.text; unknown ones are refused', async () => {
  const tokenizer = TextTokenizer.fromJson(textTokenizerJson() as Record<string, unknown>);
  const want = await tokenizer.encodeBatch([await emailText(RAW)]);
  const n = want.lengths[0]!;
  // Metadata round trip; an unknown preparation is refused rather than ignored.
  const m = textClassifier();
  m.metadata.set(TEXT_METADATA_KEY, JSON.stringify({ column: 'text', tokenizer: 'tokenizer.json', maxLength: 64, preprocess: 'email' }));
  assert.equal(readTextRecord(m.metadata)?.preprocess, 'email');
  assert.throws(() => readTextRecord(new Map([[TEXT_METADATA_KEY, '{"column":"text","tokenizer":"t","maxLength":8,"preprocess":"x"}']])), /preprocess "x": expected one of/);
  // Serving: a raw email gets the ids of its prepared text; a model without the record reads it raw.
  const dir = mkdtempSync(join(tmpdir(), 'trainfer-email-serve-'));
  try {
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(textTokenizerJson()));
    writeModel(join(dir, 'model.onnx'), m);
    const fe = await TextFrontEnd.open({ modelFile: join(dir, 'model.onnx'), tokenizerFile: join(dir, 'tokenizer.json') });
    const served = await fe.encode(new Tensor('string', [1], [RAW]));
    await fe.close();
    const ids = [...(served.feeds.input_ids!.data as BigInt64Array)].map(Number);
    assert.deepEqual(ids.slice(0, n), [...want.ids.subarray(0, n)]);
    const plain = textClassifier();
    writeModel(join(dir, 'model.onnx'), plain);
    const fe2 = await TextFrontEnd.open({ modelFile: join(dir, 'model.onnx'), tokenizerFile: join(dir, 'tokenizer.json') });
    const raw = await fe2.encode(new Tensor('string', [1], [RAW]));
    await fe2.close();
    assert.notDeepEqual([...(raw.feeds.input_ids!.data as BigInt64Array)].map(Number).slice(0, n), ids.slice(0, n));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
