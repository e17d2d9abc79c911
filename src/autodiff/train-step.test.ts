// buildTrainStep: optimizer updates against JS references of PyTorch's SGD/Adam/AdamW for a few steps,
// global-norm clipping, buffers and data inputs wiring, and an MLP that learns a synthetic problem.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder } from '../onnx/builder.js';
import { Tensor } from '../onnx/tensor.js';
import { Session } from '../runtime/session.js';
import { seededUniform } from './gradcheck.js';
import { softmaxCrossEntropy } from './losses.js';
import { buildTrainStep } from './train-step.js';
import type { OptimizerConfig, TrainStep } from './types.js';

/** loss = Σ ½·a·w² (grad a·w: it depends on w, so the optimizers' trajectories differ). */
function quadratic(): { g: GraphBuilder; loss: string } {
  const g = new GraphBuilder({ name: 'quad' });
  const a = g.input('a', 'float32', [4]);
  g.initializer('w', Tensor.f32([4], [1, -2, 0.5, 3]));
  const loss = g.reduceSum(g.mul(g.mul(g.mul('w', 'w'), a), g.scalar(0.5)), undefined, false);
  return { g, loss };
}
const A = [0.5, 1, 2, -0.3];
const LRS = [0.1, 0.05, 0.2, 0.1, 0.01];

/** PyTorch's update rules (dampening 0), in float64. */
function reference(o: OptimizerConfig, steps: number, clip?: number): { w: number[]; norms: number[] } {
  let w = [1, -2, 0.5, 3];
  const m = [0, 0, 0, 0];
  const v = [0, 0, 0, 0];
  const norms: number[] = [];
  for (let t = 1; t <= steps; t++) {
    const lr = LRS[t - 1]!;
    let g = w.map((x, i) => A[i]! * x);
    const norm = Math.hypot(...g);
    norms.push(norm);
    if (clip !== undefined) g = g.map((x) => x * Math.min(1, clip / (norm + 1e-6)));
    const wd = o.weightDecay ?? 0;
    if (o.type === 'sgd') {
      g = g.map((x, i) => x + wd * w[i]!);
      const mu = o.momentum ?? 0;
      let d = g;
      if (mu) {
        for (let i = 0; i < 4; i++) m[i] = mu * m[i]! + g[i]!;
        d = o.nesterov ? g.map((x, i) => x + mu * m[i]!) : [...m];
      }
      w = w.map((x, i) => x - lr * d[i]!);
    } else {
      const [b1, b2, eps] = [o.beta1 ?? 0.9, o.beta2 ?? 0.999, o.epsilon ?? 1e-8];
      if (o.type === 'adam') g = g.map((x, i) => x + wd * w[i]!);
      else w = w.map((x) => x * (1 - lr * wd));
      for (let i = 0; i < 4; i++) {
        m[i] = b1 * m[i]! + (1 - b1) * g[i]!;
        v[i] = b2 * v[i]! + (1 - b2) * g[i]! * g[i]!;
      }
      const bc1 = 1 - b1 ** t;
      const bc2 = 1 - b2 ** t;
      w = w.map((x, i) => x - (lr / bc1) * (m[i]! / (Math.sqrt(v[i]!) / Math.sqrt(bc2) + eps)));
    }
  }
  return { w, norms };
}

async function runSteps(step: TrainStep, feeds: Record<string, Tensor>, n: number): Promise<{ state: Record<string, Tensor>; norms: number[]; losses: number[] }> {
  const s = await Session.create({ model: step.model }, { intraOpThreads: 1 });
  const state: Record<string, Tensor> = {};
  for (const sl of step.state) state[sl.input] = sl.initial;
  const norms: number[] = [];
  const losses: number[] = [];
  for (let t = 1; t <= n; t++) {
    const f: Record<string, Tensor> = { ...feeds, ...state, [step.lrInput]: Tensor.scalar('float32', LRS[(t - 1) % LRS.length]!) };
    if (step.stepInput) f[step.stepInput] = Tensor.scalar('float32', t);
    const out = await s.run(f);
    for (const sl of step.state) state[sl.input] = out[sl.output]!;
    norms.push(out[step.gradNormOutput]!.toNumbers()[0]!);
    losses.push(out[step.lossOutput]!.toNumbers()[0]!);
  }
  await s.release();
  return { state, norms, losses };
}

