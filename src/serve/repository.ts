/**
 * The model repository: `<repo>/<model>/<version>/model.onnx` plus an optional
 * `<repo>/<model>/config.json`. Loads every version of a model into a `SessionPool` with its
 * `DynamicBatcher`, and loads/unloads models at run time (one operation per model at a time).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SessionPool } from '../runtime/pool.js';
import { TrainferError, oneLine } from '../util/errors.js';
import { DynamicBatcher } from './batcher.js';
import { DEFAULT_MODEL_CONFIG, type ModelConfig, readModelConfig } from './config.js';
import { InferenceError, badRequest } from './errors.js';
import { type Datatype, datatypeOf } from './protocol.js';
import type { DType } from '../onnx/dtype.js';

/** An input or output of a served model. `shape` uses -1 for dynamic dims (as the protocol does). */
export interface TensorSpec {
  name: string;
  dtype: DType;
  datatype: Datatype;
  shape: number[];
  /** Symbolic dim names where the model has them (null for fixed or unnamed dims). */
  dimNames: (string | null)[];
}

/** Model-level load state, as `POST /v2/repository/index` reports it. */
export type ModelState = 'READY' | 'UNAVAILABLE' | 'LOADING';

/** Called once per batch a model version executes. */
export type ExecHook = (model: string, version: string, batchSize: number) => void;

/** One loaded version of a model: its session pool and batching queue. */
export class ModelVersion {
  private constructor(
    readonly name: string,
    readonly version: string,
    readonly config: ModelConfig,
    readonly inputs: TensorSpec[],
    readonly outputs: TensorSpec[],
    /** True when requests are concatenated (config allows it and every input/output has a dynamic dim 0). */
    readonly batching: boolean,
    readonly pool: SessionPool,
    readonly batcher: DynamicBatcher,
  ) {}

  /** Starts the pool for `file` and builds the batcher. */
  static async load(o: { name: string; version: string; file: string; config: ModelConfig; onExec?: ExecHook }): Promise<ModelVersion> {
    const pool = await SessionPool.create({
      source: { path: o.file },
      instances: o.config.instances,
      threadsPerInstance: o.config.threadsPerInstance,
      session: { device: o.config.device, extra: o.config.allowSpinning ? {} : { 'intra_op.allow_spinning': '0', 'inter_op.allow_spinning': '0' } },
      label: o.file,
    });
    try {
      const inputs = pool.inputs.map((m) => spec(o.file, m, 'input'));
      const outputs = pool.outputs.map((m) => spec(o.file, m, 'output'));
      const batchable = [...inputs, ...outputs].every((s) => s.shape.length > 0 && s.shape[0] === -1);
      const batching = o.config.maxBatchSize > 0 && batchable;
      const batcher = new DynamicBatcher({
        maxBatchSize: batching ? o.config.maxBatchSize : 0,
        maxQueueDelayMs: o.config.maxQueueDelayMs,
        maxQueueSize: o.config.maxQueueSize,
        timeoutMs: o.config.timeoutMs,
        concurrency: o.config.instances,
        run: (feeds, fetches, options) => pool.run(feeds, fetches, options),
        onExec: (s) => o.onExec?.(o.name, o.version, s.batchSize),
      });
      return new ModelVersion(o.name, o.version, o.config, inputs, outputs, batching, pool, batcher);
    } catch (err) {
      await pool.close();
      throw err;
    }
  }

  /** Finishes queued and running requests, then stops the workers. */
  async close(): Promise<void> {
    await this.batcher.drain();
    await this.pool.close();
  }
}

function spec(file: string, m: { name: string; dtype?: DType; shape?: (number | string | null)[] }, kind: string): TensorSpec {
  const datatype = m.dtype && datatypeOf(m.dtype);
  if (!m.dtype || !datatype) throw new TrainferError(`${file}: ${kind} '${m.name}' has type ${m.dtype ?? 'non-tensor'}, which the inference protocol cannot carry`);
  const shape = (m.shape ?? []).map((d) => (typeof d === 'number' ? d : -1));
  const dimNames = (m.shape ?? []).map((d) => (typeof d === 'string' ? d : null));
  return { name: m.name, dtype: m.dtype, datatype, shape, dimNames };
}

/** True for a plain directory name: letters, digits, `_`, `-`, `.` (not first), at most 128 characters. */
export function isPlainName(name: string): boolean {
  return /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(name);
}

interface Entry {
  state: ModelState;
  reason: string;
  versions: Map<string, ModelVersion>;
  /** Serialises load/unload of this model. */
  op: Promise<unknown>;
}

/** One row of the repository index. */
export interface IndexRow {
  name: string;
  version?: string;
  state: ModelState;
  reason: string;
}

/** Options for `ModelRepository`. */
export interface RepositoryOptions {
  root: string;
  /** Defaults for fields a model's config.json leaves out. */
  defaults?: Partial<ModelConfig>;
  onExec?: ExecHook;
}

