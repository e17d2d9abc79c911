// Transformer layers: shapes and parameter counts, a gradient check of a whole small encoder (every
// parameter, dynamic batch and sequence dims, padding and causal masks, both poolings) against central
// differences, and the properties serving relies on: padding does not change a sequence's output, the
// causal mask hides later tokens, and the inference graph matches the training graph's forward pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkGradients } from '../autodiff/gradcheck.js';
import { Tensor } from '../onnx/tensor.js';
import { Session } from '../runtime/session.js';
import { Rng } from '../util/rng.js';
import { LayerNorm } from './layers-conv.js';
import { Linear } from './layers-dense.js';
import { SelfAttention, SequencePool, TokenEmbedding, TransformerBlock } from './layers-text.js';
import { Network } from './network.js';

const V = 13;
const D = 8;
const MAX = 6;

function encoder(o: { pool: 'mean' | 'first'; causal?: boolean; dropout?: number; blocks?: number; dim?: number }): Network {
  const blocks = Array.from({ length: o.blocks ?? 2 }, (_, i) => new TransformerBlock({ heads: 2, ffn: o.dim ? 2 * o.dim : 12, dropout: o.dropout ?? 0, mask: 'attention_mask', causal: o.causal && i === 0 }));
  return new Network({
    inputs: [
      { name: 'input_ids', shape: ['sequence'], dtype: 'int64', layers: [new TokenEmbedding({ vocabSize: V, dim: o.dim ?? D, maxLength: MAX, initStd: 0.5 }), ...blocks, new LayerNorm(), new SequencePool({ mode: o.pool, mask: 'attention_mask' })] },
      { name: 'attention_mask', shape: ['sequence'], dtype: 'int64', context: true },
    ],
    layers: [new Linear({ outFeatures: 3 })],
    seed: 3,
  });
}

async function infer(net: Network, ids: number[][], mask: number[][]): Promise<Float32Array> {
  const s = await Session.create({ model: net.inferenceGraph() }, { intraOpThreads: 1 });
  const L = ids[0]!.length;
  const out = await s.run({ input_ids: Tensor.i64([ids.length, L], ids.flat()), attention_mask: Tensor.i64([ids.length, L], mask.flat()) });
  await s.release();
  return out.logits!.data as Float32Array;
}

test('transformer layers: shapes, parameter counts, summary', () => {
  const net = encoder({ pool: 'mean' });
  // embeddings 13·8 + 6·8; per block: 4 attention projections (8·8 + 8), 2 LayerNorms (2·8), FFN 8·12 + 12 + 12·8 + 8; final LN; head 8·3 + 3
  const block = 4 * (64 + 8) + 2 * 16 + (96 + 12 + 96 + 8);
  assert.equal(net.parameterCount(), 13 * 8 + 6 * 8 + 2 * block + 16 + 27);
  assert.deepEqual(net.inputs.map((i) => [i.name, i.dtype, i.shape]), [['input_ids', 'int64', ['sequence']], ['attention_mask', 'int64', ['sequence']]]);
  assert.deepEqual(net.outputShape, [3]);
  assert.match(net.summary(), /TokenEmbedding\(13 tokens, 6 positions, 8\)[\s\S]*TransformerBlock\(8, 2 heads, FFN 12, pre-LN\)[\s\S]*SequencePool\(mean over 'attention_mask'\)/);
  const model = net.inferenceGraph();
  assert.deepEqual(model.graph.inputs.map((i) => i.type?.shape), [['batch', 'sequence'], ['batch', 'sequence']]);
  const ops = new Set(model.graph.nodes.map((n) => n.opType));
  for (const op of ['Gather', 'Range', 'LayerNormalization', 'MatMul', 'Softmax', 'Gelu', 'ReduceSum']) assert.ok(ops.has(op), `inference graph uses ${op}`);
  assert.throws(() => new SelfAttention({ heads: 3 }).build({ store: net.store, rng: Rng.fromSeed(0), scope: (t) => t }, [-1, 8]), /width 8 is not a multiple of 3 heads/);
  assert.throws(() => new TokenEmbedding({ vocabSize: 0, dim: 4, maxLength: 4 }), /vocabSize must be a positive integer/);
});

