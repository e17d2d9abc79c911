/**
 * Realistic test models built with the `GraphBuilder` (test and bench support, not public API):
 * an MLP, a small CNN, a transformer-ish block with a PyTorch-style shape chain, quantised ops,
 * training ops, and control flow (If + Loop). Each comes with seeded feeds.
 */
import { attr } from './attr.js';
import { GraphBuilder } from './builder.js';
import { Graph, type Model } from './ir.js';
import { Tensor } from './tensor.js';

/** A model plus inputs to run it with. */
export interface Fixture {
  name: string;
  model: Model;
  feeds: Record<string, Tensor>;
}

/** Seeded uniform numbers in [lo, hi) (LCG; reproducible across runs). */
export function seededRandom(seed: number): (lo?: number, hi?: number) => number {
  let s = seed >>> 0 || 1;
  return (lo = -1, hi = 1) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + (hi - lo) * (s / 2 ** 32);
  };
}

function randF32(rand: ReturnType<typeof seededRandom>, dims: number[], scale = 0.5): Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  return Tensor.f32(dims, Array.from({ length: n }, () => rand(-scale, scale)));
}

/** 64 → 32 → 10 MLP with softmax: MatMul, Add, Relu, Gemm (transB), Softmax. */
export function mlpFixture(batch = 3): Fixture {
  const r = seededRandom(1);
  const g = new GraphBuilder({ name: 'mlp' });
  const x = g.input('x', 'float32', ['batch', 64]);
  const w1 = g.initializer('w1', randF32(r, [64, 32]));
  const b1 = g.initializer('b1', randF32(r, [32]));
  const w2 = g.initializer('w2', randF32(r, [10, 32]));
  const b2 = g.initializer('b2', randF32(r, [10]));
  const h = g.relu(g.add(g.matMul(x, w1), b1));
  g.output(g.softmax(g.gemm(h, w2, b2, { transB: true })), 'probs');
  return { name: 'mlp', model: g.toModel(), feeds: { x: randF32(r, [batch, 64], 1) } };
}

/** Small CNN: Conv, BatchNorm, MaxPool (ceil, Indices), grouped strided Conv, ConvTranspose, pools, MaxUnpool, Gemm. */
export function cnnFixture(batch = 2): Fixture {
  const r = seededRandom(2);
  const g = new GraphBuilder({ name: 'cnn' });
  const x = g.input('image', 'float32', ['N', 3, 16, 16]);
  const c1 = g.conv(x, g.initializer('c1.w', randF32(r, [8, 3, 3, 3])), g.initializer('c1.b', randF32(r, [8])), { pads: [1, 1, 1, 1] });
  const ones = Tensor.f32([8], Array(8).fill(1));
  const bn = g.batchNormalization(c1, g.initializer('bn.scale', ones), g.initializer('bn.bias', randF32(r, [8])), g.initializer('bn.mean', randF32(r, [8], 0.1)), g.initializer('bn.var', ones.clone()), { epsilon: 1e-5 });
  const act = g.relu(bn);
  const [pooled, idx] = g.maxPool(act, { kernelShape: [3, 3], strides: [2, 2], ceilMode: true, withIndices: true });
  const c2 = g.conv(pooled, g.initializer('c2.w', randF32(r, [8, 4, 3, 3])), undefined, { strides: [2, 2], pads: [1, 1, 1, 1], group: 2 });
  const same = g.conv(c2, g.initializer('c3.w', randF32(r, [8, 8, 3, 3])), undefined, { autoPad: 'SAME_UPPER', dilations: [1, 1] });
  const ct = g.convTranspose(same, g.initializer('ct.w', randF32(r, [8, 4, 2, 2])), undefined, { strides: [2, 2] });
  const ap = g.averagePool(ct, { kernelShape: [2, 2], strides: [2, 2] });
  const [small, smallIdx] = g.maxPool(act, { kernelShape: [2, 2], strides: [2, 2], withIndices: true });
  const unpooled = g.op1('MaxUnpool', [small, smallIdx, g.shape(act)], { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]) });
  g.output(idx, 'pool_indices');
  const feat = g.flatten(g.globalAveragePool(ap));
  const logits = g.gemm(feat, g.initializer('fc.w', randF32(r, [4, 10])), g.initializer('fc.b', randF32(r, [10])));
  g.output(logits, 'logits');
  g.output(g.reduceSum(unpooled, [1, 2, 3], false), 'unpooled_sum');
  return { name: 'cnn', model: g.toModel(), feeds: { image: randF32(r, [batch, 3, 16, 16], 1) } };
}

