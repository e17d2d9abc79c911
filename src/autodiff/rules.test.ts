// Gradient checks for every VJP rule: analytic backward graph vs central finite differences on
// onnxruntime, float64 where ORT has float64 kernels, float32 (larger step) for Conv, ConvTranspose-based
// and Erf rules. Errors are relative to each gradient's largest element, and the bounds are tight enough
// that every rule scaled by 1.01 fails its check (tested below). Cases are data: op, inputs, attributes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attr } from '../onnx/attr.js';
import type { Attribute } from '../onnx/ir.js';
import type { GraphBuilder } from '../onnx/builder.js';
import { Tensor } from '../onnx/tensor.js';
import { checkGradients, seededUniform } from './gradcheck.js';
import { VJP_RULES } from './rules/index.js';
import { type VjpRule, scalarLike } from './rule-context.js';
import type { Formulations } from './types.js';

type Input =
  | { kind: 'float'; shape: number[]; lo?: number; hi?: number; wrt?: false }
  | { kind: 'int'; shape: number[]; max: number }
  | { kind: 'const'; tensor: Tensor }
  | { kind: 'none' };

const f = (shape: number[], lo = -1, hi = 1): Input => ({ kind: 'float', shape, lo, hi });
const fixed = (shape: number[], lo = -1, hi = 1): Input => ({ kind: 'float', shape, lo, hi, wrt: false });
const ints = (shape: number[], max: number): Input => ({ kind: 'int', shape, max });
const c64 = (values: number[]): Input => ({ kind: 'const', tensor: Tensor.i64([values.length], values) });
const cf = (dims: number[], values: number[]): Input => ({ kind: 'const', tensor: Tensor.f64(dims, values) });


interface Case {
  name?: string;
  op: string;
  inputs: Input[];
  attrs?: Record<string, Attribute>;
  /** Outputs to check (default 1). */
  outputs?: number;
  /** float32 for ops without float64 kernels in ORT. */
  dtype?: 'float32';
  formulations?: Formulations;
  /** Build something other than a single node (inputs are x0, x1, …). */
  build?: (g: GraphBuilder, ins: string[]) => string[];
  /** Declared input shapes by input index where they are symbolic (the feeds keep the case's dims). */
  symbolic?: Record<number, (number | string)[]>;
}

const i = attr.int;
/** BatchNormalization in training mode has 3 outputs; only Y carries gradient (the running stats are buffers). */
const bnTraining = (g: GraphBuilder, ins: string[]): string[] => [g.op('BatchNormalization', ins, { training_mode: attr.int(1) }, { outputs: 3 })[0]!];
const ints_ = attr.ints;

