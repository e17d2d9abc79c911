// Text training jobs end to end on the SpamAssassin corpus: the transformer preset trained from raw
// emails (a WordPiece tokenizer learned from the training split, written beside the model), scored on
// the test split by the exported file and again through its tokenizer.json as `eval` does; an imported
// PyTorch-style nn.TransformerEncoder classifier (opset 17, built here) fine-tuned with that tokenizer;
// a tokenizer too large for the imported model's embedding table is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTable } from '../data/load.js';
import { readModel, writeModel } from '../onnx/model-io.js';
import { evaluate } from './evaluate.js';
import { runTrainJob } from './job.js';
import { openTextFeedsFor, readTextRecord } from './job-text.js';
import { pytorchStyleEncoder } from './test-text-encoder.js';

const dir = mkdtempSync(join(tmpdir(), 'trainfer-text-job-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
// 2,000 training emails (the split lists them in checksum order: both classes); 68.8% of the test split is ham.
const common = { data: 'spam', maxLength: 64, epochs: 1, trainLimit: 2000, seed: 1, progress: 'none' as const };

test('transformer preset on spam: tokenizer.json beside the model, test accuracy floor, eval reads it back', async () => {
  const out = join(dir, 'spam', 'model.onnx');
  const r = await runTrainJob({ ...common, model: 'transformer:1,32,2', vocabSize: 2000, epochs: 2, out });
  assert.ok(existsSync(join(dir, 'spam', 'tokenizer.json')));
  assert.ok(r.testAccuracy >= 0.88, `test accuracy ${r.testAccuracy}`);
  const confusion = r.testHeads?.logits?.confusion;
  assert.equal(confusion?.flat().reduce((a, b) => a + b, 0), 1241);
  const model = readModel(out);
  assert.deepEqual(model.graph.inputs.map((i) => `${i.name}:${i.type?.dtype}`), ['input_ids:int64', 'attention_mask:int64']);
  assert.deepEqual(readTextRecord(model.metadata), { column: 'text', tokenizer: 'tokenizer.json', maxLength: 64, preprocess: 'email' });
  assert.equal(model.metadata.get('trainfer.class_names'), JSON.stringify(['ham', 'spam']));
  const test = loadTable({ source: 'spam' }).test!;
  const feeds = (await openTextFeedsFor({ model, file: out, data: test }))!;
  try {
    const ev = await evaluate({ model, data: test, target: 'label', feeds: feeds.feeds, threads: 1 });
    assert.equal(ev.accuracy, r.testAccuracy, 'eval reads the text exactly as training did');
  } finally {
    await feeds.close();
  }
});

test('fine-tune an imported PyTorch-style nn.TransformerEncoder classifier (opset 17) on raw text', async () => {
  const tokenizer = join(dir, 'spam', 'tokenizer.json');
  const file = join(dir, 'torch-encoder.onnx');
  writeModel(file, pytorchStyleEncoder({ vocabSize: 2000, maxLength: 64, dim: 32, heads: 2, seed: 2 }));
  const out = join(dir, 'tuned', 'model.onnx');
  const r = await runTrainJob({ ...common, model: file, tokenizer, out, epochs: 2, lr: 0.003, optimizer: 'adamw' });
  assert.ok(r.testAccuracy >= 0.82, `fine-tuned accuracy ${r.testAccuracy}`);
  const tuned = readModel(out);
  assert.equal(tuned.opset, 17);
  assert.ok(tuned.graph.nodes.some((n) => n.opType === 'LayerNormalization'));

  const small = join(dir, 'small-vocab.onnx');
  writeModel(small, pytorchStyleEncoder({ vocabSize: 500, maxLength: 64, dim: 16, heads: 2 }));
  await assert.rejects(runTrainJob({ ...common, model: small, tokenizer, out: join(dir, 'x', 'model.onnx') }), /has 2000 tokens but .*embedding table 'embedding\.weight' has 500 rows/);
  await assert.rejects(runTrainJob({ ...common, model: file, out: join(dir, 'y', 'model.onnx') }), /pass --tokenizer tokenizer\.json/);
});