/**
 * Transformer-ish block: Gather embedding + positional Range, LayerNorm, fused QKV MatMul + Split,
 * heads via a `Shape → Gather → Unsqueeze → Concat → Reshape` chain, Transpose, scaled Softmax attention,
 * Gelu and Erf MLP, residual, and a tail of shape ops (Slice, Squeeze, Expand, Tile, Pad, Cast, Where, OneHot, Resize).
 */
export function transformerFixture(batch = 2, seq = 5): Fixture {
  const r = seededRandom(3);
  const d = 16;
  const heads = 2;
  const g = new GraphBuilder({ name: 'block' });
  const tokens = g.input('tokens', 'int64', ['batch', 'seq']);
  const emb = g.gather(g.initializer('embed', randF32(r, [50, d])), tokens);
  const shp = g.shape(tokens);
  const seqLen = g.gather(shp, g.constant(Tensor.i64([], [1]), 'one'));
  const positions = g.op1('Range', [g.constant(Tensor.i64([], [0]), 'zero'), seqLen, g.constant(Tensor.i64([], [1]), 'step')]);
  const x = g.add(emb, g.gather(g.initializer('pos', randF32(r, [32, d])), positions));
  const ln = g.layerNormalization(x, g.initializer('ln.g', randF32(r, [d])), g.initializer('ln.b', randF32(r, [d])), { axis: -1, epsilon: 1e-5 });
  const qkv = g.matMul(ln, g.initializer('wqkv', randF32(r, [d, 3 * d])));
  const [q, k, v] = g.split(qkv, { axis: 2, numOutputs: 3 }) as [string, string, string];
  const heads4 = (t: string) => {
    const s = g.shape(t);
    const b = g.unsqueeze(g.gather(s, g.constant(Tensor.i64([], [0]), 'i0')), [0]);
    const n = g.unsqueeze(g.gather(s, g.constant(Tensor.i64([], [1]), 'i1')), [0]);
    return g.reshape(t, g.concat([b, n, g.int64s([heads, d / heads])], 0));
  };
  const qh = g.transpose(heads4(q), [0, 2, 1, 3]);
  const kh = g.transpose(heads4(k), [0, 2, 3, 1]);
  const vh = g.transpose(heads4(v), [0, 2, 1, 3]);
  const scores = g.div(g.matMul(qh, kh), g.scalar(Math.sqrt(d / heads)));
  const att = g.matMul(g.softmax(scores, -1), vh);
  const merged = g.reshape(g.transpose(att, [0, 2, 1, 3]), [0, 0, -1]);
  const h = g.add(x, merged);
  const ff = g.matMul(g.gelu(g.matMul(h, g.initializer('w1', randF32(r, [d, 2 * d])))), g.initializer('w2', randF32(r, [2 * d, d])));
  const y = g.add(h, g.mul(ff, g.erf(ff)));
  g.output(y, 'hidden');
  const pooled = g.reduceMean(y, [-1], false);
  const first = g.squeeze(g.slice(y, [0], [1], [1]), [1]);
  const tiled = g.op1('Tile', [first, g.int64s([1, 2])]);
  const padded = g.op1('Pad', [tiled, g.int64s([0, 1, 0, 2])]);
  const expanded = g.expand(g.unsqueeze(pooled, [1]), g.int64s([1, 3, 1]));
  const flat = g.reshape(y, [-1, d]);
  const mask = g.greater(pooled, g.scalar(0));
  const chosen = g.where(mask, pooled, g.neg(pooled));
  const hot = g.op1('OneHot', [tokens, g.constant(Tensor.i64([], [7]), 'depth'), g.constant(Tensor.f32([2], [0, 1]), 'onoff')], { axis: attr.int(-1) });
  const img = g.unsqueeze(y, [1]);
  const up = g.op1('Resize', [img, '', g.constant(Tensor.f32([4], [1, 1, 2, 0.5]), 'scales')], { mode: attr.string('nearest') });
  const asInt = g.cast(g.reduceMax(padded, [1], true), 'int32');
  const concat = g.concat([first, g.flatten(asInt, 1)].map((t, i) => (i === 1 ? g.cast(t, 'float32') : t)), 1);
  for (const [name, val] of Object.entries({ pooled, padded, expanded, flat, chosen, hot, up, concat })) g.output(val, name);
  return {
    name: 'transformer',
    model: g.toModel(),
    feeds: { tokens: Tensor.i64([batch, seq], Array.from({ length: batch * seq }, () => Math.floor(r(0, 7)))) },
  };
}

