import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attr } from './attr.js';
import { GraphBuilder } from './builder.js';
import { Graph, type Model } from './ir.js';
import { modelToProto } from './ir-proto.js';
import { encodeModelProto, loadModel } from './model-io.js';
import { Tensor } from './tensor.js';
import { runOrt } from './test-ort.js';
import { upgradeOpset } from './opset-upgrade.js';

/** A seeded uniform generator in [-0.5, 0.5). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32 - 0.5;
}

/** A float32 tensor of seeded uniform values in [-scale/2, scale/2) (+ offset). */
function randomTensor(dims: number[], rnd: () => number, scale = 1, offset = 0): Tensor {
  return Tensor.f32(dims, Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rnd() * scale + offset));
}

const cloneModel = (m: Model): Model => loadModel(encodeModelProto(modelToProto(m)));

/** One legacy form: a model at an old opset whose outputs the upgrade must keep. */
interface Case {
  name: string;
  opset: number;
  build(g: GraphBuilder): void;
  feeds: Record<string, Tensor>;
  /** Targets to upgrade to (default 13 and 21). */
  targets?: number[];
}

const x4 = (n = 2, c = 3, h = 4, w = 5, seed = 1): Tensor => randomTensor([n, c, h, w], lcg(seed), 4);

const CASES: Case[] = [
  {
    name: 'Slice-9 with starts/ends/axes attributes (negative start, INT64_MAX end)',
    opset: 9,
    build(g) {
      const x = g.input('x', 'float32', ['N', 5, 6]);
      g.output(g.op1('Slice', [x], { starts: attr.ints([1, -4]), ends: attr.ints([4, 2 ** 62]), axes: attr.ints([1, 2]) }), 'y');
      g.output(g.op1('Slice', [x], { starts: attr.ints([0, 1]), ends: attr.ints([1, 3]) }), 'z');
    },
    feeds: { x: randomTensor([2, 5, 6], lcg(2), 2) },
  },
  {
    name: 'Upsample-7 (scales attribute, nearest)',
    opset: 7,
    build(g) {
      g.output(g.op1('Upsample', [g.input('x', 'float32', ['N', 3, 4, 5])], { scales: attr.floats([1, 1, 2, 2]), mode: attr.string('nearest') }), 'y');
    },
    feeds: { x: x4() },
  },
  {
    name: 'Upsample-9 (scales input; nearest with non-integer scales, and linear)',
    opset: 9,
    build(g) {
      const x = g.input('x', 'float32', ['N', 3, 4, 5]);
      g.output(g.op1('Upsample', [x, g.constant(Tensor.f32([4], [1, 1, 1.5, 2.5]))], { mode: attr.string('nearest') }), 'near');
      g.output(g.op1('Upsample', [x, g.constant(Tensor.f32([4], [1, 1, 2, 2]))], { mode: attr.string('linear') }), 'lin');
    },
    feeds: { x: x4() },
  },
  {
    name: 'Resize-10 (nearest up, nearest down, linear)',
    opset: 10,
    build(g) {
      const x = g.input('x', 'float32', ['N', 3, 4, 6]);
      g.output(g.op1('Resize', [x, g.constant(Tensor.f32([4], [1, 1, 2, 1.5]))], { mode: attr.string('nearest') }), 'up');
      g.output(g.op1('Resize', [x, g.constant(Tensor.f32([4], [1, 1, 0.75, 0.6]))], { mode: attr.string('nearest') }), 'down');
      g.output(g.op1('Resize', [x, g.constant(Tensor.f32([4], [1, 1, 2, 2]))], { mode: attr.string('linear') }), 'lin');
    },
    feeds: { x: x4(2, 3, 4, 6) },
  },
  {
    name: 'Pad-2 with attribute pads (constant value 1.5, reflect, edge)',
    opset: 10,
    build(g) {
      const x = g.input('x', 'float32', ['N', 3, 4, 5]);
      g.output(g.op1('Pad', [x], { pads: attr.ints([0, 0, 1, 2, 0, 0, 2, 1]), value: attr.float(1.5) }), 'c');
      g.output(g.op1('Pad', [x], { pads: attr.ints([0, 0, 1, 1, 0, 0, 1, 2]), mode: attr.string('reflect') }), 'r');
      g.output(g.op1('Pad', [x], { pads: attr.ints([0, 0, 2, 0, 0, 0, 0, 3]), mode: attr.string('edge') }), 'e');
    },
    feeds: { x: x4() },
  },
  {
    name: 'Split-2 with attribute sizes, and equal parts',
    opset: 11,
    build(g) {
      const x = g.input('x', 'float32', ['N', 6, 4]);
      const [a, b] = g.op('Split', [x], { axis: attr.int(1), split: attr.ints([2, 4]) }, { outputs: 2 });
      const [c, d] = g.op('Split', [x], { axis: attr.int(-1) }, { outputs: 2 });
      g.output(a!, 'a');
      g.output(b!, 'b');
      g.output(c!, 'c');
      g.output(d!, 'd');
    },
    feeds: { x: randomTensor([2, 6, 4], lcg(3), 2) },
  },
  {
    name: 'Squeeze-11 / Unsqueeze-11 with axes attributes',
    opset: 11,
    build(g) {
      const x = g.input('x', 'float32', ['N', 1, 5]);
      const s = g.op1('Squeeze', [x], { axes: attr.ints([1]) });
      g.output(g.op1('Unsqueeze', [s], { axes: attr.ints([0, -1]) }), 'y');
      g.output(g.op1('Squeeze', [g.op1('Unsqueeze', [x], { axes: attr.ints([3]) })], {}), 'all');
    },
    feeds: { x: randomTensor([1, 1, 5], lcg(4), 2) },
  },
  {
    name: 'ReduceSum/Mean/Max/Min/Prod/L1/L2/LogSum/LogSumExp/SumSquare with axes attributes',
    opset: 11,
    build(g) {
      const x = g.input('x', 'float32', ['N', 3, 4]);
      const pos = g.op1('Abs', [x]);
      for (const [i, op] of ['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare'].entries()) {
        g.output(g.op1(op, [pos], { axes: attr.ints(i % 2 ? [-1] : [0, 2]), keepdims: attr.int(i % 3 ? 1 : 0) }), `r${i}`);
      }
      g.output(g.op1('ReduceMean', [x], { keepdims: attr.int(0) }), 'all');
    },
    feeds: { x: randomTensor([2, 3, 4], lcg(5), 2, 0.2) },
    targets: [13, 18, 21],
  },
  {
    name: 'Softmax/LogSoftmax/Hardmax before 13 (flattened to 2-D at axis), known and unknown rank',
    opset: 11,
    build(g) {
      const x = g.input('x', 'float32', ['N', 3, 4]);
      g.output(g.op1('Softmax', [x], { axis: attr.int(1) }), 's1');
      g.output(g.op1('Softmax', [x], { axis: attr.int(2) }), 's2');
      g.output(g.op1('LogSoftmax', [x], {}), 'l');
      g.output(g.op1('Hardmax', [x], { axis: attr.int(1) }), 'h');
      // An input of unknown rank: the generic Flatten → op → Reshape form.
      g.graph.inputs.push({ name: 'u', type: { dtype: 'float32' } });
      const u = 'u';
      g.output(g.op1('Softmax', [u], { axis: attr.int(-2) }), 'su');
    },
    feeds: { x: randomTensor([2, 3, 4], lcg(6), 4), u: randomTensor([2, 2, 3], lcg(7), 4) },
  },
  {
    name: 'LogSoftmax-9 on a 4-D input (default axis 1)',
    opset: 9,
    build(g) {
      g.output(g.op1('LogSoftmax', [g.input('x', 'float32', ['N', 3, 4, 5])], {}), 'y');
    },
    feeds: { x: x4() },
  },
  {
    name: 'BatchNormalization-7 with spatial = 1 and spatial = 0',
    opset: 7,
    build(g) {
      const x = g.input('x', 'float32', ['N', 3, 4, 5]);
      const r = lcg(8);
      const p = (dims: number[], offset: number): string => g.constant(randomTensor(dims, r, 0.5, offset));
      g.output(g.op1('BatchNormalization', [x, p([3], 1), p([3], 0), p([3], 0), p([3], 1)], { spatial: attr.int(1), epsilon: attr.float(1e-3) }), 'bn1');
      g.output(g.op1('BatchNormalization', [x, p([3, 4, 5], 1), p([3, 4, 5], 0), p([3, 4, 5], 0), p([3, 4, 5], 1)], { spatial: attr.int(0) }), 'bn0');
    },
    feeds: { x: x4() },
  },
  {
    name: 'Dropout-7 and Dropout-10 with a ratio attribute (mask unused)',
    opset: 7,
    build(g) {
      const x = g.input('x', 'float32', ['N', 4]);
      const [y] = g.op('Dropout', [x], { ratio: attr.float(0.3) }, { outputs: 2 });
      g.output(g.op1('Relu', [y!]), 'y');
    },
    feeds: { x: randomTensor([3, 4], lcg(9), 2) },
  },
  {
    name: 'Dropout-10 with a ratio attribute',
    opset: 10,
    build(g) {
      g.output(g.op1('Dropout', [g.input('x', 'float32', ['N', 4])], { ratio: attr.float(0.2) }), 'y');
    },
    feeds: { x: randomTensor([3, 4], lcg(9), 2) },
  },
  {
    name: 'Clip-6 with min/max attributes (both, min only, max only)',
    opset: 9,
    build(g) {
      const x = g.input('x', 'float32', ['N', 6]);
      g.output(g.op1('Clip', [x], { min: attr.float(0), max: attr.float(6) }), 'relu6');
      g.output(g.op1('Clip', [x], { min: attr.float(-0.5) }), 'lo');
      g.output(g.op1('Clip', [x], { max: attr.float(0.25) }), 'hi');
    },
    feeds: { x: randomTensor([4, 6], lcg(10), 16) },
  },
  {
    name: 'TopK-9 with a k attribute',
    opset: 9,
    build(g) {
      const [v, i] = g.op('TopK', [g.input('x', 'float32', ['N', 7])], { k: attr.int(3) }, { outputs: 2 });
      g.output(v!, 'values');
      g.output(i!, 'indices');
    },
    feeds: { x: randomTensor([3, 7], lcg(11), 4) },
  },
  {
    name: 'Scatter-9 (becomes ScatterElements)',
    opset: 9,
    build(g) {
      const x = g.input('x', 'float32', [3, 3]);
      g.output(g.op1('Scatter', [x, g.constant(Tensor.i64([1, 2], [1, 2])), g.constant(Tensor.f32([1, 2], [9, 8]))], { axis: attr.int(1) }), 'y');
    },
    feeds: { x: randomTensor([3, 3], lcg(12)) },
  },
  {
    name: 'legacy forms inside If branches (Squeeze axes, Softmax axis 1)',
    opset: 11,
    build(g) {
      const x = g.input('x', 'float32', ['N', 1, 4]);
      const cond = g.greater(g.op1('ReduceSum', [x], { keepdims: attr.int(0) }), g.scalar(0));
      const branch = (name: string, axis: number): Graph => {
        const sg = new Graph(name);
        const b = new GraphBuilder({ graph: sg, prefix: `${name}/` });
        const s = b.op1('Squeeze', [x], { axes: attr.ints([axis]) });
        sg.outputs.push({ name: b.op1('Softmax', [b.op1('Unsqueeze', [s], { axes: attr.ints([0]) })], { axis: attr.int(1) }), type: { dtype: 'float32' } });
        return sg;
      };
      g.output(g.op1('If', [cond], { then_branch: attr.graph(branch('then', 1)), else_branch: attr.graph(branch('else', -2)) }), 'y');
    },
    feeds: { x: randomTensor([2, 1, 4], lcg(13), 2, 0.5) },
  },
];

