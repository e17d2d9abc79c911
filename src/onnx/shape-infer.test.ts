import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder } from './builder.js';
import type { Dim } from './ir.js';
import { inferShapes, inferTypes } from './shape-infer.js';
import { allFixtures } from './test-fixtures.js';
import { runOrtAllValues } from './test-ort.js';
import { Tensor } from './tensor.js';
import { attr } from './attr.js';
import { create } from '@bufbuild/protobuf';
import { FunctionProtoSchema, NodeProtoSchema, OperatorSetIdProtoSchema } from './gen/onnx_pb.js';

const EXPECTED_UNKNOWN: Record<string, string[]> = {
  misc_ops: ['NonZero_out0', 'nonzero'], // data-dependent
};

for (const fx of allFixtures()) {
  test(`inferred shapes match onnxruntime: ${fx.name}`, async () => {
    const res = inferTypes(fx.model);
    assert.deepEqual(res.problems, []);
    const actual = await runOrtAllValues(fx.model, fx.feeds);
    const symbols = new Map<string, number>();
    let checked = 0;
    for (const [name, t] of Object.entries(actual)) {
      const inferred = res.types.get(name);
      assert.ok(inferred, `${fx.name}: no type inferred for '${name}'`);
      assert.equal(inferred.dtype, t.dtype, `${fx.name}: dtype of '${name}'`);
      assert.ok(inferred.shape, `${fx.name}: no shape inferred for '${name}'`);
      assert.equal(inferred.shape.length, t.dims.length, `${fx.name}: rank of '${name}': inferred [${inferred.shape}] vs actual [${t.dims}]`);
      inferred.shape.forEach((d, i) => {
        if (typeof d === 'number') assert.equal(d, t.dims[i], `${fx.name}: '${name}' dim ${i}: inferred [${inferred.shape}] vs actual [${t.dims}]`);
        else if (typeof d === 'string') {
          // A symbol must stand for the same size everywhere it appears.
          const seen = symbols.get(d);
          if (seen === undefined) symbols.set(d, t.dims[i]!);
          else assert.equal(t.dims[i], seen, `${fx.name}: symbol '${d}' in '${name}' dim ${i}`);
        }
      });
      checked++;
    }
    assert.ok(checked >= 5, `${fx.name}: only ${checked} values compared`);
    // Unknown dims only where no name can express them: data-dependent sizes and products of symbols.
    const unknown = [...res.types].filter(([, t]) => t.shape?.includes(null)).map(([n]) => n).sort();
    assert.deepEqual(unknown, EXPECTED_UNKNOWN[fx.name] ?? [], `${fx.name}: values with unknown dims`);
  });
}

test('symbolic dims survive a PyTorch-style Shape→Gather→Concat→Reshape chain', () => {
  const fx = allFixtures().find((f) => f.name === 'transformer')!;
  const res = inferTypes(fx.model);
  assert.deepEqual(res.types.get('hidden')?.shape, ['batch', 'seq', 16]);
  // The per-head reshape resolved to symbols, not unknowns.
  const reshapes = fx.model.graph.nodes.filter((n) => n.opType === 'Reshape').map((n) => res.types.get(n.outputs[0]!)?.shape);
  assert.deepEqual(reshapes[0], ['batch', 'seq', 2, 8]);
  // Products of symbols are named canonically, so they compare (and cancel) by name.
  assert.deepEqual(res.types.get('flat')?.shape, ['batch*seq', 16]);
  assert.deepEqual(res.types.get('up')?.shape, ['batch', 1, '2*seq', 8]);
});

test('inputShapes override declared dims; inferShapes fills valueInfo', () => {
  const fx = allFixtures().find((f) => f.name === 'cnn')!;
  const g = fx.model.graph;
  assert.equal(g.valueInfo.size, 0);
  const res = inferShapes(fx.model, { inputShapes: { image: [5, 3, 16, 16] } });
  assert.deepEqual(res.types.get('logits')?.shape, [5, 10]);
  const someInner = g.nodes[0]!.outputs[0]!;
  assert.deepEqual(g.valueInfo.get(someInner)?.type?.shape, [5, 8, 16, 16]);
});