const OPTIMIZERS: { name: string; o: OptimizerConfig; clip?: number }[] = [
  { name: 'SGD', o: { type: 'sgd' } },
  { name: 'SGD momentum + weight decay', o: { type: 'sgd', momentum: 0.9, weightDecay: 0.01 } },
  { name: 'SGD Nesterov', o: { type: 'sgd', momentum: 0.8, nesterov: true } },
  { name: 'Adam', o: { type: 'adam' } },
  { name: 'Adam + L2 weight decay', o: { type: 'adam', beta1: 0.8, beta2: 0.99, weightDecay: 0.1 } },
  { name: 'AdamW', o: { type: 'adamw', weightDecay: 0.1, epsilon: 1e-6 } },
  { name: 'SGD momentum, clipped to norm 1', o: { type: 'sgd', momentum: 0.9 }, clip: 1 },
  { name: 'AdamW, clipped to norm 0.5', o: { type: 'adamw', weightDecay: 0.01 }, clip: 0.5 },
];

for (const c of OPTIMIZERS) {
  test(`${c.name}: 5 steps match the reference update`, async () => {
    const { g, loss } = quadratic();
    const step = buildTrainStep({ graph: g.graph, loss, params: ['w'], optimizer: c.o, clipGradNorm: c.clip });
    assert.equal(step.stepInput !== undefined, c.o.type !== 'sgd');
    const { state, norms } = await runSteps(step, { a: Tensor.f32([4], A) }, 5);
    const ref = reference(c.o, 5, c.clip);
    const w = state.w!.toNumbers();
    w.forEach((x, i) => assert.ok(Math.abs(x - ref.w[i]!) < 1e-5 * Math.max(1, Math.abs(ref.w[i]!)), `w[${i}] = ${x}, want ${ref.w[i]}`));
    norms.forEach((x, i) => assert.ok(Math.abs(x - ref.norms[i]!) < 1e-5 * Math.max(1, ref.norms[i]!), `norm at step ${i + 1} = ${x}, want ${ref.norms[i]}`));
  });
}

test('step wiring: data inputs, state slots (param, optimizer), extra outputs; forward graph untouched', () => {
  const { g, loss } = quadratic();
  const nodesBefore = g.graph.nodes.length;
  const step = buildTrainStep({ graph: g.graph, loss, params: ['w'], optimizer: { type: 'adam' }, extraOutputs: [loss] });
  assert.deepEqual(step.dataInputs, ['a']);
  assert.deepEqual(step.state.map((s) => [s.kind, s.input, s.output]), [
    ['param', 'w', 'w/next'],
    ['optimizer', 'w/exp_avg', 'w/exp_avg/next'],
    ['optimizer', 'w/exp_avg_sq', 'w/exp_avg_sq/next'],
  ]);
  assert.equal(g.graph.nodes.length, nodesBefore);
  assert.ok(g.graph.initializers.has('w'));
  const inputs = step.model.graph.inputs.map((v) => v.name);
  for (const n of ['a', 'w', step.lrInput, step.stepInput!, 'w/exp_avg']) assert.ok(inputs.includes(n), n);
  assert.deepEqual(step.extraOutputs, [loss]);
});

test('gradNorm: false skips the norm (NaN output) unless clipping needs it', async () => {
  const { g, loss } = quadratic();
  const step = buildTrainStep({ graph: g.graph, loss, params: ['w'], optimizer: { type: 'sgd' }, gradNorm: false });
  assert.ok(!step.model.graph.nodes.some((n) => n.opType === 'ReduceSumSquare'));
  const { norms, state } = await runSteps(step, { a: Tensor.f32([4], A) }, 2);
  assert.ok(norms.every((n) => Number.isNaN(n)));
  const ref = reference({ type: 'sgd' }, 2);
  state.w!.toNumbers().forEach((x, i) => assert.ok(Math.abs(x - ref.w[i]!) < 1e-5));
  const clipped = buildTrainStep({ graph: g.graph, loss, params: ['w'], optimizer: { type: 'sgd' }, gradNorm: false, clipGradNorm: 1 });
  assert.ok(clipped.model.graph.nodes.some((n) => n.opType === 'ReduceSumSquare'));
});

test('opset-13-style forward nodes (ReduceMean axes attribute, Clip min/max attributes) train at opset 21', async () => {
  const g = new GraphBuilder({ name: 'old' });
  const a = g.input('a', 'float32', [2, 4]);
  g.initializer('w', Tensor.f32([4], [1, -2, 0.5, 3]));
  const y = g.op1('Clip', [g.mul(a, 'w')], { min: { type: 'float', value: -1 }, max: { type: 'float', value: 1 } });
  const loss = g.op1('ReduceMean', [g.op1('ReduceMean', [y], { axes: { type: 'ints', value: [1] }, keepdims: { type: 'int', value: 0 } })], { axes: { type: 'ints', value: [0] }, keepdims: { type: 'int', value: 0 } });
  const step = buildTrainStep({ graph: g.graph, loss, params: ['w'], optimizer: { type: 'sgd' } });
  const { state } = await runSteps(step, { a: Tensor.f32([2, 4], [0.5, 0.1, 1, 0.2, 0.1, 0.3, 1, 0.5]) }, 1);
  // d mean(clip(a·w)) / dw_j = Σ_i a_ij·[|a_ij·w_j| ≤ 1] / 8; lr 0.1
  const want = [1 - 0.1 * (0.5 + 0.1) / 8, -2 - 0.1 * (0.1 + 0.3) / 8, 0.5 - 0.1 * (1 + 1) / 8, 3 - 0.1 * 0.2 / 8]; // a₁₃·w₃ = 1.5 is clipped
  state.w!.toNumbers().forEach((x, i) => assert.ok(Math.abs(x - want[i]!) < 1e-6, `w[${i}] = ${x}, want ${want[i]}`));
});

