/**
 * Test fixtures shared by the trainer and CLI tests: an ONNX model shaped the way PyTorch's exporter
 * writes one. Not part of the public API.
 */
import { attr } from '../onnx/attr.js';
import { GraphBuilder } from '../onnx/builder.js';
import type { Model } from '../onnx/ir.js';
import { Tensor } from '../onnx/tensor.js';
import { Rng } from '../util/rng.js';

/** A 784-64-10 MLP as torch.onnx.export writes it (weights [out, in], transB=1, dynamic batch). */
export function pytorchStyleMlp(seed = 0): Model {
  const rng = Rng.fromSeed(seed);
  const w = (o: number, i: number) => Tensor.f32([o, i], Array.from({ length: o * i }, () => (rng.uniform() * 2 - 1) / Math.sqrt(i)));
  const g = new GraphBuilder({ name: 'torch_jit' });
  const x = g.input('input.1', 'float32', ['batch_size', 1, 28, 28]);
  g.initializer('fc1.weight', w(64, 784));
  g.initializer('fc1.bias', new Tensor('float32', [64]));
  g.initializer('fc2.weight', w(10, 64));
  g.initializer('fc2.bias', new Tensor('float32', [10]));
  const k = (t: Tensor) => g.op1('Constant', [], { value: attr.tensor(t) });
  // x.view(x.size(0), -1)
  const n = g.op1('Gather', [g.shape(x), k(Tensor.i64([], [0]))], { axis: attr.int(0) });
  const shape = g.concat([g.op1('Unsqueeze', [n, k(Tensor.i64([1], [0]))]), k(Tensor.i64([1], [-1]))], 0);
  const flat = g.reshape(x, shape);
  const h = g.relu(g.gemm(flat, 'fc1.weight', 'fc1.bias', { transB: true, alpha: 1, beta: 1 }));
  const y = g.gemm(h, 'fc2.weight', 'fc2.bias', { transB: true });
  g.output(y, '15', { dtype: 'float32', shape: ['batch_size', 10] });
  return g.toModel({ opset: 17, irVersion: 8 });
}

/**
 * A token classifier as torch.onnx.export writes an `nn.Embedding` model: int64 `input_ids`
 * [batch_size, 8] → Gather on `embedding.weight` [20, 8] → + a fixed positional table `pos_table` [8, 8]
 * → mean over the sequence → Gemm (`fc.weight` [2, 8], transB) → logits [batch_size, 2].
 */
export function pytorchStyleTokenModel(seed = 0): Model {
  const rng = Rng.fromSeed(seed);
  const r = (n: number, s: number) => Array.from({ length: n }, () => (rng.uniform() * 2 - 1) * s);
  const g = new GraphBuilder({ name: 'torch_jit' });
  const ids = g.input('input_ids', 'int64', ['batch_size', 8]);
  g.initializer('embedding.weight', Tensor.f32([20, 8], r(160, 1)));
  g.initializer('pos_table', Tensor.f32([8, 8], Array.from({ length: 64 }, (_, i) => Math.sin(i / 3))));
  g.initializer('fc.weight', Tensor.f32([2, 8], r(16, 0.3)));
  g.initializer('fc.bias', new Tensor('float32', [2]));
  const emb = g.add(g.gather('embedding.weight', ids, 0), 'pos_table'); // [B, 8, 8]
  const pooled = g.op1('ReduceMean', [emb], { axes: attr.ints([1]), keepdims: attr.int(0) }); // [B, 8] (opset 17: axes is an attribute)
  g.output(g.gemm(pooled, 'fc.weight', 'fc.bias', { transB: true }), 'logits', { dtype: 'float32', shape: ['batch_size', 2] });
  return g.toModel({ opset: 17, irVersion: 8 });
}
