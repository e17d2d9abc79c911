import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder } from '../../onnx/builder.js';
import { Tensor } from '../../onnx/tensor.js';
import { TrainferError } from '../../util/errors.js';
import { calibrate } from './calibration.js';

/** y = relu(2x − 1): ranges follow from the inputs by hand. */
function model() {
  const g = new GraphBuilder({ name: 'cal' });
  const x = g.input('x', 'float32', ['N', 4]);
  const z = g.sub(g.mul(x, g.scalar(2)), g.scalar(1));
  g.output(g.relu(z), 'y');
  return { model: g.toModel(), z };
}

// Two batches: values 0..0.99 in steps of 0.01, and one outlier 50 in the second.
const b1 = Tensor.f32([25, 4], Array.from({ length: 100 }, (_, i) => i / 100));
const b2 = Tensor.f32([2, 4], [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 50]);

test('calibrate over onnxruntime: min/max of inputs and intermediates across batches, int values skipped', async () => {
  const { model: m, z } = model();
  const cal = await calibrate({ model: m, values: ['x', z, 'y'], batches: () => [{ x: b1 }, { x: b2 }] });
  assert.equal(cal.samples, 27);
  assert.deepEqual(cal.ranges.get('x'), { min: 0, max: 50 });
  assert.deepEqual(cal.ranges.get(z), { min: -1, max: 99 });
  assert.deepEqual(cal.ranges.get('y'), { min: 0, max: 99 });
  assert.equal(cal.dtypes.get(z), 'float32');
});

test('percentile calibration drops the outlier from intermediates; inputs keep min/max', async () => {
  const { model: m, z } = model();
  const cal = await calibrate({ model: m, values: ['x', z], batches: () => [{ x: b1 }, { x: b2 }], method: 'percentile', percentile: 98 });
  assert.deepEqual(cal.ranges.get('x'), { min: 0, max: 50 });
  const r = cal.ranges.get(z)!;
  // 108 values; cutting 1 % (1.08 values) per tail removes the single 99 and leaves the rest [-1, 0.98].
  assert.ok(r.max < 2 && r.max > 0.9, `max ${r.max}`);
  assert.ok(r.min <= -0.9, `min ${r.min}`);
});

test('calibration data that does not fit the model is a one-line error naming the shapes', async () => {
  const { model: m } = model();
  await assert.rejects(
    calibrate({ model: m, values: ['y'], batches: () => [{ x: Tensor.f32([2, 3], [1, 2, 3, 4, 5, 6]) }] }),
    (e: Error) => e instanceof TrainferError && /calibration data does not fit the model \(x \[2, 3\]\)/.test(e.message) && !e.message.includes('\n'),
  );
  await assert.rejects(calibrate({ model: m, values: ['y'], batches: () => [] }), /calibration data is empty/);
});
