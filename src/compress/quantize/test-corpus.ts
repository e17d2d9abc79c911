/**
 * Test support (not public API): a corpus of models shaped like other toolchains' exports, built with the
 * `GraphBuilder` at the opsets those toolchains write — paddle2onnx (opset 9–11: attribute-form Slice/
 * Pad/Clip/Squeeze, Upsample and Resize-10, BatchNormalization, Dropout with a ratio, Split with sizes),
 * PyTorch's exporter (opset 13–18: Constant nodes, Shape → Gather → Unsqueeze → Concat → Reshape chains,
 * dynamic batch and sequence dims, two int64 inputs, If/Loop subgraphs holding weights), tf2onnx (NHWC
 * input with Transposes, opset 13) — plus the real PyTorch exports in src/onnx/testdata. Each comes with
 * a generator of realistic inputs (images with structure, token ids with padding masks).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { attr } from '../../onnx/attr.js';
import { GraphBuilder } from '../../onnx/builder.js';
import { Graph, type Model } from '../../onnx/ir.js';
import { readModel } from '../../onnx/model-io.js';
import { Tensor } from '../../onnx/tensor.js';
import type { QuantizeMode } from './quantize.js';
import { lcg } from './test-models.js';

/** One corpus model. */
export interface CorpusModel {
  name: string;
  toolchain: 'paddle2onnx' | 'pytorch' | 'tf2onnx';
  model: Model;
  /** A batch of `n` realistic samples (seeded). */
  feeds(n: number, seed: number): Record<string, Tensor>;
  /** The quantization modes that have something to do on this model. */
  modes: QuantizeMode[];
}

/** Uniform weights with He-like scale: std ≈ √(2 / fanIn). */
function he(dims: number[], fanIn: number, r: () => number): Tensor {
  const s = Math.sqrt(24 / fanIn);
  return Tensor.f32(dims, Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => r() * s));
}

function uniform(dims: number[], r: () => number, scale: number, offset = 0): Tensor {
  return Tensor.f32(dims, Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => r() * scale + offset));
}

/** Images with structure (a few random gratings plus noise), values in [0, 1]; NCHW or NHWC. */
export function images(n: number, c: number, h: number, w: number, seed: number, layout: 'NCHW' | 'NHWC' = 'NCHW'): Tensor {
  const r = lcg(seed);
  const out = new Float32Array(n * c * h * w);
  for (let s = 0; s < n; s++) {
    const waves = Array.from({ length: 3 }, () => ({ fx: r() * 0.8, fy: r() * 0.8, ph: r() * 6, amp: 0.3 + r() * 0.2 }));
    for (let ch = 0; ch < c; ch++) {
      const tint = r() * 0.4;
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          let v = 0.5 + tint;
          for (const wv of waves) v += wv.amp * Math.sin(wv.fx * x * (ch + 1) + wv.fy * y + wv.ph);
          v = Math.min(1, Math.max(0, v / 1.6 + r() * 0.1));
          const idx = layout === 'NCHW' ? ((s * c + ch) * h + y) * w + x : ((s * h + y) * w + x) * c + ch;
          out[idx] = v;
        }
      }
    }
  }
  return new Tensor('float32', layout === 'NCHW' ? [n, c, h, w] : [n, h, w, c], out);
}

/** Token ids in [1, vocab) with a padding mask: each row keeps a random prefix of length ≥ 2. */
export function tokens(n: number, seq: number, vocab: number, seed: number): { ids: Tensor; mask: Tensor } {
  const r = lcg(seed);
  const ids: number[] = [];
  const mask: number[] = [];
  for (let s = 0; s < n; s++) {
    const len = 2 + Math.floor((r() + 0.5) * (seq - 1));
    for (let t = 0; t < seq; t++) {
      ids.push(t < len ? 1 + Math.floor((r() + 0.5) * (vocab - 1)) : 0);
      mask.push(t < len ? 1 : 0);
    }
  }
  return { ids: Tensor.i64([n, seq], ids), mask: Tensor.i64([n, seq], mask) };
}

