/**
 * The model repository: `<repo>/<model>/<version>/model.onnx` plus an optional
 * `<repo>/<model>/config.json`. Loads every version of a model into a `SessionPool` with its
 * `DynamicBatcher` (batching as `decideBatching` rules), and loads/unloads models at run time (one
 * operation per model at a time). Pool faults and batch retries are reported through `RepositoryHooks`.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type PoolCloseResult, type PoolEvent, type RestartPolicy, SessionPool } from '../runtime/pool.js';
import { TrainferError, oneLine } from '../util/errors.js';
import { type BatchRequest, type BatchResult, DynamicBatcher } from './batcher.js';
import { type BatchingDecision, decideBatching } from './batching-policy.js';
import { DEFAULT_MODEL_CONFIG, type ModelConfig, readModelConfig } from './config.js';
import { InferenceError, badRequest } from './errors.js';
import { readModelFacts } from './model-facts.js';
import type { ServedModel } from './served-model.js';
import { type Datatype, type InputExpectations, datatypeOf } from './protocol.js';
import type { DType } from '../onnx/dtype.js';
import { TEXT_INPUT, TextFrontEnd } from './text-input.js';
import { RetrievalFrontEnd } from './retrieval-serving.js';

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

/** What the repository reports about the versions it runs (for metrics and logs). */
export interface RepositoryHooks {
  onExec?: ExecHook;
  /** A pool fault: a worker crash, a hung run, a restart, a failed start. */
  onPoolEvent?: (model: string, version: string, e: PoolEvent) => void;
  /** A batch failed and its requests were run again one by one. */
  onBatchRetry?: (model: string, version: string, stats: { requests: number; reason: string; ids: string[] }) => void;
  /** A model's state or loaded versions changed (load started or ended, unload, close). */
  onChange?: () => void;
}

/** One model as front ends in other threads resolve it: its state and loaded versions (plain data). */
export interface CatalogEntry {
  name: string;
  state: ModelState;
  versions: ServedModel[];
}

/** The limit an `auto` batch-first model batches up to, unless the server says otherwise. */
export const AUTO_MAX_BATCH_SIZE = 32;

/** What a closing model version left behind. */
export interface VersionCloseResult extends PoolCloseResult {
  /** Requests answered 503 because the deadline passed. */
  abandoned: number;
}

let nextUid = 1;

/** One loaded version of a model: its session pool and batching queue. */
export class ModelVersion implements ServedModel {
  /** Unique per load (a reload makes a new `ModelVersion`). */
  readonly uid = nextUid++;
  /** True when requests are concatenated (see `batchingDecision` for why or why not). */
  readonly batching: boolean;
  /** What the model's inputs must be, checked before a request's tensors are allocated. */
  readonly expectations: InputExpectations;

  private constructor(
    readonly name: string,
    readonly version: string,
    readonly config: ModelConfig,
    readonly inputs: TensorSpec[],
    readonly outputs: TensorSpec[],
    /** The batch limit in effect and the reason for it. */
    readonly batchingDecision: BatchingDecision,
    readonly pool: SessionPool,
    readonly batcher: DynamicBatcher,
    /** Set when the version serves raw text (a tokenizer.json beside model.onnx): `inputs` is then one BYTES `text` input. */
    readonly text?: TextFrontEnd,
    /** Set for a retrieval model (mf / two-tower export): request parameters `mode` (exact | ann) and `k`. */
    readonly retrieval?: RetrievalFrontEnd,
  ) {
    this.batching = batchingDecision.maxBatchSize > 0;
    this.expectations = { inputs, maxBatchSize: batchingDecision.maxBatchSize };
  }

  /** Starts the pool for `file` and builds the batcher. */
  static async load(o: { name: string; version: string; file: string; configFile: string; config: ModelConfig; autoMaxBatchSize: number; restart?: RestartPolicy; hooks?: RepositoryHooks }): Promise<ModelVersion> {
    const facts = readModelFacts(o.file);
    const hooks = o.hooks ?? {};
    const tokenizerFile = TextFrontEnd.besides(o.file);
    const text = tokenizerFile ? await TextFrontEnd.open({ modelFile: o.file, tokenizerFile }) : undefined;
    try {
      return await ModelVersion.start(o, facts, hooks, text);
    } catch (err) {
      await text?.close();
      throw err;
    }
  }

