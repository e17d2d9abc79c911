// Structured pruning through the one dependency analysis: on a ResNet-style network (skips, projection,
// depthwise, Concat, Flatten → Gemm), an MLP, a transformer FFN block, a PyTorch-style attention block
// (heads through Shape-chain reshapes), the PyTorch-exported transformer of the quantization corpus and the
// `cnn` preset, the rewritten model is smaller and gives the SAME outputs as the original with the removed
// channels zeroed — which proves the rewrite cut exactly the coupled slices.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Model } from '../../onnx/ir.js';
import { Tensor } from '../../onnx/tensor.js';
import { buildPreset } from '../../nn/presets.js';
import { lcg, randomTensor, runModel } from '../quantize/test-models.js';
import { torchTransformer } from '../quantize/test-corpus.js';
import { analyzeDependencies } from './depgraph.js';
import { zeroChannels } from './rewrite.js';
import { structuredPrune } from './structured.js';
import { attentionBlock, ffnBlock, mlpNet, resnetBlock } from './test-graphs.js';

function params(m: Model): number {
  let n = 0;
  for (const t of m.graph.initializers.values()) if (t.dtype === 'float32') n += t.size;
  return n;
}

async function assertSameOutputs(a: Model, b: Model, feeds: Record<string, Tensor>, tol = 1e-5): Promise<void> {
  const ra = await runModel(a, feeds);
  const rb = await runModel(b, feeds);
  for (const k of Object.keys(ra)) {
    const x = ra[k]!.toNumbers();
    const y = rb[k]!.toNumbers();
    assert.deepEqual(rb[k]!.dims, ra[k]!.dims, `output ${k} shape`);
    const scale = Math.max(1e-6, ...x.map(Math.abs));
    const worst = Math.max(...x.map((v, i) => Math.abs(v - y[i]!)));
    assert.ok(worst <= tol * scale, `output ${k}: max |diff| ${worst} (scale ${scale})`);
  }
}

/** Prunes, then checks: smaller, and equal to the zeroed original. */
async function checkExact(model: Model, feeds: Record<string, Tensor>, sparsity = 0.5): Promise<ReturnType<typeof structuredPrune>> {
  const r = structuredPrune({ model, sparsity });
  assert.ok(r.removed.size > 0, 'something was removed');
  assert.ok(params(r.model) < params(model), `smaller: ${params(r.model)} < ${params(model)}`);
  await assertSameOutputs(zeroChannels(r.dependencies, r.removed), r.model, feeds);
  return r;
}

const group = (r: ReturnType<typeof structuredPrune>, part: string) => {
  const g = r.groups.find((x) => x.description.includes(part));
  assert.ok(g, `a group with ${part}: ${r.groups.map((x) => x.description).join('; ')}`);
  return g;
};

test('ResNet-style block: skips, projection, depthwise and Concat prune together, outputs match the zeroed original', async () => {
  const model = resnetBlock();
  const r = await checkExact(model, { x: randomTensor([2, 3, 8, 8], lcg(7), 2, 0.5) });
  // The stem, block 1's second conv and the identity skip share one channel space (8 → 4).
  const identity = group(r, 'Conv(stem.weight) + Conv(b1.conv2.weight) → ');
  assert.deepEqual([identity.before, identity.after], [8, 4]);
  assert.equal(group(r, 'Conv(b2.conv2.weight) + Conv(b2.down.weight)').before, 16);
  const w = r.model.graph.initializers;
  assert.deepEqual(w.get('stem.weight')!.dims, [4, 3, 3, 3]);
  assert.deepEqual(w.get('b1.conv2.weight')!.dims, [4, 4, 3, 3], 'the skip keeps block 1 output width equal to the stem');
  // Projection block: conv2 output and the 1×1 downsample are coupled through the Add.
  assert.equal(w.get('b2.conv2.weight')!.dims[0], w.get('b2.down.weight')!.dims[0]);
  assert.equal(w.get('b2.conv2.weight')!.dims[0], 8);
  // Depthwise: the group count follows its input channels.
  const dwNode = r.model.graph.nodes.find((n) => n.inputs[1] === 'dw.weight')!;
  assert.equal(w.get('dw.weight')!.dims[0], 8);
  assert.deepEqual(dwNode.attributes.group, { type: 'int', value: 8 });
  // Concat of the depthwise (8 left) and branch (4 left) channels feeds mix: 12 inputs.
  assert.deepEqual(w.get('mix.weight')!.dims, [6, 12, 1, 1]);
  // The classifier's outputs are a graph output: never pruned.
  assert.deepEqual(w.get('fc.weight')!.dims, [5, 6]);
});

