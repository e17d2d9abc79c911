// Ranking losses against JS references and central finite differences (float64), and buildTrainStep's
// gradOutputs: the returned dLoss/dX equals the numeric gradient and is clipped with the parameters'.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder } from '../onnx/builder.js';
import { Model } from '../onnx/ir.js';
import { Tensor } from '../onnx/tensor.js';
import { Session } from '../runtime/session.js';
import { checkGradients } from './gradcheck.js';
import { bprLoss, sampledSoftmaxLoss } from './ranking-losses.js';
import { buildTrainStep } from './train-step.js';

const POS = [0.5, -0.2, 1.3];
const NEG = [[0.1, 0.9], [-1.0, 0.3], [1.5, 2.0]];
const Q = [[0.2, -0.4], [1.0, 0.5], [-0.3, 0.8]];
const C = [[0.6, 0.1], [-0.2, 0.9], [0.4, -0.7]];

async function value(build: (g: GraphBuilder) => string, feeds: Record<string, Tensor>): Promise<number> {
  const g = new GraphBuilder();
  for (const [k, t] of Object.entries(feeds)) g.input(k, t.dtype, [...t.dims]);
  const out = build(g);
  g.graph.outputs = [{ name: out }];
  const m = new Model(g.graph);
  const s = await Session.create({ model: m }, { intraOpThreads: 1 });
  const r = await s.run(feeds);
  await s.release();
  return r[out]!.toNumbers()[0]!;
}

const softplus = (x: number) => Math.log1p(Math.exp(-Math.abs(x))) + Math.max(x, 0);

test('bprLoss is the mean of softplus(s⁻ − s⁺) and its gradients match finite differences', async () => {
  const feeds = { pos: Tensor.f64([3, 1], POS), neg: Tensor.f64([3, 2], NEG.flat()) };
  const want = NEG.flatMap((row, i) => row.map((n) => softplus(n - POS[i]!))).reduce((a, b) => a + b, 0) / 6;
  const got = await value((g) => bprLoss(g, { positive: 'pos', negative: 'neg' }), feeds);
  assert.ok(Math.abs(got - want) < 1e-12, `${got} vs ${want}`);
  const r = await checkGradients({ feeds, wrt: ['pos', 'neg'], build: (g) => [bprLoss(g, { positive: 'pos', negative: 'neg' })] });
  assert.ok(r.maxError < 1e-6, `max scaled error ${r.maxError}`);
});

function softmaxRef(logq: number[] | undefined, ids: number[] | undefined, t: number): number {
  let total = 0;
  for (let i = 0; i < 3; i++) {
    const logits = C.map((c, j) => {
      let v = (Q[i]![0]! * c[0]! + Q[i]![1]! * c[1]!) / t - (logq ? logq[j]! : 0);
      if (ids && j !== i && ids[j] === ids[i]) v = -1e9;
      return v;
    });
    const m = Math.max(...logits);
    total += m + Math.log(logits.reduce((s, v) => s + Math.exp(v - m), 0)) - logits[i]!;
  }
  return total / 3;
}

test('sampledSoftmaxLoss: in-batch softmax with logQ correction and accidental hits removed, gradients checked', async () => {
  const logq = [-1.2, -0.3, -2.0];
  const ids = [7, 3, 7]; // rows 0 and 2 hold the same item: each is not the other's negative
  const feeds = { q: Tensor.f64([3, 2], Q.flat()), c: Tensor.f64([3, 2], C.flat()), logq: Tensor.f64([3, 1], logq), ids: Tensor.i64([3, 1], ids) };
  const cases = [
    { o: { query: 'q', candidate: 'c' }, want: softmaxRef(undefined, undefined, 1) },
    { o: { query: 'q', candidate: 'c', logQ: 'logq', temperature: 0.5 }, want: softmaxRef(logq, undefined, 0.5) },
    { o: { query: 'q', candidate: 'c', logQ: 'logq', candidateIds: 'ids' }, want: softmaxRef(logq, ids, 1) },
  ];
  for (const c of cases) {
    const got = await value((g) => sampledSoftmaxLoss(g, c.o), feeds);
    assert.ok(Math.abs(got - c.want) < 1e-9, `${JSON.stringify(c.o)}: ${got} vs ${c.want}`);
    const r = await checkGradients({ feeds, wrt: ['q', 'c', 'logq'].filter((k) => k !== 'logq' || c.o.logQ), build: (g) => [sampledSoftmaxLoss(g, c.o)] });
    assert.ok(r.maxError < 1e-6, `${JSON.stringify(c.o)}: max scaled error ${r.maxError}`);
  }
});

