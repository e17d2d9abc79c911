/**
 * MNIST-shaped example models built with `GraphBuilder` (random weights, fixed seed): what the serving
 * tests, the serving bench and the docs' walkthrough put in a model repository. Like Trainfer's exports,
 * they declare themselves batch-first (`trainfer.batch_first` metadata), so the server batches them.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GraphBuilder } from '../onnx/builder.js';
import type { Model } from '../onnx/ir.js';
import { writeModel } from '../onnx/model-io.js';
import { Tensor } from '../onnx/tensor.js';
import { BATCH_FIRST_KEY } from './batching-policy.js';
import type { ModelConfig } from './config.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32 - 0.5;
}

function weights(rand: () => number, dims: number[], scale: number): Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  return Tensor.f32(dims, Array.from({ length: n }, () => rand() * scale));
}

/** MLP `pixels: [batch, 1, 28, 28]` float → `logits: [batch, 10]`: 784 → `hidden` (ReLU each) → 10. Default hidden [64]. */
export function mnistMlp(options: { seed?: number; hidden?: number[] } = {}): Model {
  const rand = rng(options.seed ?? 1);
  const g = new GraphBuilder({ name: 'mnist_mlp' });
  const x = g.input('pixels', 'float32', ['batch', 1, 28, 28]);
  let h = g.flatten(x, 1); // [batch, 784]
  let width = 784;
  (options.hidden ?? [64]).forEach((n, i) => {
    const w = g.initializer(`w${i + 1}`, weights(rand, [width, n], 2 / Math.sqrt(width)));
    const b = g.initializer(`b${i + 1}`, weights(rand, [n], 0.1));
    h = g.relu(g.add(g.matMul(h, w), b)); // [batch, n]
    width = n;
  });
  const wOut = g.initializer('w_out', weights(rand, [width, 10], 2 / Math.sqrt(width)));
  g.output(g.matMul(h, wOut), 'logits', { dtype: 'float32', shape: ['batch', 10] });
  return batchFirst(g.toModel());
}

/**
 * LeNet-like CNN `pixels: [batch, 1, 28, 28]` → `logits: [batch, 10]`: conv 1→32 5×5, ReLU, maxpool,
 * conv 32→64 5×5, ReLU, maxpool, FC 3136→128, ReLU, FC 128→10.
 */
export function mnistCnn(options: { seed?: number } = {}): Model {
  const rand = rng(options.seed ?? 2);
  const g = new GraphBuilder({ name: 'mnist_cnn' });
  const x = g.input('pixels', 'float32', ['batch', 1, 28, 28]);
  const c1 = g.relu(g.conv(x, g.initializer('c1w', weights(rand, [32, 1, 5, 5], 0.4)), g.initializer('c1b', weights(rand, [32], 0.1)), { pads: [2, 2, 2, 2] })); // [N, 32, 28, 28]
  const p1 = g.maxPool(c1, { kernelShape: [2, 2], strides: [2, 2] }); // [N, 32, 14, 14]
  const c2 = g.relu(g.conv(p1, g.initializer('c2w', weights(rand, [64, 32, 5, 5], 0.07)), g.initializer('c2b', weights(rand, [64], 0.1)), { pads: [2, 2, 2, 2] })); // [N, 64, 14, 14]
  const p2 = g.maxPool(c2, { kernelShape: [2, 2], strides: [2, 2] }); // [N, 64, 7, 7]
  const f = g.flatten(p2, 1); // [N, 3136]
  const h = g.relu(g.add(g.matMul(f, g.initializer('f1w', weights(rand, [3136, 128], 0.036))), g.initializer('f1b', weights(rand, [128], 0.1)))); // [N, 128]
  g.output(g.add(g.matMul(h, g.initializer('f2w', weights(rand, [128, 10], 0.18))), g.initializer('f2b', weights(rand, [10], 0.1))), 'logits', { dtype: 'float32', shape: ['batch', 10] });
  return batchFirst(g.toModel());
}

function batchFirst(m: Model): Model {
  m.metadata.set(BATCH_FIRST_KEY, 'true');
  return m;
}

/** Writes `model` as `<repo>/<name>/<version>/model.onnx` (and `config.json` when given). Returns the model file. */
export function addToRepository(o: { repo: string; name: string; version?: number; model: Model; config?: Partial<ModelConfig> }): string {
  const dir = join(o.repo, o.name, String(o.version ?? 1));
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'model.onnx');
  writeModel(file, o.model);
  if (o.config) writeFileSync(join(o.repo, o.name, 'config.json'), JSON.stringify(o.config, null, 2));
  return file;
}
