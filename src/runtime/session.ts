/**
 * Running graphs on onnxruntime-node: create a session from a `Model`, bytes or a file, with device,
 * thread and optimisation options; feed and fetch `Tensor`s. The worker-thread pool is in `pool.ts`.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';

const require = createRequire(import.meta.url);
import { TrainferError, oneLine } from '../util/errors.js';
import { encodeModelProto } from '../onnx/model-io.js';
import { modelToProto } from '../onnx/ir-proto.js';
import type { Model } from '../onnx/ir.js';
import { Tensor } from '../onnx/tensor.js';
import type { DType, TypedArray } from '../onnx/dtype.js';

/** Where a session runs. */
export type Device = 'cpu' | 'cuda';

/** Options for `Session.create`. One object, every field optional. */
export interface SessionOptions {
  /** `cpu` (default) or `cuda` (needs an onnxruntime-node build with CUDA; see README). */
  device?: Device;
  /** Threads inside one operator (default: ORT's choice, all cores). */
  intraOpThreads?: number;
  /**
   * Whether idle intra-op pool threads spin waiting for the next operator (ORT's default, true) or
   * sleep. Spinning shaves microseconds off tiny operators on a quiet machine; on a busy one the spinning
   * threads take cores from the thread that has the work, so steps slow down and vary.
   */
  spinning?: boolean;
  /** Threads across operators (only with `executionMode: 'parallel'`). */
  interOpThreads?: number;
  /** ORT graph optimisation level (default `all`). */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'layout' | 'all';
  executionMode?: 'sequential' | 'parallel';
  /** Write ORT's profile JSON (then call `endProfiling`). */
  profile?: boolean;
  /** Path prefix of the profile file (default `trainfer-profile` in the working directory). */
  profileFilePrefix?: string;
  /** ORT log severity: 0 verbose … 4 fatal (default 3: errors only, so unused-initializer warnings stay quiet). */
  logSeverity?: 0 | 1 | 2 | 3 | 4;
  /** Extra ORT session config entries (`session.*` keys). */
  extra?: Record<string, string>;
}

/** A model source: IR, encoded bytes, or a file path. */
export type ModelSource = { model: Model } | { bytes: Uint8Array } | { path: string };

/** An onnxruntime inference session speaking `Tensor`. */
export class Session {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  private constructor(
    readonly ort: ort.InferenceSession,
    private readonly profilePrefix?: string,
  ) {
    this.inputNames = ort.inputNames;
    this.outputNames = ort.outputNames;
  }

  /** Creates a session. Errors from ORT become one-line `TrainferError`s. */
  static async create(source: ModelSource, options: SessionOptions = {}): Promise<Session> {
    const opts = toOrtOptions(options);
    const arg = 'model' in source ? encodeModelProto(modelToProto(source.model)) : 'bytes' in source ? source.bytes : source.path;
    try {
      const s = typeof arg === 'string' ? await ort.InferenceSession.create(arg, opts) : await ort.InferenceSession.create(arg, opts);
      return new Session(s, opts.enableProfiling ? opts.profileFilePrefix : undefined);
    } catch (err) {
      const where = 'path' in source ? `${source.path}: ` : '';
      throw new TrainferError(`${where}onnxruntime could not load the model: ${oneLine(err)}`, { cause: err });
    }
  }

