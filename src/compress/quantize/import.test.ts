import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attr } from '../../onnx/attr.js';
import { GraphBuilder } from '../../onnx/builder.js';
import { Graph, walkGraphs } from '../../onnx/ir.js';
import { Tensor } from '../../onnx/tensor.js';
import { prepareModel } from './prepare.js';
import { quantize } from './quantize.js';
import { closeness, lcg, randomTensor, runModel } from './test-models.js';

/** An opset-10 model as older exporters wrote it: weights in Constant nodes, Clip/Unsqueeze with attributes, an If. */
function opset10Model() {
  const r = lcg(21);
  const g = new GraphBuilder({ name: 'old' });
  const x = g.input('x', 'float32', ['N', 8]);
  const [w1] = g.op('Constant', [], { value: attr.tensor(randomTensor([8, 16], r, 1)) });
  let h = g.op1('Clip', [g.relu(g.matMul(x, w1!))], { min: attr.float(0), max: attr.float(6) });
  h = g.flatten(g.op1('Unsqueeze', [h], { axes: attr.ints([1]) }));
  const cond = g.greater(g.op1('ReduceSum', [x], { keepdims: attr.int(0) }), g.constant(Tensor.f32([], [0])));
  const branch = (name: string, seed: number): Graph => {
    const sg = new Graph(name);
    const b = new GraphBuilder({ graph: sg, prefix: `${name}/` });
    const [w] = b.op('Constant', [], { value: attr.tensor(randomTensor([16, 4], lcg(seed), 1)) });
    sg.outputs.push({ name: b.matMul(h, w!), type: { dtype: 'float32', shape: ['N', 4] } });
    return sg;
  };
  const y = g.op1('If', [cond], { then_branch: attr.graph(branch('then', 1)), else_branch: attr.graph(branch('else', 2)) });
  g.output(g.op1('Softmax', [y], { axis: attr.int(1) }), 'probs');
  return g.toModel({ opset: 10, irVersion: 6 });
}

const inputs = (n: number, seed: number, shift: number): Tensor => {
  const r = lcg(seed);
  return Tensor.f32([n, 8], Array.from({ length: n * 8 }, () => r() * 2 + shift));
};

test('opset upgrade 10 → 13 keeps the outputs (Constant, Clip, Unsqueeze, ReduceSum, Softmax, If)', async () => {
  const model = opset10Model();
  const prep = prepareModel(model);
  assert.equal(prep.model.opset, 13);
  assert.ok(prep.foldedConstants >= 3);
  for (const shift of [0.5, -0.5]) {
    const x = inputs(6, 3, shift);
    const a = (await runModel(model, { x })).probs!;
    const b = (await runModel(prep.model, { x })).probs!;
    assert.ok(closeness(a, b).maxDiff < 1e-6);
  }
});

test('Softmax before opset 13 (flatten-to-2D semantics) is rewritten exactly on rank-3 inputs', async () => {
  const g = new GraphBuilder({ name: 'sm' });
  const x = g.input('x', 'float32', ['N', 3, 4]);
  g.output(g.op1('Softmax', [g.matMul(x, g.constant(randomTensor([4, 4], lcg(5))))], { axis: attr.int(1) }), 'y');
  const model = g.toModel({ opset: 11 });
  const prep = prepareModel(model).model;
  const xs = randomTensor([2, 3, 4], lcg(6), 3);
  assert.ok(closeness((await runModel(model, { x: xs })).y!, (await runModel(prep, { x: xs })).y!).maxDiff < 1e-6);
});

test('imported opset-10 model: dynamic quantizes inside If branches, static covers the main graph and lists the rest', async () => {
  const model = opset10Model();
  const x = inputs(8, 4, 0.3);
  const xn = inputs(8, 5, -0.3);
  const dyn = await quantize({ model, mode: 'dynamic' });
  const inSub = dyn.report.outcomes.filter((o) => o.graph !== 'main' && o.status === 'quantized');
  assert.equal(inSub.length, 2, JSON.stringify(dyn.report.outcomes));
  // The float weights inside the branches are gone (int8 copies replace them).
  for (const sg of [...walkGraphs(dyn.model.graph)].slice(1)) {
    assert.ok([...sg.initializers.values()].every((t) => t.dtype !== 'float32' || t.dims.length < 2), `float weights left in '${sg.name}'`);
  }
  const st = await quantize({ model, mode: 'static', calibration: () => [{ x }, { x: xn }] });
  assert.equal(st.report.outcomes.filter((o) => o.graph !== 'main' && o.status === 'float' && o.opType === 'MatMul').length, 2);
  assert.ok(st.report.outcomes.some((o) => o.graph === 'main' && o.opType === 'MatMul' && o.status === 'quantized'));
  assert.ok(st.report.notes.some((n) => n.includes('opset 10 → 13')));
  for (const feeds of [{ x }, { x: xn }]) {
    const ref = (await runModel(model, feeds)).probs!;
    for (const q of [dyn.model, st.model]) {
      const c = closeness(ref, (await runModel(q, feeds)).probs!);
      assert.ok(c.cosine > 0.999, `cosine ${c.cosine}`);
    }
  }
});