test('buildTrainStep gradOutputs returns dLoss/dX of a fed input (finite differences), clipped with the parameters', async () => {
  // loss = mean((rows[idx] · w)²): rows is fed (like gathered embedding rows), w is a parameter.
  const build = (): GraphBuilder => {
    const g = new GraphBuilder({ name: 'g' });
    const rows = g.input('rows', 'float32', [4, 3]);
    const idx = g.input('idx', 'int64', ['batch', 1]);
    g.initializer('w', Tensor.f32([3, 1], [0.5, -1, 2]));
    const x = g.reshape(g.gather(rows, idx, 0), [-1, 3]);
    const y = g.matMul(x, 'w');
    g.output(g.reduceMean(g.mul(y, y), undefined, false), 'loss', { dtype: 'float32', shape: [] });
    return g;
  };
  const rows = [0.1, 0.2, 0.3, -0.4, 0.5, 0.6, 0.7, -0.8, 0.9, 0, 0, 0];
  const idx = [1, 2, 1, 0, 2];
  const run = async (clip?: number) => {
    const step = buildTrainStep({ graph: build().graph, loss: 'loss', params: ['w'], optimizer: { type: 'sgd' }, gradOutputs: ['rows'], clipGradNorm: clip });
    assert.deepEqual(step.gradOutputs, [{ input: 'rows', output: 'rows/grad' }]);
    const s = await Session.create({ model: step.model }, { intraOpThreads: 1 });
    const r = await s.run({ rows: Tensor.f32([4, 3], rows), idx: Tensor.i64([5, 1], idx), w: Tensor.f32([3, 1], [0.5, -1, 2]), lr: Tensor.scalar('float32', 0.1) });
    await s.release();
    return { grad: r['rows/grad']!.toNumbers(), norm: r[step.gradNormOutput]!.toNumbers()[0]! };
  };
  const { grad, norm } = await run();
  // d/d rows[r] of mean_i ((rows[idx_i]·w)²) = Σ_{i: idx_i = r} 2 (rows[r]·w) w / N.
  const w = [0.5, -1, 2];
  const want = new Array<number>(12).fill(0);
  for (const r of idx) {
    const y = rows[r * 3]! * w[0]! + rows[r * 3 + 1]! * w[1]! + rows[r * 3 + 2]! * w[2]!;
    for (let d = 0; d < 3; d++) want[r * 3 + d]! += (2 * y * w[d]!) / idx.length;
  }
  grad.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-6, `rows grad ${i}: ${v} vs ${want[i]}`));
  assert.equal(grad.slice(9).every((v) => v === 0), true, 'an unused row has a zero gradient');
  // Clipping: the norm covers rows and w; a clip below it scales the rows' gradient by the same factor.
  const clipped = await run(norm / 4);
  clipped.grad.forEach((v, i) => assert.ok(Math.abs(v - grad[i]! / 4) < 1e-5, `clipped ${i}: ${v} vs ${grad[i]! / 4}`));
  assert.throws(() => buildTrainStep({ graph: build().graph, loss: 'loss', params: ['w'], optimizer: { type: 'sgd' }, gradOutputs: ['idx'] }), /only float inputs/);
  assert.throws(() => buildTrainStep({ graph: build().graph, loss: 'loss', params: ['w'], optimizer: { type: 'sgd' }, gradOutputs: ['nope'] }), /not a data input/);
});
