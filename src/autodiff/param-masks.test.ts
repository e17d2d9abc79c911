// buildTrainStep's paramMasks: the fed mask zeroes the gradient (norm and clipping see only live weights),
// the new parameter and every optimizer-state tensor, for SGD (momentum, Nesterov, weight decay), Adam and
// AdamW, against a float64 reference; a mask that changes mid-run prunes the newly masked weights at that
// step; and the unmasked parameters follow exactly the unmasked optimizer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder } from '../onnx/builder.js';
import { Tensor } from '../onnx/tensor.js';
import { Session } from '../runtime/session.js';
import { buildTrainStep } from './train-step.js';
import type { OptimizerConfig } from './types.js';

const A = [0.5, 1, 2, -0.3];
const W0 = [1, -2, 0.5, 3];
const LR = 0.1;

/** loss = Σ ½·a·w² + Σ v (v unmasked, to check other parameters are untouched). */
function graph(): { g: GraphBuilder; loss: string } {
  const g = new GraphBuilder({ name: 'quad' });
  const a = g.input('a', 'float32', [4]);
  g.initializer('w', Tensor.f32([4], W0));
  g.initializer('v', Tensor.f32([2], [0.25, -0.5]));
  const quad = g.reduceSum(g.mul(g.mul(g.mul('w', 'w'), a), g.scalar(0.5)), undefined, false);
  const lin = g.reduceSum(g.mul('v', 'v'), undefined, false);
  return { g, loss: g.add(quad, lin) };
}

/** PyTorch's update rules with a mask applied to the gradient, the parameter and the state (float64). */
function reference(o: OptimizerConfig, masks: number[][]): { w: number[] } {
  let w = [...W0];
  let m = [0, 0, 0, 0];
  let v = [0, 0, 0, 0];
  const wd = o.weightDecay ?? 0;
  masks.forEach((mask, k) => {
    const t = k + 1;
    let g = w.map((x, i) => A[i]! * x * mask[i]!);
    if (o.type === 'sgd') {
      g = g.map((x, i) => x + wd * w[i]!);
      const mu = o.momentum ?? 0;
      let d = g;
      if (mu) {
        m = m.map((x, i) => (mu * x + g[i]!));
        d = o.nesterov ? g.map((x, i) => x + mu * m[i]!) : [...m];
        m = m.map((x, i) => x * mask[i]!);
      }
      w = w.map((x, i) => (x - LR * d[i]!) * mask[i]!);
    } else {
      const [b1, b2, eps] = [o.beta1 ?? 0.9, o.beta2 ?? 0.999, o.epsilon ?? 1e-8];
      if (o.type === 'adam') g = g.map((x, i) => x + wd * w[i]!);
      const base = o.type === 'adamw' ? w.map((x) => x * (1 - LR * wd)) : w;
      m = m.map((x, i) => b1 * x + (1 - b1) * g[i]!);
      v = v.map((x, i) => b2 * x + (1 - b2) * g[i]! * g[i]!);
      const bc1 = 1 - b1 ** t;
      const bc2 = 1 - b2 ** t;
      w = base.map((x, i) => (x - (LR / bc1) * (m[i]! / (Math.sqrt(v[i]!) / Math.sqrt(bc2) + eps))) * mask[i]!);
      m = m.map((x, i) => x * mask[i]!);
      v = v.map((x, i) => x * mask[i]!);
    }
  });
  return { w };
}

const CASES: { name: string; o: OptimizerConfig }[] = [
  { name: 'sgd', o: { type: 'sgd' } },
  { name: 'sgd nesterov + weight decay', o: { type: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 0.1 } },
  { name: 'adam + weight decay', o: { type: 'adam', weightDecay: 0.05 } },
  { name: 'adamw', o: { type: 'adamw', weightDecay: 0.1 } },
];

// Steps 1–2 keep w[1] and w[3]; step 3 prunes w[3] too (a gradual schedule's next pruning step).
const MASKS = [[1, 0, 1, 1], [1, 0, 1, 1], [1, 0, 1, 0], [1, 0, 1, 0]];

