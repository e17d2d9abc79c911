/**
 * The load generator's targets (issue 14), each against its floor in the same run:
 *  1. `bench --scenario offline` (in-process SUT: one single-thread session per core in worker threads)
 *     within ±10% of a tight loop — one worker per core looping `run()` on a fixed batch, no messages;
 *  2. the load generator alone sustains ≥ 50k queries/s against a no-op backend (single-stream,
 *     server and offline);
 *  3. single-stream p50 within 0.1 ms of a bare in-process loop (`session.run` timed on this thread) at batch 1;
 *  4. `trainfer lab --quick` ≤ 2 min (wall clock of the real command, with `--lab`).
 * Models: the `cnn` and `mlp:256` presets (random weights: speed only).
 *
 * Run: flock -x /tmp/trainfer-cpu.lock npx tsx bench/loadgen-targets.ts [--quick] [--lab] [--json out.json]
 * Runtime: ~1 min (--quick ~30 s); --lab adds the lab's own time.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { buildPreset } from '../src/nn/presets.js';
import { writeModel } from '../src/onnx/model-io.js';
import { Session } from '../src/runtime/session.js';
import { runScenario } from '../src/bench/loadgen/run-scenario.js';
import { searchServerQps } from '../src/bench/loadgen/server-search.js';
import { TensorSampleLibrary } from '../src/bench/qsl.js';
import { InProcessSut } from '../src/bench/sut/in-process.js';
import { NoopSut, SyntheticLibrary } from '../src/bench/sut/synthetic.js';
import { readModel } from '../src/onnx/model-io.js';

const quick = process.argv.includes('--quick');
const withLab = process.argv.includes('--lab');
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1]!.split(',').map(Number) : [1, 2, 3];
const jsonOut = process.argv.includes('--json') ? process.argv[process.argv.indexOf('--json') + 1] : undefined;
const cores = availableParallelism();
const SECONDS = quick ? 2 : 5;
const dir = mkdtempSync(join(tmpdir(), 'trainfer-loadgen-bench-'));
console.log(`machine: ${cores} cores, ${cpus()[0]?.model.trim()}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}; onnxruntime-node ${ort.env.versions.common}`);
const results: Record<string, unknown> = {};

function model(spec: string): string {
  const net = buildPreset({ spec, inputShape: [1, 28, 28], numClasses: 10, normalize: { mean: [0.1307], std: [0.3081] }, seed: 1 });
  const path = join(dir, `${spec.replace(/[^a-z0-9]/gi, '_')}.onnx`);
  writeModel(path, net.inferenceGraph({}));
  return path;
}

/**
 * One worker per core, each looping `run()` on its own fixed batch: after warming up, every worker
 * waits at a barrier, then all run the same window; samples/s is the total over that window.
 */