/** The forms a given opset writes, as exporters emit them. */
class Forms {
  constructor(readonly g: GraphBuilder, readonly opset: number, readonly constants: 'nodes' | 'initializers') {}
  /** An int64/float constant the way the exporter writes it (PyTorch: Constant nodes; paddle2onnx/tf2onnx: initializers). */
  const(t: Tensor): string {
    return this.constants === 'nodes' ? this.g.op1('Constant', [], { value: attr.tensor(t) }) : this.g.constant(t, 'const');
  }
  i64(v: number[]): string {
    return this.const(Tensor.i64([v.length], v));
  }
  unsqueeze(x: string, axes: number[]): string {
    return this.opset >= 13 ? this.g.op1('Unsqueeze', [x, this.i64(axes)]) : this.g.op1('Unsqueeze', [x], { axes: attr.ints(axes) });
  }
  squeeze(x: string, axes: number[]): string {
    return this.opset >= 13 ? this.g.op1('Squeeze', [x, this.i64(axes)]) : this.g.op1('Squeeze', [x], { axes: attr.ints(axes) });
  }
  reduceMean(x: string, axes: number[], keepdims: boolean): string {
    const k = { keepdims: attr.int(keepdims ? 1 : 0) };
    return this.opset >= 18 ? this.g.op1('ReduceMean', [x, this.i64(axes)], k) : this.g.op1('ReduceMean', [x], { ...k, axes: attr.ints(axes) });
  }
  reduceSum(x: string, keepdims: boolean): string {
    return this.g.op1('ReduceSum', [x], { keepdims: attr.int(keepdims ? 1 : 0) });
  }
  split(x: string, sizes: number[], axis: number): string[] {
    const a = { axis: attr.int(axis) };
    return this.opset >= 13 ? this.g.op('Split', [x, this.i64(sizes)], a, { outputs: sizes.length }) : this.g.op('Split', [x], { ...a, split: attr.ints(sizes) }, { outputs: sizes.length });
  }
  clip(x: string, lo: number, hi: number): string {
    return this.opset >= 11 ? this.g.op1('Clip', [x, this.const(Tensor.f32([], [lo])), this.const(Tensor.f32([], [hi]))]) : this.g.op1('Clip', [x], { min: attr.float(lo), max: attr.float(hi) });
  }
  slice(x: string, starts: number[], ends: number[], axes: number[]): string {
    return this.opset >= 10 ? this.g.op1('Slice', [x, this.i64(starts), this.i64(ends), this.i64(axes)]) : this.g.op1('Slice', [x], { starts: attr.ints(starts), ends: attr.ints(ends), axes: attr.ints(axes) });
  }
  pad(x: string, pads: number[]): string {
    return this.opset >= 11 ? this.g.op1('Pad', [x, this.i64(pads)]) : this.g.op1('Pad', [x], { pads: attr.ints(pads), mode: attr.string('constant') });
  }
  upsample2x(x: string): string {
    const scales = this.const(Tensor.f32([4], [1, 1, 2, 2]));
    if (this.opset <= 9) return this.g.op1('Upsample', [x, scales], { mode: attr.string('nearest') });
    if (this.opset === 10) return this.g.op1('Resize', [x, scales], { mode: attr.string('nearest') });
    return this.g.op1('Resize', [x, this.const(Tensor.f32([0], [])), scales], { mode: attr.string('nearest'), coordinate_transformation_mode: attr.string('asymmetric'), nearest_mode: attr.string('floor') });
  }
  dropout(x: string, ratio: number): string {
    return this.opset >= 12 ? this.g.op1('Dropout', [x, this.const(Tensor.f32([], [ratio]))]) : this.g.op1('Dropout', [x], { ratio: attr.float(ratio) });
  }
}

function bn(f: Forms, x: string, c: number, r: () => number, name: string): string {
  const g = f.g;
  return g.op1('BatchNormalization', [x, g.initializer(`${name}.w_0`, uniform([c], r, 0.4, 1)), g.initializer(`${name}.b_0`, uniform([c], r, 0.2)), g.initializer(`${name}.w_1`, uniform([c], r, 0.2)), g.initializer(`${name}.w_2`, uniform([c], r, 0.6, 1))], { epsilon: attr.float(1e-5), momentum: attr.float(0.9) });
}

