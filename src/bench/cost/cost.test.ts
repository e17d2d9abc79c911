/** The cost model against hand-computed cases (every expected number below is worked out in the comment beside it). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { computeCosts, type CostWorkloadInput } from './model.js';
import { EXAMPLE_PROFILES, type ProfilesFile, checkProfiles, readProfiles } from './profiles.js';

const close = (a: number | undefined, b: number, tol = 1e-9) => assert.ok(a !== undefined && Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} ≠ ${b}`);

const profiles: ProfilesFile = {
  format: 'trainfer-hardware-profiles', version: 1, asOf: '2026-12-01', currency: 'USD',
  gridGramsCo2ePerKwh: 500, storagePerGbMonth: 0.1, ingressPerGb: 0.01, egressPerGb: 0.04,
  profiles: [
    { id: 'here', name: 'measured', pricePerHour: 3.6, watts: 1000, speed: { measured: true } },
    { id: 'fast', name: 'declared 2× training, 4× inference', pricePerHour: 3.6, watts: 1000, pue: 1.5, speed: { training: 2, inference: 4 } },
  ],
};
const workload: CostWorkloadInput = {
  id: 'w', title: 'W', trainSeconds: 3600,
  variants: [
    { id: 'fp32', label: 'fp32', buildSeconds: 0, storedBytes: 1e9, serverQps: 1000, requestBytes: 1000, responseBytes: 1000 },
    { id: 'int8', label: 'int8', buildSeconds: 360, storedBytes: 0.25e9, serverQps: 4000, requestBytes: 1000, responseBytes: 1000 },
    { id: 'slow', label: 'missed the bound', buildSeconds: 0, storedBytes: 1e9, requestBytes: 1000, responseBytes: 1000 },
  ],
};

test('cost model: training, per-1M, storage, transfer, break-even and savings, by hand', () => {
  const r = computeCosts({ profiles, measured: [workload], predictionsPerDay: 86.4e6 });
  const here = r.rows.find((x) => x.profile === 'here')!;
  // training: 3600 s at $3.60/h = $3.60; 1000 W × 1 h = 1 kWh; × 500 g/kWh = 0.5 kg
  close(here.training.cost, 3.6);
  close(here.training.energyKwh, 1);
  close(here.training.co2eKg, 0.5);
  const [fp32, int8, slow] = here.variants as [typeof here.variants[0], typeof here.variants[0], typeof here.variants[0]];
  // 1 M predictions at 1000/s = 1000 s = $1.00 of compute; transfer: 1 GB of requests × $0.01 + 1 GB of responses × $0.04 = $0.05
  close(fp32.computePer1M, 1);
  close(fp32.transferPer1M, 0.05);
  close(fp32.costPer1M, 1.05);
  // energy: 1000 W × 1000 s = 1e6 J = 0.27778 kWh; CO2e 0.13889 kg
  close(fp32.energyKwhPer1M, 1e6 / 3.6e6);
  close(fp32.co2eKgPer1M, (1e6 / 3.6e6) * 0.5);
  // 86.4 M/day = 1000/s → one machine; storage 1 GB × 1 × $0.10 = $0.10/month
  assert.equal(fp32.fleet, 1);
  close(fp32.storagePerMonth, 0.1);
  // per day: 86.4 × $1.05 + $0.10/30
  close(fp32.inferencePerDay, 86.4 * 1.05 + 0.1 / 30);
  // break-even: $3.60 / $1.05e-6 per prediction = 3,428,571 predictions; 3.6 / 90.7233 days
  close(fp32.breakEvenPredictions, 3.6 / 1.05e-6);
  close(fp32.breakEvenDays, 3.6 / (86.4 * 1.05 + 0.1 / 30));
  // int8: training + 360 s of quantization = 3960 s = $3.96; 1 M at 4000/s = 250 s = $0.25 (+ $0.05)
  close(int8.training.cost, 3.96);
  close(int8.costPer1M, 0.3);
  close(int8.savingsPer1M, 0.75);
  close(int8.savingsPercent, (0.75 / 1.05) * 100);
  close(int8.computeSavingsPercent, 75);
  close(int8.energySavedKwhPer1M, 1e6 / 3.6e6 - 250e3 / 3.6e6);
  close(int8.storagePerMonth, 0.025);
  // no rate met the bound: no per-prediction cost, but storage and transfer still apply
  assert.equal(slow.costPer1M, undefined);
  assert.equal(slow.breakEvenPredictions, undefined);
  close(slow.transferPer1M, 0.05);
});

test('cost model: declared speeds scale time; PUE scales energy; fleet rounds up', () => {
  const r = computeCosts({ profiles, measured: [workload], predictionsPerDay: 3 * 86.4e6 * 4 });
  const fast = r.rows.find((x) => x.profile === 'fast')!;
  // training 3600 s / 2 = 1800 s = $1.80; energy 1000 W × 1.5 × 0.5 h = 0.75 kWh
  close(fast.training.seconds, 1800);
  close(fast.training.cost, 1.8);
  close(fast.training.energyKwh, 0.75);
  const fp32 = fast.variants[0]!;
  // inference 4×: 4000/s → 250 s per 1 M = $0.25 + $0.05 transfer
  close(fp32.qps, 4000);
  close(fp32.costPer1M, 0.3);
  // 12 × 86.4 M/day = 12 000/s at 4000/s each → 3 machines; storage 1 GB × 3 × $0.10
  assert.equal(fp32.fleet, 3);
  close(fp32.storagePerMonth, 0.3);
});

test('profiles: the examples are valid and labelled; bad files are one-line errors naming the field', () => {
  checkProfiles(EXAMPLE_PROFILES);
  assert.ok(EXAMPLE_PROFILES.profiles.every((p) => p.example));
  assert.match(EXAMPLE_PROFILES.note!, /EXAMPLE values, not live prices/);
  const dir = mkdtempSync(join(tmpdir(), 'trainfer-profiles-'));
  const write = (name: string, v: unknown) => {
    const p = join(dir, name);
    writeFileSync(p, typeof v === 'string' ? v : JSON.stringify(v));
    return p;
  };
  assert.throws(() => readProfiles(write('a.json', '{oops')), /a\.json: not a JSON profiles file/);
  assert.throws(() => readProfiles(write('b.json', { ...EXAMPLE_PROFILES, format: 'x' })), /"format" must be/);
  const neg = structuredClone(EXAMPLE_PROFILES);
  neg.profiles[1]!.pricePerHour = -1;
  assert.throws(() => readProfiles(write('c.json', neg)), /profiles\[1\]\.pricePerHour must be a number ≥ 0/);
  const dup = structuredClone(EXAMPLE_PROFILES);
  dup.profiles[1]!.id = dup.profiles[0]!.id;
  assert.throws(() => readProfiles(write('d.json', dup)), /appears twice/);
  const badSpeed = structuredClone(EXAMPLE_PROFILES) as unknown as { profiles: { speed: unknown }[] };
  badSpeed.profiles[0]!.speed = { fast: 1 };
  assert.throws(() => readProfiles(write('e.json', badSpeed)), /profiles\[0\]\.speed must be/);
  // a profile measured by another run, without that run loaded, is skipped with a reason
  const other = { ...profiles, profiles: [{ id: 'there', name: 'x', pricePerHour: 1, watts: 1, speed: { measuredRun: '/nowhere' } }] };
  const r = computeCosts({ profiles: checkProfiles(other), measured: [workload] });
  assert.equal(r.rows.length, 0);
  assert.match(r.skipped[0]!, /there: no measured run loaded/);
  // …and with it, its own numbers are used as they are
  const r2 = computeCosts({ profiles: checkProfiles(other), measured: [workload], measuredByProfile: { there: [{ ...workload, trainSeconds: 7200 }] } });
  close(r2.rows[0]!.training.seconds, 7200);
});