test('MLP (MatMul + Add, Gemm transB): hidden neurons removed from both sides', async () => {
  const r = await checkExact(mlpNet(), { x: randomTensor([3, 20], lcg(8), 2) });
  const w = r.model.graph.initializers;
  assert.deepEqual(w.get('fc1.weight')!.dims, [20, 8]);
  assert.deepEqual(w.get('fc1.bias')!.dims, [8]);
  assert.deepEqual(w.get('fc2.weight')!.dims, [6, 8]);
  assert.deepEqual(w.get('fc3.weight')!.dims, [6, 4]);
});

test('transformer FFN: the inner units go, the LayerNorm-normalised residual width stays', async () => {
  const r = await checkExact(ffnBlock(), { x: randomTensor([2, 5, 16], lcg(9), 2) });
  const w = r.model.graph.initializers;
  assert.deepEqual(w.get('ffn.up.weight')!.dims, [16, 32]);
  assert.deepEqual(w.get('ffn.down.weight')!.dims, [32, 16]);
  assert.deepEqual(w.get('ln.weight')!.dims, [16]);
});

test('attention: whole heads go from Q, K, V and the output projection; the Shape-chain reshape target follows', async () => {
  const r = await checkExact(attentionBlock(), { x: randomTensor([2, 6, 32], lcg(10), 2) });
  const w = r.model.graph.initializers;
  for (const p of ['q', 'k', 'v']) assert.deepEqual(w.get(`${p}.weight`)!.dims, [32, 16], `${p}: 2 of 4 heads of 8`);
  assert.deepEqual(w.get('o.weight')!.dims, [16, 16]);
  const heads = group(r, 'MatMul(q.weight) + MatMul(k.weight) + MatMul(v.weight) → MatMul(o.weight)');
  assert.deepEqual([heads.before, heads.after], [4, 2], 'four heads, two left');
});

test('PyTorch-exported transformer (fused QKV + Split, Constant nodes, decomposed LayerNorm at opset 13): heads and FFN pruned exactly', async () => {
  for (const opset of [13, 17] as const) {
    const c = torchTransformer(opset);
    const r = await checkExact(c.model, c.feeds(3, 1));
    const w = r.model.graph.initializers;
    assert.deepEqual(w.get('onnx::MatMul_qkv')!.dims, [64, 96], `opset ${opset}: 2 of 4 heads in each of Q, K, V`);
    assert.deepEqual(w.get('onnx::MatMul_intermediate.dense')!.dims, [64, 64]);
    assert.deepEqual(w.get('embeddings.word_embeddings.weight')!.dims, [200, 64], 'the LayerNorm residual stream stays');
  }
});

test('the cnn preset halves its channels and still matches the zeroed original', async () => {
  const net = buildPreset({ spec: 'cnn', inputShape: [1, 28, 28], numClasses: 10, normalize: { mean: [0.13], std: [0.31] }, seed: 1 });
  const model = net.inferenceGraph({});
  const r = await checkExact(model, { [model.graph.inputs[0]!.name]: randomTensor([2, 1, 28, 28], lcg(11), 1, 0.5) });
  const convs = r.model.graph.nodes.filter((n) => n.opType === 'Conv').map((n) => r.model.graph.initializers.get(n.inputs[1]!)!.dims[0]);
  assert.deepEqual(convs, [16, 32, 64]);
});

test('nothing prunable is a one-line error; the analysis says why channels stay', () => {
  const m = mlpNet();
  // Only the last layer (MatMul, Add, Identity): its outputs are the graph output.
  m.graph.nodes = m.graph.nodes.slice(-3);
  m.graph.inputs = [{ name: m.graph.nodes[0]!.inputs[0]!, type: { dtype: 'float32', shape: ['N', 12] } }];
  assert.throws(() => structuredPrune({ model: m, sparsity: 0.5, name: 'head.onnx' }), /^TrainferError: head\.onnx: nothing to prune structurally: every channel group must stay \(reaches graph output 'logits'\)$/);
  const dg = analyzeDependencies(torchTransformer(17).model);
  const ln = dg.groups.find((g) => g.atoms.some((a) => a.lossy));
  assert.ok(ln, 'the residual stream is normalised by LayerNorms');
  assert.match(ln.atoms[0]!.lossy ?? '', /LayerNormalization node .* normalises over them/);
  assert.match(ln.description, /Gather\(embeddings\.word_embeddings\.weight\)/);
});
