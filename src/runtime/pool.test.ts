// Tests for SessionPool: outputs equal an in-process Session, concurrency across workers, one-line
// errors, a crashed worker fails its request and is replaced, close() drains.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder } from '../onnx/builder.js';
import { encodeModelProto } from '../onnx/model-io.js';
import { modelToProto } from '../onnx/ir-proto.js';
import { Tensor } from '../onnx/tensor.js';
import { Session } from './session.js';
import { CRASH_WORKER, SessionPool } from './pool.js';

function mlpBytes(): Uint8Array {
  const g = new GraphBuilder({ name: 'mlp' });
  const x = g.input('x', 'float32', ['batch', 16]);
  let seed = 7;
  const rand = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32 - 0.5);
  const w = g.initializer('w', Tensor.f32([16, 4], Array.from({ length: 64 }, rand)));
  g.output(g.relu(g.matMul(x, w)), 'y');
  return encodeModelProto(modelToProto(g.toModel()));
}

const input = (n: number, k: number) => Tensor.f32([n, 16], Array.from({ length: n * 16 }, (_, i) => Math.sin(i + k)));

test('pool outputs equal an in-process session, with metadata', async () => {
  const bytes = mlpBytes();
  const pool = await SessionPool.create({ source: { bytes }, instances: 2 });
  const session = await Session.create({ bytes }, { intraOpThreads: 1 });
  try {
    assert.deepEqual(pool.inputs, [{ name: 'x', dtype: 'float32', shape: ['batch', 16] }]);
    assert.equal(pool.outputs[0]!.name, 'y');
    const results = await Promise.all(Array.from({ length: 8 }, (_, k) => pool.run({ x: input(3, k) })));
    for (let k = 0; k < 8; k++) {
      const want = (await session.run({ x: input(3, k) })).y!;
      assert.deepEqual(results[k]!.outputs.y!.dims, [3, 4]);
      assert.deepEqual(Array.from(results[k]!.outputs.y!.data as Float32Array), Array.from(want.data as Float32Array));
      assert.ok(results[k]!.computeMs >= 0);
    }
    // transfer: the caller's buffer is detached, the result is still right
    const x = input(2, 99);
    const want = (await session.run({ x: x.clone() })).y!;
    const got = await pool.run({ x }, ['y'], { transfer: true });
    assert.equal((x.data as Float32Array).length, 0);
    assert.deepEqual(Array.from(got.outputs.y!.data as Float32Array), Array.from(want.data as Float32Array));
  } finally {
    await pool.close();
    await session.release();
  }
});

test('pool errors are one line; a crashed worker fails its request and is replaced', async () => {
  const pool = await SessionPool.create({ source: { bytes: mlpBytes() }, instances: 1, label: 'mlp' });
  try {
    await assert.rejects(pool.run({ x: Tensor.f32([1, 3], [1, 2, 3]) }), (e: Error) => e.message.startsWith('mlp: ') && !e.message.includes('\n'));
    pool[CRASH_WORKER](0);
    await assert.rejects(pool.run({ x: input(1, 0) }), /session worker crashed \(exit code 70\)/);
    // the replacement answers
    const r = await pool.run({ x: input(1, 0) });
    assert.deepEqual(r.outputs.y!.dims, [1, 4]);
    assert.equal(pool.restarts, 1);
    assert.equal(pool.size, 1);
  } finally {
    await pool.close();
  }
  await assert.rejects(pool.run({ x: input(1, 0) }), /closed/);
});

test('a model that does not load is a one-line error naming the source', async () => {
  await assert.rejects(SessionPool.create({ source: { path: '/nonexistent/model.onnx' } }), (e: Error) => e.message.startsWith('/nonexistent/model.onnx: ') && !e.message.includes('\n'));
});