  /** Runs the graph. `fetches` limits outputs (default all). */
  async run(feeds: Record<string, Tensor>, fetches?: readonly string[]): Promise<Record<string, Tensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = toOrt(v);
    let res: ort.InferenceSession.ReturnType;
    try {
      res = fetches ? await this.ort.run(ortFeeds, [...fetches]) : await this.ort.run(ortFeeds);
    } catch (err) {
      throw new TrainferError(`onnxruntime run failed: ${oneLine(err)}`, { cause: err });
    }
    const out: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(res)) out[k] = fromOrt(v);
    return out;
  }

  /**
   * Ends profiling and returns the path of the profile JSON ORT wrote (`<prefix>_<timestamp>.json`).
   * onnxruntime-node does not return the name, so this finds the newest matching file.
   */
  endProfiling(): string {
    if (!this.profilePrefix) throw new TrainferError('profiling was not enabled for this session (SessionOptions.profile)');
    this.ort.endProfiling();
    const prefix = resolve(this.profilePrefix);
    const dir = dirname(prefix);
    const base = `${basename(prefix)}_`;
    const files = readdirSync(dir)
      .filter((f) => f.startsWith(base) && f.endsWith('.json'))
      .map((f) => join(dir, f))
      .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
    if (!files[0]) throw new TrainferError(`onnxruntime wrote no profile file next to '${prefix}'`);
    return files[0];
  }

  /** Releases native resources. */
  async release(): Promise<void> {
    await this.ort.release();
  }
}

/**
 * Devices the installed onnxruntime-node can use. The binding lists `cuda` whenever it was built with the
 * CUDA provider, even when the provider libraries (downloaded by its install script, see README "GPU")
 * are absent — so `cuda` counts only when `libonnxruntime_providers_cuda` sits beside the binding.
 */
export function availableDevices(): Device[] {
  const names = ort.listSupportedBackends().map((b) => b.name);
  return names.includes('cuda') && cudaProviderInstalled() ? ['cpu', 'cuda'] : ['cpu'];
}

function cudaProviderInstalled(): boolean {
  const lib = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
  let binDir: string;
  try {
    binDir = join(dirname(require.resolve('onnxruntime-node')), '..', 'bin');
  } catch {
    return false;
  }
  if (!existsSync(binDir)) return false;
  // bin/napi-v*/<platform>/<arch>/
  for (const napi of readdirSync(binDir)) {
    if (existsSync(join(binDir, napi, process.platform, process.arch, lib))) return true;
  }
  return false;
}

/** Maps our options to ORT's. Throws a clear error for an unavailable device. */
export function toOrtOptions(o: SessionOptions): ort.InferenceSession.SessionOptions {
  const device = o.device ?? 'cpu';
  if (device === 'cuda' && !availableDevices().includes('cuda')) {
    throw new TrainferError("device 'cuda' is not available: this onnxruntime-node has no CUDA provider (see README, 'GPU')");
  }
  const opts: ort.InferenceSession.SessionOptions = {
    executionProviders: device === 'cuda' ? ['cuda', 'cpu'] : ['cpu'],
    graphOptimizationLevel: o.graphOptimizationLevel ?? 'all',
    logSeverityLevel: o.logSeverity ?? 3,
  };
  if (o.intraOpThreads !== undefined) opts.intraOpNumThreads = o.intraOpThreads;
  if (o.interOpThreads !== undefined) opts.interOpNumThreads = o.interOpThreads;
  if (o.executionMode) opts.executionMode = o.executionMode;
  if (o.profile) {
    // onnxruntime-node 1.30 rejects enableProfiling without a file prefix.
    opts.enableProfiling = true;
    opts.profileFilePrefix = o.profileFilePrefix ?? 'trainfer-profile';
  }
  const session: Record<string, string> = { ...(o.extra ?? {}) };
  if (o.spinning !== undefined) session['intra_op.allow_spinning'] = o.spinning ? '1' : '0';
  if (Object.keys(session).length) opts.extra = { session } as never;
  return opts;
}

/** `Tensor` → ort.Tensor (shares memory). */
export function toOrt(t: Tensor): ort.Tensor {
  if (t.dtype === 'string') return new ort.Tensor('string', t.data as string[], [...t.dims]);
  return new ort.Tensor(t.dtype as 'float32', t.data as Float32Array, [...t.dims]);
}

/** ort.Tensor → `Tensor` (shares memory). */
export function fromOrt(t: ort.Tensor): Tensor {
  return new Tensor(t.type as DType, t.dims.map(Number), t.data as TypedArray | string[]);
}