  private static async start(o: Parameters<typeof ModelVersion.load>[0], facts: ReturnType<typeof readModelFacts>, hooks: RepositoryHooks, text: TextFrontEnd | undefined): Promise<ModelVersion> {
    const pool = await SessionPool.create({
      source: { path: o.file },
      instances: o.config.instances,
      threadsPerInstance: o.config.threadsPerInstance,
      // The server logs every failure with its request id; onnxruntime's own stderr lines would only repeat them.
      session: { device: o.config.device, logSeverity: 4, extra: o.config.allowSpinning ? {} : { 'intra_op.allow_spinning': '0', 'inter_op.allow_spinning': '0' } },
      label: o.file,
      restart: o.restart,
      onEvent: (e) => hooks.onPoolEvent?.(o.name, o.version, e),
    });
    let retrieval: RetrievalFrontEnd | undefined;
    try {
      if (text) {
        // A tokenizer that makes longer rows than the model takes would fail every long text: refuse now.
        await pool.run(text.fullLengthFeeds()).catch((err: unknown) => {
          throw new TrainferError(`${o.file}: cannot run on a row of ${text.maxLength} tokens, the maximum length of ${text.source} (${oneLine(err).replace(/^.*?: /, '')}): set its truncation.max_length to the length the model was trained with`);
        });
      }
      const inputs = pool.inputs.map((m) => spec(o.file, m, 'input'));
      const outputs = pool.outputs.map((m) => spec(o.file, m, 'output'));
      const decision = decideBatching({ configured: o.config.maxBatchSize, autoMaxBatchSize: o.autoMaxBatchSize, facts, tensors: [...inputs, ...outputs], where: o.configFile });
      const batcher = new DynamicBatcher({
        maxBatchSize: decision.maxBatchSize,
        maxQueueDelayMs: o.config.maxQueueDelayMs,
        maxQueueSize: o.config.maxQueueSize,
        timeoutMs: o.config.timeoutMs,
        concurrency: o.config.instances,
        run: (feeds, fetches, options) => pool.run(feeds, fetches, options),
        onExec: (s) => hooks.onExec?.(o.name, o.version, s.batchSize),
        onBatchRetry: (s) => hooks.onBatchRetry?.(o.name, o.version, s),
      });
      const served = text ? [{ name: TEXT_INPUT, dtype: 'string' as DType, datatype: 'BYTES' as Datatype, shape: [-1], dimNames: ['batch'] }] : inputs;
      // A retrieval model: its ANN index (when config.json asks) is built in its own thread while the pool is up.
      retrieval = await RetrievalFrontEnd.open({ file: o.file, name: o.name, metadata: facts.metadata, inputs: inputs.map((i) => i.name), config: o.config, configFile: o.configFile });
      return new ModelVersion(o.name, o.version, o.config, served, outputs, decision, pool, batcher, text, retrieval);
    } catch (err) {
      await retrieval?.close();
      await pool.close();
      throw err;
    }
  }

  /**
   * Queues a decoded request on this version's batcher. A raw-text version tokenizes first (in its
   * tokenizer's worker thread), so every front end (REST in any thread, gRPC) sends the strings as they came.
   */
  async submit(req: BatchRequest): Promise<BatchResult> {
    if (this.retrieval) return this.retrieval.submit(req, (r) => this.batcher.submit(r));
    if (!this.text) return this.batcher.submit(req);
    const encoded = await this.text.encode(req.feeds[TEXT_INPUT]);
    const batch = this.batching ? encoded.feeds[this.text.modelInputs[0]!.name]!.dims[0]! : 1;
    const r = await this.batcher.submit({ ...req, feeds: encoded.feeds, batch });
    const cut = encoded.truncated;
    return { ...r, parameters: { truncated: cut.length, ...(cut.length ? { truncated_rows: cut.join(','), max_tokens: this.text.maxLength } : {}) } };
  }

