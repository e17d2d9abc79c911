import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, toBinary } from '@bufbuild/protobuf';
import {
  AttributeProtoSchema,
  AttributeProto_AttributeType,
  FunctionProtoSchema,
  type ModelProto,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  SparseTensorProtoSchema,
  StringStringEntryProtoSchema,
  TensorProtoSchema,
} from './gen/onnx_pb.js';
import { modelFromProto, modelToProto } from './ir-proto.js';
import { encodeModelChunks } from './proto-chunks.js';
import { decodeModelProto, encodeModelProto, loadModel, readModel, writeModel } from './model-io.js';
import { allFixtures, mlpFixture, transformerFixture } from './test-fixtures.js';
import { runOrt } from './test-ort.js';
import type { Tensor } from './tensor.js';

const encode = (m: Parameters<typeof modelToProto>[0]) => encodeModelProto(modelToProto(m));

function assertSameOutputs(a: Record<string, Tensor>, b: Record<string, Tensor>): void {
  assert.deepEqual(Object.keys(b).sort(), Object.keys(a).sort());
  for (const k of Object.keys(a)) {
    assert.deepEqual(b[k]!.dims, a[k]!.dims, k);
    assert.deepEqual(b[k]!.data, a[k]!.data, `${k}: outputs differ`);
  }
}

for (const fx of allFixtures()) {
  test(`round trip is byte-identical and runs identically: ${fx.name}`, async () => {
    const bytes1 = encode(fx.model);
    const bytes2 = encode(loadModel(bytes1));
    assert.ok(Buffer.compare(bytes1, bytes2) === 0, 'write → read → write changed the bytes');
    const bytes3 = encode(loadModel(bytes2));
    assert.ok(Buffer.compare(bytes2, bytes3) === 0);
    const before = await runOrt(bytes1, fx.feeds);
    const after = await runOrt(bytes3, fx.feeds);
    assert.ok(Object.keys(before).length > 0);
    assertSameOutputs(before, after);
  });
}

/** A model using everything the IR does not model, built at the proto level. */
function kitchenSink(): ModelProto {
  const p = modelToProto(mlpFixture().model);
  const g = p.graph!;
  p.docString = 'a model that exercises every field';
  p.metadataProps = [create(StringStringEntryProtoSchema, { key: 'author', value: 'trainfer tests' }), create(StringStringEntryProtoSchema, { key: 'license', value: 'MIT' })];
  p.opsetImport.push(create(OperatorSetIdProtoSchema, { domain: 'local', version: 1n }));
  // A model-local function: AddRelu(a, b) = Relu(Add(a, b)).
  p.functions.push(create(FunctionProtoSchema, {
    name: 'AddRelu',
    domain: 'local',
    input: ['a', 'b'],
    output: ['y'],
    opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: 21n })],
    node: [
      create(NodeProtoSchema, { opType: 'Add', input: ['a', 'b'], output: ['s'] }),
      create(NodeProtoSchema, { opType: 'Relu', input: ['s'], output: ['y'] }),
    ],
  }));
  // Typed-field initializers (float_data, int64_data) and a sparse initializer.
  g.initializer.push(create(TensorProtoSchema, { name: 'typed_bias', dataType: 1, dims: [10n], floatData: Array.from({ length: 10 }, (_, i) => i / 10), docString: 'typed floats' }));
  g.sparseInitializer.push(create(SparseTensorProtoSchema, {
    dims: [10n],
    values: create(TensorProtoSchema, { name: 'sparse_bias', dataType: 1, dims: [2n], floatData: [0.5, -2] }),
    indices: create(TensorProtoSchema, { dataType: 7, dims: [2n], int64Data: [1n, 7n] }),
  }));
  const probs = g.output[0]!.name;
  g.output[0]!.name = 'probs_raw';
  for (const n of g.node) n.output = n.output.map((o) => (o === probs ? 'probs_raw' : o));
  g.node.push(
    create(NodeProtoSchema, { name: 'local_fn', opType: 'AddRelu', domain: 'local', input: ['probs_raw', 'typed_bias'], output: ['shifted'], docString: 'calls a local function' }),
    create(NodeProtoSchema, {
      name: 'with_sparse',
      opType: 'Add',
      input: ['shifted', 'sparse_bias'],
      output: [probs],
      attribute: [],
    }),
    create(NodeProtoSchema, {
      name: 'const_typed',
      opType: 'Constant',
      output: ['unused_const'],
      attribute: [create(AttributeProtoSchema, { name: 'value', type: AttributeProto_AttributeType.TENSOR, t: create(TensorProtoSchema, { dataType: 7, dims: [3n], int64Data: [1n, 2n, 3n] }), docString: 'attr doc' })],
    }),
  );
  g.output.push(g.output[0]!);
  g.output[0] = { ...g.output[0]!, name: probs };
  g.output.pop();
  // A field this schema version does not know, on a node and on the model.
  (g.node[g.node.length - 1] as { $unknown?: unknown }).$unknown = [{ no: 77, wireType: 0, data: Uint8Array.of(0x2a) }];
  return p;
}

