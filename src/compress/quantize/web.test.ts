import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ortw from 'onnxruntime-web';
import { encodeModelProto } from '../../onnx/model-io.js';
import { modelToProto } from '../../onnx/ir-proto.js';
import type { Model } from '../../onnx/ir.js';
import { Tensor } from '../../onnx/tensor.js';
import { quantize } from './quantize.js';
import { closeness, lcg, mlp, runModel, smallCnn } from './test-models.js';

const require = createRequire(import.meta.url);
ortw.env.wasm.wasmPaths = `${join(dirname(require.resolve('onnxruntime-web')), '/')}`;
ortw.env.wasm.numThreads = 1;

async function runWeb(model: Model, x: Tensor): Promise<Tensor> {
  const s = await ortw.InferenceSession.create(encodeModelProto(modelToProto(model)), { executionProviders: ['wasm'] });
  try {
    const out = await s.run({ [s.inputNames[0]!]: new ortw.Tensor('float32', x.data as Float32Array, [...x.dims]) });
    const y = out[s.outputNames[0]!]!;
    return new Tensor('float32', y.dims.map(Number), y.data as Float32Array);
  } finally {
    await s.release();
  }
}

test('onnxruntime-web (wasm) runs static, dynamic, int4 and fp16 models like onnxruntime-node', async () => {
  const r = lcg(31);
  const cnn = smallCnn();
  const x = Tensor.f32([4, 1, 28, 28], Array.from({ length: 4 * 784 }, () => Math.max(0, r() + 0.1)));
  const xm = Tensor.f32([4, 64], Array.from({ length: 256 }, () => r() * 2));
  const mlpModel = mlp([64, 4096 / 64, 10]);
  const cases: [string, Model, Tensor][] = [
    ['static', (await quantize({ model: cnn, mode: 'static', calibration: () => [{ x }], minConvReduction: 0, autotune: false })).model, x],
    ['dynamic', (await quantize({ model: mlpModel, mode: 'dynamic' })).model, xm],
    ['int4', (await quantize({ model: mlpModel, mode: 'int4', int4MinElements: 0 })).model, xm],
    ['fp16', (await quantize({ model: cnn, mode: 'fp16' })).model, x],
  ];
  for (const [mode, q, input] of cases) {
    const node = Object.values(await runModel(q, { x: input }))[0]!;
    const web = await runWeb(q, input);
    const c = closeness(node, web);
    // Same model, two builds of the same kernels: agreement far tighter than the quantization error itself.
    assert.ok(c.cosine > 0.9999, `${mode}: cosine ${c.cosine}`);
  }
});
