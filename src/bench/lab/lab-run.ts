/**
 * `lab.json`: the index of one lab run — settings, machine, MatMul peak, and per workload its training
 * record and per variant its size, quality, build time and the headline numbers of the four scenarios
 * (full results in the `bench/` files it names). `cost`, `report` and the summary table read this.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FileFormatError } from '../../util/errors.js';
import type { CostWorkloadInput } from '../cost/model.js';
import type { ServerTrial } from '../loadgen/server-search.js';
import type { LatencySummary } from '../loadgen/stats.js';
import type { MachineInfo } from '../machine.js';
import type { MatmulPeak, TrainingRecord } from '../train-bench.js';
import type { QualityMetric, WorkloadBench } from './workload.js';

/** Headline numbers of one variant's four scenarios. */
export interface VariantBench {
  singleStream: { latencyMs: LatencySummary; valid: boolean };
  multiStream: { latencyMs: LatencySummary; samplesPerQuery: number; valid: boolean };
  offline: { samplesPerSecond: number; batch: number; valid: boolean };
  server: { bestQps?: number; latencyBoundMs: number; trials: ServerTrial[]; latencyMs?: LatencySummary };
  /** Result files, relative to the run directory. */
  files: Record<'single-stream' | 'multi-stream' | 'offline' | 'server', string>;
}

/** One variant of a workload. */
export interface LabVariant {
  id: string;
  label: string;
  /** The runnable .onnx, relative to the run directory. */
  model: string;
  sha256: string;
  bytes: number;
  storedBytes: number;
  buildSeconds: number;
  quality: number;
  requestBytes: number;
  responseBytes: number;
  notes?: string;
  bench: VariantBench;
}

/** One workload of the run. */
export interface LabWorkload {
  id: string;
  title: string;
  task: string;
  quality: QualityMetric;
  bench: WorkloadBench;
  /** Training record (its `out` relative to the run directory). */
  training: TrainingRecord;
  /** True when the trained model came from the `--reuse` cache (the training numbers are the cached run's). */
  reused: boolean;
  recipeHash: string;
  variants: LabVariant[];
  /** Variants that could not be benchmarked, with the reason (the rest of the lab went on). */
  failures?: { variant: string; reason: string }[];
}

/** The whole run. */
export interface LabRun {
  format: 'trainfer-lab-run';
  version: 1;
  id: string;
  createdAt: string;
  quick: boolean;
  seconds: number;
  machine: MachineInfo;
  peak: MatmulPeak;
  settings: { seed: number; durationsMs: { singleStream: number; multiStream: number; offline: number; serverTrial: number }; predictionsPerDay: number; profiles: string };
  workloads: LabWorkload[];
}

/** Reads `lab.json` from a run directory (or the file itself). */
export function readLabRun(path: string): { run: LabRun; dir: string } {
  const file = statSafe(path)?.isDirectory() ? join(path, 'lab.json') : path;
  const dir = file.endsWith('lab.json') ? file.slice(0, -'lab.json'.length) || '.' : '.';
  let j: unknown;
  try {
    j = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FileFormatError(file, code === 'ENOENT' ? 'no such file (expected a lab results directory with lab.json)' : `not a lab run (${(err as Error).message.split('\n')[0]})`);
  }
  const r = j as Partial<LabRun>;
  if (r.format !== 'trainfer-lab-run') throw new FileFormatError(file, 'not a trainfer lab run (no "format": "trainfer-lab-run")');
  if (r.version !== 1) throw new FileFormatError(file, `lab run version ${String(r.version)} is not supported (expected 1)`);
  if (!Array.isArray(r.workloads)) throw new FileFormatError(file, 'lab run has no workloads');
  return { run: r as LabRun, dir };
}

function statSafe(p: string) {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
}

/** The cost model's inputs from a lab run. */
export function costInputs(run: LabRun): CostWorkloadInput[] {
  return run.workloads.map((w) => ({
    id: w.id,
    title: w.title,
    trainSeconds: w.training.trainSeconds,
    baseline: w.variants[0]?.id,
    variants: w.variants.map((v) => ({
      id: v.id,
      label: v.label,
      buildSeconds: v.buildSeconds,
      storedBytes: v.storedBytes,
      quality: v.quality,
      serverQps: v.bench.server.bestQps,
      latencyBoundMs: v.bench.server.latencyBoundMs,
      requestBytes: v.requestBytes,
      responseBytes: v.responseBytes,
    })),
  }));
}
