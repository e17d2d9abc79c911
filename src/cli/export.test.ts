// `trainfer export --format transformers-js`: a transformer trained by `trainfer train` on spam, exported,
// loaded by @huggingface/transformers' own pipeline('text-classification', dir) fully offline, gives the
// labels and scores Trainfer's inference gives on the same texts (real emails, most cut to the maximum
// length, an empty text, non-ASCII) within 1e-5; the int8 file loads by default dtype too. A model
// another toolchain wrote (int32 inputs named otherwise, a fixed sequence length, one sigmoid logit, no
// Trainfer metadata) exports and agrees as well. Bad exports are one-line errors and write nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder } from '../onnx/builder.js';
import { writeModel } from '../onnx/model-io.js';
import { Tensor } from '../onnx/tensor.js';
import { Session } from '../runtime/session.js';
import { TextTokenizer } from '../data/tokenizer.js';
import { loadSpam } from '../data/spam.js';
import { getColumn } from '../data/table.js';
import { textClassifier, textTokenizerJson, textVocab, HAM_WORDS, SPAM_WORDS } from '../web/test-text.js';
import { runCli } from './test-run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'trainfer-export-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** transformers.js, offline: local files only, no remote hub, no cache writes. */
async function classifier(path: string, dtype?: 'fp32' | 'q8') {
  const hf = await import('@huggingface/transformers');
  hf.env.allowRemoteModels = false;
  hf.env.useBrowserCache = false;
  hf.env.useFSCache = false;
  return hf.pipeline('text-classification', path, { local_files_only: true, dtype });
}

type Scores = { label: string; score: number }[];
const byLabel = (s: Scores) => Object.fromEntries(s.map((x) => [x.label, x.score]));

/** Trainfer's own inference: the tokenizer.json through TextTokenizer, the model in onnxruntime. */
async function trainferScores(o: { model: string; tokenizer: string; texts: string[]; labels: string[]; feeds: (ids: Int32Array, mask: Uint8Array, n: number, len: number) => Record<string, Tensor>; /** The model outputs P(class 1) itself (a sigmoid). */ sigmoid?: boolean }) {
  const tok = TextTokenizer.load(o.tokenizer);
  const b = await tok.encodeBatch(o.texts);
  const s = await Session.create({ path: o.model }, { intraOpThreads: 1 });
  try {
    const out = Object.values(await s.run(o.feeds(b.ids, b.mask, b.count, b.length)))[0]!.toNumbers();
    const k = o.sigmoid ? 1 : o.labels.length;
    return { truncated: [...b.truncated], scores: o.texts.map((_, r) => {
      const z = out.slice(r * k, (r + 1) * k);
      const p = o.sigmoid ? [1 - z[0]!, z[0]!] : z.map((v) => Math.exp(v - Math.max(...z))).map((e, _i, a) => e / a.reduce((x, y) => x + y, 0));
      return Object.fromEntries(o.labels.map((l, i) => [l, p[i]!]));
    }) };
  } finally {
    await s.release();
  }
}

const i64 = (n: number, len: number, v: ArrayLike<number>) => new Tensor('int64', [n, len], BigInt64Array.from(Array.from(v), (x) => BigInt(x)));