  /** Accept NaN/±Inf in float inputs (`allowNonFinite` in config.json). */
  get allowNonFinite(): boolean {
    return this.config.allowNonFinite;
  }

  /** Why this version cannot serve (its workers could not be restarted), or undefined when it can. */
  get unavailable(): string | undefined {
    return this.pool.unavailable;
  }

  /** Finishes queued and running requests (up to `deadlineMs`, then they get 503), then stops the workers. */
  async close(options: { deadlineMs?: number } = {}): Promise<VersionCloseResult> {
    const t0 = performance.now();
    const { abandoned } = await this.batcher.drain(options);
    const left = options.deadlineMs === undefined ? undefined : Math.max(0, options.deadlineMs - (performance.now() - t0));
    const { stuck } = await this.pool.close({ deadlineMs: left });
    await this.text?.close();
    await this.retrieval?.close();
    return { abandoned, stuck };
  }
}

/** The `ServedModel` fields of a version as structured-clone data. */
function servedModelData(mv: ModelVersion): ServedModel {
  return { name: mv.name, version: mv.version, uid: mv.uid, inputs: mv.inputs, outputs: mv.outputs, expectations: mv.expectations, batching: mv.batching, allowNonFinite: mv.allowNonFinite };
}

/**
 * `ModelRepository.resolve` over a catalog: the same answers and errors, for front ends in other threads.
 */
