// Rules whose derivative is a definition rather than a limit: Dropout (random mask, so finite differences
// see a new mask each run) and the straight-through estimator of QuantizeLinear/DequantizeLinear (the true
// derivative of rounding is 0 almost everywhere). Checked against those definitions, plus error messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attr } from '../onnx/attr.js';
import { GraphBuilder } from '../onnx/builder.js';
import { Model } from '../onnx/ir.js';
import { Tensor } from '../onnx/tensor.js';
import { Session } from '../runtime/session.js';
import { TrainferError } from '../util/errors.js';
import { gradients } from './gradients.js';
import { seededUniform } from './gradcheck.js';
import { VJP_RULES } from './rules/index.js';
import type { VjpRule } from './rule-context.js';

async function runGraph(g: GraphBuilder, feeds: Record<string, Tensor>, outputs: string[]): Promise<number[][]> {
  g.graph.outputs = outputs.map((name) => ({ name }));
  const m = new Model(g.graph);
  const s = await Session.create({ model: m }, { intraOpThreads: 1 });
  const r = await s.run(feeds);
  await s.release();
  return outputs.map((o) => r[o]!.toNumbers());
}

test('Dropout (training mode): dx = dy · mask / (1 - ratio), same mask as the forward', async () => {
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', [4, 5]);
  const train = g.constant(new Tensor('bool', [], Uint8Array.from([1])), 'train');
  const [y, mask] = g.dropout(x, g.scalar(0.3), train);
  const rnd = seededUniform(3);
  const R = Array.from({ length: 20 }, () => rnd() + 0.5);
  const loss = g.reduceSum(g.mul(y, g.constant(Tensor.f32([4, 5], R), 'r')), undefined, false);
  const dx = gradients({ graph: g.graph, loss, wrt: [x] }).get(x)!;
  const xs = Array.from({ length: 20 }, () => rnd() + 0.1);
  const [ys, ms, dxs] = await runGraph(g, { x: Tensor.f32([4, 5], xs) }, [y, mask, dx]);
  assert.ok(ms!.some((m) => m === 0) && ms!.some((m) => m === 1), 'mask mixes kept and dropped');
  for (let i = 0; i < 20; i++) {
    assert.ok(Math.abs(ys![i]! - (xs[i]! * ms![i]!) / 0.7) < 1e-5);
    assert.ok(Math.abs(dxs![i]! - (R[i]! * ms![i]!) / 0.7) < 1e-5, `dx[${i}]`);
  }
});

test('Dropout as the nn layers emit it (x · where(u ≥ p, 1/(1-p), 0)) differentiates through Mul', async () => {
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', [6]);
  const u = g.input('u', 'float32', [6]);
  const keep = g.op1('GreaterOrEqual', [u, g.scalar(0.5)]);
  const y = g.mul(x, g.where(keep, g.scalar(2), g.scalar(0)));
  const loss = g.reduceSum(y, undefined, false);
  const dx = gradients({ graph: g.graph, loss, wrt: [x] }).get(x)!;
  const [d] = await runGraph(g, { x: Tensor.f32([6], [1, 2, 3, 4, 5, 6]), u: Tensor.f32([6], [0.1, 0.9, 0.5, 0.2, 0.7, 0.4]) }, [dx]);
  assert.deepEqual(d, [0, 2, 2, 0, 2, 0]);
});

/** dx of Σ r·DQ(Q(x)) with int8 scale 0.01 (range [-1.28, 1.27]) under `rules`. */
async function steGradient(rules?: Readonly<Record<string, VjpRule>>): Promise<number[]> {
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', [6]);
  const s = g.constant(Tensor.f32([], [0.01]), 'scale');
  const zp = g.constant(new Tensor('int8', [], Int8Array.from([0])), 'zp');
  const y = g.op1('DequantizeLinear', [g.op1('QuantizeLinear', [x, s, zp]), s, zp]);
  const loss = g.reduceSum(g.mul(y, g.constant(Tensor.f32([6], [1, 2, 3, 4, 5, 6]), 'r')), undefined, false);
  const dx = gradients({ graph: g.graph, loss, wrt: [x], rules }).get(x)!;
  const [d] = await runGraph(g, { x: Tensor.f32([6], [0.5, -1.0, 1.5, -2, 1.27, -1.28]) }, [dx]);
  return d!.map((v) => Math.round(v * 1e5) / 1e5);
}

test('QuantizeLinear→DequantizeLinear passes dy straight through inside the int8 range and zeroes it outside', async () => {
  assert.deepEqual(await steGradient(), [1, 2, 0, 0, 5, 6]);
});

test('the straight-through check catches QuantizeLinear or DequantizeLinear scaled by 1.01', async () => {
  for (const op of ['QuantizeLinear', 'DequantizeLinear'] as const) {
    const rule = VJP_RULES[op] as VjpRule;
    const scaled: VjpRule = (ctx) => rule(ctx).map((g) => (g ? ctx.b.mul(g, ctx.b.constant(Tensor.scalar('float32', 1.01), 'c')) : g));
    assert.deepEqual(await steGradient({ ...VJP_RULES, [op]: scaled }), [1.01, 2.02, 0, 0, 5.05, 6.06], op);
  }
});

