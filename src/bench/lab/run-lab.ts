/**
 * `runLab`: what `trainfer lab` (and `npm start`) runs — for every workload: train (or reuse by recipe
 * hash), build every variant, measure its quality, benchmark it with the same four scenarios on the
 * same in-process SUT, then run the cost model and write the report, into a fresh run directory that
 * replaces nothing. Progress goes to stderr; the caller prints the summary table.
 */
import { mkdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { readModel } from '../../onnx/model-io.js';
import { Session } from '../../runtime/session.js';
import { buildRequest } from '../../serve/client.js';
import { datatypeOf } from '../../serve/protocol.js';
import { TrainferError } from '../../util/errors.js';
import { writeFileAtomic } from '../../util/atomic-write.js';
import { benchScenario } from '../bench-model.js';
import { computeCosts, type CostReport } from '../cost/model.js';
import { EXAMPLE_PROFILES, type ProfilesFile, readProfiles } from '../cost/profiles.js';
import type { Scenario } from '../loadgen/types.js';
import { machineInfo, sha256, trainferVersion } from '../machine.js';
import { type BenchProgress, type BenchProgressMode, createBenchProgress } from '../progress-line.js';
import type { TensorSampleLibrary } from '../qsl.js';
import { type BenchResultFile, writeBenchResult } from '../result-file.js';
import { writeReport } from '../report/write-report.js';
import { InProcessSut } from '../sut/in-process.js';
import { measureMatmulPeak, type TrainingRecord } from '../train-bench.js';
import { costInputs, type LabRun, type LabVariant, type LabWorkload, type VariantBench } from './lab-run.js';
import { ModelCache, createRunDir, finishRunDir, recipeHash } from './results-dir.js';
import { WORKLOADS } from './workloads.js';
import type { LabContext, VariantSpec, Workload } from './workload.js';

/** Options for `runLab`. */
export interface LabOptions {
  /** Results root (default `lab-results`); each run gets its own directory inside. */
  out?: string;
  /** The ≤ 2-minute tour: short training, the quick variants, short scenarios. */
  quick?: boolean;
  /** Reuse trained models from `<out>/cache` when their recipe hash matches. */
  reuse?: boolean;
  /** Only these workload ids (default all). */
  workloads?: readonly string[];
  /** Override the workload list (tests, experiments). */
  registry?: readonly Workload[];
  seed?: number;
  /** Hardware profiles file (default: the built-in examples). */
  profiles?: string;
  predictionsPerDay?: number;
  threads?: number;
  progress?: BenchProgressMode;
  /** Scenario durations, ms (defaults: quick 500/500/1000/500, full 3000/3000/4000/2000). */
  durationsMs?: Partial<LabRun['settings']['durationsMs']>;
  /** Warm-up before each scenario, ms (default quick 200, full 1000). */
  warmupMs?: number;
  /** Server QPS search: trials per variant (default quick 6, full 7). */
  searchTrials?: number;
}

/** What `runLab` returns. */
export interface LabResult {
  dir: string;
  run: LabRun;
  cost: CostReport;
}

/**
 * Runs the lab.
 *
 * @example
 * const { dir, run } = await runLab({ quick: true, out: 'lab-results' });
 */
export async function runLab(o: LabOptions = {}): Promise<LabResult> {
  const t0 = performance.now();
  const quick = o.quick ?? false;
  const registry = o.registry ?? WORKLOADS;
  const chosen = o.workloads ? o.workloads.map((id) => registry.find((w) => w.id === id) ?? fail(`unknown workload '${id}' (known: ${registry.map((w) => w.id).join(', ')})`)) : registry.filter((w) => !quick || !w.fullOnly);
  const profiles: ProfilesFile = o.profiles ? readProfiles(o.profiles) : EXAMPLE_PROFILES;
  const out = o.out ?? 'lab-results';
  const d = createRunDir(out);
  const progress = createBenchProgress({ mode: o.progress });
  const log = (line: string) => progress.log(line);
  const durations = { ...(quick ? { singleStream: 500, multiStream: 500, offline: 1000, serverTrial: 500 } : { singleStream: 3000, multiStream: 3000, offline: 4000, serverTrial: 2000 }), ...o.durationsMs };
  log(`lab${quick ? ' --quick' : ''}: ${chosen.length} workload${chosen.length === 1 ? '' : 's'} (${chosen.map((w) => w.id).join(', ')}) → ${d.final}`);
  const peak = await measureMatmulPeak({ n: quick ? 768 : 1536, reps: quick ? 3 : 8, threads: o.threads });
  log(`fp32 MatMul peak through onnxruntime: ${peak.gflops.toFixed(0)} GFLOP/s (${peak.n}³, ${peak.threads} threads)`);
  const ctx: LabContext = { quick, seed: o.seed ?? 0, threads: o.threads, peak, log, cache: new Map() };
  const cache = new ModelCache(join(out, 'cache'));
  const workloads: LabWorkload[] = [];
  try {
    for (const [i, w] of chosen.entries()) {
      log(`\n[${i + 1}/${chosen.length}] ${w.title} — ${w.task}`);
      workloads.push(await runWorkload({ ctx, w, dir: d.work, cache, reuse: !!o.reuse, durations, progress, warmupMs: o.warmupMs, searchTrials: o.searchTrials }));
    }
  } finally {
    progress.stop();
  }
  const run: LabRun = {
    format: 'trainfer-lab-run', version: 1, id: d.id, createdAt: new Date().toISOString(), quick, seconds: (performance.now() - t0) / 1000,
    machine: machineInfo(), peak, settings: { seed: ctx.seed, durationsMs: durations, predictionsPerDay: o.predictionsPerDay ?? 1_000_000, profiles: 'hardware-profiles.json' }, workloads,
  };
  writeFileAtomic(join(d.work, 'hardware-profiles.json'), `${JSON.stringify(profiles, null, 2)}\n`);
  const cost = computeCosts({ profiles, measured: costInputs(run), predictionsPerDay: run.settings.predictionsPerDay });
  writeFileAtomic(join(d.work, 'cost.json'), `${JSON.stringify(cost, null, 2)}\n`);
  writeFileAtomic(join(d.work, 'lab.json'), `${JSON.stringify(run, null, 2)}\n`);
  await writeReport({ run, cost, dir: d.work, html: join(d.work, 'report.html'), markdown: join(d.work, 'summary.md'), reportLink: join(d.final, 'report.html') });
  run.seconds = (performance.now() - t0) / 1000;
  writeFileAtomic(join(d.work, 'lab.json'), `${JSON.stringify(run, null, 2)}\n`);
  return { dir: finishRunDir(d), run, cost };
}

function fail(msg: string): never {
  throw new TrainferError(msg);
}

interface WorkloadArgs {
  ctx: LabContext;
  w: Workload;
  dir: string;
  cache: ModelCache;
  reuse: boolean;
  durations: LabRun['settings']['durationsMs'];
  progress: BenchProgress;
  warmupMs?: number;
  searchTrials?: number;
}

async function runWorkload(a: WorkloadArgs): Promise<LabWorkload> {
  const { ctx, w, dir } = a;
  const mdir = join(dir, 'models', w.id);
  const base = join(mdir, 'trained.onnx');
  // The Trainfer version is part of the key: a newer trainer or preset never reuses an older model.
  const hash = recipeHash({ ...w.recipe(ctx), trainfer: trainferVersion() });
  let training = a.reuse ? a.cache.restore<TrainingRecord>(hash, ensureDir(base)) : undefined;
  const reused = !!training;
  if (training) ctx.log(`  reusing the trained model (recipe ${hash}): ${pct(training.testAccuracy)} in ${training.trainSeconds.toFixed(1)} s when it was trained`);
  else {
    a.progress.stop();
    training = await w.train(ctx, ensureDir(base), join(dir, 'training', `${w.id}.metrics.jsonl`));
    a.cache.store(hash, base, { ...training, out: 'model.onnx' });
    ctx.log(`  trained: ${w.quality.name} ${pct(training.testAccuracy)} in ${training.trainSeconds.toFixed(1)} s, ${n(training.samplesPerSecond)} samples/s, ${training.achievedGflops.toFixed(1)} GFLOP/s${training.fractionOfPeak === undefined ? '' : ` (${(training.fractionOfPeak * 100).toFixed(0)}% of the MatMul peak)`}, peak RSS ${(training.peakRssBytes / 2 ** 20).toFixed(0)} MiB`);
  }
  training = { ...training, out: relative(dir, base) };
  writeFileAtomic(join(dir, 'training', `${w.id}.json`), `${JSON.stringify(training, null, 2)}\n`);
  const library = await w.samples(ctx, readModel(base), base);
  const variants: LabVariant[] = [];
  const failures: { variant: string; reason: string }[] = [];
  for (const spec of w.variants.filter((v) => !ctx.quick || v.quick)) {
    try {
      const v = await runVariant({ ...a, spec, base, mdir, library });
      if (v) variants.push(v);
    } catch (err) {
      // One variant failing to load or run must not cost the rest of the lab: record it, go on.
      const reason = (err as Error).message.split('\n')[0] ?? String(err);
      a.progress.stop();
      ctx.log(`  ${spec.label}: FAILED — ${reason}`);
      failures.push({ variant: spec.id, reason });
    }
  }
  return { id: w.id, title: w.title, task: w.task, quality: w.quality, bench: w.bench, training, reused, recipeHash: hash, variants, failures };
}

async function runVariant(a: WorkloadArgs & { spec: VariantSpec; base: string; mdir: string; library: TensorSampleLibrary }): Promise<LabVariant | undefined> {
  const { ctx, w, spec, dir } = a;
  const path = join(a.mdir, `${spec.id}.onnx`);
  const t0 = performance.now();
  let built;
  try {
    built = await spec.build({ ctx, base: a.base, out: path });
  } catch (err) {
    ctx.log(`  ${spec.label}: could not be built (${(err as Error).message.split('\n')[0]}); skipped`);
    return undefined;
  }
  const buildSeconds = spec.id === 'fp32' ? 0 : (performance.now() - t0) / 1000;
  const quality = await w.evaluate(ctx, path);
  const bytes = statSync(path).size;
  const { requestBytes, responseBytes } = await wireBytes(path, a.library);
  const sut = await InProcessSut.create({ source: { path }, library: a.library, maxBatch: w.bench.offlineBatch, label: `${w.id}/${spec.id}` });
  const files = {} as VariantBench['files'];
  const results = {} as Record<Scenario, BenchResultFile>;
  const model = { path: relative(dir, path), sha256: sha256(path), bytes };
  const targetInfo = { kind: 'in-process' as const, instances: sut.instances, threadsPerInstance: 1, maxBatch: sut.maxBatch };
  try {
    const common = { sut, targetInfo, model, library: a.library, latencyBoundMs: w.bench.latencyBoundMs, seed: ctx.seed, warmupMs: a.warmupMs ?? (ctx.quick ? 200 : 1000), onProgress: (p: Parameters<BenchProgress['update']>[0], label: string) => a.progress.update(p, `${spec.label} ${label}`) };
    results['single-stream'] = await benchScenario({ ...common, scenario: 'single-stream', durationMs: a.durations.singleStream, minQueryCount: ctx.quick ? 256 : 1024 });
    results['multi-stream'] = await benchScenario({ ...common, scenario: 'multi-stream', samplesPerQuery: w.bench.samplesPerQuery, durationMs: a.durations.multiStream, minQueryCount: ctx.quick ? 64 : 270 });
    results.offline = await benchScenario({ ...common, scenario: 'offline', durationMs: a.durations.offline });
    const off = results.offline.result.samplesPerSecond;
    results.server = await benchScenario({ ...common, scenario: 'server', durationMs: a.durations.serverTrial, minQueryCount: ctx.quick ? 128 : 1024, startQps: off * 0.5, maxQps: off * 1.1, searchTrials: a.searchTrials ?? (ctx.quick ? 7 : 9), searchTolerance: ctx.quick ? 0.1 : 0.05, warmupMs: a.warmupMs ?? (ctx.quick ? 150 : 500) });
  } finally {
    a.progress.stop();
    await sut.close();
  }
  for (const [s, r] of Object.entries(results)) {
    const file = join('bench', w.id, `${spec.id}-${s}.json`);
    writeBenchResult(join(dir, file), r);
    files[s as Scenario] = file;
  }
  const srv = results.server;
  const bench: VariantBench = {
    singleStream: { latencyMs: results['single-stream'].result.latencyMs, valid: results['single-stream'].result.valid },
    multiStream: { latencyMs: results['multi-stream'].result.latencyMs, samplesPerQuery: w.bench.samplesPerQuery, valid: results['multi-stream'].result.valid },
    offline: { samplesPerSecond: results.offline.result.samplesPerSecond, batch: w.bench.offlineBatch, valid: results.offline.result.valid },
    server: { bestQps: srv.search?.bestQps, latencyBoundMs: w.bench.latencyBoundMs, trials: srv.search?.trials ?? [], latencyMs: srv.search?.bestQps === undefined ? undefined : srv.result.latencyMs },
    files,
  };
  ctx.log(`  ${spec.label.padEnd(13)} ${pct(quality).padStart(7)}  ${kb(bytes).padStart(8)}  single-stream p50 ${ms(bench.singleStream.latencyMs.p50)} ms  offline ${n(bench.offline.samplesPerSecond)}/s  server ${bench.server.bestQps === undefined ? '—' : n(bench.server.bestQps)} q/s (p99 ≤ ${w.bench.latencyBoundMs} ms)${spec.id === 'fp32' ? '' : `  built in ${buildSeconds.toFixed(1)} s`}`);
  return { id: spec.id, label: spec.label, model: model.path, sha256: model.sha256, bytes, storedBytes: built.storedBytes ?? bytes, buildSeconds, quality, requestBytes, responseBytes, notes: built.notes, bench };
}

/** Bytes of a one-sample binary OIP request and its response (the header as `trainfer serve` writes it). */
async function wireBytes(path: string, library: TensorSampleLibrary): Promise<{ requestBytes: number; responseBytes: number }> {
  const inputs = library.batch([0]);
  const req = buildRequest({ inputs, binary: true });
  const s = await Session.create({ path }, { intraOpThreads: 1 });
  try {
    const feeds = Object.fromEntries(Object.entries(inputs).filter(([k]) => s.inputNames.includes(k)));
    const outs = await s.run(feeds);
    const header = JSON.stringify({ model_name: 'model', model_version: '1', outputs: Object.entries(outs).map(([name, t]) => ({ name, datatype: datatypeOf(t.dtype) ?? 'BYTES', shape: t.dims, parameters: { binary_data_size: t.byteLength } })) });
    const body = Object.values(outs).reduce((a, t) => a + t.byteLength, 0);
    return { requestBytes: typeof req.body === 'string' ? Buffer.byteLength(req.body) : req.body.byteLength, responseBytes: Buffer.byteLength(header) + body };
  } finally {
    await s.release();
  }
}

function ensureDir(file: string): string {
  mkdirSync(dirname(file), { recursive: true });
  return file;
}

const n = (x: number) => Math.round(x).toLocaleString('en-US');
const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const ms = (x: number) => (x >= 10 ? x.toFixed(1) : x.toFixed(3));
const kb = (b: number) => (b >= 1 << 20 ? `${(b / 2 ** 20).toFixed(1)} MiB` : `${(b / 1024).toFixed(0)} KiB`);
