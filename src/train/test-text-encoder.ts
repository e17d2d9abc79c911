/**
 * Test fixture (not public API): a text classifier shaped the way `torch.onnx.export` (opset 17)
 * writes a PyTorch module built from `nn.Embedding` + a learned positional table +
 * `nn.TransformerEncoder(nn.TransformerEncoderLayer(d, nhead, dim_feedforward, batch_first=True))`
 * (post-LN, ReLU FFN, the fused `in_proj_weight` [3d, d] split into q/k/v, heads by Reshape + Transpose,
 * `src_key_padding_mask` as an additive -1e4 bias) + masked mean pooling + `nn.Linear` (Gemm, transB).
 * Inputs `input_ids`, `attention_mask` int64 [batch_size, sequence]; output `logits` [batch_size, 2].
 */
import { attr } from '../onnx/attr.js';
import { GraphBuilder } from '../onnx/builder.js';
import type { Model } from '../onnx/ir.js';
import { Tensor } from '../onnx/tensor.js';
import { Rng } from '../util/rng.js';

/** Options for `pytorchStyleEncoder`. */
export interface EncoderFixtureOptions {
  vocabSize: number;
  maxLength: number;
  dim?: number;
  heads?: number;
  layers?: number;
  seed?: number;
}

/** Builds the encoder classifier (see the file header). */
export function pytorchStyleEncoder(o: EncoderFixtureOptions): Model {
  const d = o.dim ?? 32;
  const h = o.heads ?? 2;
  const dh = d / h;
  const ff = 2 * d;
  const rng = Rng.fromSeed(o.seed ?? 0);
  const rand = (dims: number[], s: number) => Tensor.f32(dims, Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => (rng.uniform() * 2 - 1) * s));
  const ones = (n: number) => Tensor.f32([n], new Array<number>(n).fill(1));
  const zeros = (n: number) => new Tensor('float32', [n]);
  const g = new GraphBuilder({ name: 'main_graph' });
  const k = (t: Tensor) => g.op1('Constant', [], { value: attr.tensor(t) });
  const ids = g.input('input_ids', 'int64', ['batch_size', 'sequence']);
  const mask = g.input('attention_mask', 'int64', ['batch_size', 'sequence']);
  g.initializer('embedding.weight', rand([o.vocabSize, d], 0.5));
  g.initializer('pos_embedding', rand([1, o.maxLength, d], 0.1));
  // x = embedding(ids) + pos_embedding[:, :seq]
  const seq = g.op1('Unsqueeze', [g.op1('Gather', [g.shape(ids), k(Tensor.i64([], [1]))], { axis: attr.int(0) }), k(Tensor.i64([1], [0]))]);
  const pos = g.op1('Slice', ['pos_embedding', k(Tensor.i64([1], [0])), seq, k(Tensor.i64([1], [1]))]);
  let x = g.add(g.op1('Gather', ['embedding.weight', ids], { axis: attr.int(0) }), pos);
  // src_key_padding_mask = attention_mask == 0 → additive bias [B, 1, 1, S]
  const maskf = g.cast(mask, 'float32');
  const bias = g.unsqueeze(g.mul(g.sub(k(Tensor.f32([], [1])), maskf), k(Tensor.f32([], [-10000]))), [1, 2]);
  const heads = (t: string) => g.transpose(g.reshape(t, [0, 0, h, dh]), [0, 2, 1, 3]);
  for (let l = 0; l < (o.layers ?? 1); l++) {
    const p = `transformer_encoder.layers.${l}`;
    g.initializer(`${p}.self_attn.in_proj_weight`, rand([3 * d, d], Math.sqrt(6 / (4 * d))));
    g.initializer(`${p}.self_attn.in_proj_bias`, zeros(3 * d));
    g.initializer(`${p}.self_attn.out_proj.weight`, rand([d, d], 1 / Math.sqrt(d)));
    g.initializer(`${p}.self_attn.out_proj.bias`, zeros(d));
    g.initializer(`${p}.linear1.weight`, rand([ff, d], 1 / Math.sqrt(d)));
    g.initializer(`${p}.linear1.bias`, zeros(ff));
    g.initializer(`${p}.linear2.weight`, rand([d, ff], 1 / Math.sqrt(ff)));
    g.initializer(`${p}.linear2.bias`, zeros(d));
    for (const n of ['norm1', 'norm2']) {
      g.initializer(`${p}.${n}.weight`, ones(d));
      g.initializer(`${p}.${n}.bias`, zeros(d));
    }
    const qkv = g.add(g.matMul(x, g.transpose(`${p}.self_attn.in_proj_weight`, [1, 0])), `${p}.self_attn.in_proj_bias`);
    const [q, kk, v] = g.split(qkv, { axis: -1, sizes: [d, d, d] }) as [string, string, string];
    const scores = g.add(g.mul(g.matMul(heads(q), g.transpose(heads(kk), [0, 1, 3, 2])), k(Tensor.f32([], [1 / Math.sqrt(dh)]))), bias);
    const ctx = g.reshape(g.transpose(g.matMul(g.softmax(scores, -1), heads(v)), [0, 2, 1, 3]), [0, 0, d]);
    const attn = g.add(g.matMul(ctx, g.transpose(`${p}.self_attn.out_proj.weight`, [1, 0])), `${p}.self_attn.out_proj.bias`);
    x = g.layerNormalization(g.add(x, attn), `${p}.norm1.weight`, `${p}.norm1.bias`, { axis: -1, epsilon: 1e-5 });
    const hid = g.relu(g.add(g.matMul(x, g.transpose(`${p}.linear1.weight`, [1, 0])), `${p}.linear1.bias`));
    const out = g.add(g.matMul(hid, g.transpose(`${p}.linear2.weight`, [1, 0])), `${p}.linear2.bias`);
    x = g.layerNormalization(g.add(x, out), `${p}.norm2.weight`, `${p}.norm2.bias`, { axis: -1, epsilon: 1e-5 });
  }
  // (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
  const m = g.unsqueeze(maskf, [2]);
  const pooled = g.div(g.reduceSum(g.mul(x, m), [1], false), g.reduceSum(maskf, [1], true));
  g.initializer('classifier.weight', rand([2, d], 1 / Math.sqrt(d)));
  g.initializer('classifier.bias', zeros(2));
  g.output(g.gemm(pooled, 'classifier.weight', 'classifier.bias', { transB: true }), 'logits', { dtype: 'float32', shape: ['batch_size', 2] });
  return g.toModel({ opset: 17, irVersion: 8 });
}