test('the lr/step inputs get fresh names when the forward graph already uses "lr" and "step"', () => {
  const g = new GraphBuilder({ name: 'clash' });
  const lr = g.input('lr', 'float32', [4]);
  const st = g.input('step', 'float32', [4]);
  g.initializer('w', Tensor.f32([4], [1, 2, 3, 4]));
  const loss = g.reduceSum(g.mul(g.mul('w', lr), st), undefined, false);
  const step = buildTrainStep({ graph: g.graph, loss, params: ['w'], optimizer: { type: 'adam' } });
  assert.deepEqual(step.dataInputs, ['lr', 'step']);
  assert.ok(step.lrInput !== 'lr' && step.stepInput !== 'step');
  assert.equal(new Set(step.model.graph.inputs.map((v) => v.name)).size, step.model.graph.inputs.length);
});

test('bad options are one-line TrainferErrors', () => {
  const { g, loss } = quadratic();
  assert.throws(() => buildTrainStep({ graph: g.graph, loss, params: ['nope'], optimizer: { type: 'sgd' } }), /parameter 'nope' is not an initializer/);
  assert.throws(() => buildTrainStep({ graph: g.graph, loss, params: ['w'], optimizer: { type: 'sgd', momentum: 1.5 } }), /momentum must be in \[0, 1\)/);
  assert.throws(() => buildTrainStep({ graph: g.graph, loss, params: ['w'], optimizer: { type: 'sgd' }, clipGradNorm: 0 }), /clipGradNorm must be > 0/);
  assert.throws(() => buildTrainStep({ graph: g.graph, loss: 'missing', params: ['w'], optimizer: { type: 'sgd' } }), /loss 'missing'/);
});

test('an MLP (Gemm, ReLU, BatchNorm buffers, dropout mask) trained with buildTrainStep learns 3 Gaussian blobs', async () => {
  const rand = seededUniform(11);
  const normal = (): number => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
  const N = 96;
  const centers = [[2, 0], [-1, 1.7], [-1, -1.7]];
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 0; i < N; i++) {
    const k = i % 3;
    xs.push(centers[k]![0]! + 0.6 * normal(), centers[k]![1]! + 0.6 * normal());
    ys.push(k);
  }
  const g = new GraphBuilder({ name: 'mlp' });
  const x = g.input('x', 'float32', ['N', 2]);
  const y = g.input('y', 'int64', ['N']);
  const u = g.input('u', 'float32', ['N', 16]);
  const init = (dims: number[], s: number): Tensor => Tensor.f32(dims, Array.from({ length: dims.reduce((p, d) => p * d, 1) }, () => normal() * s));
  g.initializer('w1', init([2, 16], 0.7));
  g.initializer('b1', Tensor.f32([16], new Float32Array(16)));
  g.initializer('gamma', Tensor.f32([16], new Float32Array(16).fill(1)));
  g.initializer('beta', Tensor.f32([16], new Float32Array(16)));
  g.initializer('rmean', Tensor.f32([16], new Float32Array(16)));
  g.initializer('rvar', Tensor.f32([16], new Float32Array(16).fill(1)));
  g.initializer('w2', init([16, 3], 0.3));
  g.initializer('b2', Tensor.f32([3], new Float32Array(3)));
  const h0 = g.gemm(x, 'w1', 'b1');
  const [bn, newMean, newVar] = g.op('BatchNormalization', [h0, 'gamma', 'beta', 'rmean', 'rvar'], { training_mode: { type: 'int', value: 1 }, momentum: { type: 'float', value: 0.9 } }, { outputs: 3 }) as [string, string, string];
  const h = g.relu(bn);
  const dropped = g.mul(h, g.where(g.op1('GreaterOrEqual', [u, g.scalar(0.1)]), g.scalar(1 / 0.9), g.scalar(0)));
  const logits = g.gemm(dropped, 'w2', 'b2');
  const loss = softmaxCrossEntropy(g, { logits, labels: y });
  const step = buildTrainStep({
    graph: g.graph, loss, params: ['w1', 'b1', 'gamma', 'beta', 'w2', 'b2'], optimizer: { type: 'adamw', weightDecay: 0.01 },
    buffers: [{ name: 'rmean', updated: newMean }, { name: 'rvar', updated: newVar }], extraOutputs: [logits], clipGradNorm: 5,
  });
  assert.deepEqual(step.dataInputs, ['x', 'y', 'u']);
  const s = await Session.create({ model: step.model }, { intraOpThreads: 1 });
  const state: Record<string, Tensor> = {};
  for (const sl of step.state) state[sl.input] = sl.initial;
  const feeds = { x: Tensor.f32([N, 2], xs), y: Tensor.i64([N], ys) };
  let first = 0;
  let last = 0;
  let acc = 0;
  for (let t = 1; t <= 150; t++) {
    const uT = Tensor.f32([N, 16], Array.from({ length: N * 16 }, () => rand()));
    const out = await s.run({ ...feeds, u: uT, ...state, [step.lrInput]: Tensor.scalar('float32', 0.05), [step.stepInput!]: Tensor.scalar('float32', t) });
    for (const sl of step.state) state[sl.input] = out[sl.output]!;
    last = out[step.lossOutput]!.toNumbers()[0]!;
    if (t === 1) first = last;
    const lg = out[step.extraOutputs[0]!]!.toNumbers();
    acc = ys.filter((k, i) => lg.slice(3 * i, 3 * i + 3).indexOf(Math.max(...lg.slice(3 * i, 3 * i + 3))) === k).length / N;
  }
  await s.release();
  assert.ok(last < 0.3 * first, `loss ${first} → ${last}`);
  assert.ok(acc > 0.9, `train accuracy ${acc}`);
  // Running statistics moved away from their initial values (buffers are carried).
  assert.ok(state.rmean!.toNumbers().some((v) => Math.abs(v) > 0.05));
});