const CASES: Case[] = [
  // elementwise with broadcasting
  { op: 'Add', inputs: [f([2, 3, 4]), f([3, 1])] },
  { op: 'Sub', inputs: [f([3, 1]), f([2, 3, 4])] },
  { op: 'Mul', inputs: [f([2, 3, 4]), f([4])] },
  { op: 'Div', inputs: [f([2, 3]), f([1, 3], 0.5, 2)] },
  { op: 'Pow', inputs: [f([2, 3], 0.5, 2), f([3], 0.5, 2)] },
  { op: 'Neg', inputs: [f([2, 3])] },
  { op: 'Exp', inputs: [f([2, 3])] },
  { op: 'Log', inputs: [f([2, 3], 0.5, 2)] },
  { op: 'Sqrt', inputs: [f([2, 3], 0.5, 2)] },
  { op: 'Reciprocal', inputs: [f([2, 3], 0.5, 2)] },
  { op: 'Abs', inputs: [f([2, 3])] },
  { op: 'Identity', inputs: [f([2, 3])] },
  { op: 'Sum', inputs: [f([2, 3]), f([3]), f([2, 1])] },
  { op: 'Where', inputs: [{ kind: 'const', tensor: new Tensor('bool', [2, 3], Uint8Array.from([1, 0, 1, 0, 0, 1])) }, f([2, 3]), f([3])] },
  { op: 'Clip', inputs: [f([3, 4], -2, 2), cf([], [-0.5]), cf([], [0.7])] },
  { name: 'Cast f32→f64→f32', op: 'Cast', inputs: [f([2, 3])], build: (g, [x]) => [g.cast(g.cast(x!, 'float64'), 'float32')], dtype: 'float32' },
  // activations
  { op: 'Relu', inputs: [f([3, 4])] },
  { op: 'LeakyRelu', inputs: [f([3, 4])], attrs: { alpha: attr.float(0.2) }, dtype: 'float32' },
  { op: 'Sigmoid', inputs: [f([3, 4], -3, 3)] },
  { op: 'Tanh', inputs: [f([3, 4], -2, 2)] },
  { op: 'Erf', inputs: [f([3, 4], -2, 2)], dtype: 'float32' },
  { name: 'Gelu (erf)', op: 'Gelu', inputs: [f([3, 4], -3, 3)], dtype: 'float32' },
  { name: 'Gelu (tanh)', op: 'Gelu', inputs: [f([3, 4], -3, 3)], attrs: { approximate: attr.string('tanh') } },
  { op: 'Softmax', inputs: [f([2, 3, 5], -2, 2)], attrs: { axis: i(1) } },
  { op: 'LogSoftmax', inputs: [f([3, 5], -2, 2)] },
  // linear algebra
  { name: 'MatMul 2-D', op: 'MatMul', inputs: [f([3, 4]), f([4, 5])] },
  { name: 'MatMul [B,T,C]·[C,D]', op: 'MatMul', inputs: [f([2, 3, 4]), f([4, 5])] },
  { name: 'MatMul batched broadcast', op: 'MatMul', inputs: [f([2, 1, 3, 4]), f([3, 4, 2])] },
  { name: 'MatMul vector·matrix', op: 'MatMul', inputs: [f([4]), f([2, 4, 3])] },
  { name: 'MatMul matrix·vector', op: 'MatMul', inputs: [f([3, 4]), f([4])] },
  { name: 'Gemm', op: 'Gemm', inputs: [f([3, 4]), f([4, 5]), f([5])] },
  { name: 'Gemm transA transB alpha beta', op: 'Gemm', inputs: [f([4, 3]), f([5, 4]), f([3, 1])], attrs: { transA: i(1), transB: i(1), alpha: attr.float(0.7), beta: attr.float(1.3) } },
  { name: 'Gemm transA', op: 'Gemm', inputs: [f([4, 3]), f([4, 5])], attrs: { transA: i(1) } },
  { name: 'Gemm transB scalar C', op: 'Gemm', inputs: [f([3, 4]), f([5, 4]), f([])], attrs: { transB: i(1) } },
  // shape ops
  { op: 'Reshape', inputs: [f([2, 3, 4]), c64([4, -1])] },
  { op: 'Flatten', inputs: [f([2, 3, 4])], attrs: { axis: i(2) } },
  { op: 'Transpose', inputs: [f([2, 3, 4])], attrs: { perm: ints_([2, 0, 1]) } },
  { op: 'Squeeze', inputs: [f([2, 1, 3]), c64([1])] },
  { op: 'Unsqueeze', inputs: [f([2, 3]), c64([0, 3])] },
  { op: 'Concat', inputs: [f([2, 3]), f([2, 1]), f([2, 2])], attrs: { axis: i(1) } },
  { op: 'Split', inputs: [f([2, 6]), c64([1, 3, 2])], attrs: { axis: i(1) }, outputs: 3 },
  { name: 'Split (one output unused)', op: 'Split', inputs: [f([4, 3])], attrs: { axis: i(0), num_outputs: i(2) }, build: (g, [x]) => [g.split(x!, { axis: 0, numOutputs: 2 })[1]!] },
  { op: 'Slice', inputs: [f([4, 5]), c64([1, -3]), c64([3, 100]), c64([0, 1])] },
  { op: 'Expand', inputs: [f([3, 1]), c64([2, 3, 4])] },
  // dynamic shapes, as transformers run them: inputs declared [n, s, …] with symbolic batch and sequence
  { name: 'Slice first token over a dynamic sequence', op: 'Slice', inputs: [f([2, 5, 3]), c64([0]), c64([1]), c64([1])], symbolic: { 0: ['n', 's', 3] } },
  { name: 'Slice negative start, end past the dynamic size', op: 'Slice', inputs: [f([2, 5, 3]), c64([-3, 1]), c64([2 ** 60, 3]), c64([1, 2])], symbolic: { 0: ['n', 's', 3] } },
  { name: 'Reshape [n, s, 4] → [0, 0, 2, 2] (dynamic dims copied)', op: 'Reshape', inputs: [f([2, 3, 4]), c64([0, 0, 2, 2])], symbolic: { 0: ['n', 's', 4] } },
  { name: 'MatMul [n, s, D]·[D, E] (dynamic)', op: 'MatMul', inputs: [f([2, 3, 4]), f([4, 5])], symbolic: { 0: ['n', 's', 4] } },
  { name: 'MatMul [n, H, s, d]·[n, H, d, s] (attention scores, dynamic)', op: 'MatMul', inputs: [f([2, 2, 3, 4]), f([2, 2, 4, 3])], symbolic: { 0: ['n', 2, 's', 4], 1: ['n', 2, 4, 's'] } },
  { name: 'Gather token ids [n, s] (dynamic)', op: 'Gather', inputs: [f([7, 3]), ints([2, 4], 7)], symbolic: { 1: ['n', 's'] } },
  { name: 'LayerNormalization over [n, s, D] (dynamic)', op: 'LayerNormalization', inputs: [f([2, 3, 4]), f([4], 0.5, 1.5), f([4])], dtype: 'float32', symbolic: { 0: ['n', 's', 4] } },
  {
    name: 'attention core: softmax(Q·Kᵀ/√d + mask bias)·V (dynamic)', op: 'Softmax', inputs: [f([2, 2, 3, 4]), f([2, 2, 4, 3]), f([2, 2, 3, 4]), cf([2, 1, 1, 3], [0, 0, -1e4, 0, -1e4, -1e4])],
    symbolic: { 0: ['n', 2, 's', 4], 1: ['n', 2, 4, 's'], 2: ['n', 2, 's', 4] },
    build: (g, [q, k, v, bias]) => [g.matMul(g.softmax(g.add(g.div(g.matMul(q!, k!), g.constant(Tensor.f64([], [2]))), bias!), -1), v!)],
  },
  { name: 'masked mean over a dynamic sequence', op: 'ReduceSum', inputs: [f([2, 4, 3]), cf([2, 4, 1], [1, 1, 0, 0, 1, 1, 1, 0])], symbolic: { 0: ['n', 's', 3] }, build: (g, [x, m]) => [g.div(g.reduceSum(g.mul(x!, m!), [1], false), g.reduceSum(m!, [1], false))] },
  { name: 'Gather (embedding, repeated ids)', op: 'Gather', inputs: [f([5, 3]), { kind: 'const', tensor: Tensor.i64([2, 3], [0, 4, 2, 2, 0, 4]) }] },
  { name: 'Gather axis 1', op: 'Gather', inputs: [f([2, 5, 3]), { kind: 'const', tensor: Tensor.i64([4], [1, 3, 1, -1]) }], attrs: { axis: i(1) } },
  // reductions
  { op: 'ReduceSum', inputs: [f([2, 3, 4]), c64([0, 2])], attrs: { keepdims: i(0) } },
  { op: 'ReduceMean', inputs: [f([2, 3, 4]), c64([1])] },
  { name: 'ReduceMean all', op: 'ReduceMean', inputs: [f([2, 3])], attrs: { keepdims: i(0) } },
  { op: 'ReduceSumSquare', inputs: [f([2, 3]), c64([1])] },
  { op: 'ReduceLogSumExp', inputs: [f([2, 3, 4]), c64([1])] },
  { name: 'ReduceLogSumExp axes [0, 2], keepdims 0', op: 'ReduceLogSumExp', inputs: [f([2, 3, 4]), c64([0, 2])], attrs: { keepdims: i(0) } },
  // convolution and pooling (float32: ORT has no float64 Conv/ConvTranspose)
  { name: 'Conv pad 1 + bias', op: 'Conv', inputs: [f([2, 3, 5, 5]), f([4, 3, 3, 3]), f([4])], attrs: { pads: ints_([1, 1, 1, 1]) }, dtype: 'float32' },
  { name: 'Conv stride 2 asym pads', op: 'Conv', inputs: [f([1, 2, 6, 5]), f([3, 2, 3, 2])], attrs: { strides: ints_([2, 2]), pads: ints_([1, 0, 0, 1]) }, dtype: 'float32' },
  { name: 'Conv dilation 2', op: 'Conv', inputs: [f([1, 2, 7, 7]), f([2, 2, 3, 3])], attrs: { dilations: ints_([2, 2]), pads: ints_([1, 1, 1, 1]) }, dtype: 'float32' },
  { name: 'Conv groups 2', op: 'Conv', inputs: [f([2, 4, 5, 5]), f([6, 2, 3, 3]), f([6])], attrs: { group: i(2), pads: ints_([1, 1, 1, 1]) }, dtype: 'float32' },
  { name: 'Conv depthwise stride 2', op: 'Conv', inputs: [f([1, 3, 6, 6]), f([3, 1, 3, 3])], attrs: { group: i(3), strides: ints_([2, 2]), pads: ints_([1, 1, 1, 1]) }, dtype: 'float32' },
  { name: 'Conv 1-D SAME_UPPER', op: 'Conv', inputs: [f([2, 2, 7]), f([3, 2, 4])], attrs: { auto_pad: attr.string('SAME_UPPER') }, dtype: 'float32' },
  { name: 'Conv (dW as Conv, dX as ConvTranspose)', op: 'Conv', inputs: [f([2, 3, 6, 6]), f([4, 3, 3, 3])], attrs: { pads: ints_([1, 1, 1, 1]), strides: ints_([2, 2]) }, dtype: 'float32', formulations: { convWeight: 'conv', convInput: 'conv-transpose' } },
  { name: 'Conv groups 2 stride 2 (unfold-matmul)', op: 'Conv', inputs: [f([2, 4, 6, 6]), f([6, 2, 3, 3])], attrs: { group: i(2), strides: ints_([2, 2]), pads: ints_([1, 1, 1, 1]) }, dtype: 'float32', formulations: { convWeight: 'unfold-matmul' } },
  { name: 'Conv 3-D', op: 'Conv', inputs: [f([1, 2, 4, 4, 4]), f([2, 2, 2, 3, 2])], attrs: { pads: ints_([0, 1, 0, 1, 1, 1]) }, dtype: 'float32' },
  { name: 'Conv stride 2 dilation 2 groups 2 (unfold-slices)', op: 'Conv', inputs: [f([2, 4, 7, 7]), f([6, 2, 3, 2])], attrs: { group: i(2), strides: ints_([2, 1]), dilations: ints_([1, 2]), pads: ints_([1, 0, 2, 1]) }, dtype: 'float32', formulations: { convWeight: 'unfold-slices' } },
  { name: 'Conv 1-D (unfold-slices)', op: 'Conv', inputs: [f([2, 3, 8]), f([2, 3, 3])], attrs: { strides: ints_([2]) }, dtype: 'float32', formulations: { convWeight: 'unfold-slices' } },
  { name: 'Conv (unfold-gemm)', op: 'Conv', inputs: [f([2, 3, 5, 5]), f([4, 3, 3, 3])], attrs: { pads: ints_([2, 2, 2, 2]) }, dtype: 'float32', formulations: { convWeight: 'unfold-gemm' } },
  { name: 'Conv (unfold-matmul-t)', op: 'Conv', inputs: [f([2, 3, 5, 5]), f([4, 3, 3, 3])], attrs: { pads: ints_([1, 1, 1, 1]) }, dtype: 'float32', formulations: { convWeight: 'unfold-matmul-t' } },
  { name: 'MaxPool 2×2 (mask)', op: 'MaxPool', inputs: [f([2, 2, 4, 6])], attrs: { kernel_shape: ints_([2, 2]), strides: ints_([2, 2]) }, dtype: 'float32' },
  { name: 'MaxPool 1-D 3 (mask)', op: 'MaxPool', inputs: [f([2, 2, 6])], attrs: { kernel_shape: ints_([3]), strides: ints_([3]) }, dtype: 'float32' },
  { name: 'MaxPool 2×2 (unpool)', op: 'MaxPool', inputs: [f([2, 2, 4, 6])], attrs: { kernel_shape: ints_([2, 2]), strides: ints_([2, 2]) }, dtype: 'float32', formulations: { maxPool: 'unpool' } },
  { name: 'MaxPool 2×2 on odd size (floor: indices + scatter)', op: 'MaxPool', inputs: [f([1, 2, 5, 5])], attrs: { kernel_shape: ints_([2, 2]), strides: ints_([2, 2]) } },
  { name: 'MaxPool 3×3 stride 1 pad 1 (overlapping: scatter)', op: 'MaxPool', inputs: [f([1, 2, 4, 4])], attrs: { kernel_shape: ints_([3, 3]), pads: ints_([1, 1, 1, 1]) } },
  { name: 'MaxPool 2×2 (scatter)', op: 'MaxPool', inputs: [f([2, 2, 4, 4])], attrs: { kernel_shape: ints_([2, 2]), strides: ints_([2, 2]) }, formulations: { maxPool: 'scatter' } },
  { op: 'AveragePool', inputs: [f([2, 2, 4, 6])], attrs: { kernel_shape: ints_([2, 2]), strides: ints_([2, 2]) }, dtype: 'float32' },
  { name: 'AveragePool 3×3 pad 1 exclude pad', op: 'AveragePool', inputs: [f([1, 2, 5, 5])], attrs: { kernel_shape: ints_([3, 3]), pads: ints_([1, 1, 1, 1]), strides: ints_([2, 2]) }, dtype: 'float32' },
  { name: 'AveragePool 3×3 pad 1 include pad', op: 'AveragePool', inputs: [f([1, 2, 5, 5])], attrs: { kernel_shape: ints_([3, 3]), pads: ints_([1, 1, 1, 1]), count_include_pad: i(1) }, dtype: 'float32' },
  { op: 'GlobalAveragePool', inputs: [f([2, 3, 3, 4])], dtype: 'float32' },
  // normalisation
  { name: 'BatchNormalization training', op: 'BatchNormalization', inputs: [f([3, 2, 2, 3]), f([2], 0.5, 1.5), f([2]), fixed([2]), fixed([2], 0.5, 1.5)], attrs: { training_mode: i(1) }, dtype: 'float32', build: bnTraining },
  { name: 'BatchNormalization inference', op: 'BatchNormalization', inputs: [f([3, 2, 2, 3]), f([2], 0.5, 1.5), f([2]), fixed([2]), fixed([2], 0.5, 1.5)] },
  { name: 'BatchNormalization on [N, C]', op: 'BatchNormalization', inputs: [f([4, 3]), f([3], 0.5, 1.5), f([3]), fixed([3]), fixed([3], 0.5, 1.5)], attrs: { training_mode: i(1) }, dtype: 'float32', build: bnTraining },
  { op: 'LayerNormalization', inputs: [f([2, 3, 4]), f([4], 0.5, 1.5), f([4])], dtype: 'float32' },
  { name: 'LayerNormalization axis 1 (float64, recomputed stats)', op: 'LayerNormalization', inputs: [f([2, 3, 4]), f([3, 4], 0.5, 1.5), f([3, 4])], attrs: { axis: i(1) } },
  { name: 'Dropout inference (identity)', op: 'Dropout', inputs: [f([3, 4])], build: (g, [x]) => [g.op1('Dropout', [x!])] },
  // loss op
  { name: 'SoftmaxCrossEntropyLoss mean (+log_prob)', op: 'SoftmaxCrossEntropyLoss', inputs: [f([4, 5], -2, 2), ints([4], 5)], outputs: 2 },
  { name: 'SoftmaxCrossEntropyLoss sum, weights, ignore_index', op: 'SoftmaxCrossEntropyLoss', inputs: [f([4, 3, 2], -2, 2), { kind: 'const', tensor: Tensor.i64([4, 2], [0, 1, 2, -1, 1, 1, 0, -1]) }, cf([3], [0.5, 2, 1])], attrs: { reduction: attr.string('sum'), ignore_index: i(-1) } },
  { name: 'SoftmaxCrossEntropyLoss none', op: 'SoftmaxCrossEntropyLoss', inputs: [f([4, 5], -2, 2), ints([4], 5)], attrs: { reduction: attr.string('none') } },
];

