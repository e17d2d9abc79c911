/**
 * The model-backed SUTs end to end on a small MNIST-shaped MLP: in-process (worker threads, shared
 * samples, dynamic batching) and over HTTP against `trainfer serve` (binary tensors); every sample is
 * answered exactly once, outputs match a direct Session run, bad models are one-line errors.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeModel } from '../../onnx/model-io.js';
import { Session } from '../../runtime/session.js';
import { addToRepository, mnistMlp } from '../../serve/example-models.js';
import { InferenceServer } from '../../serve/server.js';
import { runScenario } from '../loadgen/run-scenario.js';
import { benchModel } from '../bench-model.js';
import { TensorSampleLibrary } from '../qsl.js';
import { readBenchResult, writeBenchResult } from '../result-file.js';
import { sha256 } from '../machine.js';
import { InProcessSut } from './in-process.js';
import { OipSut } from './oip.js';

const dir = mkdtempSync(join(tmpdir(), 'trainfer-sut-'));
const model = mnistMlp({ seed: 3, hidden: [32] });
const path = join(dir, 'mlp.onnx');
writeModel(path, model);
const qsl = TensorSampleLibrary.synthetic({ model, count: 64 });
let server: InferenceServer;

before(async () => {
  const repo = join(dir, 'repo');
  addToRepository({ repo, name: 'mlp', model, config: { instances: 1, threadsPerInstance: 1, maxBatchSize: 16, maxQueueDelayMs: 1 } });
  server = await InferenceServer.start({ repository: repo, port: 0, logLevel: 'silent', processMetrics: false });
});
after(async () => {
  await server.close();
});

test('in-process SUT: batches of up to maxBatch, outputs equal a direct session run, every sample answered once', async () => {
  const seen = new Map<number, Float32Array>();
  const sut = await InProcessSut.create({ source: { path }, library: qsl, instances: 2, maxBatch: 8, onOutputs: (samples, outs) => samples.forEach((s, i) => seen.set(s.index, (outs.logits!.data as Float32Array).slice(i * 10, i * 10 + 10))) });
  try {
    const r = await runScenario({ sut, qsl, settings: { scenario: 'offline', offlineSampleCount: 640, warmupMs: 0, minDurationMs: 0 } });
    assert.equal(r.valid, true, r.invalidReasons.join('; '));
    assert.equal(r.samples, 640);
    assert.ok(sut.runs >= 80, `runs ${sut.runs}`); // ≤ 8 per run
    const s = await Session.create({ path }, { intraOpThreads: 1 });
    const direct = await s.run(qsl.batch([5]));
    await s.release();
    const want = direct.logits!.data as Float32Array;
    const got = seen.get(5)!;
    for (let k = 0; k < 10; k++) assert.ok(Math.abs(got[k]! - want[k]!) < 1e-5);
    const ss = await runScenario({ sut, qsl, settings: { scenario: 'single-stream', minDurationMs: 0, minQueryCount: 200, warmupMs: 0 } });
    assert.equal(ss.valid, true);
    assert.ok(ss.latencyMs.p50 > 0);
  } finally {
    await sut.close();
  }
});

test('in-process SUT: a library without the model\'s input is a one-line error', async () => {
  const other = TensorSampleLibrary.fromTensors({ name: 'wrong', inputs: { x: qsl.batch([0, 1]).pixels! } });
  await assert.rejects(InProcessSut.create({ source: { path }, library: other, instances: 1 }), /sample library has no data for model input 'pixels'/);
  const bad = join(dir, 'bad.onnx');
  writeFileSync(bad, 'not a model');
  await assert.rejects(InProcessSut.create({ source: { path: bad }, library: qsl, instances: 1 }), /bad\.onnx: onnxruntime could not load the model/);
});

test('OIP SUT against trainfer serve: single-stream and offline through binary tensors', async () => {
  const sut = await OipSut.create({ url: server.url, model: 'mlp', library: qsl, maxBatch: 16, concurrency: 4 });
  const ss = await runScenario({ sut, qsl, settings: { scenario: 'single-stream', minDurationMs: 0, minQueryCount: 50, warmupMs: 0 } });
  assert.equal(ss.valid, true, ss.invalidReasons.join('; '));
  const off = await runScenario({ sut, qsl, settings: { scenario: 'offline', offlineSampleCount: 256, warmupMs: 0, minDurationMs: 0 } });
  assert.equal(off.valid, true, off.invalidReasons.join('; '));
  assert.equal(sut.failedRequests, 0);
  await assert.rejects(OipSut.create({ url: server.url, model: 'nope', library: qsl }), /cannot get the metadata of model 'nope'/);
});

test('benchModel writes a result file with the settings, the model hash and the machine; server search included', async () => {
  const r = await benchModel({ target: { kind: 'in-process', path, instances: 1 }, library: qsl, scenario: 'server', durationMs: 150, warmupMs: 50, minQueryCount: 20, startQps: 200, maxQps: 400, searchTrials: 2 });
  const f = join(dir, 'r.json');
  writeBenchResult(f, r);
  const back = readBenchResult(f);
  assert.equal(back.model.sha256, sha256(path));
  assert.equal(back.scenario, 'server');
  assert.ok(back.search!.trials.length >= 1);
  assert.equal(back.result.settings.latencyBoundMs, 10);
  assert.ok(back.machine.cores >= 1 && back.machine.onnxruntime && back.machine.node.startsWith('v'));
  writeFileSync(join(dir, 'x.json'), '{"format":"other"}');
  assert.throws(() => readBenchResult(join(dir, 'x.json')), /not a trainfer bench result file/);
});