for (const c of CASES) {
  test(`paramMasks: ${c.name} keeps masked weights and their state at 0, others follow the optimizer`, async () => {
    const { g, loss } = graph();
    const step = buildTrainStep({ graph: g.graph, loss, params: ['w', 'v'], optimizer: c.o, paramMasks: ['w'] });
    assert.deepEqual(step.masks!.map((m) => m.param), ['w']);
    assert.ok(!step.dataInputs.includes(step.masks![0]!.input), 'masks are not data inputs');
    const unmasked = buildTrainStep({ graph: g.graph, loss, params: ['v'], optimizer: c.o });
    const s = await Session.create({ model: step.model }, { intraOpThreads: 1 });
    const su = await Session.create({ model: unmasked.model }, { intraOpThreads: 1 });
    const state: Record<string, Tensor> = {};
    for (const sl of step.state) state[sl.input] = sl.initial;
    const stateU: Record<string, Tensor> = {};
    for (const sl of unmasked.state) stateU[sl.input] = sl.initial;
    const a = Tensor.f32([4], A);
    const ref = reference(c.o, MASKS);
    for (let t = 1; t <= MASKS.length; t++) {
      const common = { a, [step.lrInput]: Tensor.scalar('float32', LR), ...(step.stepInput ? { [step.stepInput]: Tensor.scalar('float32', t) } : {}) };
      const out = await s.run({ ...common, ...state, [step.masks![0]!.input]: Tensor.f32([4], MASKS[t - 1]!) });
      for (const sl of step.state) state[sl.input] = out[sl.output]!;
      const outU = await su.run({ a, [unmasked.lrInput]: Tensor.scalar('float32', LR), ...(unmasked.stepInput ? { [unmasked.stepInput]: Tensor.scalar('float32', t) } : {}), ...stateU });
      for (const sl of unmasked.state) stateU[sl.input] = outU[sl.output]!;
    }
    const w = state.w!.toNumbers();
    for (let i = 0; i < 4; i++) assert.ok(Math.abs(w[i]! - ref.w[i]!) < 1e-5, `w[${i}] = ${w[i]}, reference ${ref.w[i]}`);
    assert.ok(w[1] === 0, `w[1] = ${w[1]}`);
    assert.ok(w[3] === 0, `w[3] = ${w[3]}: pruned at step 3 although it had moved before`);
    for (const sl of step.state.filter((x) => x.kind === 'optimizer' && x.param === 'w')) {
      const st = state[sl.input]!.toNumbers();
      assert.ok(st[1] === 0, `${sl.input}[1] stays 0`);
      assert.ok(st[3] === 0, `${sl.input}[3] zeroed with its weight`);
    }
    // The unmasked parameter is updated exactly as without masks.
    assert.deepEqual(state.v!.toNumbers(), stateU.v!.toNumbers());
    await s.release();
    await su.release();
  });
}

test('paramMasks: the reported gradient norm is the norm of the masked gradient', async () => {
  const { g, loss } = graph();
  const step = buildTrainStep({ graph: g.graph, loss, params: ['w'], optimizer: { type: 'sgd' }, paramMasks: ['w'] });
  const s = await Session.create({ model: step.model }, { intraOpThreads: 1 });
  const feeds: Record<string, Tensor> = { a: Tensor.f32([4], A), [step.lrInput]: Tensor.scalar('float32', 0), w: Tensor.f32([4], W0), [step.masks![0]!.input]: Tensor.f32([4], [0, 1, 1, 0]) };
  const out = await s.run(feeds);
  const norm = out[step.gradNormOutput]!.toNumbers()[0]!;
  const want = Math.hypot(A[1]! * W0[1]!, A[2]! * W0[2]!); // dL/dw = a·w on the live weights only
  assert.ok(Math.abs(norm - want) < 1e-5, `norm ${norm}, want ${want}`);
  // lr 0: the update is the identity, but masked weights are zeroed by the mask itself.
  assert.deepEqual(out[step.state.find((x) => x.input === 'w')!.output]!.toNumbers().map((x) => x + 0), [0, -2, 0.5, 0]);
  await s.release();
});

test('paramMasks: a mask on a parameter that is not trained is an error', () => {
  const { g, loss } = graph();
  assert.throws(() => buildTrainStep({ graph: g.graph, loss, params: ['v'], optimizer: { type: 'sgd' }, paramMasks: ['w'] }), /masked parameter 'w' is not one of the trained parameters/);
});
