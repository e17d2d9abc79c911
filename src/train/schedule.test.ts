// Learning-rate schedules are pure functions; check their shapes at known points and the CLI parser.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { formatSchedule, learningRate, parseSchedule } from './schedule.js';

const at = (step: number) => ({ step, totalSteps: 1000, stepsPerEpoch: 100 });
const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-9 * Math.max(1, Math.abs(b)), `${a} ≠ ${b}`);

test('constant, step decay, cosine and linear warm-up', () => {
  close(learningRate({ type: 'constant' }, 0.1, at(500)), 0.1);
  close(learningRate({ type: 'step', everyEpochs: 2, gamma: 0.5 }, 0.1, at(199)), 0.1);
  close(learningRate({ type: 'step', everyEpochs: 2, gamma: 0.5 }, 0.1, at(200)), 0.05);
  close(learningRate({ type: 'step', everyEpochs: 2, gamma: 0.5 }, 0.1, at(999)), 0.1 * 0.5 ** 4);
  close(learningRate({ type: 'cosine' }, 0.1, at(0)), 0.1);
  close(learningRate({ type: 'cosine' }, 0.1, at(500)), 0.05);
  close(learningRate({ type: 'cosine', minFactor: 0.1 }, 0.1, at(500)), 0.01 + 0.09 * 0.5);
  close(learningRate({ type: 'constant', warmup: 99 }, 0.1, at(0)), 0.001);
  close(learningRate({ type: 'constant', warmup: 99 }, 0.1, at(49)), 0.05);
  close(learningRate({ type: 'cosine', warmup: 100 }, 0.1, at(100)), 0.1);
});

test('one-cycle rises linearly to the peak, then anneals far below the start', () => {
  const s = { type: 'onecycle' as const, pctStart: 0.3, divFactor: 10, finalDivFactor: 100 };
  close(learningRate(s, 1, at(0)), 0.1);
  close(learningRate(s, 1, at(150)), 0.55);
  close(learningRate(s, 1, at(300)), 1);
  close(learningRate(s, 1, at(999)), 0.001);
  const lrs = Array.from({ length: 1000 }, (_, i) => learningRate(s, 1, at(i)));
  for (let i = 301; i < 1000; i++) assert.ok(lrs[i]! <= lrs[i - 1]!);
});

test('parseSchedule: CLI forms, round trip, clear errors', () => {
  assert.deepEqual(parseSchedule('cosine,warmup=200'), { type: 'cosine', minFactor: undefined, warmup: 200 });
  assert.deepEqual(parseSchedule('step,every=2,gamma=0.1'), { type: 'step', everyEpochs: 2, gamma: 0.1, warmup: undefined });
  assert.deepEqual(parseSchedule('warmup=300'), { type: 'constant', warmup: 300 });
  for (const s of ['constant', 'cosine,min=0.01,warmup=5', 'onecycle,pct=0.2', 'step,every=3,gamma=0.5']) assert.equal(formatSchedule(parseSchedule(s)), s);
  assert.throws(() => parseSchedule('linear'), /unknown schedule 'linear'/);
  assert.throws(() => parseSchedule('cosine,gamma=2'), /unknown key 'gamma' for cosine/);
  assert.throws(() => parseSchedule('cosine,warmup=x'), /'warmup=x' must be key=non-negative number/);
});
