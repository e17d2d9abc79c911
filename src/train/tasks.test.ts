// Training beyond one-input classification, through the library: a PyTorch-style int64-ids model
// fine-tuned, a multi-input network (numeric + embedded categorical), two heads with weighted losses,
// class weights that raise a rare class's recall, distillation through a feed provider (teacher logits
// computed by onnxruntime per batch), and the up-front errors for fixed batch dims and bad targets.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { klDivergence } from '../autodiff/losses.js';
import { Tensor } from '../onnx/tensor.js';
import { Rng } from '../util/rng.js';
import { parseCsv } from '../data/csv.js';
import { type Column, type Table, getColumn, selectRows } from '../data/table.js';
import { Embedding, Flatten, Linear, Normalize, ReLU } from '../nn/layers-dense.js';
import { Network } from '../nn/network.js';
import { evaluate } from './evaluate.js';
import { fit } from './fit.js';
import { OnnxModelTrainable } from './onnx-trainable.js';
import { teacherOutputs } from './providers.js';
import { pytorchStyleMlp, pytorchStyleTokenModel } from './test-fixtures.js';

const quiet = { threads: 1, progress: 'none' as const };

/** Rows of 8 token ids in [0, 20); label 1 when token 7 occurs. */
function tokenTable(n: number, seed: number): Table {
  const rng = Rng.fromSeed(seed);
  const header = [...Array.from({ length: 8 }, (_, i) => `t${i + 1}`), 'label'];
  const rows = Array.from({ length: n }, (_, r) => {
    const ids = Array.from({ length: 8 }, () => rng.int(20));
    if (r % 2 === 0 && !ids.includes(7)) ids[rng.int(8)] = 7;
    if (r % 2 === 1) for (let k = 0; k < 8; k++) if (ids[k] === 7) ids[k] = 8;
    return [...ids, r % 2 === 0 ? 1 : 0].join(',');
  });
  return parseCsv(`${header.join(',')}\n${rows.join('\n')}\n`, 'tokens.csv');
}

test('a PyTorch-style model taking int64 token ids [batch, 8] fine-tunes; positional tables stay fixed', async () => {
  const src = pytorchStyleTokenModel(1);
  const t = new OnnxModelTrainable({ model: src, name: 'tokens.onnx' });
  assert.deepEqual(t.inputs.map((i) => [i.name, i.dtype, i.shape]), [['input_ids', 'int64', [8]]]);
  // Layer weights by default: the embedding table and the classifier, never the positional table.
  assert.deepEqual(t.trainable, ['embedding.weight', 'fc.weight', 'fc.bias']);
  const train = tokenTable(1200, 1);
  const r = await fit({ model: t, train, epochs: 8, batchSize: 32, optimizer: { type: 'adam' }, lr: 0.02, seed: 1, ...quiet });
  const out = t.inferenceGraph({ weights: r.weights });
  assert.deepEqual(out.graph.initializers.get('pos_table')!.data, src.graph.initializers.get('pos_table')!.data);
  const ev = await evaluate({ model: out, data: tokenTable(400, 2), threads: 1 });
  assert.ok(ev.accuracy >= 0.9, `accuracy ${ev.accuracy}`);
  assert.ok(ev.metrics.auc! > 0.95, `auc ${ev.metrics.auc}`);
});

/** Numeric x[3] + a categorical `city` (6 values); class = which of 3 scores is largest. */
function mixedTable(n: number, seed: number): Table {
  const rng = Rng.fromSeed(seed);
  const x = new Float32Array(n * 3);
  const city = new BigInt64Array(n);
  const y = new BigInt64Array(n);
  const effect = [[1.5, 0, 0], [0, 1.5, 0], [0, 0, 1.5], [-1.5, 0, 0], [0, -1.5, 0], [0, 0, -1.5]];
  for (let i = 0; i < n; i++) {
    const c = rng.int(6);
    const s = [0, 1, 2].map((k) => {
      const v = rng.normal();
      x[i * 3 + k] = v * 10 + 50; // raw units: the model standardises
      return v + effect[c]![k]!;
    });
    city[i] = BigInt(c);
    y[i] = BigInt(s.indexOf(Math.max(...s)));
  }
  const columns: Column[] = [
    { name: 'x', dtype: 'float32', shape: [3], data: x, kind: 'numeric' },
    { name: 'city', dtype: 'int64', shape: [], data: city, kind: 'categorical', vocabulary: ['a', 'b', 'c', 'd', 'e', 'f'] },
    { name: 'label', dtype: 'int64', shape: [], data: y, kind: 'numeric' },
  ];
  return { source: 'mixed', count: n, columns };
}

function mixedNet(seed: number, heads?: ConstructorParameters<typeof Network>[0]['heads']): Network {
  return new Network({
    seed,
    inputs: [
      { name: 'x', shape: [3], layers: [new Normalize({ mean: [50, 50, 50], std: [10, 10, 10] })] },
      { name: 'city', shape: [1], dtype: 'int64', layers: [new Embedding({ numEmbeddings: 7, dim: 4 }), new Flatten()] },
    ],
    layers: [new Linear({ outFeatures: 32 }), new ReLU()],
    heads: heads ?? [{ name: 'logits', layers: [new Linear({ outFeatures: 3 })] }],
  });
}

