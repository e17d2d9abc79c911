/**
 * The result file of one `trainfer bench` measurement: settings, target, sample library, the model's
 * hash and the machine, with the scenario result (and the whole QPS search for the server scenario).
 * Written atomically; read back with a format check so `cost` and `report` never mis-read a file.
 */
import { readFileSync } from 'node:fs';
import { FileFormatError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import type { ScenarioResult } from './loadgen/run-scenario.js';
import type { ServerSearchResult } from './loadgen/server-search.js';
import type { Scenario } from './loadgen/types.js';
import type { MachineInfo } from './machine.js';

/** The measured model: a local file (with its hash) or a served model. */
export interface ModelRef {
  path?: string;
  sha256?: string;
  bytes?: number;
  url?: string;
  name?: string;
  version?: string;
  platform?: string;
}

/** How the model was driven. */
export type TargetInfo =
  | { kind: 'in-process'; instances: number; threadsPerInstance: number; maxBatch: number }
  | { kind: 'oip'; url: string; model: string; version?: string; concurrency: number; maxBatch: number; binary: boolean }
  | { kind: 'synthetic'; description: string };

/** One `bench` measurement. */
export interface BenchResultFile {
  format: 'trainfer-bench-result';
  version: 1;
  createdAt: string;
  machine: MachineInfo;
  model: ModelRef;
  target: TargetInfo;
  library: { name: string; samples: number; sampleBytes: number };
  scenario: Scenario;
  /** The scenario run (server: the best trial of the search, or the last trial when none met the bound). */
  result: ScenarioResult;
  /** Server scenario: every trial of the QPS search. */
  search?: Omit<ServerSearchResult, 'best'>;
}

/** Writes a result file atomically (pretty JSON). */
export function writeBenchResult(path: string, r: BenchResultFile): void {
  writeFileAtomic(path, `${JSON.stringify(r, null, 2)}\n`);
}

/** Reads and checks a result file. */
export function readBenchResult(path: string): BenchResultFile {
  let j: unknown;
  try {
    j = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new FileFormatError(path, `not a bench result (${(err as Error).message.split('\n')[0]})`);
  }
  const r = j as Partial<BenchResultFile>;
  if (r.format !== 'trainfer-bench-result') throw new FileFormatError(path, 'not a trainfer bench result file (no "format": "trainfer-bench-result")');
  if (r.version !== 1) throw new FileFormatError(path, `bench result version ${String(r.version)} is not supported (this Trainfer reads version 1)`);
  if (!r.result || !r.scenario) throw new FileFormatError(path, 'bench result has no scenario result');
  return r as BenchResultFile;
}
