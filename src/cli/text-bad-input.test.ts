// Bad text input through the CLI (issue 12, deliverable 9), on a transformer trained here from a CSV:
// non-UTF-8 bytes in CSV/JSONL data, a JSONL object where a label should be, a missing text column, a
// missing / malformed / non-tokenizer / too-large tokenizer.json for `train` and `eval`; `infer --text`
// over REST and gRPC with an empty text and one longer than the maximum length (the truncation is
// reported both ways), non-UTF-8 bytes over gRPC; a tokenizer whose rows are longer than the model's
// position table stops the version from loading. Every failure is one line `trainfer: …`, exit 1.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModel, writeModel } from '../onnx/model-io.js';
import { Tensor } from '../onnx/tensor.js';
import { GrpcInferenceClient } from '../serve/grpc/client.js';
import { InferenceServer } from '../serve/server.js';
import { runCli } from './test-run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'trainfer-text-bad-'));
const ham = ['meeting agenda tomorrow', 'project notes for lunch', 'see you at the meeting'];
const spam = ['win free money now', 'claim your prize now', 'free prize win'];
const rows = Array.from({ length: 60 }, (_, i) => [i % 2 ? spam[i % 3]! : ham[i % 3]!, i % 2] as const);
const csv = (extra = '') => `text,label\n${rows.map(([t, y]) => `"${t}",${y}`).join('\n')}\n${extra}`;
const jsonl = (extra = '') => `${rows.map(([text, label]) => JSON.stringify({ text, label })).join('\n')}\n${extra}`;
const model = join(dir, 'm', 'model.onnx');
const train = (args: string[]) => runCli(['train', '--model', 'transformer:1,8,2', '--vocab-size', '100', '--max-length', '16', '--epochs', '1', '--target', 'label', ...args]);
let server: InferenceServer;

before(async () => {
  writeFileSync(join(dir, 'ok.csv'), csv());
  const r = await train(['--data', join(dir, 'ok.csv'), '--out', model]);
  assert.equal(r.code, 0, r.stderr);
  const repo = join(dir, 'repo');
  mkdirSync(join(repo, 'spam', '1'), { recursive: true });
  copyFileSync(model, join(repo, 'spam', '1', 'model.onnx'));
  copyFileSync(join(dir, 'm', 'tokenizer.json'), join(repo, 'spam', '1', 'tokenizer.json'));
  server = await InferenceServer.start({ repository: repo, port: 0, grpcPort: 0, logLevel: 'silent', processMetrics: false });
});

after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** One error line, exit 1. */
function fails(r: { code: number; stdout: string; stderr: string }, re: RegExp): void {
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /(^|\n)trainfer: [^\n]*\n$/, 'the error is the last line');
  assert.equal(r.stderr.split('\n').filter((l) => l.startsWith('trainfer:')).length, 1, 'one error line');
  assert.match(r.stderr, re);
}

test('train: non-UTF-8 bytes in CSV and JSONL name the line; an object label; a missing text column', async () => {
  const bad = Buffer.concat([Buffer.from(csv()), Buffer.from([0x22, 0x66, 0xff, 0xfe, 0x22, 0x2c, 0x31, 0x0a])]);
  writeFileSync(join(dir, 'latin1.csv'), bad);
  fails(await train(['--data', join(dir, 'latin1.csv'), '--out', join(dir, 'x', 'model.onnx')]), /latin1\.csv: line 62: byte 0xff is not UTF-8/);
  writeFileSync(join(dir, 'latin1.jsonl'), Buffer.concat([Buffer.from(jsonl()), Buffer.from('{"text": "caf'), Buffer.from([0xe9]), Buffer.from('", "label": 1}\n')]));
  fails(await train(['--data', join(dir, 'latin1.jsonl'), '--out', join(dir, 'x', 'model.onnx')]), /latin1\.jsonl: line 61: byte 0xe9 is not UTF-8/);
  writeFileSync(join(dir, 'obj.jsonl'), jsonl(`${JSON.stringify({ text: 'free', label: { yes: 1 } })}\n`));
  fails(await train(['--data', join(dir, 'obj.jsonl'), '--out', join(dir, 'x', 'model.onnx')]), /obj\.jsonl: line 61: 'label' is an object here but a value on line 1/);
  fails(await train(['--data', join(dir, 'ok.csv'), '--text-column', 'body', '--out', join(dir, 'x', 'model.onnx')]), /no column named 'body'/);
  // A UTF-8 byte-order mark is not part of the first column's name; blank lines and empty texts are valid rows.
  writeFileSync(join(dir, 'bom.csv'), `\ufeff${csv('"",1\n\n')}`);
  const r = await train(['--data', join(dir, 'bom.csv'), '--out', join(dir, 'bom', 'model.onnx'), '--json']);
  assert.equal(r.code, 0, r.stderr);
});

