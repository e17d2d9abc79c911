/**
 * Test support (not public API): small seeded models for the quantization tests — a LeNet-like CNN,
 * a model touching every op static quantization covers, an MLP — plus helpers to run a model and
 * compare outputs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { attr } from '../../onnx/attr.js';
import { modelToProto } from '../../onnx/ir-proto.js';
import { encodeModelProto, readModel } from '../../onnx/model-io.js';
import { GraphBuilder } from '../../onnx/builder.js';
import type { Model } from '../../onnx/ir.js';
import { Tensor } from '../../onnx/tensor.js';
import { Session } from '../../runtime/session.js';

/** A seeded uniform generator in [-0.5, 0.5). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32 - 0.5;
}

/** A float32 tensor of seeded uniform values in [-scale/2, scale/2) (+ offset). */
export function randomTensor(dims: number[], rnd: () => number, scale = 1, offset = 0): Tensor {
  return Tensor.f32(dims, Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rnd() * scale + offset));
}

/** conv(1→8) BN relu pool conv(8→16)+b relu pool flatten gemm(784→32) relu gemm(32→10); input x [N,1,28,28]. */
export function smallCnn(seed = 1): Model {
  const r = lcg(seed);
  const g = new GraphBuilder({ name: 'small_cnn' });
  const x = g.input('x', 'float32', ['N', 1, 28, 28]);
  let h = g.conv(x, g.constant(randomTensor([8, 1, 3, 3], r, 0.8)), undefined, { pads: [1, 1, 1, 1] });
  h = g.batchNormalization(h, g.constant(randomTensor([8], r, 0.5, 1)), g.constant(randomTensor([8], r, 0.2)), g.constant(randomTensor([8], r, 0.2)), g.constant(randomTensor([8], r, 0.5, 1)));
  h = g.maxPool(g.relu(h), { kernelShape: [2, 2], strides: [2, 2] });
  h = g.relu(g.conv(h, g.constant(randomTensor([16, 8, 3, 3], r, 0.4)), g.constant(randomTensor([16], r, 0.2)), { pads: [1, 1, 1, 1] }));
  h = g.flatten(g.maxPool(h, { kernelShape: [2, 2], strides: [2, 2] }));
  h = g.relu(g.gemm(h, g.constant(randomTensor([784, 32], r, 0.1)), g.constant(randomTensor([32], r, 0.2))));
  g.output(g.gemm(h, g.constant(randomTensor([32, 10], r, 0.5)), g.constant(randomTensor([10], r, 0.2))), 'logits');
  return g.toModel({ opset: 17 });
}

/** An MLP x [N, inF] → hidden layers (MatMul + Add + Relu) → classes. */
export function mlp(layers: number[], seed = 2): Model {
  const r = lcg(seed);
  const g = new GraphBuilder({ name: 'mlp' });
  let h = g.input('x', 'float32', ['N', layers[0]!]);
  for (let i = 1; i < layers.length; i++) {
    const [fi, fo] = [layers[i - 1]!, layers[i]!];
    h = g.add(g.matMul(h, g.constant(randomTensor([fi, fo], r, 2 / Math.sqrt(fi)))), g.constant(randomTensor([fo], r, 0.1)));
    if (i < layers.length - 1) h = g.relu(h);
  }
  g.output(h, 'logits');
  return g.toModel({ opset: 17 });
}

/**
 * One model using every op static quantization covers: Conv, ConvTranspose, MatMul, Gemm, Add, Mul, Relu,
 * Clip, MaxPool, AveragePool, GlobalAveragePool, Concat, Reshape, Transpose, Flatten, Resize, Softmax, Gather.
 * Input x [N, 2, 8, 8] → outputs `probs` [N, 6] and `emb` [N, 4, 6].
 */
export function allOpsModel(seed = 3): Model {
  const r = lcg(seed);
  const g = new GraphBuilder({ name: 'all_ops' });
  const x = g.input('x', 'float32', ['N', 2, 8, 8]);
  const c1 = g.relu(g.conv(x, g.constant(randomTensor([4, 2, 3, 3], r, 0.8)), g.constant(randomTensor([4], r, 0.2)), { pads: [1, 1, 1, 1] })); // [N,4,8,8]
  const c2 = g.clip(g.conv(x, g.constant(randomTensor([4, 2, 1, 1], r, 0.8))), g.scalar(0), g.scalar(6)); // [N,4,8,8]
  const cat = g.concat([c1, c2], 1); // [N,8,8,8]
  const p = g.maxPool(cat, { kernelShape: [2, 2], strides: [2, 2] }); // [N,8,4,4]
  const up = g.op1('Resize', [p, '', g.constant(Tensor.f32([4], [1, 1, 2, 2]))], { mode: attr.string('nearest') }); // [N,8,8,8]
  const sum = g.add(up, cat);
  const prod = g.mul(sum, g.constant(randomTensor([1, 8, 1, 1], r, 0.5, 1)));
  const ct = g.convTranspose(prod, g.constant(randomTensor([8, 4, 2, 2], r, 0.4)), g.constant(randomTensor([4], r, 0.1)), { strides: [2, 2] }); // [N,4,16,16]
  const ap = g.averagePool(ct, { kernelShape: [4, 4], strides: [4, 4] }); // [N,4,4,4]
  const gap = g.flatten(g.globalAveragePool(ap)); // [N,4]
  const t = g.transpose(g.reshape(ap, [-1, 4, 16]), [0, 2, 1]); // [N,16,4]
  const mm = g.matMul(t, g.constant(randomTensor([4, 6], r, 0.8))); // [N,16,6]
  const emb = g.gather(mm, g.int64s([0, 3, 5, 7]), 1); // [N,4,6]
  const logits = g.gemm(gap, g.constant(randomTensor([4, 6], r, 0.8)), g.constant(randomTensor([6], r, 0.2)));
  g.output(g.softmax(logits), 'probs');
  g.output(emb, 'emb');
  return g.toModel({ opset: 17 });
}

/** Runs a model on onnxruntime-node (1 thread). */
export async function runModel(model: Model, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const s = await Session.create({ model }, { intraOpThreads: 1 });
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

/** The op types of the graph onnxruntime actually runs after its optimisations (read back from its optimized model file). */
export async function optimizedOps(model: Model): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'trainfer-q-'));
  const path = join(dir, 'optimized.onnx');
  try {
    const s = await ort.InferenceSession.create(encodeModelProto(modelToProto(model)), { optimizedModelFilePath: path, intraOpNumThreads: 1, logSeverityLevel: 3 });
    await s.release();
    return readModel(path).graph.nodes.map((n) => n.opType);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Max |a − b| and cosine similarity of two float tensors. */
export function closeness(a: Tensor, b: Tensor): { maxDiff: number; cosine: number } {
  const x = a.data as Float32Array;
  const y = b.data as Float32Array;
  let maxDiff = 0;
  let dot = 0;
  let nx = 0;
  let ny = 0;
  for (let i = 0; i < x.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(x[i]! - y[i]!));
    dot += x[i]! * y[i]!;
    nx += x[i]! * x[i]!;
    ny += y[i]! * y[i]!;
  }
  return { maxDiff, cosine: dot / Math.sqrt(nx * ny) };
}