/**
 * paddle2onnx-style CNN with a small FPN at opset 9, 10 or 11: Conv+BN+ReLU, ReLU6 as Clip, Upsample (9),
 * Resize-10 (10) or Resize-11 (11), Concat, attribute-form Pad and Slice (before 11/10), GlobalAveragePool,
 * Squeeze, Dropout with a ratio, Gemm, Softmax. Input `image` [p2o.DynamicDimension.0, 3, 32, 32].
 */
export function paddleCnn(opset: 9 | 10 | 11): CorpusModel {
  const r = lcg(100 + opset);
  const g = new GraphBuilder({ name: 'paddle_cnn' });
  const f = new Forms(g, opset, 'initializers');
  const x = g.input('image', 'float32', ['p2o.DynamicDimension.0', 3, 32, 32]);
  const conv = (h: string, ci: number, co: number, k: number, name: string, pads = (k - 1) / 2): string =>
    g.conv(h, g.initializer(`${name}.w_0`, he([co, ci, k, k], ci * k * k, r)), undefined, { pads: [pads, pads, pads, pads], kernelShape: [k, k] });
  let h = g.relu(bn(f, conv(x, 3, 16, 3, 'conv2d_0'), 16, r, 'batch_norm_0'));
  h = g.maxPool(h, { kernelShape: [2, 2], strides: [2, 2] }); // 16×16
  const c2 = f.clip(bn(f, conv(h, 16, 32, 3, 'conv2d_1'), 32, r, 'batch_norm_1'), 0, 6); // ReLU6
  const p3 = g.maxPool(c2, { kernelShape: [2, 2], strides: [2, 2] }); // 8×8
  const c3 = g.relu(conv(p3, 32, 32, 3, 'conv2d_2'));
  const up = f.upsample2x(c3); // 16×16
  const cat = g.concat([c2, up], 1); // 64 ch
  const padded = f.pad(cat, [0, 0, 1, 1, 0, 0, 1, 1]);
  const c4 = g.relu(g.conv(padded, g.initializer('conv2d_3.w_0', he([32, 64, 3, 3], 576, r)), g.initializer('conv2d_3.b_0', uniform([32], r, 0.1)))); // 16×16
  const crop = f.slice(c4, [1, 1], [15, 15], [2, 3]);
  const pooled = f.squeeze(g.globalAveragePool(crop), [2, 3]);
  const dropped = f.dropout(pooled, 0.1);
  const logits = g.gemm(dropped, g.initializer('linear_0.w_0', he([10, 32], 32, r)), g.initializer('linear_0.b_0', uniform([10], r, 0.1)), { transB: true });
  g.output(g.op1('Softmax', [logits], { axis: attr.int(1) }), 'softmax_0.tmp_0');
  return {
    name: `paddle2onnx CNN (opset ${opset})`,
    toolchain: 'paddle2onnx',
    model: g.toModel({ opset, irVersion: opset >= 11 ? 6 : opset >= 10 ? 5 : 4 }),
    feeds: (n, seed) => ({ image: images(n, 3, 32, 32, seed) }),
    modes: ['static', 'dynamic', 'fp16'],
  };
}

/**
 * paddle2onnx-style segmentation head at opset 11, all weights in Conv: strided Conv, Split with sizes,
 * an SE gate (ReduceMean with axes → Unsqueeze → 1×1 Conv → Sigmoid → Mul), Concat, Resize back to the
 * input size, channel Softmax as Transpose → Softmax(last axis) → Transpose. Input `x` [p2o.DynamicDimension.0, 3, 24, 24].
 */
