/**
 * Test support (not public API): graphs shaped like what other toolchains export, for the pruning tests —
 * a ResNet-style network (Conv → BatchNorm → Relu blocks, identity and projection skips, a depthwise
 * Conv, a channel Concat, global pooling, Flatten → Gemm), an MLP (MatMul + Add and Gemm with transB),
 * a transformer FFN block with LayerNorm and a residual from the input, and an attention block whose
 * heads come from Reshape/Transpose with a PyTorch-style Shape → Gather → Unsqueeze → Concat target.
 */
import { attr } from '../../onnx/attr.js';
import { GraphBuilder } from '../../onnx/builder.js';
import type { Model } from '../../onnx/ir.js';
import { Tensor } from '../../onnx/tensor.js';
import { lcg, randomTensor } from '../quantize/test-models.js';

function bn(g: GraphBuilder, x: string, c: number, r: () => number, name: string): string {
  return g.batchNormalization(x, g.initializer(`${name}.weight`, randomTensor([c], r, 0.6, 1)), g.initializer(`${name}.bias`, randomTensor([c], r, 0.4)), g.initializer(`${name}.running_mean`, randomTensor([c], r, 0.4)), g.initializer(`${name}.running_var`, randomTensor([c], r, 0.6, 1)));
}

function convW(g: GraphBuilder, name: string, dims: number[], r: () => number): string {
  return g.initializer(name, randomTensor(dims, r, 2 / Math.sqrt(dims.slice(1).reduce((a, b) => a * b, 1))));
}

/**
 * x [N, 3, 8, 8] → stem conv 3→8 + BN + Relu → basic block (conv 8→8, BN, Relu, conv 8→8, BN, + skip,
 * Relu) → projection block (conv 8→16 stride 2 … + conv1×1 8→16 + BN skip) → depthwise conv 16 (group 16)
 * + BN + Relu → Concat with a conv 16→8 branch (24 channels) → conv1×1 24→12 + bias → GlobalAveragePool
 * → Flatten → Gemm 12→5.
 */
export function resnetBlock(seed = 3): Model {
  const r = lcg(seed);
  const g = new GraphBuilder({ name: 'resnet_block' });
  const x = g.input('x', 'float32', ['N', 3, 8, 8]);
  const same = { pads: [1, 1, 1, 1] };
  const stem = g.relu(bn(g, g.conv(x, convW(g, 'stem.weight', [8, 3, 3, 3], r), undefined, same), 8, r, 'stem.bn'));
  let h = g.relu(bn(g, g.conv(stem, convW(g, 'b1.conv1.weight', [8, 8, 3, 3], r), undefined, same), 8, r, 'b1.bn1'));
  h = bn(g, g.conv(h, convW(g, 'b1.conv2.weight', [8, 8, 3, 3], r), undefined, same), 8, r, 'b1.bn2');
  const b1 = g.relu(g.add(h, stem));
  let p = g.relu(bn(g, g.conv(b1, convW(g, 'b2.conv1.weight', [16, 8, 3, 3], r), undefined, { ...same, strides: [2, 2] }), 16, r, 'b2.bn1'));
  p = bn(g, g.conv(p, convW(g, 'b2.conv2.weight', [16, 16, 3, 3], r), undefined, same), 16, r, 'b2.bn2');
  const skip = bn(g, g.conv(b1, convW(g, 'b2.down.weight', [16, 8, 1, 1], r), undefined, { strides: [2, 2] }), 16, r, 'b2.down.bn');
  const b2 = g.relu(g.add(p, skip));
  const dw = g.relu(bn(g, g.conv(b2, convW(g, 'dw.weight', [16, 1, 3, 3], r), undefined, { ...same, group: 16 }), 16, r, 'dw.bn'));
  const branch = g.relu(g.conv(b2, convW(g, 'branch.weight', [8, 16, 1, 1], r), g.initializer('branch.bias', randomTensor([8], r, 0.2))));
  const cat = g.concat([dw, branch], 1);
  const mix = g.relu(g.conv(cat, convW(g, 'mix.weight', [12, 24, 1, 1], r), g.initializer('mix.bias', randomTensor([12], r, 0.2))));
  const pooled = g.flatten(g.globalAveragePool(mix));
  g.output(g.gemm(pooled, g.initializer('fc.weight', randomTensor([5, 12], r, 0.8)), g.initializer('fc.bias', randomTensor([5], r, 0.2)), { transB: true }), 'logits');
  return g.toModel({ opset: 17 });
}