/** Relative error bounds (see `GradCheckResult.maxError`): a 1% error on the largest gradient scores 0.01. */
const TOLERANCE = { float64: 1e-6, float32: 1e-3 } as const;

/** Builds the feeds and graph inputs for a case and runs the check (with `rules` instead of VJP_RULES). */
async function run(c: Case, rules?: Readonly<Record<string, VjpRule>>): Promise<number> {
  const dtype = c.dtype ?? 'float64';
  const rand = seededUniform(c.inputs.length * 131 + c.op.length);
  const feeds: Record<string, Tensor> = {};
  const wrt: string[] = [];
  const consts: (Tensor | undefined)[] = [];
  c.inputs.forEach((inp, k) => {
    const name = `x${k}`;
    if (inp.kind === 'float') {
      const n = inp.shape.reduce((p, d) => p * d, 1);
      const vals = Array.from({ length: n }, () => (inp.lo ?? -1) + rand() * ((inp.hi ?? 1) - (inp.lo ?? -1)));
      feeds[name] = dtype === 'float64' ? Tensor.f64(inp.shape, vals) : Tensor.f32(inp.shape, vals);
      if (inp.wrt !== false) wrt.push(name);
    } else if (inp.kind === 'int') {
      const n = inp.shape.reduce((p, d) => p * d, 1);
      feeds[name] = Tensor.i64(inp.shape, Array.from({ length: n }, () => Math.floor(rand() * inp.max)));
    } else if (inp.kind === 'const') {
      const t = inp.tensor;
      consts[k] = dtype === 'float32' && t.dtype === 'float64' ? Tensor.f32(t.dims, t.toNumbers()) : t;
    }
  });
  const r = await checkGradients({
    feeds,
    wrt,
    rules,
    formulations: c.formulations,
    shapes: c.symbolic ? Object.fromEntries(Object.entries(c.symbolic).map(([k, v]) => [`x${k}`, v])) : undefined,
    build: (g) => {
      const ins = c.inputs.map((inp, k) => (inp.kind === 'none' ? '' : inp.kind === 'const' ? g.constant(consts[k]!, `x${k}`) : `x${k}`));
      if (c.build) return c.build(g, ins);
      while (ins.length && ins[ins.length - 1] === '') ins.pop();
      return g.op(c.op, ins, c.attrs ?? {}, { outputs: c.outputs ?? 1 });
    },
  });
  return r.maxError;
}

