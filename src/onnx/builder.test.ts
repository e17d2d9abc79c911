import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder } from './builder.js';
import { encodeModelProto } from './model-io.js';
import { modelToProto } from './ir-proto.js';
import { Tensor } from './tensor.js';
import { seededRandom } from './test-fixtures.js';
import { runOrt } from './test-ort.js';

/** Runs a one-output builder graph on ORT and returns the output as float64 numbers. */
async function run(g: GraphBuilder, feeds: Record<string, Tensor>, out: string): Promise<{ dims: readonly number[]; values: number[] }> {
  const res = await runOrt(encodeModelProto(modelToProto(g.toModel())), feeds);
  return { dims: res[out]!.dims, values: res[out]!.toNumbers() };
}

function close(actual: number[], expected: number[], tol = 1e-5): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]!) <= tol * (1 + Math.abs(expected[i]!)), `element ${i}: ${a} vs ${expected[i]}`));
}

const r = seededRandom(11);
const rand = (n: number) => Array.from({ length: n }, () => r());

test('gemm(transB) + relu matches a JS reference', async () => {
  const [M, K, N] = [3, 5, 4];
  const a = rand(M * K);
  const b = rand(N * K);
  const c = rand(N);
  const g = new GraphBuilder();
  const x = g.input('a', 'float32', [M, K]);
  g.output(g.relu(g.gemm(x, g.initializer('b', Tensor.f32([N, K], b)), g.initializer('c', Tensor.f32([N], c)), { transB: true, alpha: 0.5 })), 'y');
  const got = await run(g, { a: Tensor.f32([M, K], a) }, 'y');
  const want: number[] = [];
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += Math.fround(a[i * K + k]!) * Math.fround(b[j * K + k]!);
      want.push(Math.max(0, 0.5 * s + Math.fround(c[j]!)));
    }
  }
  assert.deepEqual(got.dims, [M, N]);
  close(got.values, want);
});

test('conv (stride 2, pad 1) and maxPool match a direct JS convolution', async () => {
  const [C, H, W, M, k] = [2, 5, 5, 3, 3];
  const xv = rand(C * H * W);
  const wv = rand(M * C * k * k);
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', [1, C, H, W]);
  const y = g.conv(x, g.initializer('w', Tensor.f32([M, C, k, k], wv)), undefined, { strides: [2, 2], pads: [1, 1, 1, 1] });
  g.output(y, 'y');
  g.output(g.maxPool(y, { kernelShape: [2, 2] }), 'p');
  const res = await runOrt(encodeModelProto(modelToProto(g.toModel())), { x: Tensor.f32([1, C, H, W], xv) });
  const OH = 3;
  const conv: number[] = [];
  for (let m = 0; m < M; m++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OH; ox++) {
        let s = 0;
        for (let c = 0; c < C; c++) {
          for (let ky = 0; ky < k; ky++) {
            for (let kx = 0; kx < k; kx++) {
              const iy = oy * 2 - 1 + ky;
              const ix = ox * 2 - 1 + kx;
              if (iy < 0 || ix < 0 || iy >= H || ix >= W) continue;
              s += Math.fround(xv[(c * H + iy) * W + ix]!) * Math.fround(wv[((m * C + c) * k + ky) * k + kx]!);
            }
          }
        }
        conv.push(s);
      }
    }
  }
  close(res.y!.toNumbers(), conv);
  const pool: number[] = [];
  for (let m = 0; m < M; m++) {
    for (let oy = 0; oy < 2; oy++) {
      for (let ox = 0; ox < 2; ox++) {
        const at = (y: number, x: number) => conv[(m * OH + y) * OH + x]!;
        pool.push(Math.max(at(oy, ox), at(oy, ox + 1), at(oy + 1, ox), at(oy + 1, ox + 1)));
      }
    }
  }
  close(res.p!.toNumbers(), pool);
});

test('softmax, layerNormalization and reduceMean match JS', async () => {
  const [R, D] = [2, 6];
  const xv = rand(R * D).map((v) => 3 * v);
  const gamma = rand(D);
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', [R, D]);
  g.output(g.softmax(x), 's');
  g.output(g.layerNormalization(x, g.initializer('gamma', Tensor.f32([D], gamma)), undefined, { epsilon: 1e-5 }), 'ln');
  g.output(g.reduceMean(x, [1], false), 'mean');
  const res = await runOrt(encodeModelProto(modelToProto(g.toModel())), { x: Tensor.f32([R, D], xv) });
  const soft: number[] = [];
  const ln: number[] = [];
  const means: number[] = [];
  for (let i = 0; i < R; i++) {
    const row = xv.slice(i * D, (i + 1) * D).map(Math.fround);
    const mx = Math.max(...row);
    const e = row.map((v) => Math.exp(v - mx));
    const z = e.reduce((a, b) => a + b, 0);
    soft.push(...e.map((v) => v / z));
    const mu = row.reduce((a, b) => a + b, 0) / D;
    const vr = row.reduce((a, b) => a + (b - mu) ** 2, 0) / D;
    ln.push(...row.map((v, j) => ((v - mu) / Math.sqrt(vr + 1e-5)) * Math.fround(gamma[j]!)));
    means.push(mu);
  }
  close(res.s!.toNumbers(), soft);
  close(res.ln!.toNumbers(), ln, 1e-4);
  close(res.mean!.toNumbers(), means);
});

test('gather, reshape, transpose, concat and slice move elements as expected', async () => {
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', [2, 3]);
  const idx = g.int64s([2, 0]);
  g.output(g.gather(x, idx, 1), 'gathered'); // columns 2 and 0
  g.output(g.transpose(g.reshape(x, [3, 2])), 'rt');
  g.output(g.concat([x, x], 0), 'cat');
  g.output(g.slice(x, [1], [3], [1]), 'sl');
  const res = await runOrt(encodeModelProto(modelToProto(g.toModel())), { x: Tensor.f32([2, 3], [1, 2, 3, 4, 5, 6]) });
  assert.deepEqual(res.gathered!.toNumbers(), [3, 1, 6, 4]);
  assert.deepEqual(res.rt!.dims, [2, 3]);
  assert.deepEqual(res.rt!.toNumbers(), [1, 3, 5, 2, 4, 6]);
  assert.deepEqual(res.cat!.toNumbers(), [1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6]);
  assert.deepEqual(res.sl!.toNumbers(), [2, 3, 5, 6]);
});

test('builder refuses duplicate names', () => {
  const g = new GraphBuilder();
  g.input('x', 'float32', [1]);
  assert.throws(() => g.input('x', 'float32', [1]), /already used/);
});
