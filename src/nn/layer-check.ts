/**
 * `checkLayer`: a Keras-style layer test helper. Builds a one-layer network, checks the output shape
 * and parameter count, runs the exported inference graph and the training graph's forward pass on
 * onnxruntime, and (for layers that behave the same in both modes) checks that they agree.
 */
import * as assert from 'node:assert/strict';
import { Tensor } from '../onnx/tensor.js';
import { Session } from '../runtime/session.js';
import { Rng } from '../util/rng.js';
import type { Layer } from './layer.js';
import { type InputKind, Network } from './network.js';

/** Options for `checkLayer`. */
export interface CheckLayerOptions {
  layer: Layer;
  /** Per-sample input shape. */
  inputShape: readonly number[];
  /** Expected per-sample output shape. */
  outputShape: readonly number[];
  /** Expected number of trainable scalars. */
  parameters: number;
  /** Batch size of the run (default 3). */
  batch?: number;
  /** Training and inference outputs must agree (default true; false for BatchNorm, Dropout). */
  sameInBothModes?: boolean;
  /** `tokens` feeds int64 ids in [0, vocab); default float inputs in [-1, 1). */
  inputKind?: InputKind;
  vocab?: number;
  /** Value for every random (dropout) input of the training graph (default: uniforms from seed 1). */
  randomValue?: number;
  seed?: number;
}

/** What `checkLayer` measured, for further assertions. */
export interface CheckLayerResult {
  network: Network;
  input: Tensor;
  inference: Float32Array;
  training: Float32Array;
}

/** Runs the checks (throws `AssertionError` on failure). */
export async function checkLayer(o: CheckLayerOptions): Promise<CheckLayerResult> {
  const batch = o.batch ?? 3;
  const network = new Network({ layers: [o.layer], inputShape: o.inputShape, inputKind: o.inputKind ?? 'tabular', seed: o.seed ?? 0 });
  assert.deepEqual(network.outputShape, [...o.outputShape], `${o.layer.type}: output shape`);
  assert.equal(network.parameterCount(), o.parameters, `${o.layer.type}: parameter count`);
  const rng = Rng.fromSeed(o.seed ?? 7);
  const n = batch * o.inputShape.reduce((a, b) => a * b, 1);
  const input = o.inputKind === 'tokens'
    ? Tensor.i64([batch, ...o.inputShape], Array.from({ length: n }, () => rng.int(o.vocab ?? 2)))
    : Tensor.f32([batch, ...o.inputShape], Array.from({ length: n }, () => rng.uniform() * 2 - 1));

  const inferModel = network.inferenceGraph();
  const inferSession = await Session.create({ model: inferModel }, { intraOpThreads: 1 });
  const inferOut = (await inferSession.run({ [inferSession.inputNames[0]!]: input }))['logits']!;
  await inferSession.release();
  assert.deepEqual(inferOut.dims, [batch, ...o.outputShape], `${o.layer.type}: inference output dims`);

  const fwd = network.forwardGraph({ training: true });
  fwd.g.output(fwd.heads[0]!.value, 'out');
  for (const b of fwd.buffers) fwd.g.output(b.updated);
  const trainSession = await Session.create({ model: fwd.g.toModel() }, { intraOpThreads: 1 });
  const feeds: Record<string, Tensor> = { [fwd.inputs[0]!]: input };
  for (const r of fwd.random) {
    const shape = r.shape as number[]; // checkLayer's inputs have static shapes
    const size = batch * shape.reduce((a, b) => a * b, 1);
    feeds[r.name] = Tensor.f32([batch, ...shape], Array.from({ length: size }, () => o.randomValue ?? rng.uniform()));
  }
  const trainOut = (await trainSession.run(feeds))['out']!;
  await trainSession.release();
  assert.deepEqual(trainOut.dims, [batch, ...o.outputShape], `${o.layer.type}: training output dims`);
  const a = inferOut.data as Float32Array;
  const b = trainOut.data as Float32Array;
  for (const v of a) assert.ok(Number.isFinite(v), `${o.layer.type}: inference output is not finite`);
  if (o.sameInBothModes ?? true) {
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= 1e-5 * (1 + Math.abs(a[i]!)), `${o.layer.type}: training and inference forward differ at ${i}: ${b[i]} vs ${a[i]}`);
  }
  return { network, input, inference: a, training: b };
}