export function paddleSeg(): CorpusModel {
  const r = lcg(111);
  const g = new GraphBuilder({ name: 'paddle_seg' });
  const f = new Forms(g, 11, 'initializers');
  const x = g.input('x', 'float32', ['p2o.DynamicDimension.0', 3, 24, 24]);
  const conv = (h: string, ci: number, co: number, k: number, name: string, strides = [1, 1]): string =>
    g.conv(h, g.initializer(`${name}.w_0`, he([co, ci, k, k], ci * k * k, r)), g.initializer(`${name}.b_0`, uniform([co], r, 0.1)), { pads: Array(4).fill((k - 1) / 2), strides });
  let h = g.relu(conv(x, 3, 16, 3, 'conv0', [2, 2])); // 12×12
  h = g.relu(conv(h, 16, 32, 3, 'conv1'));
  const [a, b] = f.split(h, [16, 16], 1) as [string, string];
  const ya = g.relu(conv(a, 16, 16, 3, 'conv_a'));
  const gate = g.sigmoid(conv(f.unsqueeze(f.reduceMean(b, [2, 3], false), [2, 3]), 16, 16, 1, 'se'));
  const yb = g.mul(b, gate);
  const logits = conv(g.concat([ya, yb], 1), 32, 4, 1, 'cls');
  const up = g.op1('Resize', [logits, f.const(Tensor.f32([0], [])), f.const(Tensor.f32([4], [1, 1, 2, 2]))], { mode: attr.string('linear'), coordinate_transformation_mode: attr.string('half_pixel') });
  const sm = g.transpose(g.op1('Softmax', [g.transpose(up, [0, 2, 3, 1])], { axis: attr.int(3) }), [0, 3, 1, 2]);
  g.output(sm, 'seg');
  return {
    name: 'paddle2onnx segmentation head (opset 11, Conv weights only)',
    toolchain: 'paddle2onnx',
    model: g.toModel({ opset: 11, irVersion: 6 }),
    feeds: (n, seed) => ({ x: images(n, 3, 24, 24, seed) }),
    modes: ['static', 'dynamic', 'fp16'],
  };
}

/**
 * PyTorch-style transformer classifier (TorchScript exporter) at opset 13, 14, 17 or 18: inputs
 * `input_ids` and `attention_mask`, int64 [batch, sequence]; token + position embeddings (Shape → Gather →
 * Range), LayerNorm (decomposed before 17, LayerNormalization from 17), fused QKV MatMul + Split, heads via
 * `Shape → Gather → Unsqueeze → Concat → Reshape` with Constant nodes, masked Softmax attention, erf-GELU,
 * residuals, first-token pooling, Gemm head. d = 64, 4 heads, vocab 200, 3 classes.
 */