for (const pool of ['mean', 'first'] as const) {
  test(`transformer encoder gradients (every parameter, dynamic dims, padding + causal masks, ${pool} pooling) match central differences`, async () => {
    const net = encoder({ pool, causal: true, dim: 4, blocks: pool === 'mean' ? 2 : 1 });
    const fwd = net.forwardGraph({ training: false });
    // The key bias adds q·b_k to every score of a query's row, which softmax ignores: its gradient is
    // exactly zero, so it is checked for that (below) rather than relative to its own (zero) scale.
    const params = [...net.store.params.keys()].filter((p) => !p.endsWith('.k.bias'));
    const feeds: Record<string, Tensor> = {
      input_ids: Tensor.i64([2, 4], [2, 5, 7, 3, 2, 9, 3, 0]),
      attention_mask: Tensor.i64([2, 4], [1, 1, 1, 1, 1, 1, 1, 0]),
    };
    for (const p of net.store.params.keys()) feeds[p] = net.store.params.get(p)!;
    const kBias = [...net.store.params.keys()].filter((p) => p.endsWith('.k.bias'));
    const r = await checkGradients({
      feeds,
      wrt: [...params, ...kBias],
      shapes: { input_ids: ['batch', 'sequence'], attention_mask: ['batch', 'sequence'] },
      build: (g) => {
        // The network's forward graph, with its parameters as graph inputs (constants stay initializers).
        for (const [k, t] of fwd.g.graph.initializers) if (!net.store.params.has(k)) g.initializer(k, t);
        for (const n of fwd.g.graph.nodes) {
          g.fresh(n.name); // claim the names, so the checker's own nodes get others
          for (const o of n.outputs) if (o) g.fresh(o);
          g.graph.nodes.push(n);
        }
        return [fwd.heads[0]!.value];
      },
      step: 1e-2,
    });
    // float32 central differences (ORT has no float64 Gelu/LayerNormalization path here): a wrong rule is off by far more.
    for (const p of params) {
      const a = r.analytic.get(p)!;
      const n = r.numeric.get(p)!;
      const scale = Math.max(1e-6, ...n.map(Math.abs));
      const err = Math.max(...a.map((v, i) => Math.abs(v - n[i]!))) / scale;
      assert.ok(err < 1e-2, `${p}: max relative error ${err.toExponential(2)}`);
    }
    for (const p of kBias) assert.ok(r.analytic.get(p)!.every((v) => Math.abs(v) < 1e-5), `${p}: gradient is zero`);
    // The padded token's embedding row gets no gradient through the mean pool and masked attention.
    const tok = r.analytic.get(params.find((p) => p.endsWith('.token'))!)!;
    assert.ok(tok.slice(0, 4).every((v) => v === 0), 'row 0 ([PAD], masked) has zero gradient');
  });
}

test('padding does not change a sequence\'s output (mask), and the causal mask hides later tokens', async () => {
  const net = encoder({ pool: 'mean' });
  const alone = await infer(net, [[2, 5, 7, 3]], [[1, 1, 1, 1]]);
  const padded = await infer(net, [[2, 5, 7, 3, 0, 0], [2, 9, 9, 9, 9, 3]], [[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]]);
  for (let k = 0; k < 3; k++) assert.ok(Math.abs(alone[k]! - padded[k]!) < 1e-5, `logit ${k}: ${alone[k]} alone vs ${padded[k]} padded`);
  // Causal + first-token pooling: the first position sees only itself, so later tokens cannot matter.
  const causal = encoder({ pool: 'first', causal: true, blocks: 1 });
  const a = await infer(causal, [[2, 5, 7, 3]], [[1, 1, 1, 1]]);
  const b = await infer(causal, [[2, 11, 1, 8]], [[1, 1, 1, 1]]);
  for (let k = 0; k < 3; k++) assert.ok(Math.abs(a[k]! - b[k]!) < 1e-6, 'first token of a causal encoder ignores later tokens');
  const bi = encoder({ pool: 'first', blocks: 1 });
  const c = await infer(bi, [[2, 5, 7, 3]], [[1, 1, 1, 1]]);
  const d = await infer(bi, [[2, 11, 1, 8]], [[1, 1, 1, 1]]);
  assert.ok([0, 1, 2].some((k) => Math.abs(c[k]! - d[k]!) > 1e-4), 'without the causal mask it does not');
});

test('training and inference forward passes agree without dropout; dropout draws per-token masks over the dynamic sequence', async () => {
  const net = encoder({ pool: 'mean', dropout: 0.1, blocks: 1 });
  const ids = Tensor.i64([2, 5], [2, 5, 7, 3, 0, 2, 9, 9, 9, 3]);
  const mask = Tensor.i64([2, 5], [1, 1, 1, 1, 0, 1, 1, 1, 1, 1]);
  const fwd = net.forwardGraph({ training: true });
  assert.ok(fwd.random.length >= 2 && fwd.random.every((r) => r.shape[0] === 'sequence'), 'dropout inputs are [batch, sequence, …]');
  fwd.g.output(fwd.heads[0]!.value, 'out');
  const s = await Session.create({ model: fwd.g.toModel() }, { intraOpThreads: 1 });
  const keepAll: Record<string, Tensor> = { input_ids: ids, attention_mask: mask };
  for (const r of fwd.random) keepAll[r.name] = Tensor.f32([2, 5, ...(r.shape.slice(1) as number[])], new Float32Array(2 * 5 * (r.shape.slice(1) as number[]).reduce((a, b) => a * b, 1)).fill(0.99));
  const train = (await s.run(keepAll)).out!.data as Float32Array;
  await s.release();
  // The uniform inputs are sized per batch from the feed's sequence length: the run accepts [2, 5, …] ones.
  assert.ok(train.every(Number.isFinite));
  const plain = encoder({ pool: 'mean', dropout: 0, blocks: 1 });
  const f2 = plain.forwardGraph({ training: true });
  f2.g.output(f2.heads[0]!.value, 'out');
  const s2 = await Session.create({ model: f2.g.toModel() }, { intraOpThreads: 1 });
  const t2 = (await s2.run({ input_ids: ids, attention_mask: mask })).out!.data as Float32Array;
  await s2.release();
  const inf = await infer(plain, [[2, 5, 7, 3, 0], [2, 9, 9, 9, 3]], [[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]]);
  for (let k = 0; k < inf.length; k++) assert.ok(Math.abs(inf[k]! - t2[k]!) < 1e-5);
});