test('a multi-input network (numeric features + an embedded categorical) learns what neither input alone gives', async () => {
  const train = mixedTable(3000, 1);
  const net = mixedNet(1);
  assert.deepEqual(net.inputs.map((i) => [i.name, i.dtype]), [['x', 'float32'], ['city', 'int64']]);
  const r = await fit({ model: net, train, epochs: 6, batchSize: 64, lr: 0.05, seed: 1, ...quiet });
  const ev = await evaluate({ model: net.inferenceGraph({ weights: r.weights }), data: mixedTable(1000, 2), threads: 1 });
  // Numeric features alone reach ~0.6 here, the city alone ~0.45; together ≥ 0.75.
  assert.ok(ev.accuracy >= 0.75, `accuracy ${ev.accuracy}`);
  assert.ok(ev.metrics.f1! >= 0.7, `macro F1 ${ev.metrics.f1}`);
});

test('two heads: a classification head and a regression head, each with its loss, target and weight', async () => {
  const base = mixedTable(2000, 3);
  const x = getColumn(base, 'x').data as Float32Array;
  const total = Float32Array.from({ length: base.count }, (_, i) => x[i * 3]! + x[i * 3 + 1]! - x[i * 3 + 2]!);
  const train: Table = { ...base, columns: [...base.columns, { name: 'total', dtype: 'float32', shape: [], data: total, kind: 'numeric' }] };
  const net = mixedNet(2, [{ name: 'logits', layers: [new Linear({ outFeatures: 3 })] }, { name: 'total', task: 'regression', layers: [new Linear({ outFeatures: 1 })] }]);
  const r = await fit({
    model: net, train, epochs: 5, batchSize: 64, lr: 0.02, seed: 2, ...quiet,
    losses: [{ head: 'logits', loss: { type: 'cross-entropy' } }, { head: 'total', loss: { type: 'mse', scale: 17 }, weight: 0.5 }],
    targets: { logits: 'label', total: 'total' }, feeds: { x: { columns: ['x'] }, city: { columns: ['city'] } },
  });
  const model = net.inferenceGraph({ weights: r.weights });
  assert.deepEqual(model.graph.outputs.map((o) => o.name), ['logits', 'probabilities', 'total']);
  const ev = await evaluate({ model, data: train, heads: net.heads, losses: [{ head: 'logits', loss: { type: 'cross-entropy' } }, { head: 'total', loss: { type: 'mse' } }], targets: { logits: 'label', total: 'total' }, threads: 1 });
  assert.ok(ev.heads.logits!.scalars.accuracy! > 0.7, JSON.stringify(ev.heads.logits!.scalars));
  assert.ok(ev.heads.total!.scalars.r2! > 0.9, JSON.stringify(ev.heads.total!.scalars));
});

test('class weights raise the recall of a rare, overlapping class', async () => {
  // Class 2 is 6% of rows and overlaps class 0: unweighted, the model mostly gives up on it.
  const rng = Rng.fromSeed(4);
  const n = 3000;
  const rows = Array.from({ length: n }, (_, i) => {
    const k = i % 50 < 3 ? 2 : i % 2;
    const c = [[0, 0], [3, 3], [0.8, 0.8]][k]!;
    return `${(c[0]! + rng.normal()).toFixed(3)},${(c[1]! + rng.normal()).toFixed(3)},${k}`;
  });
  const train = parseCsv(`a,b,label\n${rows.join('\n')}\n`, 'rare.csv');
  const recall = async (classWeights?: number[]) => {
    const net = new Network({ inputShape: [2], seed: 1, layers: [new Linear({ outFeatures: 16 }), new ReLU(), new Linear({ outFeatures: 3 })] });
    const r = await fit({ model: net, train, epochs: 6, batchSize: 50, lr: 0.05, seed: 1, loss: { type: 'cross-entropy', classWeights }, ...quiet });
    const ev = await evaluate({ model: net.inferenceGraph({ weights: r.weights }), data: train, threads: 1 });
    return ev.heads.logits!.perClass!.recall[2]!;
  };
  const plain = await recall();
  const weighted = await recall([1, 1, 50 / 3 / 2]);
  assert.ok(weighted > plain + 0.25, `rare-class recall ${plain.toFixed(3)} → ${weighted.toFixed(3)}`);
});