export function torchTransformer(opset: 13 | 14 | 17 | 18): CorpusModel {
  const r = lcg(200 + opset);
  const d = 64;
  const heads = 4;
  const vocab = 200;
  const g = new GraphBuilder({ name: 'main_graph' });
  const f = new Forms(g, opset, 'nodes');
  const ids = g.input('input_ids', 'int64', ['batch', 'sequence']);
  const mask = g.input('attention_mask', 'int64', ['batch', 'sequence']);
  const scalar = (v: number): string => f.const(Tensor.f32([], [v]));
  const i64s = (v: number): string => f.const(Tensor.i64([], [v]));
  const w = (name: string, dims: number[], fanIn: number): string => g.initializer(name, he(dims, fanIn, r));
  const bias = (name: string, n: number): string => g.initializer(name, uniform([n], r, 0.05));
  const layerNorm = (x: string, name: string): string => {
    const gamma = g.initializer(`${name}.weight`, uniform([d], r, 0.2, 1));
    const beta = bias(`${name}.bias`, d);
    if (opset >= 17) return g.op1('LayerNormalization', [x, gamma, beta], { axis: attr.int(-1), epsilon: attr.float(1e-5) });
    const mean = f.reduceMean(x, [-1], true);
    const c = g.sub(x, mean);
    const v = f.reduceMean(g.pow(c, scalar(2)), [-1], true);
    return g.add(g.mul(g.div(c, g.sqrt(g.add(v, scalar(1e-5)))), gamma), beta);
  };
  const linear = (x: string, name: string, fi: number, fo: number): string => g.add(g.matMul(x, w(`onnx::MatMul_${name}`, [fi, fo], fi)), bias(`${name}.bias`, fo));
  // Embeddings: token + position (positions from the input's runtime shape).
  const seq = g.gather(g.shape(ids), i64s(1), 0);
  const pos = g.op1('Range', [i64s(0), seq, i64s(1)]);
  let h = g.add(g.gather(w('embeddings.word_embeddings.weight', [vocab, d], 8), ids), g.gather(w('embeddings.position_embeddings.weight', [32, d], 8), pos));
  h = layerNorm(h, 'embeddings.LayerNorm');
  // Attention.
  const batchDim = f.unsqueeze(g.gather(g.shape(h), i64s(0), 0), [0]);
  const seqDim = f.unsqueeze(g.gather(g.shape(h), i64s(1), 0), [0]);
  const heads4 = g.concat([batchDim, seqDim, f.i64([heads, d / heads])], 0);
  const [q, k, v] = f.split(linear(h, 'qkv', d, 3 * d), [d, d, d], -1) as [string, string, string];
  const split = (t: string): string => g.transpose(g.reshape(t, heads4), [0, 2, 1, 3]);
  let scores = g.div(g.matMul(split(q), g.transpose(g.reshape(k, heads4), [0, 2, 3, 1])), scalar(Math.sqrt(d / heads)));
  const m = g.cast(f.unsqueeze(f.unsqueeze(mask, [1]), [2]), 'float32');
  scores = g.add(scores, g.mul(g.sub(scalar(1), m), scalar(-10000)));
  const ctx = g.transpose(g.matMul(g.softmax(scores, -1), split(v)), [0, 2, 1, 3]);
  const merged = g.reshape(ctx, g.concat([batchDim, seqDim, f.i64([d])], 0));
  h = layerNorm(g.add(h, linear(merged, 'attention.output.dense', d, d)), 'attention.output.LayerNorm');
  // Feed-forward with erf GELU.
  const inner = linear(h, 'intermediate.dense', d, 2 * d);
  const gelu = g.mul(g.mul(inner, g.add(g.erf(g.div(inner, scalar(Math.SQRT2))), scalar(1))), scalar(0.5));
  h = layerNorm(g.add(h, linear(gelu, 'output.dense', 2 * d, d)), 'output.LayerNorm');
  // First-token pooling and the classifier.
  const first = g.gather(h, i64s(0), 1);
  const pooled = g.tanh(g.gemm(first, w('pooler.dense.weight', [d, d], d), bias('pooler.dense.bias', d), { transB: true }));
  g.output(g.gemm(pooled, w('classifier.weight', [3, d], d), bias('classifier.bias', 3), { transB: true }), 'logits');
  const model = g.toModel({ opset, irVersion: opset >= 15 ? 8 : 7 });
  model.producerName = 'pytorch';
  model.producerVersion = '2.13.0';
  return {
    name: `PyTorch transformer classifier, 2 int64 inputs (opset ${opset})`,
    toolchain: 'pytorch',
    model,
    feeds: (n, seed) => {
      const t = tokens(n, 12, vocab, seed);
      return { input_ids: t.ids, attention_mask: t.mask };
    },
    modes: ['static', 'dynamic', 'fp16', 'int4'],
  };
}

/** A subgraph holding its weights as Constant nodes (how scripted PyTorch modules export). */
function branch(name: string, build: (b: GraphBuilder, f: Forms) => string, opset: number): Graph {
  const sg = new Graph(name);
  const b = new GraphBuilder({ graph: sg, prefix: `${name}/` });
  const out = build(b, new Forms(b, opset, 'nodes'));
  sg.outputs.push({ name: out, type: { dtype: 'float32' } });
  return sg;
}

/**
 * PyTorch-style scripted model with control flow at opset 16: an If whose branches each hold a MatMul
 * weight (Constant nodes inside the branch), then a Loop running a 64×64 layer twice with its weight in
 * the body, then a head. Input `x` float [batch, 32].
 */