/** Quantised ops: DynamicQuantizeLinear, MatMulInteger, Quantize/DequantizeLinear, QLinearMatMul, QLinearConv, ConvInteger. */
export function quantFixture(batch = 2): Fixture {
  const r = seededRandom(4);
  const g = new GraphBuilder({ name: 'quant' });
  const x = g.input('x', 'float32', ['batch', 32]);
  const img = g.input('img', 'float32', ['batch', 2, 6, 6]);
  const [xq, xs, xz] = g.op('DynamicQuantizeLinear', [x], {}, { outputs: 3 }) as [string, string, string];
  const wq = g.initializer('wq', new Tensor('int8', [32, 16], Int8Array.from({ length: 512 }, () => Math.round(r(-100, 100)))));
  const acc = g.op1('MatMulInteger', [xq, wq, xz, g.constant(Tensor.scalar('int8', 0), 'wz')]);
  const scale = g.mul(xs, g.scalar(0.01));
  const deq = g.mul(g.cast(acc, 'float32'), scale);
  g.output(deq, 'dyn');
  const u8 = (v: number) => g.constant(new Tensor('uint8', [], Uint8Array.of(v)), 'zp');
  const s = (v: number) => g.scalar(v);
  const xq2 = g.op1('QuantizeLinear', [x, s(0.02), u8(128)]);
  const wu8 = g.initializer('wu8', new Tensor('uint8', [32, 8], Uint8Array.from({ length: 256 }, () => Math.round(r(0, 255)))));
  const qmm = g.op1('QLinearMatMul', [xq2, s(0.02), u8(128), wu8, s(0.01), u8(127), s(0.05), u8(120)]);
  g.output(g.op1('DequantizeLinear', [qmm, s(0.05), u8(120)]), 'qmm');
  const iq = g.op1('QuantizeLinear', [img, s(0.02), u8(128)]);
  const wc = g.initializer('wc', new Tensor('int8', [4, 2, 3, 3], Int8Array.from({ length: 72 }, () => Math.round(r(-60, 60)))));
  const qc = g.op1('QLinearConv', [iq, s(0.02), u8(128), wc, s(0.01), g.constant(Tensor.scalar('int8', 0), 'wz8'), s(0.1), u8(128)], { pads: attr.ints([1, 1, 1, 1]) });
  g.output(g.op1('DequantizeLinear', [qc, s(0.1), u8(128)]), 'qconv');
  const wci = g.initializer('wci', new Tensor('uint8', [3, 2, 2, 2], Uint8Array.from({ length: 24 }, () => Math.round(r(0, 255)))));
  g.output(g.cast(g.op1('ConvInteger', [iq, wci, u8(128), u8(100)], { strides: attr.ints([2, 2]) }), 'float32'), 'convint');
  return { name: 'quant', model: g.toModel(), feeds: { x: randF32(r, [batch, 32], 1), img: randF32(r, [batch, 2, 6, 6], 1) } };
}