test('distillation: teacher logits from onnxruntime per batch (a feed provider) train a student through a custom KL loss', async () => {
  // Teacher: a fixed random network on raw 4-d inputs. Student: standardises its inputs in the batcher,
  // so the provider must feed the teacher the raw columns, not the student's batch buffer.
  const teacherNet = new Network({ inputShape: [4], seed: 11, layers: [new Linear({ outFeatures: 16 }), new ReLU(), new Linear({ outFeatures: 5 })] });
  const rng = Rng.fromSeed(5);
  const x = Float32Array.from({ length: 4 * 2000 }, () => rng.normal() * 3 + 2);
  const table: Table = { source: 'unlabelled', count: 2000, columns: [{ name: 'features', dtype: 'float32', shape: [4], data: x, kind: 'numeric' }] };
  const train = selectRows(table, Array.from({ length: 1600 }, (_, i) => i));
  const held = selectRows(table, Array.from({ length: 400 }, (_, i) => 1600 + i));
  const student = new Network({ inputShape: [4], seed: 3, layers: [new Normalize({ mean: [2, 2, 2, 2], std: [3, 3, 3, 3] }), new Linear({ outFeatures: 32 }), new ReLU(), new Linear({ outFeatures: 5 })] });
  const teacher = await teacherOutputs({ model: teacherNet.inferenceGraph(), output: 'logits', threads: 1 });
  const kl = { type: 'custom' as const, name: 'distill', targets: [{ name: 'teacher', dtype: 'float32' as const, shape: [5] }], fn: (g: Parameters<typeof klDivergence>[0], io: { outputs: Readonly<Record<string, string>>; targets: Readonly<Record<string, string>> }) => klDivergence(g, { studentLogits: io.outputs.logits!, teacherLogits: io.targets.teacher!, temperature: 2 }) };
  const r = await fit({ model: student, train, validation: held, losses: [{ loss: kl }], feeds: { teacher: { provider: teacher } }, epochs: 8, batchSize: 50, optimizer: { type: 'adam' }, lr: 0.01, seed: 1, ...quiet });
  assert.ok(r.history.at(-1)!.valLoss! < r.history[0]!.valLoss! / 3, `KL ${r.history[0]!.valLoss} → ${r.history.at(-1)!.valLoss}`);
  // The student now agrees with the teacher's decisions on held-out rows.
  const { Session } = await import('../runtime/session.js');
  const run = async (m: ReturnType<Network['inferenceGraph']>) => {
    const s = await Session.create({ model: m }, { intraOpThreads: 1 });
    const out = (await s.run({ features: new Tensor('float32', [400, 4], getColumn(held, 'features').data as Float32Array) })).logits!.data as Float32Array;
    await s.release();
    return Array.from({ length: 400 }, (_, i) => { const row = out.subarray(i * 5, i * 5 + 5); return row.indexOf(Math.max(...row)); });
  };
  const [a, b] = [await run(teacherNet.inferenceGraph()), await run(student.inferenceGraph({ weights: r.weights }))];
  const agree = a.filter((v, i) => v === b[i]).length / 400;
  assert.ok(agree >= 0.9, `student agrees with the teacher on ${(agree * 100).toFixed(1)}%`);
});

test('up-front errors: a fixed batch dimension names the input and dynamic_axes; a regression target into a classifier; a mismatched loss', async () => {
  const src = pytorchStyleMlp(1);
  src.graph.inputs[0]!.type = { dtype: 'float32', shape: [1, 1, 28, 28] };
  const t = new OnnxModelTrainable({ model: src, name: 'fixed.onnx' });
  const rng = Rng.fromSeed(1);
  const images: Table = { source: 'imgs', count: 64, columns: [{ name: 'pixels', dtype: 'float32', shape: [1, 28, 28], data: Float32Array.from({ length: 64 * 784 }, () => rng.uniform()), kind: 'image' }, { name: 'label', dtype: 'int64', shape: [], data: new BigInt64Array(64), kind: 'numeric' }] };
  await assert.rejects(fit({ model: t, train: images, batchSize: 32, ...quiet }), /fixed\.onnx: input 'input\.1' has a fixed batch dimension of 1; re-export it with a dynamic batch \(torch\.onnx\.export\(\.\.\., dynamic_axes=\{'input\.1': \{0: 'batch'\}\}\)\) or train with --batch-size 1/);
  const net = new Network({ inputShape: [1, 28, 28], layers: [new Flatten(), new Linear({ outFeatures: 10 })] });
  const bad: Table = { ...images, columns: [images.columns[0]!, { name: 'label', dtype: 'int64', shape: [], data: BigInt64Array.from({ length: 64 }, (_, i) => BigInt(i % 12)), kind: 'numeric' }] };
  await assert.rejects(fit({ model: net, train: bad, batchSize: 32, ...quiet }), /imgs: label 10 of sample 10 is out of range: the model has 10 classes \(0\.\.9\)/);
  const one = new Network({ inputShape: [4], layers: [new Linear({ outFeatures: 1 })] });
  await assert.rejects(fit({ model: one, train: { source: 's', count: 8, columns: [{ name: 'f', dtype: 'float32', shape: [4], data: new Float32Array(32), kind: 'numeric' }, { name: 'label', dtype: 'int64', shape: [], data: new BigInt64Array(8), kind: 'numeric' }] }, batchSize: 4, ...quiet }), /loss cross-entropy needs ≥ 2 classes but head 'logits' gives \[1\] per sample/);
});