export function torchControlFlow(): CorpusModel {
  const r = lcg(300);
  const g = new GraphBuilder({ name: 'main_graph' });
  const f = new Forms(g, 16, 'nodes');
  const x = g.input('x', 'float32', ['batch', 32]);
  const cond = g.greater(f.reduceSum(x, false), f.const(Tensor.f32([], [0])));
  const dense = (b: GraphBuilder, bf: Forms, input: string, fi: number, fo: number): string => b.relu(b.add(b.matMul(input, bf.const(he([fi, fo], fi, r))), bf.const(uniform([fo], r, 0.05))));
  const h = g.op1('If', [cond], {
    then_branch: attr.graph(branch('then_branch', (b, bf) => dense(b, bf, x, 32, 64), 16)),
    else_branch: attr.graph(branch('else_branch', (b, bf) => dense(b, bf, x, 32, 64), 16)),
  });
  // Loop(M = 2, cond = true) carrying h through a residual 64×64 layer.
  const body = new Graph('loop_body');
  const lb = new GraphBuilder({ graph: body, prefix: 'body/' });
  lb.input('iter', 'int64', []);
  const cin = lb.input('cond_in', 'bool', []);
  const hin = lb.input('h_in', 'float32', ['batch', 64]);
  const hout = lb.add(hin, dense(lb, new Forms(lb, 16, 'nodes'), hin, 64, 64));
  body.outputs.push({ name: lb.identity(cin), type: { dtype: 'bool', shape: [] } }, { name: hout, type: { dtype: 'float32', shape: ['batch', 64] } });
  const looped = g.op1('Loop', [f.const(Tensor.i64([], [2])), f.const(new Tensor('bool', [], Uint8Array.of(1))), h], { body: attr.graph(body) });
  g.output(g.add(g.matMul(looped, g.initializer('head.weight', he([64, 10], 64, r))), g.initializer('head.bias', uniform([10], r, 0.05))), 'out');
  const model = g.toModel({ opset: 16, irVersion: 8 });
  model.producerName = 'pytorch';
  return {
    name: 'PyTorch scripted If + Loop with weights in the subgraphs (opset 16)',
    toolchain: 'pytorch',
    model,
    feeds: (n, seed) => ({ x: uniform([n, 32], lcg(seed), 2, seed % 2 ? 0.05 : -0.05) }),
    modes: ['static', 'dynamic', 'fp16', 'int4'],
  };
}

/**
 * PyTorch-style fully convolutional classifier at opset 14 (every weight in a Conv, none in MatMul/Gemm):
 * three strided Convs, then an If choosing between two 1×1 Conv heads whose weights live in the branches,
 * GlobalAveragePool, Flatten. Input `x` [N, 3, 32, 32].
 */
export function torchConvOnly(): CorpusModel {
  const r = lcg(400);
  const g = new GraphBuilder({ name: 'main_graph' });
  const f = new Forms(g, 14, 'nodes');
  const x = g.input('x', 'float32', ['N', 3, 32, 32]);
  const conv = (h: string, ci: number, co: number, name: string): string =>
    g.relu(g.conv(h, g.initializer(`${name}.weight`, he([co, ci, 3, 3], ci * 9, r)), g.initializer(`${name}.bias`, uniform([co], r, 0.1)), { pads: [1, 1, 1, 1], strides: [2, 2] }));
  const h = conv(conv(conv(x, 3, 16, 'features.0'), 16, 32, 'features.2'), 32, 64, 'features.4'); // [N, 64, 4, 4]
  const cond = g.greater(f.reduceMean(x, [0, 1, 2, 3], false), f.const(Tensor.f32([], [0.5])));
  const head = (b: GraphBuilder, bf: Forms): string => b.conv(h, bf.const(he([10, 64, 1, 1], 64, r)), bf.const(uniform([10], r, 0.1)));
  const y = g.op1('If', [cond], { then_branch: attr.graph(branch('then_branch', head, 14)), else_branch: attr.graph(branch('else_branch', head, 14)) });
  g.output(g.flatten(g.globalAveragePool(y)), 'logits');
  const model = g.toModel({ opset: 14, irVersion: 7 });
  model.producerName = 'pytorch';
  return {
    name: 'PyTorch fully convolutional net, If between Conv heads (opset 14, Conv weights only)',
    toolchain: 'pytorch',
    model,
    feeds: (n, seed) => ({ x: images(n, 3, 32, 32, seed) }),
    modes: ['static', 'dynamic', 'fp16'],
  };
}