test('a small CNN (Conv, ReLU, MaxPool, Flatten, Gemm; symbolic batch) learns bars: vertical vs horizontal', async () => {
  const rand = seededUniform(5);
  const N = 32;
  const xs = new Float32Array(N * 64);
  const ys: number[] = [];
  for (let i = 0; i < N; i++) {
    const k = i % 2;
    const at = 1 + Math.floor(rand() * 6);
    for (let r = 0; r < 8; r++) for (let c = 0; c < 8; c++) xs[i * 64 + r * 8 + c] = 0.1 * rand() + ((k === 0 ? c : r) === at ? 1 : 0);
    ys.push(k);
  }
  const g = new GraphBuilder({ name: 'cnn' });
  const x = g.input('x', 'float32', ['N', 1, 8, 8]);
  const y = g.input('y', 'int64', ['N']);
  g.initializer('cw', Tensor.f32([4, 1, 3, 3], Array.from({ length: 36 }, () => (rand() * 2 - 1) * 0.5)));
  g.initializer('cb', Tensor.f32([4], [0.1, 0.1, 0.1, 0.1]));
  g.initializer('fw', Tensor.f32([64, 2], Array.from({ length: 128 }, () => (rand() * 2 - 1) * 0.2)));
  g.initializer('fb', Tensor.f32([2], [0, 0]));
  const h = g.maxPool(g.relu(g.conv(x, 'cw', 'cb', { pads: [1, 1, 1, 1] })), { kernelShape: [2, 2], strides: [2, 2] }); // [N, 4, 4, 4]
  const logits = g.gemm(g.flatten(h, 1), 'fw', 'fb'); // [N, 2]
  const loss = softmaxCrossEntropy(g, { logits, labels: y });
  const step = buildTrainStep({ graph: g.graph, loss, params: ['cw', 'cb', 'fw', 'fb'], optimizer: { type: 'sgd', momentum: 0.9 }, extraOutputs: [logits] });
  const s = await Session.create({ model: step.model }, { intraOpThreads: 1 });
  const state: Record<string, Tensor> = {};
  for (const sl of step.state) state[sl.input] = sl.initial;
  let first = 0;
  let last = 0;
  let acc = 0;
  for (let t = 1; t <= 60; t++) {
    const out = await s.run({ x: new Tensor('float32', [N, 1, 8, 8], xs), y: Tensor.i64([N], ys), ...state, [step.lrInput]: Tensor.scalar('float32', 0.05) });
    for (const sl of step.state) state[sl.input] = out[sl.output]!;
    last = out[step.lossOutput]!.toNumbers()[0]!;
    if (t === 1) first = last;
    const lg = out[step.extraOutputs[0]!]!.toNumbers();
    acc = ys.filter((k, i) => (lg[2 * i + 1]! > lg[2 * i]! ? 1 : 0) === k).length / N;
  }
  await s.release();
  assert.ok(last < 0.3 * first, `loss ${first} → ${last}`);
  assert.ok(acc === 1, `train accuracy ${acc}`);
});
