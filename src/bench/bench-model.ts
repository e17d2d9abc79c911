/**
 * `benchModel`: one scenario against a model in this process or behind an Open Inference Protocol
 * URL, producing the result file `trainfer bench` writes. It creates the SUT, runs the scenario (for
 * `server`: the QPS search, started from a short offline probe unless told where to start), and
 * records the target, the library, the model's hash and the machine.
 */
import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { Device } from '../runtime/session.js';
import { TrainferError } from '../util/errors.js';
import { collectGarbage } from './gc.js';
import { RealClock } from './loadgen/clock.js';
import { type RunProgress, type ScenarioResult, runScenario } from './loadgen/run-scenario.js';
import { searchServerQps } from './loadgen/server-search.js';
import type { Scenario, SystemUnderTest } from './loadgen/types.js';
import { machineInfo, sha256 } from './machine.js';
import type { TensorSampleLibrary } from './qsl.js';
import type { BenchResultFile, ModelRef, TargetInfo } from './result-file.js';
import { InProcessSut } from './sut/in-process.js';
import { OipSut } from './sut/oip.js';

/** Where the model runs. */
export type BenchTarget =
  | { kind: 'in-process'; path: string; instances?: number; threadsPerInstance?: number; device?: Device }
  | { kind: 'oip'; url: string; model: string; version?: string; concurrency?: number; binary?: boolean };

/** Options for `benchModel`. */
export interface BenchModelOptions {
  target: BenchTarget;
  library: TensorSampleLibrary;
  scenario: Scenario;
  /** Offline: samples per `run()` (default 64). Multi-stream: samples per query (default 8). Server: the largest dynamic batch (default 16). Single-stream: 1. */
  batchSize?: number;
  /** Minimum duration of the run (each search trial), ms (default 10 000). */
  durationMs?: number;
  warmupMs?: number;
  minQueryCount?: number;
  /** Latency bound, ms (default 10). */
  latencyBoundMs?: number;
  /** Server: measure this one rate instead of searching. */
  targetQps?: number;
  /** Server search: first rate (default half the offline probe's samples/s) and cap (default 1.2× it). */
  startQps?: number;
  maxQps?: number;
  searchTrials?: number;
  /** Server search: stop when the valid and invalid rates are this close (default 0.05). */
  searchTolerance?: number;
  seed?: number;
  onProgress?: (p: RunProgress, label: string) => void;
}

/** Default batch per scenario (see `BenchModelOptions.batchSize`). */
export function defaultBatch(scenario: Scenario): number {
  return scenario === 'offline' ? 64 : scenario === 'multi-stream' ? 8 : scenario === 'server' ? 16 : 1;
}

/**
 * Runs one scenario and returns the result file's content.
 *
 * @example
 * const r = await benchModel({ target: { kind: 'in-process', path: 'cnn.onnx' }, library: qsl, scenario: 'offline' });
 * writeBenchResult('cnn-offline.json', r);
 */
export async function benchModel(o: BenchModelOptions): Promise<BenchResultFile> {
  const batch = Math.max(1, Math.round(o.scenario === 'single-stream' ? 1 : (o.batchSize ?? defaultBatch(o.scenario))));
  const { sut, target, model, close } = await createSut(o, batch);
  try {
    return await benchScenario({ ...o, sut, targetInfo: target, model, samplesPerQuery: o.scenario === 'multi-stream' ? batch : undefined });
  } finally {
    await close();
  }
}

/** Options for `benchScenario`: an existing SUT and what the result file says about it. */
export interface BenchScenarioOptions extends Omit<BenchModelOptions, 'target' | 'batchSize'> {
  sut: SystemUnderTest;
  targetInfo: TargetInfo;
  model: ModelRef;
  /** Multi-stream: samples per query (default 8). */
  samplesPerQuery?: number;
}