export function resolveInCatalog(catalog: ReadonlyMap<string, CatalogEntry>, name: string, version: string | undefined): ServedModel {
  if (!isPlainName(name)) throw badRequest(`model name '${name}' is not a plain directory name`);
  const e = catalog.get(name);
  if (!e || e.versions.length === 0) {
    if (e?.state === 'LOADING') throw new InferenceError(`model '${name}' is loading`, 503, { 'Retry-After': '1' });
    throw new InferenceError(`unknown model '${name}'`, 404);
  }
  if (version === undefined) return e.versions.reduce((a, b) => (Number(b.version) > Number(a.version) ? b : a));
  const v = e.versions.find((x) => x.version === version);
  if (!v) throw new InferenceError(`model '${name}' has no version '${version}' (loaded: ${e.versions.map((x) => x.version).join(', ')})`, 404);
  return v;
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
  /** The batch limit of `auto` batch-first models (default `AUTO_MAX_BATCH_SIZE`; 0 = never batch automatically). */
  autoMaxBatchSize?: number;
  /** How crashed or hung workers are replaced (backoff, attempts before giving up). */
  restart?: RestartPolicy;
  hooks?: RepositoryHooks;
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

  /**
   * Loads every model on disk. The first failure is thrown (the server should not start half-configured),
   * and so is an empty repository unless `allowEmpty`, with the layout it expects.
   */
  async loadAll(options: { allowEmpty?: boolean } = {}): Promise<void> {
    const names = this.modelsOnDisk();
    if (names.length === 0 && !options.allowEmpty) {
      const stray = readdirSync(this.root).filter((f) => f.endsWith('.onnx'));
      const hint = stray.length > 0 ? ` (found ${stray[0]} directly in it: move it to ${join(this.root, '<model>', '1', 'model.onnx')})` : '';
      throw new TrainferError(`${this.root}: no model in this repository; expected <repository>/<model>/<version>/model.onnx, e.g. ${join(this.root, 'mnist', '1', 'model.onnx')}${hint}`);
    }
    for (const name of names) await this.load(name);
  }

  /** (Re)loads `name` from disk; the old versions keep serving until the new ones are ready. */
  load(name: string): Promise<void> {
    this.checkName(name);
    const dir = join(this.root, name);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) return Promise.reject(new InferenceError(`model '${name}' is not in the repository`, 404));
    return this.serialise(name, async (entry) => {
      const prevState = entry.state;
      entry.state = 'LOADING';
      this.o.hooks?.onChange?.();
      const loaded = new Map<string, ModelVersion>();
      try {
        const configFile = join(dir, 'config.json');
        const config = readModelConfig(configFile, this.defaults);
        const versions = readdirSync(dir, { withFileTypes: true })
          .filter((d) => d.isDirectory() && /^[1-9][0-9]{0,17}$/.test(d.name) && existsSync(join(dir, d.name, 'model.onnx')))
          .map((d) => d.name);
        if (versions.length === 0) {
          const stray = readdirSync(dir).find((f) => f.endsWith('.onnx'));
          const hint = stray ? ` (found ${stray} directly in it: move it to ${join(dir, '1', 'model.onnx')})` : '';
          throw new TrainferError(`${dir}: no version directory holds a model.onnx; expected ${join(dir, '<version>', 'model.onnx')} with <version> a positive integer, e.g. ${join(dir, '1', 'model.onnx')}${hint}`);
        }
        for (const version of versions) {
          loaded.set(version, await ModelVersion.load({ name, version, file: join(dir, version, 'model.onnx'), configFile, config, autoMaxBatchSize: this.o.autoMaxBatchSize ?? AUTO_MAX_BATCH_SIZE, restart: this.o.restart, hooks: this.o.hooks }));
        }
      } catch (err) {
        await Promise.all([...loaded.values()].map((v) => v.close()));
        entry.state = prevState === 'READY' ? 'READY' : 'UNAVAILABLE';
        entry.reason = oneLine(err);
        this.o.hooks?.onChange?.();
        throw err instanceof InferenceError ? err : new InferenceError(oneLine(err), 400);
      }
      const old = entry.versions;
      entry.versions = loaded;
      entry.state = 'READY';
      entry.reason = '';
      this.o.hooks?.onChange?.();
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
      this.o.hooks?.onChange?.();
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

  /** Every model's state and loaded versions as plain data (for front ends in other threads). */
  catalog(): CatalogEntry[] {
    return [...this.entries.entries()].map(([name, e]) => ({ name, state: e.state, versions: [...e.versions.values()].map(servedModelData) }));
  }

  /** Every loaded version. */
  loaded(): ModelVersion[] {
    return [...this.entries.values()].flatMap((e) => [...e.versions.values()]);
  }

  /**
   * False while a model that has no version serving yet is loading (a reload keeps the old versions
   * serving), and while a loaded version cannot serve (its workers could not be restarted).
   */
  get ready(): boolean {
    return [...this.entries.values()].every((e) => e.state !== 'LOADING' || e.versions.size > 0) && this.loaded().every((v) => !v.unavailable);
  }

  /** Every model on disk and every loaded version, with state (Triton's repository index). */
  index(options: { readyOnly?: boolean } = {}): IndexRow[] {
    const rows: IndexRow[] = [];
    const names = new Set([...this.modelsOnDisk(), ...this.entries.keys()]);
    for (const name of [...names].sort()) {
      const e = this.entries.get(name);
      if (e && e.versions.size > 0) {
        for (const v of [...e.versions.keys()].sort((a, b) => Number(a) - Number(b))) {
          const why = e.versions.get(v)!.unavailable;
          if (!why) rows.push({ name, version: v, state: 'READY', reason: '' });
          else if (!options.readyOnly) rows.push({ name, version: v, state: 'UNAVAILABLE', reason: why });
        }
      } else if (!options.readyOnly) {
        rows.push({ name, state: e?.state ?? 'UNAVAILABLE', reason: e?.reason ?? '' });
      }
    }
    return rows;
  }

  /**
   * Unloads everything: waits for queued and running requests up to `deadlineMs` (default: no limit),
   * answers the rest 503, and reports how many were cut off and how many runs were still inside onnxruntime.
   */
  async close(options: { deadlineMs?: number } = {}): Promise<VersionCloseResult> {
    const versions = this.loaded();
    for (const e of this.entries.values()) {
      e.versions = new Map();
      e.state = 'UNAVAILABLE';
      e.reason = 'server closed';
    }
    this.o.hooks?.onChange?.();
    const results = await Promise.all(versions.map((v) => v.close(options)));
    return { abandoned: results.reduce((n, r) => n + r.abandoned, 0), stuck: results.reduce((n, r) => n + r.stuck, 0) };
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