function build(c: Case): Model {
  const g = new GraphBuilder({ name: 'legacy' });
  c.build(g);
  return g.toModel({ opset: c.opset, irVersion: c.opset >= 9 ? 4 : 3 });
}

const bytes = (m: Model): Uint8Array => encodeModelProto(modelToProto(m));

for (const c of CASES) {
  test(`upgradeOpset keeps the outputs: ${c.name}`, async () => {
    const model = build(c);
    const before = bytes(model);
    const ref = await runOrt(before, c.feeds);
    for (const target of c.targets ?? [13, 21]) {
      const up = cloneModel(model);
      const r = upgradeOpset(up, { target });
      assert.ok(r && r.rewritten.length > 0, 'nothing rewritten');
      assert.equal(up.opset, target);
      const got = await runOrt(bytes(up), c.feeds);
      for (const [name, want] of Object.entries(ref)) {
        const have = got[name];
        assert.ok(have, `output '${name}' missing after upgrading to ${target}`);
        assert.deepEqual(have.dims, want.dims, `${name} at opset ${target}`);
        const a = want.toNumbers();
        const b = have.toNumbers();
        for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= 1e-5 * Math.max(1, Math.abs(a[i]!)), `${name}[${i}] at opset ${target}: ${a[i]} vs ${b[i]}`);
      }
    }
    assert.deepEqual(bytes(model), before, 'the input model was modified');
  });
}