/** x [N, 20] → MatMul 20→16 + Add + Relu → Gemm (transB) 16→12 + Relu → MatMul 12→4 + Add. */
export function mlpNet(seed = 4): Model {
  const r = lcg(seed);
  const g = new GraphBuilder({ name: 'mlp' });
  const x = g.input('x', 'float32', ['N', 20]);
  let h = g.relu(g.add(g.matMul(x, g.initializer('fc1.weight', randomTensor([20, 16], r, 0.5))), g.initializer('fc1.bias', randomTensor([16], r, 0.2))));
  h = g.relu(g.gemm(h, g.initializer('fc2.weight', randomTensor([12, 16], r, 0.5)), g.initializer('fc2.bias', randomTensor([12], r, 0.2)), { transB: true }));
  g.output(g.add(g.matMul(h, g.initializer('fc3.weight', randomTensor([12, 4], r, 0.5))), g.initializer('fc3.bias', randomTensor([4], r, 0.2))), 'logits');
  return g.toModel({ opset: 17 });
}

/** x [N, S, 16] → LayerNorm → MatMul 16→64 + Add → Gelu → MatMul 64→16 + Add → + x (a transformer FFN block). */
export function ffnBlock(seed = 5): Model {
  const r = lcg(seed);
  const g = new GraphBuilder({ name: 'ffn' });
  const x = g.input('x', 'float32', ['N', 'S', 16]);
  const ln = g.layerNormalization(x, g.initializer('ln.weight', randomTensor([16], r, 0.4, 1)), g.initializer('ln.bias', randomTensor([16], r, 0.2)), { axis: -1 });
  const inner = g.gelu(g.add(g.matMul(ln, g.initializer('ffn.up.weight', randomTensor([16, 64], r, 0.5))), g.initializer('ffn.up.bias', randomTensor([64], r, 0.2))));
  const outp = g.add(g.matMul(inner, g.initializer('ffn.down.weight', randomTensor([64, 16], r, 0.25))), g.initializer('ffn.down.bias', randomTensor([16], r, 0.2)));
  g.output(g.add(outp, x), 'y');
  return g.toModel({ opset: 20 });
}

/**
 * Self-attention as PyTorch exports it: x [B, S, 32] → Q/K/V projections (MatMul + Add) → Reshape to
 * [B, S, 4, 8] through Shape → Gather → Unsqueeze → Concat(…, [4, 8]) with Constant nodes → Transpose →
 * scores Q·Kᵀ / √8 → Softmax → ·V → Transpose → Reshape [B, S, 32] → output projection, then mean over
 * the sequence and a Gemm classifier (3 classes).
 */
export function attentionBlock(seed = 6): Model {
  const r = lcg(seed);
  const g = new GraphBuilder({ name: 'attention' });
  const d = 32;
  const x = g.input('x', 'float32', ['batch', 'seq', d]);
  const cst = (t: Tensor): string => g.op1('Constant', [], { value: attr.tensor(t) });
  const dim = (axis: number): string => g.op1('Unsqueeze', [g.gather(g.shape(x), cst(Tensor.i64([], [axis])), 0), cst(Tensor.i64([1], [0]))]);
  const heads = g.concat([dim(0), dim(1), cst(Tensor.i64([2], [4, 8]))], 0);
  const proj = (name: string): string => g.add(g.matMul(x, g.initializer(`${name}.weight`, randomTensor([d, d], r, 0.6))), g.initializer(`${name}.bias`, randomTensor([d], r, 0.2)));
  const split = (t: string, perm: number[]): string => g.transpose(g.reshape(t, heads), perm);
  const q = split(proj('q'), [0, 2, 1, 3]);
  const kT = split(proj('k'), [0, 2, 3, 1]);
  const v = split(proj('v'), [0, 2, 1, 3]);
  const scores = g.div(g.matMul(q, kT), cst(Tensor.f32([], [Math.sqrt(8)])));
  const ctx = g.transpose(g.matMul(g.softmax(scores, -1), v), [0, 2, 1, 3]);
  const merged = g.reshape(ctx, g.concat([dim(0), dim(1), cst(Tensor.i64([1], [d]))], 0));
  const out = g.add(g.matMul(merged, g.initializer('o.weight', randomTensor([d, d], r, 0.6))), g.initializer('o.bias', randomTensor([d], r, 0.2)));
  const pooled = g.reduceMean(out, [1], false);
  g.output(g.gemm(pooled, g.initializer('cls.weight', randomTensor([3, d], r, 0.6)), g.initializer('cls.bias', randomTensor([3], r, 0.1)), { transB: true }), 'logits');
  return g.toModel({ opset: 18 });
}
