import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Dataset } from '../../data/dataset.js';
import { Tensor } from '../../onnx/tensor.js';
import { calibrate } from './calibration.js';
import { cloneModel, prepareModel } from './prepare.js';
import { calibrationTargets, insertQdq, type QdqOptions } from './qdq.js';
import { fakeQuantModel } from './qat.js';
import { quantizeQat } from './qat-file.js';
import { newReport } from './report.js';
import { closeness, lcg, mlp, runModel } from './test-models.js';

/** Four Gaussian blobs in 16-D, labelled by blob. */
function blobs(n: number, seed: number): Dataset {
  const r = lcg(seed);
  const x = new Float32Array(n * 16);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 4;
    for (let k = 0; k < 16; k++) x[i * 16 + k] = (k % 4 === y[i] ? 1.5 : 0) + r();
  }
  return { source: 'blobs', kind: 'tabular', sampleShape: [16], x, scale: 1, y, count: n, numClasses: 4 };
}

/**
 * A hand-set 16-32-4 blob classifier (hidden j sums the features of class j mod 4, plus noise weights) whose
 * hidden unit 0 is scaled ×α and its outgoing weights ÷α: the same function, with one outlier channel.
 */
function outlierMlp(alpha: number) {
  const m = mlp([16, 32, 4], 7);
  const r = lcg(8);
  const inits = [...m.graph.initializers.entries()].filter(([, t]) => t.dtype === 'float32');
  const [w1, b1, w2, b2] = [inits[0]![0], inits[1]![0], inits[2]![0], inits[3]![0]];
  const a = (j: number): number => (j === 0 ? alpha : 1);
  m.graph.initializers.set(w1, Tensor.f32([16, 32], Array.from({ length: 512 }, (_, i) => ((Math.floor(i / 32) % 4 === (i % 32) % 4 ? 0.25 : 0) + 0.05 * r()) * a(i % 32))));
  m.graph.initializers.set(b1, Tensor.f32([32], Array.from({ length: 32 }, (_, j) => -0.1 * a(j))));
  m.graph.initializers.set(w2, Tensor.f32([32, 4], Array.from({ length: 128 }, (_, i) => ((Math.floor(i / 4) % 4 === i % 4 ? 1 : 0) + 0.05 * r()) / a(Math.floor(i / 4)))));
  m.graph.initializers.set(b2, Tensor.f32([4], [0, 0, 0, 0]));
  return m;
}

const qdq: QdqOptions = { activationType: 'uint8', activationSymmetric: false, perChannel: true, reduceRange: false };

test('the fake-quant graph computes what the exported int8 model computes', async () => {
  const prep = prepareModel(mlp([16, 32, 4], 3)).model;
  const data = blobs(64, 1);
  const x = new Tensor('float32', [64, 16], data.x as Float32Array);
  const cal = await calibrate({ model: prep, values: calibrationTargets(prep.graph), batches: () => [{ x }] });
  const fq = fakeQuantModel(prep, cal, qdq);
  assert.deepEqual(fq.params.length, 4);
  assert.ok(fq.model.graph.nodes.some((n) => n.opType === 'QuantizeLinear' && fq.params.includes(n.inputs[0]!)), 'weights go through QuantizeLinear');
  const real = cloneModel(prep);
  insertQdq(real, cal, qdq, newReport('static'));
  const c = closeness((await runModel(fq.model, { x })).logits!, (await runModel(real, { x })).logits!);
  // Only the int32 bias rounding and float32 scale arithmetic differ: far below one activation step.
  assert.ok(c.cosine > 0.99999 && c.maxDiff < 0.01, JSON.stringify(c));
});

test('QAT recovers accuracy static int8 lost on an outlier channel', async () => {
  const model = outlierMlp(400);
  const train = blobs(2048, 2);
  const testSet = blobs(512, 3);
  const acc = async (m: typeof model): Promise<number> => {
    const y = (await runModel(m, { x: new Tensor('float32', [512, 16], testSet.x as Float32Array) })).logits!.data as Float32Array;
    let ok = 0;
    for (let i = 0; i < 512; i++) {
      let b = 0;
      for (let k = 1; k < 4; k++) if (y[i * 4 + k]! > y[i * 4 + b]!) b = k;
      if (b === testSet.y[i]) ok++;
    }
    return ok / 512;
  };
  const prep = prepareModel(model).model;
  const cal = await calibrate({ model: prep, values: calibrationTargets(prep.graph), batches: () => [{ x: new Tensor('float32', [512, 16], (train.x as Float32Array).subarray(0, 512 * 16)) }] });
  const st = cloneModel(prep);
  insertQdq(st, cal, qdq, newReport('static'));
  const [fp, s] = [await acc(model), await acc(st)];
  const q = await quantizeQat({ model, train, steps: 150, batchSize: 32, lr: 1e-3, threads: 1, autotune: false });
  const a = await acc(q.model);
  assert.ok(fp - s > 0.05, `static int8 should lose accuracy here: fp32 ${fp}, int8 ${s}`);
  assert.ok(a - s >= (fp - s) / 2, `QAT ${a} should recover half of ${fp} − ${s}`);
});