for (const c of CASES) {
  test(`gradcheck ${c.name ?? c.op}`, async () => {
    const err = await run(c);
    const tol = TOLERANCE[c.dtype ?? 'float64'];
    assert.ok(err < tol, `max relative error ${err.toExponential(2)} ≥ ${tol}`);
  });
}

/** The rule with every gradient it returns multiplied by 1.01. */
function offByOnePercent(rule: VjpRule): VjpRule {
  return (ctx) => rule(ctx).map((g, k) => (g ? ctx.b.mul(g, scalarLike(ctx, 1.01, ctx.node.inputs[k]!)) : g));
}

// The checks can fail: each rule scaled by 1.01 must fail its first case. (QuantizeLinear/DequantizeLinear
// have no finite-difference check; semantics.test.ts proves their definition check catches the same.)
for (const op of Object.keys(VJP_RULES).filter((o) => o !== 'QuantizeLinear' && o !== 'DequantizeLinear')) {
  test(`gradcheck catches ${op} scaled by 1.01`, async () => {
    const c = CASES.find((k) => k.op === op)!;
    const err = await run(c, { ...VJP_RULES, [op]: offByOnePercent((VJP_RULES as Record<string, VjpRule>)[op]!) });
    const tol = TOLERANCE[c.dtype ?? 'float64'];
    assert.ok(err >= tol, `${c.name ?? c.op}: a 1% wrong rule scored ${err.toExponential(2)} < ${tol}`);
  });
}

test('every rule in VJP_RULES has a gradient check', () => {
  // Dropout (random mask) and the Q/DQ straight-through estimator are checked against their definitions in semantics.test.ts.
  const covered = new Set<string>(['Dropout', 'QuantizeLinear', 'DequantizeLinear']);
  for (const c of CASES) {
    covered.add(c.op);
  }
  const missing = Object.keys(VJP_RULES).filter((op) => !covered.has(op));
  assert.deepEqual(missing, []);
});