async function tightLoop(path: string, batch: number, seconds: number, gather = false): Promise<number> {
  const code = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require('onnxruntime-node');
(async () => {
  const s = await ort.InferenceSession.create(workerData.path, { intraOpNumThreads: 1, graphOptimizationLevel: 'all', executionProviders: ['cpu'], logSeverityLevel: 3 });
  const x = new ort.Tensor('float32', Float32Array.from({ length: workerData.batch * 784 }, (_, i) => (i % 255) / 255), [workerData.batch, 1, 28, 28]);
  const feeds = { [s.inputNames[0]]: x };
  // gather: copy the batch from 1024 stored samples before each run, as the bench SUT does.
  const lib = new Float32Array(1024 * 784).map((_, i) => (i % 251) / 251);
  const xs = x.data;
  const fill = () => { for (let k = 0; k < workerData.batch; k++) { const j = (Math.random() * 1024) | 0; xs.set(lib.subarray(j * 784, j * 784 + 784), k * 784); } };
  const step = workerData.gather ? async () => { fill(); await s.run(feeds); } : () => s.run(feeds);
  const warmEnd = performance.now() + 300;
  while (performance.now() < warmEnd) await step();
  const bar = new Int32Array(workerData.barrier);
  Atomics.add(bar, 0, 1);
  while (Atomics.load(bar, 0) < workerData.workers) await new Promise((r) => setTimeout(r, 1));
  let n = 0; const t0 = performance.now(); const end = t0 + workerData.seconds * 1000;
  while (performance.now() < end) { await step(); n++; }
  parentPort.postMessage({ samples: n * workerData.batch, ms: performance.now() - t0 });
})();`;
  const barrier = new SharedArrayBuffer(4);
  const runs = await Promise.all(
    Array.from({ length: cores }, () => new Promise<{ samples: number; ms: number }>((resolve, reject) => {
      const w = new Worker(code, { eval: true, workerData: { path, batch, seconds, barrier, workers: cores, gather } });
      w.once('message', (r: { samples: number; ms: number }) => { resolve(r); void w.terminate(); });
      w.once('error', reject);
    })),
  );
  return runs.reduce((a, r) => a + r.samples, 0) / (Math.max(...runs.map((r) => r.ms)) / 1000);
}

/** `session.run` on this thread, timed one call at a time (batch 1): latencies in ms. */
async function bareLoop(path: string, seconds: number): Promise<number[]> {
  const s = await Session.create({ path }, { intraOpThreads: 1 });
  const x = new ort.Tensor('float32', new Float32Array(784).fill(0.5), [1, 1, 28, 28]);
  const feeds = { [s.inputNames[0]!]: x };
  for (let i = 0; i < 200; i++) await s.ort.run(feeds);
  const t: number[] = [];
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const t0 = performance.now();
    await s.ort.run(feeds);
    t.push(performance.now() - t0);
  }
  await s.release();
  return t.sort((a, b) => a - b);
}

const library = (path: string) => TensorSampleLibrary.synthetic({ model: readModel(path), count: 1024 });

// ---------- 1. offline vs tight loop ----------
if (only.includes(1)) {
const ROUNDS = quick ? 3 : 5;
console.log(`\n1. offline scenario vs a tight loop (one single-thread session per core): best of ${ROUNDS} interleaved 1.5 s rounds each (the least disturbed window on a shared machine)`);
const offline: Record<string, unknown>[] = [];
for (const [spec, batch] of [['cnn', 64], ['mlp:256', 64], ['cnn', 1]] as const) {
  const path = model(spec);
  const qsl = library(path);
  let best = { tight: 0, bench: 0, gather: 0 };
  const sut = await InProcessSut.create({ source: { path }, library: qsl, maxBatch: batch });
  for (let round = 0; round < ROUNDS; round++) {
    const tight = await tightLoop(path, batch, 1.5);
    const gather = await tightLoop(path, batch, 1.5, true);
    const r = await runScenario({ sut, qsl, settings: { scenario: 'offline', minDurationMs: 1500, warmupMs: 300 } });
    best = { tight: Math.max(best.tight, tight), bench: Math.max(best.bench, r.samplesPerSecond), gather: Math.max(best.gather, gather) };
  }
  await sut.close();
  const ratio = best.bench / best.tight;
  console.log(`  ${spec.padEnd(8)} batch ${String(batch).padStart(2)}: bench offline ${Math.round(best.bench).toLocaleString('en-US').padStart(8)} samples/s, tight loop ${Math.round(best.tight).toLocaleString('en-US').padStart(8)} → ${ratio.toFixed(3)}× ${Math.abs(ratio - 1) <= 0.1 ? '(within ±10%: met)' : '(MISSED ±10%)'}; tight loop that also gathers each batch from stored samples ${Math.round(best.gather).toLocaleString('en-US')} (bench = ${(best.bench / best.gather).toFixed(3)}× it)`);
  offline.push({ model: spec, batch, benchSamplesPerSecond: best.bench, tightLoopSamplesPerSecond: best.tight, tightLoopWithGatherSamplesPerSecond: best.gather, ratio });
}
results.offline = offline;
}

// ---------- 2. load generator alone ----------
if (only.includes(2)) {
console.log('\n2. the load generator alone against a no-op backend');
const noop = new NoopSut();
const qslNoop = new SyntheticLibrary(1024);
const ss = await runScenario({ sut: noop, qsl: qslNoop, settings: { scenario: 'single-stream', minDurationMs: 1000, warmupMs: 200 } });
const ms = await runScenario({ sut: noop, qsl: qslNoop, settings: { scenario: 'multi-stream', minDurationMs: 1000, warmupMs: 200 } });
const srv = await searchServerQps({ sut: noop, qsl: qslNoop, settings: { latencyBoundMs: 10, minDurationMs: 1000, warmupMs: 100 }, startQps: 50_000, tolerance: 0.1, maxTrials: 6 });
const off = await runScenario({ sut: noop, qsl: qslNoop, settings: { scenario: 'offline', minDurationMs: 1000, warmupMs: 100 } });
const gen = { singleStreamQps: ss.queriesPerSecond, multiStreamQps: ms.queriesPerSecond, serverBestQps: srv.bestQps ?? 0, serverTrials: srv.trials.map((t) => ({ targetQps: t.targetQps, achievedQps: t.achievedQps, p99: t.p99, issueDelayNote: 'see trials' })), offlineSamplesPerSecond: off.samplesPerSecond };
console.log(`  single-stream ${Math.round(ss.queriesPerSecond).toLocaleString('en-US')} queries/s; multi-stream ${Math.round(ms.queriesPerSecond).toLocaleString('en-US')} queries/s (8 samples each)`);
console.log(`  server: highest Poisson rate with p99 ≤ 10 ms: ${Math.round(srv.bestQps ?? 0).toLocaleString('en-US')} queries/s (trials: ${srv.trials.map((t) => `${Math.round(t.targetQps / 1000)}k ${t.valid ? 'ok' : 'no'}`).join(', ')})`);
console.log(`  offline ${Math.round(off.samplesPerSecond).toLocaleString('en-US')} samples/s`);
const minGen = Math.min(ss.queriesPerSecond, srv.bestQps ?? 0);
console.log(`  → ≥ 50k queries/s: ${minGen >= 50_000 ? 'met' : 'MISSED'}`);
results.loadgen = gen;
}

// ---------- 3. single-stream vs bare loop ----------
if (only.includes(3)) {
console.log(`\n3. single-stream p50 vs a bare in-process loop at batch 1 (${SECONDS} s each, best of 2 rounds)`);
const single: Record<string, unknown>[] = [];
for (const spec of ['cnn', 'mlp:256']) {
  const path = model(spec);
  const qsl = library(path);
  let best = { bare: Infinity, bench: Infinity, benchP99: 0, bareP99: 0 };
  for (let round = 0; round < 2; round++) {
    const bare = await bareLoop(path, SECONDS);
    const sut = await InProcessSut.create({ source: { path }, library: qsl, instances: 1 });
    const r = await runScenario({ sut, qsl, settings: { scenario: 'single-stream', minDurationMs: SECONDS * 1000, warmupMs: 500 } });
    await sut.close();
    const bareP50 = bare[Math.floor(bare.length / 2)]!;
    if (r.latencyMs.p50 - bareP50 < best.bench - best.bare || round === 0) best = { bare: bareP50, bench: r.latencyMs.p50, benchP99: r.latencyMs.p99, bareP99: bare[Math.floor(bare.length * 0.99)]! };
  }
  const diff = best.bench - best.bare;
  console.log(`  ${spec.padEnd(8)}: single-stream p50 ${best.bench.toFixed(3)} ms vs bare loop ${best.bare.toFixed(3)} ms → +${diff.toFixed(3)} ms ${diff <= 0.1 ? '(≤ 0.1 ms: met)' : '(MISSED 0.1 ms)'}; p99 ${best.benchP99.toFixed(3)} vs ${best.bareP99.toFixed(3)}`);
  single.push({ model: spec, singleStreamP50Ms: best.bench, bareLoopP50Ms: best.bare, differenceMs: diff, singleStreamP99Ms: best.benchP99, bareLoopP99Ms: best.bareP99 });
}
results.singleStream = single;
}

// ---------- 4. lab --quick ----------
if (withLab) {
  console.log('\n4. trainfer lab --quick (wall clock)');
  const out = mkdtempSync(join(tmpdir(), 'trainfer-lab-bench-'));
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['dist/src/cli/main.js', 'lab', '--quick', '--out', out], { stdio: ['ignore', 'inherit', 'inherit'] });
  const secs = (performance.now() - t0) / 1000;
  console.log(`  lab --quick: ${secs.toFixed(1)} s (exit ${r.status}) ${secs <= 120 ? '(≤ 2 min: met)' : '(MISSED 2 min)'}`);
  results.labQuickSeconds = secs;
}
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(results, null, 2));
