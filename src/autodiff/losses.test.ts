// Losses against hand-computed values (JS reference) and their gradients against finite differences.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder } from '../onnx/builder.js';
import { Model } from '../onnx/ir.js';
import { Tensor } from '../onnx/tensor.js';
import { Session } from '../runtime/session.js';
import { checkGradients } from './gradcheck.js';
import { binaryCrossEntropy, huber, klDivergence, mae, mse, softmaxCrossEntropy } from './losses.js';

const LOGITS = [[2, 1, 0.1], [0.5, 2.5, -1], [-0.3, 0.2, 0.9], [1, 1, 1]];
const LABELS = [0, 1, 2, 1];

async function value(build: (g: GraphBuilder) => string, feeds: Record<string, Tensor>): Promise<number> {
  const g = new GraphBuilder();
  for (const [k, t] of Object.entries(feeds)) g.input(k, t.dtype, [...t.dims]);
  const out = build(g);
  g.graph.outputs = [{ name: out }];
  const s = await Session.create({ model: new Model(g.graph) }, { intraOpThreads: 1 });
  const r = await s.run(feeds);
  await s.release();
  return r[out]!.toNumbers()[0]!;
}

const logSoftmax = (row: number[]): number[] => {
  const m = Math.max(...row);
  const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
  return row.map((v) => v - lse);
};
const feedsLogits = (): Record<string, Tensor> => ({ logits: Tensor.f64([4, 3], LOGITS.flat()), labels: Tensor.i64([4], LABELS) });

test('softmaxCrossEntropy matches -mean log p[label], with and without label smoothing', async () => {
  for (const eps of [0, 0.1]) {
    const want = LOGITS.map((row, i) => {
      const lp = logSoftmax(row);
      return -(1 - eps) * lp[LABELS[i]!]! - (eps / 3) * lp.reduce((s, v) => s + v, 0);
    }).reduce((s, v) => s + v, 0) / 4;
    const got = await value((g) => softmaxCrossEntropy(g, { logits: 'logits', labels: 'labels', labelSmoothing: eps }), feedsLogits());
    assert.ok(Math.abs(got - want) < 1e-9, `ε=${eps}: ${got} vs ${want}`);
  }
});

test('softmaxCrossEntropy with class weights = PyTorch CrossEntropyLoss(weight=w, label_smoothing=ε)', async () => {
  const w = [0.5, 2, 1];
  for (const eps of [0, 0.2]) {
    // PyTorch: Σᵢ [(1-ε)·w[yᵢ]·(-log p[yᵢ]) + (ε/C)·Σ_c w_c·(-log p_c)] / Σᵢ w[yᵢ]
    let num = 0;
    let den = 0;
    LOGITS.forEach((row, i) => {
      const lp = logSoftmax(row);
      const y = LABELS[i]!;
      num += (1 - eps) * w[y]! * -lp[y]! + (eps / 3) * lp.reduce((s, v, c) => s + w[c]! * -v, 0);
      den += w[y]!;
    });
    const got = await value((g) => softmaxCrossEntropy(g, { logits: 'logits', labels: 'labels', labelSmoothing: eps, classWeights: w }), feedsLogits());
    assert.ok(Math.abs(got - num / den) < 1e-9, `ε=${eps}: ${got} vs ${num / den}`);
  }
});

test('mse, mae and huber against hand-computed values, with and without a target scale', async () => {
  const feeds = { p: Tensor.f64([2, 2], [1, 2, 3, 4]), t: Tensor.f64([2, 2], [0, 2, 5, 3.5]) };
  // residuals 1, 0, -2, 0.5
  const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);
  close(await value((g) => mse(g, { pred: 'p', target: 't' }), feeds), (1 + 0 + 4 + 0.25) / 4);
  close(await value((g) => mae(g, { pred: 'p', target: 't' }), feeds), (1 + 0 + 2 + 0.5) / 4);
  // huber δ = 1: ½r² for |r| ≤ 1, |r| − ½ beyond
  close(await value((g) => huber(g, { pred: 'p', target: 't' }), feeds), (0.5 + 0 + 1.5 + 0.125) / 4);
  // δ = 0.4: 0.4·(|r| − 0.2) beyond
  close(await value((g) => huber(g, { pred: 'p', target: 't', delta: 0.4 }), feeds), (0.4 * 0.8 + 0 + 0.4 * 1.8 + 0.4 * 0.3) / 4);
  // per-column scales [2, 0.5]: residuals / scale = 0.5, 0, -1, 1
  close(await value((g) => mse(g, { pred: 'p', target: 't', scale: [2, 0.5] }), feeds), (0.25 + 0 + 1 + 1) / 4);
  close(await value((g) => mae(g, { pred: 'p', target: 't', scale: 2 }), feeds), (0.5 + 0 + 1 + 0.25) / 4);
});

test('binaryCrossEntropy with pos_weight = PyTorch BCEWithLogitsLoss(pos_weight=…)', async () => {
  const x = [0.3, -2, 1.5, -0.7, 2, 0.1];
  const t = [1, 0, 1, 1, 0, 0.5];
  const pw = [3, 0.5];
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  const want = x.map((v, i) => -(pw[i % 2]! * t[i]! * Math.log(sig(v)) + (1 - t[i]!) * Math.log(1 - sig(v)))).reduce((a, b) => a + b, 0) / 6;
  const got = await value((g) => binaryCrossEntropy(g, { logits: 'x', target: 't', posWeight: pw }), { x: Tensor.f64([3, 2], x), t: Tensor.f64([3, 2], t) });
  assert.ok(Math.abs(got - want) < 1e-12, `${got} vs ${want}`);
});

