// Fine-tuning an imported ONNX model built the way PyTorch exports one (opset 17, Gemm with transB,
// Constant nodes, a Shape→Gather→Unsqueeze→Concat→Reshape flatten): train, export, evaluate.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { GraphBuilder } from '../onnx/builder.js';
import { loadTable } from '../data/load.js';
import { headRows as take } from '../data/table.js';
import { evaluate } from './evaluate.js';
import { fit } from './fit.js';
import { OnnxModelTrainable } from './onnx-trainable.js';
import { pytorchStyleMlp } from './test-fixtures.js';

const mnist = loadTable({ source: 'mnist' });

test('fine-tune a PyTorch-style ONNX model: all float initializers train, export keeps the graph', async () => {
  const src = pytorchStyleMlp(1);
  const before = (src.graph.initializers.get('fc1.weight')!.data as Float32Array).slice();
  const t = new OnnxModelTrainable({ model: src, name: 'torch.onnx' });
  assert.deepEqual(t.trainable, ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']);
  assert.deepEqual(t.inputShape, [1, 28, 28]);
  assert.equal(t.numClasses, 10);
  const r = await fit({ model: t, train: take(mnist.train, 3000), epochs: 3, batchSize: 50, lr: 0.1, seed: 1, threads: 1, progress: 'none' });
  const out = t.inferenceGraph({ weights: r.weights });
  assert.equal(out.opset, 17);
  assert.deepEqual(out.graph.nodes.map((n) => n.opType), src.graph.nodes.map((n) => n.opType));
  assert.deepEqual([...(src.graph.initializers.get('fc1.weight')!.data as Float32Array)], [...before], 'the source model is not modified');
  const ev = await evaluate({ model: out, data: take(mnist.test, 2000), threads: 1 });
  assert.ok(ev.accuracy >= 0.85, `fine-tuned accuracy ${ev.accuracy}`);
});

test('fine-tune only selected initializers; the rest stay bit-identical', async () => {
  const src = pytorchStyleMlp(2);
  const t = new OnnxModelTrainable({ model: src, trainable: ['fc2.weight', 'fc2.bias'] });
  const r = await fit({ model: t, train: take(mnist.train, 1000), epochs: 1, batchSize: 50, seed: 1, threads: 1, progress: 'none' });
  const out = t.inferenceGraph({ weights: r.weights });
  assert.deepEqual(out.graph.initializers.get('fc1.weight')!.data, src.graph.initializers.get('fc1.weight')!.data);
  assert.notDeepEqual(out.graph.initializers.get('fc2.weight')!.data, src.graph.initializers.get('fc2.weight')!.data);
  assert.throws(() => new OnnxModelTrainable({ model: src, trainable: ['nope'] }), /no initializer named 'nope'/);
});

test('a model ending in Softmax trains on the scores before it', () => {
  const src = pytorchStyleMlp(3);
  const g = new GraphBuilder({ graph: src.graph });
  const logits = src.graph.outputs[0]!.name;
  src.graph.outputs = [];
  g.output(g.softmax(logits, 1), 'probs', { dtype: 'float32', shape: ['batch_size', 10] });
  const tg = new OnnxModelTrainable({ model: src }).trainingGraph({});
  assert.equal(tg.heads[0]!.value, logits);
});

test('a flat [batch, 784] model trains and evaluates on 28×28 images (same number of values)', async () => {
  const src = pytorchStyleMlp(4);
  const input = src.graph.inputs[0]!;
  input.type = { dtype: 'float32', shape: ['N', 784] };
  const t = new OnnxModelTrainable({ model: src });
  assert.deepEqual(t.inputShape, [784]);
  const r = await fit({ model: t, train: take(mnist.train, 1000), epochs: 1, batchSize: 50, seed: 1, threads: 1, progress: 'none' });
  const ev = await evaluate({ model: t.inferenceGraph({ weights: r.weights }), data: take(mnist.test, 500), threads: 1 });
  assert.ok(ev.accuracy > 0.6, `accuracy ${ev.accuracy}`);
});