/**
 * tf2onnx-style Keras classifier at opset 13: NHWC input `input_1:0` [unk__27, 32, 32, 3] transposed to
 * NCHW for Conv, depthwise Conv (group = channels), pointwise Conv, transposed back, ReduceMean over H, W
 * (axes attribute), MatMul + Add, Softmax, and an Identity naming the output `Identity:0`.
 */
export function tfKeras(): CorpusModel {
  const r = lcg(500);
  const g = new GraphBuilder({ name: 'tf2onnx' });
  const f = new Forms(g, 13, 'initializers');
  const x = g.input('input_1:0', 'float32', ['unk__27', 32, 32, 3]);
  let h = g.transpose(x, [0, 3, 1, 2]);
  h = g.relu(g.conv(h, g.initializer('model/conv2d/Conv2D/ReadVariableOp:0', he([16, 3, 3, 3], 27, r)), g.initializer('model/conv2d/BiasAdd/ReadVariableOp:0', uniform([16], r, 0.1)), { pads: [1, 1, 1, 1], strides: [2, 2] }));
  h = g.relu(g.conv(h, g.initializer('model/depthwise/ReadVariableOp:0', he([16, 1, 3, 3], 9, r)), undefined, { pads: [1, 1, 1, 1], group: 16 }));
  h = g.relu(g.conv(h, g.initializer('model/pointwise/ReadVariableOp:0', he([32, 16, 1, 1], 16, r)), g.initializer('model/pointwise/BiasAdd:0', uniform([32], r, 0.1))));
  h = f.reduceMean(g.transpose(h, [0, 2, 3, 1]), [1, 2], false);
  const logits = g.add(g.matMul(h, g.initializer('model/dense/MatMul/ReadVariableOp:0', he([32, 10], 32, r))), g.initializer('model/dense/BiasAdd/ReadVariableOp:0', uniform([10], r, 0.1)));
  g.output(g.softmax(logits, -1), 'Identity:0');
  const model = g.toModel({ opset: 13, irVersion: 7 });
  model.producerName = 'tf2onnx';
  return {
    name: 'tf2onnx Keras classifier, NHWC with Transposes (opset 13)',
    toolchain: 'tf2onnx',
    model,
    feeds: (n, seed) => ({ 'input_1:0': images(n, 3, 32, 32, seed, 'NHWC') }),
    modes: ['static', 'dynamic', 'fp16'],
  };
}

function testdata(name: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return join(dir, 'src', 'onnx', 'testdata', name);
}

/** The real PyTorch 2.13 exports in src/onnx/testdata (see make-torch-exports.py there). */
export function torchExports(): CorpusModel[] {
  return [
    {
      name: 'PyTorch export: small CNN (opset 13, BatchNorm, ceil-mode MaxPool, grouped Conv)',
      toolchain: 'pytorch',
      model: readModel(testdata('torch-small-cnn.onnx')),
      feeds: (n, seed) => ({ image: images(n, 3, 15, 15, seed) }),
      modes: ['static', 'dynamic', 'fp16'],
    },
    {
      name: 'PyTorch export: TransformerEncoderLayer (opset 17, int64 tokens, seq fixed at 7)',
      toolchain: 'pytorch',
      model: readModel(testdata('torch-transformer-block.onnx')),
      feeds: (n, seed) => ({ tokens: tokens(n, 7, 100, seed).ids }),
      modes: ['static', 'dynamic', 'fp16'],
    },
  ];
}

/** The whole corpus. */
export function corpus(): CorpusModel[] {
  return [paddleCnn(9), paddleCnn(10), paddleCnn(11), paddleSeg(), torchTransformer(13), torchTransformer(14), torchTransformer(17), torchTransformer(18), torchControlFlow(), torchConvOnly(), tfKeras(), ...torchExports()];
}