test('broadcasting of symbolic dims', () => {
  const g = new GraphBuilder();
  const a = g.input('a', 'float32', ['n', 1, 3]);
  const b = g.input('b', 'float32', [4, 1]);
  const c = g.input('c', 'float32', ['m', 4, 3]);
  const d = g.input('d', 'float32', [null, 3]);
  g.output(g.add(a, b), 'ab');
  g.output(g.add(a, c), 'ac');
  g.output(g.add(b, d), 'bd');
  const t = inferTypes(g.toModel()).types;
  assert.deepEqual(t.get('ab')?.shape, ['n', 4, 3]);
  assert.deepEqual(t.get('ac')?.shape, [null, 4, 3]);
  assert.deepEqual(t.get('bd')?.shape, [4, 3]);
});

test('problems: incompatible broadcast, matmul inner dims, dtype mismatch; unknown ops are unknown', () => {
  const g = new GraphBuilder();
  const a = g.input('a', 'float32', [2, 3]);
  const b = g.input('b', 'float32', [4, 5]);
  const i = g.input('i', 'int64', [2, 3]);
  g.output(g.add(a, b), 's');
  g.output(g.matMul(a, b), 'm');
  g.output(g.mul(a, i), 'x');
  g.output(g.op1('FancyCustomOp', [a], {}, { domain: 'com.example' }), 'custom');
  g.output(g.op1('NotARealOnnxOp', [a]), 'fake');
  const res = inferTypes(g.toModel());
  const msgs = res.problems.map((p) => `${p.opType}: ${p.message}`);
  assert.equal(msgs.length, 3, msgs.join('\n'));
  assert.match(msgs[0]!, /^Add: cannot broadcast inputs 'a' \[2, 3\] and 'b' \[4, 5\]/);
  assert.match(msgs[1]!, /^MatMul: inner dims differ/);
  assert.match(msgs[2]!, /^Mul: input 1 'i' is int64 but input 0 'a' is float32/);
  assert.equal(res.types.get('custom'), undefined);
  assert.equal(res.types.get('fake'), undefined);
});

test('reductions take axes from inputs (opset 18) and attributes (opset 13)', () => {
  for (const opset of [13, 18]) {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', ['b', 4, 5]);
    const y = opset >= 18 ? g.op1('ReduceMax', [x, g.int64s([-1])], { keepdims: attr.int(0) }) : g.op1('ReduceMax', [x], { axes: attr.ints([-1]), keepdims: attr.int(0) });
    g.output(y, 'y');
    assert.deepEqual(inferTypes(g.toModel({ opset })).types.get('y')?.shape, ['b', 4]);
  }
});

test('ConstantOfShape, Range and Slice with negative steps resolve from constants', () => {
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', [10, 6]);
  const z = g.op1('ConstantOfShape', [g.int64s([2, 3])], { value: attr.tensor(Tensor.i64([1], [7])) });
  const r = g.op1('Range', [g.constant(Tensor.f32([], [0])), g.constant(Tensor.f32([], [1])), g.constant(Tensor.f32([], [0.25]))]);
  const s = g.slice(x, [-1, 5], [-100, 0], [0, 1], [-2, -1]);
  for (const [n, v] of Object.entries({ z, r, s })) g.output(v, n);
  const t = inferTypes(g.toModel()).types;
  assert.deepEqual(t.get('z'), { dtype: 'int64', shape: [2, 3] });
  assert.deepEqual(t.get('r'), { dtype: 'float32', shape: [4] });
  assert.deepEqual(t.get('s')?.shape, [5, 5]);
});