test('a needed input that its rule gives no gradient is an error naming the op, the input and the parameter', () => {
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', [3]);
  g.initializer('ceiling', Tensor.f32([], [0.5]));
  const loss = g.reduceSum(g.op1('Clip', [x, '', g.mul('ceiling', g.scalar(2))], {}, { name: 'clip1' }), undefined, false);
  assert.throws(
    () => gradients({ graph: g.graph, loss, wrt: ['ceiling'] }),
    (e: unknown) => e instanceof TrainferError && /op 'Clip' \(node 'clip1'\) has no gradient for its input 2 \('.*'\), which depends on trainable 'ceiling'/.test(e.message),
  );
});

test('per-channel QuantizeLinear→DequantizeLinear (uint8, axis 1) uses each channel’s scale and range', async () => {
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', [2, 3]);
  const s = g.constant(Tensor.f32([3], [0.1, 0.01, 0.1]), 'scale');
  const zp = g.constant(new Tensor('uint8', [3], Uint8Array.from([128, 128, 0])), 'zp');
  const q = g.op1('QuantizeLinear', [x, s, zp], { axis: attr.int(1) });
  const y = g.op1('DequantizeLinear', [q, s, zp], { axis: attr.int(1) });
  const loss = g.reduceSum(y, undefined, false);
  const dx = gradients({ graph: g.graph, loss, wrt: [x] }).get(x)!;
  // channel 1 covers [-1.28, 1.27]; channel 2 (zero point 0) covers [0, 25.5]
  const [d] = await runGraph(g, { x: Tensor.f32([2, 3], [1, 2, -0.5, 3, -0.5, 30]) }, [dx]);
  assert.deepEqual(d!.map((v) => Math.round(v * 1e5) / 1e5), [1, 0, 0, 1, 1, 0]);
});

test('a missing rule is a TrainferError naming the op and the node', () => {
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', [3]);
  const y = g.op1('Sin', [x], {}, { name: 'my_sin' });
  const loss = g.reduceSum(y, undefined, false);
  assert.throws(() => gradients({ graph: g.graph, loss, wrt: [x] }), (e: unknown) => e instanceof TrainferError && /op 'Sin' \(node 'my_sin'\)/.test(e.message));
});

test('no gradient nodes for data inputs: x·W emits only dW = Gemm(x, dy, transA)', () => {
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', ['N', 4]);
  const w = g.initializer('w', Tensor.f32([4, 3], new Float32Array(12)));
  const loss = g.reduceSum(g.matMul(x, w), undefined, false);
  const before = g.graph.nodes.length;
  gradients({ graph: g.graph, loss, wrt: [w] });
  const added = g.graph.nodes.slice(before);
  const gemms = added.filter((n) => n.opType === 'Gemm' || n.opType === 'MatMul');
  assert.equal(gemms.length, 1);
  assert.deepEqual(gemms[0]!.inputs[0], x);
  assert.equal(gemms[0]!.attributes.transA?.type === 'int' && gemms[0]!.attributes.transA.value, 1);
  assert.ok(!added.some((n) => n.opType === 'Transpose'));
});

test('a parameter the loss does not use gets a zero gradient of its shape', async () => {
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', [2]);
  g.initializer('unused', Tensor.f32([2, 2], [1, 2, 3, 4]));
  const loss = g.reduceSum(g.mul(x, x), undefined, false);
  const grads = gradients({ graph: g.graph, loss, wrt: [x, 'unused'] });
  const [dx, du] = await runGraph(g, { x: Tensor.f32([2], [1, -2]) }, [grads.get(x)!, grads.get('unused')!]);
  assert.deepEqual(dx, [2, -4]);
  assert.deepEqual(du, [0, 0, 0, 0]);
});

test('MaxPool (mask formulation) splits dy evenly between tied maxima, conserving its sum', async () => {
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', [1, 1, 2, 4]);
  const y = g.maxPool(x, { kernelShape: [2, 2], strides: [2, 2] });
  const loss = g.reduceSum(g.mul(y, g.constant(Tensor.f32([1, 1, 1, 2], [4, 10]), 'r')), undefined, false);
  const dx = gradients({ graph: g.graph, loss, wrt: [x] }).get(x)!;
  // window 1 has a 2-way tie at 3; window 2 a unique max 7
  const [d] = await runGraph(g, { x: Tensor.f32([1, 1, 2, 4], [3, 1, 5, 7, 0, 3, 2, 6]) }, [dx]);
  assert.deepEqual(d, [2, 0, 0, 10, 0, 2, 0, 0]);
});

test('shape and axes inputs given by Constant nodes (as exporters write them) are read by the rules', async () => {
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', [2, 3]);
  const axes = g.op1('Constant', [], { value: attr.tensor(Tensor.i64([1], [1])) });
  const shape = g.op1('Constant', [], { value: attr.tensor(Tensor.i64([2], [3, 2])) });
  const loss = g.reduceSum(g.mul(g.unsqueeze(g.reduceSum(g.reshape(x, shape), undefined, false), [0]), g.scalar(1)), undefined, false);
  const y2 = g.op1('ReduceMean', [g.mul(x, x), axes], { keepdims: attr.int(0) });
  const total = g.add(loss, g.reduceSum(y2, undefined, false));
  const dx = gradients({ graph: g.graph, loss: total, wrt: [x] }).get(x)!;
  const [d] = await runGraph(g, { x: Tensor.f32([2, 3], [1, 2, 3, 4, 5, 6]) }, [dx]);
  // d/dx [Σx + Σ_rows mean(x²)] = 1 + 2x/3
  assert.deepEqual(d!.map((v) => Math.round(v * 1e4) / 1e4), [1, 2, 3, 4, 5, 6].map((v) => Math.round((1 + (2 * v) / 3) * 1e4) / 1e4));
});
