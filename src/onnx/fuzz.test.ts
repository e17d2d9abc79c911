import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FileFormatError } from '../util/errors.js';
import { countParameters, estimateFlops } from './cost.js';
import { create } from '@bufbuild/protobuf';
import { TensorProtoSchema } from './gen/onnx_pb.js';
import { modelToProto } from './ir-proto.js';
import { encodeModelProto, loadModel } from './model-io.js';
import { inferTypes } from './shape-infer.js';
import { controlFlowFixture, seededRandom, transformerFixture } from './test-fixtures.js';
import { validateGraph } from './validate.js';

type Mutation = (b: Uint8Array, rnd: (lo?: number, hi?: number) => number) => Uint8Array;
const int = (rnd: (lo?: number, hi?: number) => number, n: number) => Math.floor(rnd(0, n));

const MUTATIONS: Record<string, Mutation> = {
  flipBit: (b, rnd) => {
    const c = b.slice();
    const i = int(rnd, c.length);
    c[i]! ^= 1 << int(rnd, 8);
    return c;
  },
  randomByte: (b, rnd) => {
    const c = b.slice();
    c[int(rnd, c.length)] = int(rnd, 256);
    return c;
  },
  truncate: (b, rnd) => b.slice(0, int(rnd, b.length)),
  insert: (b, rnd) => {
    const at = int(rnd, b.length);
    const junk = Uint8Array.from({ length: 1 + int(rnd, 16) }, () => int(rnd, 256));
    return Buffer.concat([b.subarray(0, at), junk, b.subarray(at)]);
  },
  hugeVarint: (b, rnd) => {
    // A run of continuation bytes: huge lengths, huge dims, negative int64s.
    const c = b.slice();
    const at = int(rnd, c.length);
    for (let k = 0; k < 1 + int(rnd, 9) && at + k < c.length; k++) c[at + k] = 0xff;
    return c;
  },
  deleteRange: (b, rnd) => {
    const at = int(rnd, b.length);
    return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + int(rnd, 32)))]);
  },
  duplicateRange: (b, rnd) => {
    const at = int(rnd, b.length);
    const len = 1 + int(rnd, 64);
    return Buffer.concat([b.subarray(0, at + len), b.subarray(at, at + len), b.subarray(at + len)]);
  },
};

/** What `trainfer inspect` does with a model it could read: none of it may throw. */
function analyse(bytes: Uint8Array): void {
  const m = loadModel(bytes, { file: 'fuzz.onnx' });
  inferTypes(m);
  validateGraph(m);
  countParameters(m);
  estimateFlops(m, { batch: 2 });
}

test('2000 random mutations: the reader succeeds or throws FileFormatError, and analysis never throws', { timeout: 120_000 }, () => {
  const seeds = [encodeModelProto(modelToProto(transformerFixture().model)), encodeModelProto(modelToProto(controlFlowFixture().model))];
  const rnd = seededRandom(2026);
  const names = Object.keys(MUTATIONS);
  const outcome = { ok: 0, formatError: 0 };
  for (let i = 0; i < 2000; i++) {
    let bytes = seeds[i % seeds.length]!;
    const steps = 1 + int(rnd, 3);
    const applied: string[] = [];
    for (let s = 0; s < steps; s++) {
      const name = names[int(rnd, names.length)]!;
      applied.push(name);
      bytes = MUTATIONS[name]!(bytes, rnd);
    }
    try {
      analyse(bytes);
      outcome.ok++;
    } catch (err) {
      if (err instanceof FileFormatError) {
        assert.ok(!err.message.includes('\n'), `case ${i}: multi-line message`);
        assert.match(err.message, /^fuzz\.onnx: /);
        outcome.formatError++;
        continue;
      }
      assert.fail(`case ${i} (${applied.join(' + ')}): ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}\n${(err as Error)?.stack}`);
    }
  }
  // Both outcomes must actually occur, or the mutations are not exercising the reader.
  assert.ok(outcome.ok > 100 && outcome.formatError > 100, JSON.stringify(outcome));
});

test('hand-made hostile inputs give FileFormatError', () => {
  const bad: Record<string, Uint8Array> = {
    empty: new Uint8Array(0),
    text: new TextEncoder().encode('this is not an onnx model\n'),
    zeros: new Uint8Array(100),
    // graph field (7) claiming 2^62 bytes
    hugeLength: Uint8Array.of(0x08, 0x07, 0x3a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f),
    // 10 000 nested subgraphs via If attributes would be large; a deep chain of unknown groups instead
    deepGroups: new Uint8Array([...Array(20000).fill(0x0b /* field 1, start group */)]),
  };
  // Dims claiming 2^30 floats with one value stored: must fail before allocating 4 GiB.
  const claim = modelToProto(controlFlowFixture().model);
  claim.graph!.initializer.push(create(TensorProtoSchema, { name: 'liar', dataType: 1, dims: [1n << 30n], floatData: [1] }));
  bad.liar = encodeModelProto(claim);
  const odd = modelToProto(controlFlowFixture().model);
  odd.graph!.initializer.push(create(TensorProtoSchema, { name: 'odd', dataType: 99, dims: [1n], rawData: Uint8Array.of(1, 2, 3, 4) }));
  bad.unknownDtype = encodeModelProto(odd);
  for (const [name, bytes] of Object.entries(bad)) {
    assert.throws(() => loadModel(bytes, { file: `${name}.onnx` }), (e: unknown) => e instanceof FileFormatError && e.message.startsWith(`${name}.onnx: `), name);
  }
});

test('absurd declared shapes do not crash analysis', () => {
  const p = modelToProto(controlFlowFixture().model);
  const dim = p.graph!.input[0]!.type!.value.value as { shape?: { dim: { value: { case: string; value: unknown } }[] } };
  dim.shape!.dim[0]!.value = { case: 'dimValue', value: 2n ** 62n };
  dim.shape!.dim[1]!.value = { case: 'dimValue', value: -5n };
  analyse(encodeModelProto(p));
});