test('inference never throws on nonsense attributes', () => {
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', [1, 2, 3, 3]);
  const bad: Dim[] = [];
  g.op1('Conv', [x, x], { strides: attr.ints([0, 0]) });
  g.op1('Transpose', [x], { perm: attr.ints([5, 5]) });
  g.op1('Cast', [x], { to: attr.int(999) });
  g.op1('Reshape', [x, g.int64s([-1, -1])]);
  g.op1('Split', [x], { axis: attr.int(9) });
  g.op1('Einsum', [x], { equation: attr.string('ab,bc->ac') });
  const res = inferTypes(g.toModel());
  assert.equal(res.problems.length, 6);
  assert.deepEqual(bad, []);
});

test('older opsets: Resize-10 scales as input 1, Split/Squeeze/Pad attributes', () => {
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', ['n', 3, 4, 4]);
  g.output(g.op1('Resize', [x, g.constant(Tensor.f32([4], [1, 1, 2, 2]))]), 'up');
  const parts = g.op('Split', [x], { axis: attr.int(1), split: attr.ints([1, 2]) }, { outputs: 2 });
  g.output(parts[1]!, 'part');
  g.output(g.op1('Squeeze', [g.op1('ReduceMean', [x], { axes: attr.ints([1]) })], { axes: attr.ints([1]) }), 'sq');
  g.output(g.op1('Pad', [x], { pads: attr.ints([0, 0, 1, 1, 0, 0, 1, 1]) }), 'pad');
  const t = inferTypes(g.toModel({ opset: 10 })).types;
  assert.deepEqual(t.get('up')?.shape, ['n', 3, 8, 8]);
  assert.deepEqual(t.get('part')?.shape, ['n', 2, 4, 4]);
  assert.deepEqual(t.get('sq')?.shape, ['n', 4, 4]);
  assert.deepEqual(t.get('pad')?.shape, ['n', 3, 6, 6]);
});

test('symbolic products: Flatten, Reshape -1 and Mul of shape values cancel by name', () => {
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', ['b', 'h', 'w', 8]);
  const flat = g.flatten(x, 1); // [b, 8·h·w]
  const back = g.reshape(flat, [0, -1, 8]); // [b, h·w, 8]
  const s = g.shape(x);
  const hw = g.mul(g.gather(s, g.int64s([1])), g.gather(s, g.int64s([2]))); // [h·w]
  const target = g.concat([g.gather(s, g.int64s([0])), hw, g.int64s([-1])], 0);
  g.output(flat, 'flat');
  g.output(back, 'back');
  g.output(g.reshape(x, target), 'viaValues');
  const t = inferTypes(g.toModel()).types;
  assert.deepEqual(t.get('flat')?.shape, ['b', '8*h*w']);
  assert.deepEqual(t.get('back')?.shape, ['b', 'h*w', 8]);
  assert.deepEqual(t.get('viaValues')?.shape, ['b', 'h*w', 8]);
});

test('calls to model-local functions are inferred through the function body', async () => {
  const g = new GraphBuilder();
  const a = g.input('a', 'float32', ['n', 3]);
  const b = g.input('b', 'float32', [3]);
  g.output(g.op1('AddRelu', [a, b], {}, { domain: 'local' }), 'y');
  const m = g.toModel({ opsets: { local: 1 } });
  m.functions.push(create(FunctionProtoSchema, {
    name: 'AddRelu',
    domain: 'local',
    input: ['x', 'bias'],
    output: ['out'],
    opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: 21n })],
    node: [
      create(NodeProtoSchema, { opType: 'Add', input: ['x', 'bias'], output: ['s'] }),
      create(NodeProtoSchema, { opType: 'Relu', input: ['s'], output: ['out'] }),
    ],
  }));
  assert.deepEqual(inferTypes(m).types.get('y'), { dtype: 'float32', shape: ['n', 3] });
  const out = await runOrtAllValues(m, { a: Tensor.f32([2, 3], [1, -2, 3, -4, 5, -6]), b: Tensor.f32([3], [0, 0, 1]) });
  assert.deepEqual(out.y!.dims, [2, 3]);
});
