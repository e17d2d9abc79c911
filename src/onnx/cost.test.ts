import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { SparseTensorProtoSchema, TensorProtoSchema } from './gen/onnx_pb.js';
import { countParameters, estimateFlops } from './cost.js';
import { modelToProto } from './ir-proto.js';
import { encodeModelProto, loadModel } from './model-io.js';
import { cnnFixture, controlFlowFixture, mlpFixture, quantFixture, transformerFixture } from './test-fixtures.js';

test('MLP: parameters and per-node FLOPs by hand', () => {
  const m = mlpFixture().model;
  const p = countParameters(m);
  assert.equal(p.parameters, 64 * 32 + 32 + 10 * 32 + 10);
  assert.equal(p.parameterBytes, 4 * p.parameters);
  assert.deepEqual(p.constants, { elements: 0, bytes: 0, tensors: 0 });
  const f = estimateFlops(m, { batch: 8 });
  const by = Object.fromEntries(f.nodes.map((n) => [n.opType, n.flops]));
  assert.equal(by.MatMul, 2 * 8 * 64 * 32);
  assert.equal(by.Add, 8 * 32);
  assert.equal(by.Relu, 8 * 32);
  assert.equal(by.Gemm, 2 * 8 * 32 * 10 + 8 * 10);
  assert.equal(by.Softmax, 5 * 8 * 10);
  assert.equal(f.total, Object.values(by).reduce((a, b) => a! + b!, 0));
  assert.deepEqual(f.assumptions, ['batch = 8 (batch)']);
  const mm = f.nodes.find((n) => n.opType === 'MatMul')!;
  assert.equal(mm.bytesRead, 4 * (8 * 64 + 64 * 32));
  assert.equal(mm.bytesWritten, 4 * 8 * 32);
});

test('CNN: Conv (bias, groups, SAME), ConvTranspose and pooling FLOPs', () => {
  const f = estimateFlops(cnnFixture().model, { batch: 2 });
  const convs = f.nodes.filter((n) => n.opType === 'Conv').map((n) => n.flops);
  assert.deepEqual(convs, [
    2 * 2 * 8 * 16 * 16 * 3 * 9 + 2 * 8 * 16 * 16, // 3→8, 3×3, pad 1, bias
    2 * 2 * 8 * 4 * 4 * 4 * 9, // 8→8 group 2 stride 2 on 8×8
    2 * 2 * 8 * 4 * 4 * 8 * 9, // 8→8 SAME on 4×4
  ]);
  assert.equal(f.nodes.find((n) => n.opType === 'ConvTranspose')!.flops, 2 * (2 * 8 * 4 * 4) * 4 * 4);
  const pools = f.nodes.filter((n) => n.opType === 'MaxPool').map((n) => n.flops);
  assert.deepEqual(pools, [2 * 8 * 8 * 8 * 9, 2 * 8 * 8 * 8 * 4]);
  assert.deepEqual(f.uncounted, []);
});

test('symbolic dims other than batch are assumed and reported; dims option sets them', () => {
  const m = transformerFixture().model;
  const f1 = estimateFlops(m, { batch: 4 });
  assert.deepEqual(f1.assumptions, ['batch = 4 (batch)', 'seq = 1 (assumed; set it with dims/--dim)']);
  const f5 = estimateFlops(m, { batch: 4, dims: { seq: 5 } });
  assert.deepEqual(f5.assumptions, ['batch = 4 (batch)', 'seq = 5 (given)']);
  assert.deepEqual(f5.inputShapes, { tokens: [4, 5] });
  assert.ok(f5.total > 4 * f1.total, 'attention grows faster than linearly in seq');
  const p = countParameters(m);
  assert.ok(p.constants.tensors > 5, 'int64 shape constants are reported separately');
  assert.equal(p.byDType.int64, undefined);
});

test('quantised ops are counted; int8 weights are parameters', () => {
  const m = quantFixture().model;
  const f = estimateFlops(m, { batch: 1 });
  const mmi = f.nodes.find((n) => n.opType === 'MatMulInteger')!;
  assert.equal(mmi.flops, 2 * 32 * 16);
  assert.equal(f.nodes.find((n) => n.opType === 'QLinearConv')!.flops, 2 * 4 * 6 * 6 * 2 * 9);
  const p = countParameters(m);
  assert.equal(p.byDType.int8!.parameters, 32 * 16 + 4 * 2 * 9 + 2); // weights + two int8 zero points
});

test('Loop bodies count once per trip; If branches at half weight', () => {
  const f = estimateFlops(controlFlowFixture().model, { batch: 2 });
  const body = f.nodes.filter((n) => n.graph === 'body' && n.opType === 'Add');
  assert.deepEqual(body.map((n) => n.flops), [3 * 2 * 4]);
  const branches = f.nodes.filter((n) => n.graph === 'then' || n.graph === 'else').map((n) => n.flops);
  assert.deepEqual(branches, [4, 4]);
  assert.ok(f.assumptions.some((a) => a.includes('half weight')));
});

test('sparse initializers count their stored values; subgraph initializers count too', () => {
  const p = modelToProto(mlpFixture().model);
  p.graph!.sparseInitializer.push(create(SparseTensorProtoSchema, {
    dims: [10n],
    values: create(TensorProtoSchema, { name: 'sp', dataType: 1, dims: [3n], floatData: [1, 2, 3] }),
    indices: create(TensorProtoSchema, { dataType: 7, dims: [3n], int64Data: [0n, 4n, 9n] }),
  }));
  const m = loadModel(encodeModelProto(p));
  assert.equal(countParameters(m).parameters, 64 * 32 + 32 + 10 * 32 + 10 + 3);
  // control flow: three float32 scalars live inside If branches and the Loop body
  assert.equal(countParameters(controlFlowFixture().model).byDType.float32!.tensors, 3);
});
