/**
 * `runLab` end to end on a tiny real workload (mlp:16 trained for one epoch on 1024 MNIST images, fp32
 * and dynamic int8, scenarios of a fraction of a second): the results directory, the result files and
 * their hashes, the report, a second run with --reuse that takes the cached model and leaves the
 * first run's directory untouched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256 } from '../machine.js';
import { readBenchResult } from '../result-file.js';
import { readLabRun } from './lab-run.js';
import { mnistWorkload } from './mnist.js';
import { runLab } from './run-lab.js';
import { dynamicInt8Variant, fp32Variant } from './variants.js';

const tiny = mnistWorkload({ id: 'tiny', title: 'tiny mlp:16', preset: 'mlp:16', quickLimit: 1024, targetAccuracy: 0.5, qatSteps: 10, variants: [fp32Variant, dynamicInt8Variant] });
const durationsMs = { singleStream: 100, multiStream: 100, offline: 200, serverTrial: 100 };

test('lab: a run directory with models, result files, cost, report; a --reuse run reuses the model and replaces nothing', async () => {
  const out = mkdtempSync(join(tmpdir(), 'trainfer-lab-'));
  const first = await runLab({ out, quick: true, registry: [tiny], durationsMs, warmupMs: 20, searchTrials: 2, progress: 'none', threads: 1 });
  const { run } = readLabRun(first.dir);
  assert.equal(run.workloads.length, 1);
  const w = run.workloads[0]!;
  assert.equal(w.reused, false);
  assert.ok(w.training.testAccuracy > 0.5, `accuracy ${w.training.testAccuracy}`);
  assert.ok(w.training.achievedGflops > 0 && w.training.fractionOfPeak! > 0);
  assert.deepEqual(w.variants.map((v) => v.id), ['fp32', 'int8-dynamic']);
  for (const v of w.variants) {
    assert.equal(sha256(join(first.dir, v.model)), v.sha256);
    assert.ok(v.quality > 0.5);
    assert.ok(v.bench.offline.samplesPerSecond > 0);
    assert.ok(v.bench.server.trials.length > 0);
    for (const f of Object.values(v.bench.files)) assert.equal(readBenchResult(join(first.dir, f)).model.sha256, v.sha256);
  }
  assert.ok(w.variants[1]!.bytes < w.variants[0]!.bytes);
  for (const f of ['report.html', 'summary.md', 'cost.json', 'hardware-profiles.json', 'lab.json']) assert.ok(existsSync(join(first.dir, f)), f);
  assert.match(readFileSync(join(first.dir, 'summary.md'), 'utf8'), /\| tiny mlp:16 \| int8 dynamic \|/);
  assert.equal(readlinkSync(join(out, 'latest')), run.id);
  const before = readFileSync(join(first.dir, 'lab.json'));

  const second = await runLab({ out, quick: true, reuse: true, registry: [tiny], durationsMs, warmupMs: 20, searchTrials: 2, progress: 'none', threads: 1 });
  const r2 = readLabRun(second.dir).run;
  assert.notEqual(second.dir, first.dir);
  assert.equal(r2.workloads[0]!.reused, true);
  assert.equal(r2.workloads[0]!.variants[0]!.sha256, w.variants[0]!.sha256); // the same trained model
  assert.deepEqual(readFileSync(join(first.dir, 'lab.json')), before); // the first run is untouched
  assert.equal(readlinkSync(join(out, 'latest')), r2.id);
  assert.deepEqual(readdirSync(out).filter((f) => f.startsWith('.incomplete')), []);
  await assert.rejects(runLab({ out, quick: true, registry: [tiny], workloads: ['nope'], progress: 'none' }), /unknown workload 'nope' \(known: tiny\)/);
});