/** Runs one scenario on an existing SUT (the lab reuses one SUT for all four scenarios of a variant). */
export async function benchScenario(o: BenchScenarioOptions): Promise<BenchResultFile> {
  const { sut } = o;
  const clock = new RealClock();
  try {
    const common = { minDurationMs: o.durationMs ?? 10_000, warmupMs: o.warmupMs, minQueryCount: o.minQueryCount, latencyBoundMs: o.latencyBoundMs, seed: o.seed };
    const progress = (label: string) => (o.onProgress ? (p: RunProgress) => o.onProgress!(p, label) : undefined);
    let result: ScenarioResult;
    let search: BenchResultFile['search'];
    if (o.scenario === 'server' && o.targetQps === undefined) {
      let start = o.startQps;
      let max = o.maxQps;
      if (start === undefined) {
        const probe = await runScenario({ sut, qsl: o.library, clock, settings: { scenario: 'offline', minDurationMs: Math.min(2000, common.minDurationMs), warmupMs: 300, seed: o.seed }, onProgress: progress('probe') });
        start = probe.samplesPerSecond / 2;
        max ??= probe.samplesPerSecond * 1.2;
      }
      const s = await searchServerQps({
        sut, qsl: o.library, clock, settings: common, startQps: start, maxQps: max, maxTrials: o.searchTrials, tolerance: o.searchTolerance, beforeTrial: collectGarbage,
        onProgress: o.onProgress ? (p, i, q) => o.onProgress!(p, `server trial ${i + 1} @ ${Math.round(q).toLocaleString('en-US')} q/s`) : undefined,
      });
      const { best, ...rest } = s;
      search = rest;
      result = best ?? (await runScenario({ sut, qsl: o.library, clock, settings: { ...common, scenario: 'server', targetQps: s.trials.reduce((m, t) => Math.min(m, t.targetQps), Infinity) } }));
    } else {
      const settings = { ...common, scenario: o.scenario, targetQps: o.targetQps, samplesPerQuery: o.scenario === 'multi-stream' ? (o.samplesPerQuery ?? 8) : undefined };
      collectGarbage();
      result = await runScenario({ sut, qsl: o.library, clock, settings, onProgress: progress(o.scenario) });
    }
    return {
      format: 'trainfer-bench-result',
      version: 1,
      createdAt: new Date().toISOString(),
      machine: machineInfo(),
      model: o.model,
      target: o.targetInfo,
      library: { name: o.library.name, samples: o.library.totalSampleCount, sampleBytes: o.library.sampleBytes },
      scenario: o.scenario,
      result,
      search,
    };
  } finally {
    clock.close();
  }
}

async function createSut(o: BenchModelOptions, maxBatch: number): Promise<{ sut: SystemUnderTest; target: TargetInfo; model: ModelRef; close: () => Promise<void> }> {
  const t = o.target;
  if (t.kind === 'in-process') {
    let bytes: number;
    try {
      bytes = statSync(t.path).size;
    } catch {
      throw new TrainferError(`${t.path}: no such file`);
    }
    const instances = t.instances ?? availableParallelism();
    const threads = t.threadsPerInstance ?? 1;
    const sut = await InProcessSut.create({ source: { path: t.path }, library: o.library, instances, threadsPerInstance: threads, maxBatch, session: t.device ? { device: t.device } : undefined });
    return { sut, target: { kind: 'in-process', instances, threadsPerInstance: threads, maxBatch: sut.maxBatch }, model: { path: t.path, sha256: sha256(t.path), bytes }, close: () => sut.close() };
  }
  const concurrency = t.concurrency ?? 64;
  const sut = await OipSut.create({ url: t.url, model: t.model, version: t.version, library: o.library, maxBatch: o.scenario === 'server' ? 1 : maxBatch, concurrency, binary: t.binary });
  const target: TargetInfo = { kind: 'oip', url: t.url, model: t.model, version: t.version, concurrency, maxBatch: o.scenario === 'server' ? 1 : maxBatch, binary: t.binary ?? true };
  return { sut, target, model: { url: t.url, name: sut.metadata.name, version: t.version ?? sut.metadata.versions?.at(-1), platform: sut.metadata.platform }, close: async () => {} };
}