/** The models a server serves. */
export class ModelRepository {
  readonly root: string;
  private readonly defaults: ModelConfig;
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly o: RepositoryOptions) {
    this.root = o.root;
    this.defaults = { ...DEFAULT_MODEL_CONFIG, ...o.defaults };
    if (!existsSync(this.root) || !statSync(this.root).isDirectory()) throw new TrainferError(`${this.root}: model repository is not a directory`);
  }

  /** Model directories on disk (plain names only). */
  modelsOnDisk(): string[] {
    return readdirSync(this.root, { withFileTypes: true }).filter((d) => d.isDirectory() && isPlainName(d.name)).map((d) => d.name).sort();
  }

  /** Loads every model on disk. The first failure is thrown (the server should not start half-configured). */
  async loadAll(): Promise<void> {
    for (const name of this.modelsOnDisk()) await this.load(name);
  }

  /** (Re)loads `name` from disk; the old versions keep serving until the new ones are ready. */
  load(name: string): Promise<void> {
    this.checkName(name);
    const dir = join(this.root, name);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) return Promise.reject(new InferenceError(`model '${name}' is not in the repository`, 404));
    return this.serialise(name, async (entry) => {
      const prevState = entry.state;
      entry.state = 'LOADING';
      const loaded = new Map<string, ModelVersion>();
      try {
        const config = readModelConfig(join(dir, 'config.json'), this.defaults);
        const versions = readdirSync(dir, { withFileTypes: true })
          .filter((d) => d.isDirectory() && /^[1-9][0-9]{0,17}$/.test(d.name) && existsSync(join(dir, d.name, 'model.onnx')))
          .map((d) => d.name);
        if (versions.length === 0) throw new TrainferError(`${dir}: no version directory (e.g. 1/) holds a model.onnx`);
        for (const version of versions) {
          loaded.set(version, await ModelVersion.load({ name, version, file: join(dir, version, 'model.onnx'), config, onExec: this.o.onExec }));
        }
      } catch (err) {
        await Promise.all([...loaded.values()].map((v) => v.close()));
        entry.state = prevState === 'READY' ? 'READY' : 'UNAVAILABLE';
        entry.reason = oneLine(err);
        throw err instanceof InferenceError ? err : new InferenceError(oneLine(err), 400);
      }
      const old = entry.versions;
      entry.versions = loaded;
      entry.state = 'READY';
      entry.reason = '';
      await Promise.all([...old.values()].map((v) => v.close()));
    });
  }

  /** Unloads `name`: new requests get 404, queued and running ones finish first. */
  unload(name: string): Promise<void> {
    this.checkName(name);
    const e = this.entries.get(name);
    if (!e || (e.state !== 'READY' && e.versions.size === 0)) return Promise.reject(new InferenceError(`model '${name}' is not loaded`, 404));
    return this.serialise(name, async (entry) => {
      const old = entry.versions;
      entry.versions = new Map();
      entry.state = 'UNAVAILABLE';
      entry.reason = 'unloaded';
      await Promise.all([...old.values()].map((v) => v.close()));
    });
  }

  /** The version to serve: `version`, or the highest loaded one. Throws 400/404 `InferenceError`s. */
  resolve(name: string, version?: string): ModelVersion {
    this.checkName(name);
    const e = this.entries.get(name);
    if (!e || e.versions.size === 0) {
      if (e?.state === 'LOADING') throw new InferenceError(`model '${name}' is loading`, 503, { 'Retry-After': '1' });
      throw new InferenceError(`unknown model '${name}'`, 404);
    }
    if (version === undefined) {
      const highest = [...e.versions.keys()].sort((a, b) => Number(b) - Number(a))[0]!;
      return e.versions.get(highest)!;
    }
    const v = e.versions.get(version);
    if (!v) throw new InferenceError(`model '${name}' has no version '${version}' (loaded: ${[...e.versions.keys()].join(', ')})`, 404);
    return v;
  }

  /** Every loaded version. */
  loaded(): ModelVersion[] {
    return [...this.entries.values()].flatMap((e) => [...e.versions.values()]);
  }

  /** False while a model that has no version serving yet is loading (a reload keeps the old versions serving). */
  get ready(): boolean {
    return [...this.entries.values()].every((e) => e.state !== 'LOADING' || e.versions.size > 0);
  }

  /** Every model on disk and every loaded version, with state (Triton's repository index). */
  index(options: { readyOnly?: boolean } = {}): IndexRow[] {
    const rows: IndexRow[] = [];
    const names = new Set([...this.modelsOnDisk(), ...this.entries.keys()]);
    for (const name of [...names].sort()) {
      const e = this.entries.get(name);
      if (e && e.versions.size > 0) {
        for (const v of [...e.versions.keys()].sort((a, b) => Number(a) - Number(b))) rows.push({ name, version: v, state: 'READY', reason: '' });
      } else if (!options.readyOnly) {
        rows.push({ name, state: e?.state ?? 'UNAVAILABLE', reason: e?.reason ?? '' });
      }
    }
    return rows;
  }

  /** Unloads everything (waits for queued and running requests). */
  async close(): Promise<void> {
    await Promise.all([...this.entries.keys()].filter((n) => this.entries.get(n)!.versions.size > 0).map((n) => this.unload(n)));
  }

  private checkName(name: string): void {
    if (!isPlainName(name)) throw badRequest(`model name '${name}' is not a plain directory name`);
  }

  private serialise(name: string, fn: (e: Entry) => Promise<void>): Promise<void> {
    let e = this.entries.get(name);
    if (!e) this.entries.set(name, (e = { state: 'UNAVAILABLE', reason: '', versions: new Map(), op: Promise.resolve() }));
    const entry = e;
    const run = entry.op.then(() => fn(entry));
    entry.op = run.catch(() => undefined);
    return run;
  }
}