/** Training ops: BatchNormalization (training_mode), Dropout with mask, LayerNorm stats, SoftmaxCrossEntropyLoss, OneHot, ScatterElements. */
export function trainingOpsFixture(batch = 4): Fixture {
  const r = seededRandom(5);
  const g = new GraphBuilder({ name: 'train_ops' });
  const x = g.input('x', 'float32', ['B', 3, 4, 4]);
  const labels = g.input('labels', 'int64', ['B']);
  const c = 3;
  const t = (v: number) => Tensor.f32([c], Array(c).fill(v));
  const [y, rm, rv] = g.op('BatchNormalization', [x, g.constant(t(1)), g.constant(t(0)), g.constant(t(0)), g.constant(t(1))], { training_mode: attr.int(1), momentum: attr.float(0.9) }, { outputs: 3 }) as [string, string, string];
  const [dy, mask] = g.op('Dropout', [y, g.scalar(0.25), g.constant(new Tensor('bool', [], Uint8Array.of(1)), 'train')], { seed: attr.int(7) }, { outputs: 2 }) as [string, string];
  const flat = g.flatten(dy, 1);
  const logits = g.matMul(flat, g.initializer('w', randF32(r, [48, 10])));
  const [loss, logp] = g.op('SoftmaxCrossEntropyLoss', [logits, labels], { reduction: attr.string('mean') }, { outputs: 2 }) as [string, string];
  const [ln, mean, inv] = g.op('LayerNormalization', [logits, g.constant(Tensor.f32([10], Array(10).fill(1)))], { axis: attr.int(1) }, { outputs: 3 }) as [string, string, string];
  const hot = g.op1('OneHot', [labels, g.constant(Tensor.i64([], [10]), 'depth'), g.constant(Tensor.f32([2], [0, 1]), 'vals')]);
  const idx = g.unsqueeze(labels, [1]);
  const scattered = g.op1('ScatterElements', [logits, idx, g.reduceSum(logp, [1], true)], { axis: attr.int(1) });
  const [mp, mpi] = g.maxPool(x, { kernelShape: [2, 2], strides: [2, 2], withIndices: true });
  for (const [name, v] of Object.entries({ loss, logp, rm, rv, mask, ln, mean, inv, hot, scattered, mp, mpi })) g.output(v, name);
  return {
    name: 'training_ops',
    model: g.toModel(),
    feeds: { x: randF32(r, [batch, 3, 4, 4], 1), labels: Tensor.i64([batch], Array.from({ length: batch }, (_, i) => (i * 3) % 10)) },
  };
}

/** Control flow: If with two branches reading an outer value, and a Loop with a carried value and a scan output. */
export function controlFlowFixture(batch = 2): Fixture {
  const r = seededRandom(6);
  const g = new GraphBuilder({ name: 'control' });
  const x = g.input('x', 'float32', ['batch', 4]);
  const cond = g.input('flag', 'bool', []);
  const branch = (name: string, op: string, k: number) => {
    const b = new GraphBuilder({ name, prefix: `${name}/` });
    const out = b.op1(op, [x, b.scalar(k)]);
    b.graph.outputs.push({ name: out, type: { dtype: 'float32', shape: ['batch', 4] } });
    return b.graph;
  };
  const [chosen] = g.op('If', [cond], { then_branch: attr.graph(branch('then', 'Add', 1)), else_branch: attr.graph(branch('else', 'Mul', 2)) });
  const body = new GraphBuilder({ name: 'body', graph: new Graph('body'), prefix: 'body/' });
  body.input('i', 'int64', []);
  const cin = body.input('cond_in', 'bool', []);
  const acc = body.input('acc_in', 'float32', ['batch', 4]);
  const cout = body.identity(cin);
  const accOut = body.add(acc, x);
  const scanOut = body.mul(acc, body.scalar(0.5));
  body.graph.outputs.push({ name: cout, type: { dtype: 'bool', shape: [] } });
  body.graph.outputs.push({ name: accOut, type: { dtype: 'float32', shape: ['batch', 4] } });
  body.graph.outputs.push({ name: scanOut, type: { dtype: 'float32', shape: ['batch', 4] } });
  const trip = g.constant(Tensor.i64([], [3]), 'trip');
  const [final, stacked] = g.op('Loop', [trip, '', chosen!], { body: attr.graph(body.graph) }, { outputs: 2 });
  g.output(final!, 'final');
  g.output(stacked!, 'stacked');
  return {
    name: 'control_flow',
    model: g.toModel(),
    feeds: { x: randF32(r, [batch, 4], 1), flag: new Tensor('bool', [], Uint8Array.of(1)) },
  };
}

