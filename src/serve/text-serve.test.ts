// Serving raw text: a version directory with model.onnx + tokenizer.json serves one BYTES input `text`
// [-1]; answers equal the model run on the tokenized text, alone or batched with longer and shorter
// neighbours (length buckets, padding hidden by the mask); truncation is reported; bad text, a
// malformed tokenizer and a vocabulary/model mismatch are 400s or load errors with the reason.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor } from '../onnx/tensor.js';
import { textClassifier, textTokenizerJson } from '../web/test-text.js';
import { InferenceClient } from './client.js';
import { addToRepository } from './example-models.js';
import { InferenceServer } from './server.js';
import { TextFrontEnd } from './text-input.js';
import { textLibrary } from '../bench/dataset-library.js';
import { runScenario } from '../bench/loadgen/run-scenario.js';
import { OipSut } from '../bench/sut/oip.js';

let repo: string;
let server: InferenceServer;
let client: InferenceClient;

function textModel() {
  const m = textClassifier();
  m.metadata.set('trainfer.batch_first', 'true');
  return m;
}

before(async () => {
  repo = mkdtempSync(join(tmpdir(), 'trainfer-text-serve-'));
  const file = addToRepository({ repo, name: 'spam', model: textModel(), config: { instances: 1, threadsPerInstance: 1, maxBatchSize: 32, maxQueueDelayMs: 20 } });
  writeFileSync(join(file, '..', 'tokenizer.json'), JSON.stringify(textTokenizerJson()));
  server = await InferenceServer.start({ repository: repo, port: 0, logLevel: 'silent', processMetrics: false });
  client = new InferenceClient(server.url);
});

after(async () => {
  await server?.close();
  rmSync(repo, { recursive: true, force: true });
});

const logits = async (texts: string[]) => {
  const r = await client.infer('spam', { inputs: { text: new Tensor('string', [texts.length], texts) } });
  return { values: r.outputs.logits!.toNumbers(), params: r.raw.parameters };
};

test('metadata: one BYTES input of shape [-1]; raw strings classified as the tokenized model says', async () => {
  const meta = await client.modelMetadata('spam');
  assert.deepEqual(meta.inputs, [{ name: 'text', datatype: 'BYTES', shape: [-1] }]);
  // [CLS] win free money now [SEP]: 4 of 6 tokens vote spam; [CLS] meeting agenda tomorrow [SEP]: 3 of 5 ham; '' is [CLS] [SEP].
  const r = await logits(['Win FREE money now', 'meeting agenda tomorrow', '']);
  const want = [0, 4 / 6, 3 / 5, 0, 0, 0];
  r.values.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-6, `logit ${i}: ${v} vs ${want[i]}`));
  assert.deepEqual(r.params, { truncated: 0 });
});

test('batched with neighbours of other lengths: every answer equals the request alone', async () => {
  const texts = Array.from({ length: 24 }, (_, i) => `${'project notes '.repeat(i % 7)}win ${'prize '.repeat(i % 5)}lunch`);
  const alone: number[][] = [];
  for (const t of texts) alone.push((await logits([t])).values);
  const together = await Promise.all(texts.map((t) => logits([t])));
  together.forEach((r, i) => r.values.forEach((v, j) => assert.ok(Math.abs(v - alone[i]![j]!) < 1e-6, `text ${i}`)));
});

test('the load generator sends raw texts from a data set\'s text column: every query answered, none failed', async () => {
  const file = join(repo, 'texts.jsonl');
  const rows = Array.from({ length: 40 }, (_, i) => JSON.stringify({ body: `${'win prize '.repeat(i % 4)}meeting ${i}`, label: i % 2 }));
  writeFileSync(file, `${rows.join('\n')}\n`);
  const library = textLibrary({ source: file, input: 'text' });
  assert.equal(library.inputs[0]!.dtype, 'string');
  // A batch of samples is a [n] string tensor, padded by repeating the first as numeric samples are.
  const b = library.batch([2, 0], 3).text!;
  assert.deepEqual(b.dims, [3]);
  assert.deepEqual(b.data, [(library.inputs[0]!.data as string[])[2], (library.inputs[0]!.data as string[])[0], (library.inputs[0]!.data as string[])[2]]);
  const sut = await OipSut.create({ url: server.url, model: 'spam', library });
  const r = await runScenario({ sut, qsl: library, settings: { scenario: 'server', targetQps: 200, minDurationMs: 300, minQueryCount: 40, warmupMs: 0, latencyBoundMs: 1000 } });
  assert.equal(r.errors, 0);
  assert.equal(sut.failedRequests, 0);
  assert.ok(r.queries >= 40, `${r.queries} queries`);
  assert.throws(() => textLibrary({ source: join(repo, 'missing.jsonl'), input: 'text' }), /no such file/);
});

test('texts longer than the maximum length are truncated, and the response says which', async () => {
  const r = await logits(['free money', 'meeting '.repeat(100)]);
  assert.deepEqual(r.params, { truncated: 1, truncated_rows: '1', max_tokens: 64 });
  assert.ok(Math.abs(r.values[2]! - 62 / 64) < 1e-6, 'the first 62 words of the long text (+ [CLS] and [SEP])');
});

test('bad text requests are 400s with a message, and the next request is answered', async () => {
  const post = (body: unknown) => fetch(`${server.url}/v2/models/spam/infer`, { method: 'POST', body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: (await r.json()) as { error?: string } }));
  let r = await post({ inputs: [{ name: 'text', datatype: 'FP32', shape: [1], data: [1] }] });
  assert.equal(r.status, 400);
  assert.match(r.body.error!, /text/);
  r = await post({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [1, 1], data: ['a'] }] });
  assert.equal(r.status, 400);
  r = await post({ inputs: [{ name: 'input_ids', datatype: 'INT64', shape: [1, 2], data: [1, 2] }] });
  assert.equal(r.status, 400);
  // Non-UTF-8 bytes in a binary BYTES tensor (4-byte length prefix, then 0xff 0xfe).
  const head = Buffer.from(JSON.stringify({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], parameters: { binary_data_size: 6 } }] }));
  const res = await fetch(`${server.url}/v2/models/spam/infer`, { method: 'POST', body: Buffer.concat([head, Buffer.from([2, 0, 0, 0, 0xff, 0xfe])]), headers: { 'inference-header-content-length': String(head.length), 'content-type': 'application/octet-stream' } });
  assert.equal(res.status, 400);
  assert.match(((await res.json()) as { error: string }).error, /UTF-8/);
  assert.equal((await logits(['win'])).values.length, 2);
});

test('a malformed tokenizer.json or one that does not fit the model: the version does not load, with the reason', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trainfer-text-bad-'));
  try {
    const file = addToRepository({ repo: dir, name: 'm', model: textModel() });
    const tok = join(file, '..', 'tokenizer.json');
    writeFileSync(tok, '{"model": ');
    await assert.rejects(TextFrontEnd.open({ modelFile: file, tokenizerFile: tok }), /tokenizer\.json.*not valid JSON/);
    const big = textTokenizerJson() as { model: { vocab: Record<string, number> } };
    for (let i = 0; i < 50; i++) big.model.vocab[`extra${i}`] = Object.keys(big.model.vocab).length;
    writeFileSync(tok, JSON.stringify(big));
    await assert.rejects(TextFrontEnd.open({ modelFile: file, tokenizerFile: tok }), /tokens, but the model's embedding table has \d+ rows/);
    await assert.rejects(InferenceServer.start({ repository: dir, port: 0, logLevel: 'silent', processMetrics: false }), /embedding table/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