test('train --tokenizer and eval: missing, malformed, not a tokenizer, larger than the embedding table', async () => {
  const data = join(dir, 'ok.csv');
  const out = join(dir, 'x', 'model.onnx');
  fails(await train(['--data', data, '--tokenizer', join(dir, 'none.json'), '--out', out]), /none\.json: cannot read the tokenizer \(no such file\)/);
  writeFileSync(join(dir, 'cut.json'), '{"model": {"type": "WordPiece", ');
  fails(await train(['--data', data, '--tokenizer', join(dir, 'cut.json'), '--out', out]), /cut\.json: not valid JSON/);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'bert', id2label: { 0: 'a' } }));
  fails(await train(['--data', data, '--tokenizer', join(dir, 'config.json'), '--out', out]), /config\.json: not a tokenizer\.json \(no "model" object\)/);
  writeFileSync(join(dir, 'other.json'), JSON.stringify({ model: { type: 'NoSuchModel', vocab: {} } }));
  fails(await train(['--data', data, '--tokenizer', join(dir, 'other.json'), '--out', out]), /other\.json: not a tokenizer\.json the tokenizers library can load/);

  const evalWith = (tok: string | Buffer | undefined) => {
    const d = mkdtempSync(join(dir, 'eval-'));
    copyFileSync(model, join(d, 'model.onnx'));
    if (tok !== undefined) writeFileSync(join(d, 'tokenizer.json'), tok);
    return runCli(['eval', join(d, 'model.onnx'), '--data', data]);
  };
  fails(await evalWith(undefined), /tokenizer\.json is missing/);
  fails(await evalWith('{"model": '), /tokenizer\.json: not valid JSON/);
  const big = JSON.parse(readFileSync(join(dir, 'm', 'tokenizer.json'), 'utf8')) as { model: { vocab: Record<string, number> } };
  for (let i = 0; i < 40; i++) big.model.vocab[`zzz${i}`] = 100 + i;
  fails(await evalWith(JSON.stringify(big)), /140 tokens, but .*model\.onnx's embedding table has 100 rows/);
  writeFileSync(join(dir, 'body.csv'), 'body,label\n"free money",1\n"agenda",0\n');
  fails(await runCli(['eval', model, '--data', join(dir, 'body.csv')]), /no column 'text', the text column .* was trained on \(columns: body, label\)/);
  fails(await runCli(['eval', model, '--data', join(dir, 'latin1.csv')]), /line 62: byte 0xff is not UTF-8/);
});

test('infer --text over REST and gRPC: an empty text is answered, a long one is truncated and says so', async () => {
  const long = 'meeting '.repeat(100);
  let r = await runCli(['infer', server.url, 'spam', '--text', '']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /logits {2}FP32 \[1, 2\]/);
  assert.doesNotMatch(r.stdout, /truncated/);
  for (const via of [[server.url], [server.grpcAddress!, '--grpc']]) {
    r = await runCli(['infer', via[0]!, 'spam', ...via.slice(1), '--text', 'free money', '--text', long, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((JSON.parse(r.stdout) as { parameters: unknown }).parameters, { truncated: 1, truncated_rows: '1', max_tokens: 16 }, via.join(' '));
    r = await runCli(['infer', via[0]!, 'spam', ...via.slice(1), '--text', long]);
    assert.match(r.stdout, /1 text truncated to 16 tokens \(rows 0\)/);
  }
  fails(await runCli(['infer', server.url, 'spam', '--text', 'a', '--input', join(dir, 'r.json')]), /give either --input/);
});

test('gRPC: non-UTF-8 text is INVALID_ARGUMENT with the reason, and the next request is answered', async () => {
  const g = new GrpcInferenceClient(server.grpcAddress!);
  try {
    const call = (g as unknown as { call(m: string, r: unknown): Promise<unknown> }).call.bind(g);
    await assert.rejects(call('ModelInfer', { model_name: 'spam', model_version: '', id: '', inputs: [{ name: 'text', datatype: 'BYTES', shape: ['1'] }], outputs: [], raw_input_contents: [Buffer.from([2, 0, 0, 0, 0xff, 0xfe])] }), /INVALID_ARGUMENT: input 'text': BYTES element 0 is not valid UTF-8/);
    await assert.rejects(call('ModelInfer', { model_name: 'spam', model_version: '', id: '', inputs: [{ name: 'text', datatype: 'BYTES', shape: ['1'], contents: { bytes_contents: [Buffer.from([0x41, 0xc3])] } }], outputs: [] }), /not valid UTF-8/);
    const ok = await g.infer('spam', { inputs: { text: new Tensor('string', [1], ['']) } });
    assert.deepEqual(ok.outputs.logits!.dims, [1, 2]);
    assert.deepEqual(ok.parameters, { truncated: 0 });
  } finally {
    g.close();
  }
});

test('a tokenizer that makes rows longer than the model takes: the version does not load, with the reason', async () => {
  const repo = join(dir, 'repo-long');
  mkdirSync(join(repo, 'spam', '1'), { recursive: true });
  // Without trainfer.text (a model from elsewhere) the tokenizer's own truncation.max_length decides the rows.
  const m = readModel(model);
  m.metadata.delete('trainfer.text');
  writeModel(join(repo, 'spam', '1', 'model.onnx'), m);
  const tok = JSON.parse(readFileSync(join(dir, 'm', 'tokenizer.json'), 'utf8')) as { truncation: { max_length: number } };
  tok.truncation.max_length = 64;
  writeFileSync(join(repo, 'spam', '1', 'tokenizer.json'), JSON.stringify(tok));
  await assert.rejects(InferenceServer.start({ repository: repo, port: 0, logLevel: 'silent', processMetrics: false }), /model\.onnx: cannot run on a row of 64 tokens, the maximum length of .*tokenizer\.json .*set its truncation\.max_length/);
  // With trainfer.text, rows are as long as the model was trained with, whatever the file says.
  writeModel(join(repo, 'spam', '1', 'model.onnx'), readModel(model));
  const s = await InferenceServer.start({ repository: repo, port: 0, logLevel: 'silent', processMetrics: false });
  try {
    const r = await runCli(['infer', s.url, 'spam', '--text', 'meeting '.repeat(100), '--json']);
    assert.equal((JSON.parse(r.stdout) as { parameters: { max_tokens: number } }).parameters.max_tokens, 16);
  } finally {
    await s.close();
  }
});