/** Less common ops: Einsum, Scan, TopK, Gather{Elements,ND}, DepthToSpace/SpaceToDepth, Trilu, CumSum, norms, ArgMax, NonZero, Constant. */
export function miscOpsFixture(batch = 2): Fixture {
  const r = seededRandom(7);
  const g = new GraphBuilder({ name: 'misc' });
  const x = g.input('x', 'float32', ['n', 4, 6]);
  const img = g.input('img', 'float32', ['n', 8, 4, 4]);
  const outs: Record<string, string> = {};
  outs.einsum = g.op1('Einsum', [x, g.initializer('e', randF32(r, [6, 3]))], { equation: attr.string('bij,jk->bik') });
  outs.einsumImplicit = g.op1('Einsum', [x], { equation: attr.string('bij') });
  const [vals, idx] = g.op('TopK', [x, g.int64s([2])], { axis: attr.int(-1) }, { outputs: 2 }) as [string, string];
  Object.assign(outs, { vals, idx });
  outs.gatherEl = g.op1('GatherElements', [x, idx], { axis: attr.int(2) });
  outs.gatherNd = g.op1('GatherND', [g.initializer('gnd', randF32(r, [3, 4, 5])), g.constant(Tensor.i64([2, 2], [0, 1, 2, 3]), 'nd')]);
  outs.d2s = g.op1('DepthToSpace', [img], { blocksize: attr.int(2) });
  outs.s2d = g.op1('SpaceToDepth', [img], { blocksize: attr.int(2) });
  outs.trilu = g.op1('Trilu', [x], { upper: attr.int(0) });
  outs.cumsum = g.op1('CumSum', [x, g.constant(Tensor.i64([], [1]), 'ax')]);
  outs.inorm = g.op1('InstanceNormalization', [img, g.initializer('in.s', randF32(r, [8])), g.initializer('in.b', randF32(r, [8]))]);
  outs.argmax = g.op1('ArgMax', [x], { axis: attr.int(1), keepdims: attr.int(0) });
  outs.nonzero = g.op1('NonZero', [g.greater(x, g.scalar(0))]);
  outs.logsm = g.logSoftmax(x, 1);
  outs.l2 = g.op1('ReduceL2', [x, g.int64s([0, 2])], { keepdims: attr.int(1) });
  outs.gmax = g.op1('GlobalMaxPool', [img]);
  outs.lp = g.op1('LpPool', [img], { kernel_shape: attr.ints([2, 2]), p: attr.int(2) });
  outs.sum3 = g.op1('Sum', [x, g.initializer('bias3', randF32(r, [6])), g.initializer('bias43', randF32(r, [4, 1]))]);
  outs.clip = g.clip(x, g.scalar(-0.5), g.scalar(0.5));
  outs.size = g.op1('Size', [x]);
  outs.konst = g.op1('Constant', [], { value_floats: attr.floats([1, 2, 3]) });
  outs.flat0 = g.flatten(img, 0);
  // Scan: running sum over the 4 rows of each sample's [4, 6] block, emitting the doubled partial sums.
  const body = new GraphBuilder({ name: 'scan_body', prefix: 'scan/' });
  const st = body.input('scan/state', 'float32', [6]);
  const row = body.input('scan/row', 'float32', [6]);
  const next = body.add(st, row);
  const emit = body.mul(next, body.scalar(2));
  body.graph.outputs.push({ name: next, type: { dtype: 'float32', shape: [6] } }, { name: emit, type: { dtype: 'float32', shape: [6] } });
  const first = g.squeeze(g.slice(x, [0], [1], [0]), [0]); // x[0]: [4, 6]
  const [final, ys] = g.op('Scan', [g.initializer('s0', randF32(r, [6])), first], { body: attr.graph(body.graph), num_scan_inputs: attr.int(1) }, { outputs: 2 }) as [string, string];
  Object.assign(outs, { final, ys });
  for (const [name, v] of Object.entries(outs)) g.output(v, name);
  return { name: 'misc_ops', model: g.toModel(), feeds: { x: randF32(r, [batch, 4, 6], 1), img: randF32(r, [batch, 8, 4, 4], 1) } };
}

/** All fixtures. */
export function allFixtures(): Fixture[] {
  return [mlpFixture(), cnnFixture(), transformerFixture(), quantFixture(), trainingOpsFixture(), controlFlowFixture(), miscOpsFixture()];
}