test('upgradeOpset refuses what it cannot convert with equal semantics: one line naming the node, model untouched', () => {
  const refusals: { opset: number; build(g: GraphBuilder): void; match: RegExp }[] = [
    {
      opset: 9,
      build(g) {
        const [y, mask] = g.op('Dropout', [g.input('x', 'float32', ['N', 4])], { ratio: attr.float(0.5) }, { outputs: 2, name: 'drop1' });
        g.output(y!, 'y');
        g.output(mask!, 'mask');
      },
      match: /Dropout 'drop1': its float mask output/,
    },
    {
      opset: 10,
      build(g) {
        g.output(g.op1('Resize', [g.input('x', 'float32', ['N', 3, 4, 4]), g.constant(Tensor.f32([4], [1, 1, 2, 0.5]))], { mode: attr.string('nearest') }, { name: 'mixed' }), 'y');
      },
      match: /Resize 'mixed': .*upsamples some axes and downsamples others/,
    },
    {
      opset: 9,
      build(g) {
        g.output(g.op1('Crop', [g.input('x', 'float32', ['N', 3, 4, 4])], { border: attr.ints([1, 1, 1, 1]) }, { name: 'crop0' }), 'y');
      },
      match: /Crop 'crop0': experimental op/,
    },
    {
      opset: 6,
      build(g) {
        g.output(g.relu(g.input('x', 'float32', ['N', 3])), 'y');
      },
      match: /opsets older than 7 are not supported/,
    },
  ];
  for (const r of refusals) {
    const g = new GraphBuilder({ name: 'refuse' });
    r.build(g);
    const model = g.toModel({ opset: r.opset, irVersion: 4 });
    const before = bytes(model);
    assert.throws(() => upgradeOpset(model, { target: 13 }), (err: Error) => {
      assert.equal(err.message.split('\n').length, 1);
      assert.match(err.message, r.match);
      return true;
    });
    assert.deepEqual(bytes(model), before);
  }
});

test('upgradeOpset returns undefined for a model already at the target', () => {
  const g = new GraphBuilder({ name: 'new' });
  g.output(g.relu(g.input('x', 'float32', ['N', 3])), 'y');
  assert.equal(upgradeOpset(g.toModel({ opset: 17 }), { target: 13 }), undefined);
});