test('round trip keeps metadata, local functions, sparse and typed initializers, doc strings and unknown fields', async () => {
  const p = kitchenSink();
  const extra = Uint8Array.of(0x98, 0x06, 0x2a); // field 99, varint 42: unknown to ONNX
  const bytes0 = Buffer.concat([encodeModelProto(p), extra]);
  const m = loadModel(bytes0);
  assert.equal(m.metadata.get('author'), 'trainfer tests');
  assert.equal(m.functions.length, 1);
  assert.equal(m.graph.proto?.sparseInitializer.length, 1);
  const bytes1 = encode(m);
  assert.ok(Buffer.compare(bytes0, bytes1) === 0, 'proto → IR → proto changed the bytes');
  assert.ok(Buffer.compare(bytes1.subarray(-3), extra) === 0, 'the unknown model field is written back');
  const feeds = mlpFixture().feeds;
  assertSameOutputs(await runOrt(bytes0, feeds), await runOrt(bytes1, feeds));
  // The local function and sparse initializer really ran: outputs differ from the plain MLP.
  const plain = await runOrt(encode(mlpFixture().model), feeds);
  const sink = await runOrt(bytes1, feeds);
  assert.notDeepEqual(sink.probs!.data, plain.probs!.data);
});

test('a rewrite changes only what it touches', () => {
  const bytes = encodeModelProto(kitchenSink());
  const m = loadModel(bytes);
  const relu = m.graph.nodes.find((n) => n.opType === 'Relu')!;
  relu.name = 'renamed';
  const p = modelToProto(m);
  assert.equal(p.graph!.node.find((n) => n.opType === 'Relu')!.name, 'renamed');
  assert.equal(p.functions.length, 1);
  assert.equal(p.graph!.sparseInitializer.length, 1);
  assert.equal(p.graph!.initializer.find((t) => t.name === 'typed_bias')!.floatData.length, 10);
  const back = modelFromProto(decodeModelProto(encodeModelProto(p)));
  assert.equal(back.graph.nodes.find((n) => n.opType === 'Relu')!.name, 'renamed');
});

test('external data: write → read → write is byte-identical (model and data file) and runs identically', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trainfer-ext-'));
  try {
    const fx = transformerFixture();
    const f1 = join(dir, 'one', 'model.onnx');
    const f2 = join(dir, 'two', 'model.onnx');
    writeModel(f1, fx.model, { externalDataThreshold: 512, externalDataLocation: 'weights.bin' });
    const m = readModel(f1);
    const data1 = readFileSync(join(dir, 'one', 'weights.bin'));
    assert.ok(data1.byteLength > 512);
    assert.ok(readFileSync(f1).byteLength < data1.byteLength, 'weights moved out of the model file');
    writeModel(f2, m, { externalDataThreshold: 512, externalDataLocation: 'weights.bin' });
    assert.ok(Buffer.compare(readFileSync(f1), readFileSync(f2)) === 0, 'model files differ');
    assert.ok(Buffer.compare(data1, readFileSync(join(dir, 'two', 'weights.bin'))) === 0, 'data files differ');
    const inline = await runOrt(encode(fx.model), fx.feeds);
    const { InferenceSession } = await import('onnxruntime-node');
    const s = await InferenceSession.create(f2, { intraOpNumThreads: 1, logSeverityLevel: 3, graphOptimizationLevel: 'disabled' });
    const { Tensor: OrtTensor } = await import('onnxruntime-node');
    const out = await s.run({ tokens: new OrtTensor('int64', fx.feeds.tokens!.data as BigInt64Array, [...fx.feeds.tokens!.dims]) });
    assert.deepEqual(out.hidden!.data, inline.hidden!.data);
    await s.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('chunked encoding equals protobuf-es toBinary, including large tensors with unknown fields', () => {
  const p = modelToProto(mlpFixture().model);
  const big = create(TensorProtoSchema, { name: 'big', dataType: 1, dims: [40000n], rawData: new Uint8Array(160000).map((_, i) => i % 251), docString: 'after raw' });
  (big as { $unknown?: unknown }).$unknown = [{ no: 88, wireType: 0, data: Uint8Array.of(5) }];
  p.graph!.initializer.splice(1, 0, big);
  (p.graph as { $unknown?: unknown }).$unknown = [{ no: 99, wireType: 0, data: Uint8Array.of(1) }];
  p.metadataProps.push(create(StringStringEntryProtoSchema, { key: 'k', value: 'v' }));
  const chunks = encodeModelChunks(p);
  assert.ok(chunks.length > 3, 'large tensors are referenced, not copied');
  assert.ok(chunks.some((c) => c === big.rawData), 'raw data is passed through by reference');
  assert.ok(Buffer.compare(Buffer.concat(chunks), toBinary(ModelProtoSchema, p, { writeUnknownFields: true })) === 0);
});
