/**
 * Small models for the serving robustness tests (not part of the package): a run whose length is set by
 * an input (a hung inference on demand), a Gather that rejects out-of-range indices (a poison request),
 * a dynamically quantized MLP (per-batch activation scale), an allocation too large to succeed, and a
 * BYTES echo.
 */
import { attr } from '../onnx/attr.js';
import { GraphBuilder } from '../onnx/builder.js';
import type { Model } from '../onnx/ir.js';
import { Tensor } from '../onnx/tensor.js';
import { BATCH_FIRST_KEY } from './batching-policy.js';

function batchFirst(m: Model): Model {
  m.metadata.set(BATCH_FIRST_KEY, 'true');
  return m;
}

/**
 * `x: [batch, 4]` float, `iters: [1]` int64 → `y = x` after a Loop of `iters` identity MatMuls
 * (≈1 µs each): a run as long as the request asks.
 */
export function slowLoopModel(): Model {
  const body = new GraphBuilder({ name: 'body' });
  body.input('i', 'int64', []);
  body.input('cond_in', 'bool', []);
  const yin = body.input('y_in', 'float32', ['batch', 4]);
  const c = body.identity('cond_in');
  body.output(c, c, { dtype: 'bool', shape: [] });
  const eye = body.constant(Tensor.f32([4, 4], [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]));
  const yo = body.matMul(yin, eye);
  body.output(yo, yo, { dtype: 'float32', shape: ['batch', 4] });
  const g = new GraphBuilder({ name: 'slow_loop' });
  const x = g.input('x', 'float32', ['batch', 4]);
  const iters = g.input('iters', 'int64', [1]);
  const n = g.squeeze(iters, [0]);
  const t = g.constant(new Tensor('bool', [], Uint8Array.from([1])));
  const [y] = g.op('Loop', [n, t, x], { body: attr.graph(body.graph) });
  g.output(y!, 'y', { dtype: 'float32', shape: ['batch', 4] });
  return g.toModel();
}

/** `idx: [batch, 2]` int64 → `y: [batch, 2, 3]` rows of a 10×3 table (row r = [3r, 3r+1, 3r+2]); an index outside [-10, 9] fails the run. */
export function gatherModel(): Model {
  const g = new GraphBuilder({ name: 'gather' });
  const idx = g.input('idx', 'int64', ['batch', 2]);
  const table = g.initializer('table', Tensor.f32([10, 3], Array.from({ length: 30 }, (_, i) => i)));
  g.output(g.gather(table, idx), 'y', { dtype: 'float32', shape: ['batch', 2, 3] });
  return batchFirst(g.toModel());
}

/**
 * `x: [batch, 16]` → DynamicQuantizeLinear → MatMulInteger (int8 weights 16×8) → Cast → Mul(scales) →
 * `y: [batch, 8]`: the standard dynamic-int8 chain, one activation scale per run. Declared batch-first.
 */
export function dynamicInt8Model(): Model {
  const g = new GraphBuilder({ name: 'dynamic_int8' });
  const x = g.input('x', 'float32', ['batch', 16]);
  const w = Int8Array.from({ length: 16 * 8 }, (_, i) => ((i * 37) % 255) - 127);
  const wq = g.initializer('wq', new Tensor('int8', [16, 8], w));
  const wz = g.initializer('wz', new Tensor('int8', [], Int8Array.from([0])));
  const [xq, xs, xz] = g.op('DynamicQuantizeLinear', [x], {}, { outputs: 3 });
  const [acc] = g.op('MatMulInteger', [xq!, wq, xz!, wz]);
  const scale = g.mul(xs!, g.constant(Tensor.scalar('float32', 0.01)));
  g.output(g.mul(g.cast(acc!, 'float32'), scale), 'y', { dtype: 'float32', shape: ['batch', 8] });
  return batchFirst(g.toModel());
}

/** `n: [2]` int64 → a float tensor of shape `n`, summed: a request for n = [1e6, 1e7] needs 40 TB. */
export function allocationModel(): Model {
  const g = new GraphBuilder({ name: 'alloc' });
  const n = g.input('n', 'int64', [2]);
  const [z] = g.op('ConstantOfShape', [n]);
  g.output(g.reduceSum(z!, undefined, false), 'y', { dtype: 'float32', shape: [] });
  return g.toModel();
}

/** `s: [batch]` BYTES → the same strings. Declared batch-first. */
export function bytesEchoModel(): Model {
  const g = new GraphBuilder({ name: 'bytes_echo' });
  const s = g.input('s', 'string', ['batch']);
  g.output(g.identity(s), 'echo', { dtype: 'string', shape: ['batch'] });
  return batchFirst(g.toModel());
}