test('a trained transformer: transformers.js pipeline() loads the export offline and agrees with Trainfer within 1e-5', async () => {
  const model = join(dir, 'spam', 'model.onnx');
  const trained = await runCli(['train', '--model', 'transformer:1,16,2', '--data', 'spam', '--limit', '300', '--epochs', '1', '--vocab-size', '600', '--max-length', '48', '--optimizer', 'adamw', '--lr', '0.003', '--out', model, '--json']);
  assert.equal(trained.code, 0, trained.stderr);
  const out = join(dir, 'spam-hf');
  const r = await runCli(['export', model, '--out', out, '--quantized', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout) as { files: string[]; labels: string[]; inputs: string[]; trailingSpecials: string[]; preprocess?: string };
  assert.deepEqual(res.files, ['config.json', 'onnx/model.onnx', 'onnx/model_quantized.onnx', 'tokenizer.json', 'tokenizer_config.json']);
  assert.deepEqual(res.labels, ['ham', 'spam']);
  assert.deepEqual(res.inputs, ['input_ids', 'attention_mask']);
  assert.deepEqual(res.trailingSpecials, ['[SEP]']);
  // spam is trained on the `email` preparation, which transformers.js does not run: the export says so.
  assert.equal(res.preprocess, 'email');
  const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { id2label: Record<string, string>; trainfer: { text_preprocess?: string } };
  assert.deepEqual(config.id2label, { 0: 'ham', 1: 'spam' });
  assert.equal(config.trainfer.text_preprocess, 'email');

  const emails = (getColumn(loadSpam().test!, 'text').data as string[]).slice(0, 24);
  const texts = [...emails, '', 'Win a FREE prize now!!!', 'Réunion demain — café ☕ 東京', 'x'.repeat(5000)];
  const want = await trainferScores({ model, tokenizer: join(dir, 'spam', 'tokenizer.json'), texts, labels: ['ham', 'spam'], feeds: (ids, mask, n, len) => ({ input_ids: i64(n, len, ids), attention_mask: i64(n, len, mask) }) });
  assert.ok(want.truncated.filter(Boolean).length >= 20, 'most emails are cut to 48 tokens: the [SEP] restoration is exercised');
  const clf = await classifier(out, 'fp32');
  try {
    const got = (await clf(texts, { top_k: null })) as Scores[];
    let worst = 0;
    got.forEach((g, i) => {
      const w = want.scores[i]!;
      assert.equal(g[0]!.label, w.ham! >= w.spam! ? 'ham' : 'spam', `text ${i}: label`);
      for (const [l, p] of Object.entries(byLabel(g))) worst = Math.max(worst, Math.abs(p - w[l]!));
    });
    assert.ok(worst <= 1e-5, `largest score difference ${worst}`);
    // One text at a time (no batch padding) gives the same.
    const one = (await clf(texts[0]!, { top_k: null })) as Scores;
    assert.ok(Math.abs(byLabel(one).spam! - want.scores[0]!.spam!) <= 1e-5);
  } finally {
    await clf.dispose();
  }
  // The int8 file is what transformers.js loads for dtype q8 (the browser's default): same labels on most texts.
  const q8 = await classifier(out, 'q8');
  try {
    const got = (await q8(texts, { top_k: 1 })) as Scores;
    const agree = got.filter((g, i) => g.label === (want.scores[i]!.ham! >= want.scores[i]!.spam! ? 'ham' : 'spam')).length;
    assert.ok(agree >= texts.length - 2, `q8 agrees on ${agree} of ${texts.length}`);
  } finally {
    await q8.dispose();
  }
});

test('a model another toolchain wrote: int32 inputs named otherwise, fixed length 64, one sigmoid logit, no Trainfer metadata', async () => {
  const vocab = textVocab();
  const w = new Float32Array(vocab.length).map((_, i) => (SPAM_WORDS.includes(vocab[i]!) ? 1 : HAM_WORDS.includes(vocab[i]!) ? -1 : 0));
  const g = new GraphBuilder({ name: 'foreign' });
  const ids = g.input('src_tokens', 'int32', ['N', 64]);
  const mask = g.input('src_mask', 'int32', ['N', 64]);
  const e = g.op('Gather', [g.initializer('emb.weight', new Tensor('float32', [vocab.length, 1], w)), ids])[0]!; // [N, 64, 1]
  const m = g.op('Unsqueeze', [g.op('Cast', [mask], { to: { type: 'int', value: 1 } })[0]!, g.constant(Tensor.i64([1], [2]))])[0]!;
  const sum = g.op('ReduceSum', [g.op('Mul', [e, m])[0]!, g.constant(Tensor.i64([1], [1]))], { keepdims: { type: 'int', value: 0 } })[0]!; // [N, 1]
  g.output(g.op('Sigmoid', [sum])[0]!, 'prob', { dtype: 'float32', shape: ['N', 1] });
  const src = join(dir, 'foreign');
  mkdirSync(src, { recursive: true });
  writeModel(join(src, 'model.onnx'), g.toModel({ opset: 17 }));
  writeFileSync(join(src, 'tok.json'), JSON.stringify(textTokenizerJson()));
  const out = join(dir, 'foreign-hf');
  const r = await runCli(['export', join(src, 'model.onnx'), '--tokenizer', join(src, 'tok.json'), '--labels', 'ham,spam', '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual((JSON.parse(r.stdout) as { inputs: string[] }).inputs, ['input_ids', 'attention_mask']);
  const texts = ['win free money now', 'meeting agenda', '', 'lunch '.repeat(40) + 'prize '.repeat(40)];
  const want = await trainferScores({ model: join(src, 'model.onnx'), tokenizer: join(src, 'tok.json'), texts, labels: ['ham', 'spam'], feeds: (ids, mk, n, len) => ({ src_tokens: new Tensor('int32', [n, len], ids), src_mask: new Tensor('int32', [n, len], Int32Array.from(mk)) }), sigmoid: true });
  // The sigmoid model's own output is P(spam); the export's softmax over [0, z] must give the same.
  const clf = await classifier(out);
  try {
    const got = (await clf(texts, { top_k: null })) as Scores[];
    got.forEach((s, i) => assert.ok(Math.abs(byLabel(s).spam! - want.scores[i]!.spam!) <= 1e-5, `text ${i}: ${byLabel(s).spam} vs ${want.scores[i]!.spam}`));
  } finally {
    await clf.dispose();
  }
  assert.equal(want.truncated[3], 1, 'the long text is cut: 62 words + [CLS] + [SEP]');
});

test('bad exports: one-line errors, nothing written', async () => {
  const src = join(dir, 'bad');
  mkdirSync(src, { recursive: true });
  writeModel(join(src, 'model.onnx'), textClassifier());
  const run = (args: string[]) => runCli(['export', join(src, 'model.onnx'), ...args]);
  let r = await run(['--out', join(dir, 'bad-out')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^trainfer: .*model\.onnx: no tokenizer: .*tokenizer\.json is missing.*\n$/);
  writeFileSync(join(src, 'tokenizer.json'), '{"model": ');
  r = await run(['--out', join(dir, 'bad-out')]);
  assert.match(r.stderr, /^trainfer: .*tokenizer\.json: not valid JSON/);
  const big = textTokenizerJson() as { model: { vocab: Record<string, number> } };
  for (let i = 0; i < 10; i++) big.model.vocab[`extra${i}`] = Object.keys(big.model.vocab).length;
  writeFileSync(join(src, 'tokenizer.json'), JSON.stringify(big));
  r = await run(['--out', join(dir, 'bad-out')]);
  assert.match(r.stderr, /38 tokens, but .*embedding table has 28 rows/);
  writeFileSync(join(src, 'tokenizer.json'), JSON.stringify(textTokenizerJson()));
  r = await run(['--out', join(dir, 'bad-out'), '--labels', 'a,b,c']);
  assert.match(r.stderr, /3 labels \(a, b, c\) for 2 classes/);
  r = await run(['--out', join(dir, 'bad-out'), '--format', 'onnx-web']);
  assert.match(r.stderr, /--format must be one of transformers-js/);
  // A non-empty directory that is not an earlier export is never replaced.
  const busy = join(dir, 'busy');
  mkdirSync(busy);
  writeFileSync(join(busy, 'notes.txt'), 'mine');
  r = await run(['--out', busy]);
  assert.match(r.stderr, /not empty and not an earlier export/);
  assert.deepEqual(readdirSync(busy), ['notes.txt']);
  // A regression model has no labels for the pipeline to give.
  const reg = textClassifier();
  reg.metadata.set('trainfer.heads', JSON.stringify([{ name: 'logits', output: 'logits', task: 'regression', target: ['y'], loss: {} }]));
  writeModel(join(src, 'model.onnx'), reg);
  r = await run(['--out', join(dir, 'bad-out')]);
  assert.match(r.stderr, /a regression model: transformers\.js's text-classification pipeline/);
  assert.ok(!existsSync(join(dir, 'bad-out')));
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('.')), [], 'no temporary directories left');
  // An earlier export is replaced whole.
  writeModel(join(src, 'model.onnx'), textClassifier());
  for (let k = 0; k < 2; k++) {
    r = await run(['--out', join(dir, 'again')]);
    assert.equal(r.code, 0, r.stderr);
  }
  assert.deepEqual(readdirSync(join(dir, 'again')).sort(), ['config.json', 'onnx', 'tokenizer.json', 'tokenizer_config.json']);
});
