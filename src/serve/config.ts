/**
 * A served model's `config.json`: the fields, their defaults, and validation whose errors are one line
 * naming the file and the field.
 */
import { readFileSync } from 'node:fs';
import type { Device } from '../runtime/session.js';
import { FileFormatError } from '../util/errors.js';

/** Per-model serving settings (`<repo>/<model>/config.json`). */
export interface ModelConfig {
  /**
   * Largest batch formed by dynamic batching; 0 turns batching off. Default `auto`: batching with the
   * server's automatic limit (32 unless `--max-batch-size` says otherwise) only for a model whose metadata
   * says it is batch-first (`trainfer.batch_first` = "true") and whose inputs and outputs all have a
   * dynamic first dimension; off for every other model (see `decideBatching`).
   */
  maxBatchSize: number | 'auto';
  /**
   * How long the oldest request may wait for others to join its batch, in ms. Default 0: a free instance
   * takes whatever is queued at once; batches still form from the requests that arrive while instances are busy.
   */
  maxQueueDelayMs: number;
  /** Worker threads, each with its own session. Default 2. */
  instances: number;
  /** onnxruntime intra-op threads per instance. Default 1. */
  threadsPerInstance: number;
  /** Requests allowed to wait; more get 503 with `Retry-After`. Default 256. */
  maxQueueSize: number;
  /** Per-request deadline from arrival, in ms (0 = none); late requests get 504. Default 30000. */
  timeoutMs: number;
  /** Accept NaN and ±Inf in float inputs (default false: they are a 400). */
  allowNonFinite: boolean;
  /**
   * Let onnxruntime's intra-op threads busy-wait for work (default false). Spinning lowers latency
   * on an idle many-core machine but steals CPU from the HTTP thread on a small one.
   */
  allowSpinning: boolean;
  /** Where the instances run: `cpu` (default) or `cuda` (needs onnxruntime-node's CUDA files; see README, 'GPU'). */
  device: Device;
  /**
   * Retrieval models only (mf / two-tower exports): also build an approximate nearest-neighbour index
   * over the catalog at load, in its own worker thread, so requests with `"parameters": {"mode": "ann"}`
   * are answered by the user tower + the index. `off` (default), `usearch` or `hnswlib`.
   */
  ann: 'off' | 'usearch' | 'hnswlib';
  /** ANN graph degree M (default 16). */
  annConnectivity: number;
  /** ANN beam width while building (ef_construction, default 128). */
  annExpansionAdd: number;
  /** ANN beam width while searching (ef, default 128: 97.9% recall@10 at 200k items vs 93.9% with 64 at 1M, bench/recsys.ts). */
  annExpansionSearch: number;
  /** Vectors the usearch index stores: `f32` (default), `f16` or `i8`. */
  annQuantization: 'f32' | 'f16' | 'i8';
  /** Users sampled at load to measure the index's recall@10 against exact top-10 (default 200; 0 = skip). */
  annRecallSample: number;
}

/** Defaults for fields a config leaves out (chosen from bench/serve.ts on 2 cores; see docs/serving.md). */
export const DEFAULT_MODEL_CONFIG: Readonly<ModelConfig> = {
  maxBatchSize: 'auto',
  maxQueueDelayMs: 0,
  instances: 2,
  threadsPerInstance: 1,
  maxQueueSize: 256,
  timeoutMs: 30000,
  allowNonFinite: false,
  allowSpinning: false,
  device: 'cpu',
  ann: 'off',
  annConnectivity: 16,
  annExpansionAdd: 128,
  annExpansionSearch: 256,
  annQuantization: 'f32',
  annRecallSample: 200,
};

type Check = { kind: 'int' | 'number' | 'boolean' | 'intOrAuto'; min?: number } | { kind: 'enum'; values: readonly string[] };
const FIELDS = {
  maxBatchSize: { kind: 'intOrAuto', min: 0 },
  maxQueueDelayMs: { kind: 'number', min: 0 },
  instances: { kind: 'int', min: 1 },
  threadsPerInstance: { kind: 'int', min: 1 },
  maxQueueSize: { kind: 'int', min: 1 },
  timeoutMs: { kind: 'number', min: 0 },
  allowNonFinite: { kind: 'boolean' },
  allowSpinning: { kind: 'boolean' },
  device: { kind: 'enum', values: ['cpu', 'cuda'] },
  ann: { kind: 'enum', values: ['off', 'usearch', 'hnswlib'] },
  annConnectivity: { kind: 'int', min: 2 },
  annExpansionAdd: { kind: 'int', min: 2 },
  annExpansionSearch: { kind: 'int', min: 2 },
  annQuantization: { kind: 'enum', values: ['f32', 'f16', 'i8'] },
  annRecallSample: { kind: 'int', min: 0 },
} as const satisfies Record<keyof ModelConfig, Check>;

/**
 * Validates a config object (from `file`, for messages) over `defaults`.
 * Throws `FileFormatError` naming the file and the field.
 */
export function parseModelConfig(value: unknown, file: string, defaults: Readonly<ModelConfig> = DEFAULT_MODEL_CONFIG): ModelConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new FileFormatError(file, 'config must be a JSON object');
  const out: ModelConfig = { ...defaults };
  for (const [key, v] of Object.entries(value)) {
    const check = (FIELDS as Record<string, Check>)[key];
    if (!check) throw new FileFormatError(file, `unknown field '${key}' (known: ${Object.keys(FIELDS).join(', ')})`);
    if (check.kind === 'boolean') {
      if (typeof v !== 'boolean') throw new FileFormatError(file, `field '${key}' must be true or false, got ${JSON.stringify(v)}`);
    } else if (check.kind === 'enum') {
      if (!check.values.includes(v as string)) throw new FileFormatError(file, `field '${key}' must be one of ${check.values.join(', ')}, got ${JSON.stringify(v)}`);
    } else if (!(check.kind === 'intOrAuto' && v === 'auto')) {
      const ok = typeof v === 'number' && Number.isFinite(v) && (check.kind === 'number' || Number.isInteger(v)) && v >= (check.min ?? -Infinity);
      if (!ok) {
        const what = check.kind === 'int' ? 'an integer' : check.kind === 'intOrAuto' ? '"auto" or an integer' : 'a number';
        throw new FileFormatError(file, `field '${key}' must be ${what} >= ${check.min}, got ${JSON.stringify(v)}`);
      }
    }
    (out as unknown as Record<string, unknown>)[key] = v;
  }
  return out;
}

/** Reads and validates `config.json`; a missing file gives the defaults. */
export function readModelConfig(file: string, defaults: Readonly<ModelConfig> = DEFAULT_MODEL_CONFIG): ModelConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ...defaults };
    throw new FileFormatError(file, `cannot read: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new FileFormatError(file, `not valid JSON: ${(err as Error).message}`);
  }
  return parseModelConfig(value, file, defaults);
}
