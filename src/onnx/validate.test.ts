import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphValidationError } from '../util/errors.js';
import { attr } from './attr.js';
import { GraphBuilder } from './builder.js';
import { Graph } from './ir.js';
import { allFixtures } from './test-fixtures.js';
import { NodeValidationError, assertValidGraph, validateGraph } from './validate.js';

test('every fixture model validates cleanly', () => {
  for (const fx of allFixtures()) assert.deepEqual(validateGraph(fx.model).map((e) => e.message), [], fx.name);
});

test('undefined inputs, out-of-order nodes, duplicate outputs and missing graph outputs are named', () => {
  const g = new GraphBuilder({ name: 'bad' });
  const x = g.input('x', 'float32', [2, 2]);
  g.op1('Relu', ['later'], {}, { name: 'early' });
  g.op1('Relu', [x], {}, { name: 'producer', output: 'later' });
  g.op1('Add', [x, 'ghost'], {}, { name: 'adder' });
  g.graph.nodes.push({ name: 'dup', opType: 'Neg', domain: '', inputs: [x], outputs: ['later'], attributes: {} });
  g.graph.outputs.push({ name: 'nowhere' });
  const problems = validateGraph(g.toModel(), { structureOnly: true });
  const msgs = problems.map((p) => p.message);
  assert.deepEqual(msgs, [
    "graph 'bad': node 'early' (Relu): input 0 'later' is used before node 'producer' (Relu) produces it (nodes are not in topological order)",
    "graph 'bad': node 'adder' (Add): input 1 'ghost' is not defined (not a graph input, initializer or earlier output)",
    "graph 'bad': node 'dup' (Neg): output 'later' is already defined by an earlier node",
    "graph 'bad': graph output 'nowhere' is never produced",
  ]);
  assert.equal(problems[1]!.node, 'adder');
  assert.equal(problems[1]!.opType, 'Add');
  assert.equal(problems[1]!.input, 'ghost');
  assert.ok(problems[1] instanceof GraphValidationError);
});

test('input counts, required attributes, opsets, dtype mismatches', () => {
  const g = new GraphBuilder({ name: 'g' });
  const x = g.input('x', 'float32', [1, 2, 4, 4]);
  const i = g.input('i', 'int32', [1, 2, 4, 4]);
  g.op1('Conv', [x], {}, { name: 'conv_one_input' });
  g.op1('MaxPool', [x], {}, { name: 'pool_no_kernel' });
  g.op1('Relu', [x, x], {}, { name: 'relu_two' });
  g.op1('Add', [x, i], {}, { name: 'mixed' });
  g.op1('Custom', [x], {}, { name: 'custom', domain: 'com.acme' });
  g.op1('Constant', [], { value_int: attr.int(1), value_float: attr.float(1) }, { name: 'const2' });
  g.op1('Frobnicate', [x], {}, { name: 'mystery' });
  const m = g.toModel();
  const problems = validateGraph(m);
  const byNode = (n: string) => problems.filter((p) => p.node === n).map((p) => p.reason);
  assert.deepEqual(byNode('conv_one_input'), ['needs at least 2 inputs, has 1']);
  assert.deepEqual(byNode('pool_no_kernel'), ["required attribute 'kernel_shape' is missing", 'kernel_shape attribute is required']);
  assert.deepEqual(byNode('relu_two'), ['takes at most 1 input, has 2']);
  assert.deepEqual(byNode('mixed'), ["input 1 'i' is int32 but input 0 'x' is float32"]);
  assert.deepEqual(byNode('custom'), ["domain 'com.acme' has no opset_import"]);
  assert.deepEqual(byNode('const2'), ['has value_float and value_int; exactly one value attribute is allowed']);
  const mystery = problems.find((p) => p.node === 'mystery')!;
  assert.equal(mystery.severity, 'warning');
  assert.equal(problems[problems.length - 1], mystery, 'warnings come last');
  assert.throws(() => assertValidGraph(m), (e: unknown) => e instanceof NodeValidationError && /\(and \d+ more problems\)$/.test(e.message));
});

test('subgraphs see outer-scope values defined before their node, and may not shadow them', () => {
  const fx = allFixtures().find((f) => f.name === 'control_flow')!;
  assert.deepEqual(validateGraph(fx.model), []);
  const m = fx.model;
  const ifNode = m.graph.nodes.find((n) => n.opType === 'If')!;
  const thenG = (ifNode.attributes.then_branch as { value: Graph }).value;
  thenG.nodes[0]!.inputs[0] = 'final'; // produced after the If: not visible
  thenG.nodes[0]!.outputs[0] = 'x'; // shadows the outer input
  thenG.outputs[0]!.name = 'x';
  const msgs = validateGraph(m, { structureOnly: true }).map((p) => p.message);
  assert.deepEqual(msgs, [
    "graph 'then': node 'then/Add' (Add): input 0 'final' is not defined (not a graph input, initializer or earlier output, nor in an outer scope)",
    "graph 'then': node 'then/Add' (Add): output 'x' shadows a value of an outer scope",
  ]);
});

test('opsets and IR versions newer than trainfer knows are warnings', () => {
  const g = new GraphBuilder();
  g.output(g.relu(g.input('x', 'float32', [1])), 'y');
  const m = g.toModel({ opset: 30, irVersion: 12 });
  const p = validateGraph(m);
  assert.deepEqual(p.map((e) => [e.severity, e.reason]), [
    ['warning', 'ai.onnx opset 30 is newer than the newest trainfer knows (22); checks follow opset 22 rules'],
    ['warning', 'IR version 12 is newer than the newest trainfer knows (10)'],
  ]);
  assert.doesNotThrow(() => assertValidGraph(m));
});