test('binaryCrossEntropy from logits is exact and stable for large |x|', async () => {
  const x = [0.3, -2, 50, -60];
  const t = [1, 0, 1, 0.25];
  const want = x.map((v, i) => {
    // log(1 - p) for v = -60 and log p for v = 50 need the stable forms
    const logp = v >= 0 ? -Math.log1p(Math.exp(-v)) : v - Math.log1p(Math.exp(v));
    const log1mp = v >= 0 ? -v - Math.log1p(Math.exp(-v)) : -Math.log1p(Math.exp(v));
    return -(t[i]! * logp + (1 - t[i]!) * log1mp);
  }).reduce((s, v) => s + v, 0) / 4;
  const got = await value((g) => binaryCrossEntropy(g, { logits: 'x', target: 't' }), { x: Tensor.f64([4], x), t: Tensor.f64([4], t) });
  assert.ok(Number.isFinite(got));
  assert.ok(Math.abs(got - want) < 1e-9, `${got} vs ${want}`);
});

test('klDivergence = T² · mean_n KL(softmax(t/T) ‖ softmax(s/T)), 0 when equal', async () => {
  const T = 2;
  const teacher = [[1, 0, -1], [0.2, 0.1, 3], [2, 2, 0], [0, 0, 0]];
  const want = LOGITS.map((s, i) => {
    const ls = logSoftmax(s.map((v) => v / T));
    const lt = logSoftmax(teacher[i]!.map((v) => v / T));
    return lt.reduce((acc, l, c) => acc + Math.exp(l) * (l - ls[c]!), 0);
  }).reduce((a, v) => a + v, 0) / 4 * T * T;
  const feeds = { s: Tensor.f64([4, 3], LOGITS.flat()), t: Tensor.f64([4, 3], teacher.flat()) };
  const got = await value((g) => klDivergence(g, { studentLogits: 's', teacherLogits: 't', temperature: T }), feeds);
  assert.ok(Math.abs(got - want) < 1e-9, `${got} vs ${want}`);
  const same = await value((g) => klDivergence(g, { studentLogits: 's', teacherLogits: 's', temperature: T }), { s: feeds.s });
  assert.ok(Math.abs(same) < 1e-12);
});

const GRAD_CASES: { name: string; feeds: () => Record<string, Tensor>; wrt: string[]; loss: (g: GraphBuilder) => string }[] = [
  { name: 'softmaxCrossEntropy (ε = 0.1)', feeds: feedsLogits, wrt: ['logits'], loss: (g) => softmaxCrossEntropy(g, { logits: 'logits', labels: 'labels', labelSmoothing: 0.1 }) },
  { name: 'softmaxCrossEntropy (class weights, ε = 0.1)', feeds: feedsLogits, wrt: ['logits'], loss: (g) => softmaxCrossEntropy(g, { logits: 'logits', labels: 'labels', labelSmoothing: 0.1, classWeights: [0.5, 2, 1] }) },
  { name: 'mse', feeds: () => ({ p: Tensor.f64([2, 3], [1, 2, 3, 4, 5, 6]), t: Tensor.f64([2, 3], [0, 2, 5, 3, 1, 1]) }), wrt: ['p', 't'], loss: (g) => mse(g, { pred: 'p', target: 't' }) },
  { name: 'mse (per-column scale)', feeds: () => ({ p: Tensor.f64([2, 3], [1, 2, 3, 4, 5, 6]), t: Tensor.f64([2, 3], [0, 2.5, 5, 3, 1, 1]) }), wrt: ['p'], loss: (g) => mse(g, { pred: 'p', target: 't', scale: [2, 0.5, 3] }) },
  { name: 'mae', feeds: () => ({ p: Tensor.f64([2, 3], [1, 2, 3, 4, 5, 6]), t: Tensor.f64([2, 3], [0, 2.5, 5, 3, 1, 1]) }), wrt: ['p', 't'], loss: (g) => mae(g, { pred: 'p', target: 't', scale: 1.5 }) },
  { name: 'huber (both branches)', feeds: () => ({ p: Tensor.f64([2, 3], [1, 2, 3, 4, 5, 6]), t: Tensor.f64([2, 3], [0.2, 2.5, 5, 3.9, 1, 6.3]) }), wrt: ['p', 't'], loss: (g) => huber(g, { pred: 'p', target: 't', delta: 1 }) },
  { name: 'binaryCrossEntropy (pos_weight per label)', feeds: () => ({ x: Tensor.f64([2, 2], [0.3, -2, 1.5, -0.7]), t: Tensor.f64([2, 2], [1, 0, 0.5, 0.25]) }), wrt: ['x'], loss: (g) => binaryCrossEntropy(g, { logits: 'x', target: 't', posWeight: [2, 0.5] }) },
  { name: 'binaryCrossEntropy', feeds: () => ({ x: Tensor.f64([4], [0.3, -2, 1.5, -0.7]), t: Tensor.f64([4], [1, 0, 0.5, 0.25]) }), wrt: ['x'], loss: (g) => binaryCrossEntropy(g, { logits: 'x', target: 't' }) },
  { name: 'klDivergence (student and teacher)', feeds: () => ({ s: Tensor.f64([4, 3], LOGITS.flat()), t: Tensor.f64([4, 3], LOGITS.flat().map((v) => v * 0.5 + 0.1)) }), wrt: ['s', 't'], loss: (g) => klDivergence(g, { studentLogits: 's', teacherLogits: 't', temperature: 3 }) },
];

for (const c of GRAD_CASES) {
  test(`gradcheck loss ${c.name}`, async () => {
    const r = await checkGradients({ feeds: c.feeds(), wrt: c.wrt, build: (g) => [c.loss(g)] });
    assert.ok(r.maxError < 1e-6, `max scaled error ${r.maxError}`);
  });
}
