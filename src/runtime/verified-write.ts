/**
 * "Never write an output that does not load": every model a command writes goes through
 * `writeModelVerified`, which writes it (and its external data) into a temporary directory beside the
 * target, loads that file in onnxruntime-node, runs it once on a sample, and only then renames it into
 * place. On any failure nothing is left behind and the target is untouched.
 */
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { type WriteModelOptions, writeModel } from '../onnx/model-io.js';
import type { Model } from '../onnx/ir.js';
import type { Tensor } from '../onnx/tensor.js';
import { TrainferError, oneLine } from '../util/errors.js';
import { sampleFeeds } from './sample-feeds.js';
import { type ModelSource, Session } from './session.js';

/** Options for `verifyModel`. */
export interface VerifyModelOptions {
  source: ModelSource;
  /** Feeds to run (default: `sampleFeeds` of the model, with `dims` for symbolic dims). */
  feeds?: Record<string, Tensor>;
  /** Sizes for symbolic dims when feeds are synthesized (default: every unknown dim 1). */
  dims?: Readonly<Record<string, number>>;
  /** The model as loaded, when the caller has it (used to synthesize feeds without re-reading). */
  model?: Model;
}

/**
 * Loads a model in onnxruntime-node and runs it once. Returns the outputs; throws a one-line
 * `TrainferError` when onnxruntime cannot load or run it.
 */
export async function verifyModel(o: VerifyModelOptions): Promise<Record<string, Tensor>> {
  let session: Session;
  try {
    session = await Session.create(o.source, { intraOpThreads: 1 });
  } catch (err) {
    throw new TrainferError(`onnxruntime cannot load it: ${oneLine(err).replace(/^.*?onnxruntime could not load the model: /, '')}`, { cause: err });
  }
  try {
    const model = o.model ?? ('model' in o.source ? o.source.model : undefined);
    const feeds = o.feeds ?? (model ? sampleFeeds({ model, dims: o.dims }) : undefined);
    if (!feeds) throw new TrainferError('no feeds to verify the model with');
    try {
      return await session.run(feeds);
    } catch (err) {
      throw new TrainferError(`onnxruntime cannot run it on a sample: ${oneLine(err).replace(/^onnxruntime run failed: /, '')}`, { cause: err });
    }
  } finally {
    await session.release();
  }
}

/** Options for `writeModelVerified`. */
export interface WriteModelVerifiedOptions {
  /** Target file. */
  path: string;
  model: Model;
  /** Feeds for the check run (default: synthesized from the model's inputs). */
  feeds?: Record<string, Tensor>;
  /** Sizes for symbolic dims of synthesized feeds. */
  dims?: Readonly<Record<string, number>>;
  /** How to write it (external data etc.). */
  write?: WriteModelOptions;
}

/**
 * Writes `model` to `path` only if onnxruntime loads and runs the written file. The error names the
 * target: `<path>: not written: onnxruntime cannot load it: …`.
 *
 * @example
 * await writeModelVerified({ path: 'out.onnx', model, dims: { batch: 1 } });
 */
export async function writeModelVerified(o: WriteModelVerifiedOptions): Promise<void> {
  const dir = dirname(o.path);
  const name = basename(o.path);
  mkdirSync(dir, { recursive: true });
  const tmpDir = mkdtempSync(join(dir, `.${name}.verify-`));
  try {
    const tmpPath = join(tmpDir, name);
    writeModel(tmpPath, o.model, o.write);
    try {
      await verifyModel({ source: { path: tmpPath }, model: o.model, feeds: o.feeds, dims: o.dims });
    } catch (err) {
      throw new TrainferError(`${o.path}: not written: ${oneLine(err)}`, { cause: err });
    }
    // External data first, the model last: a reader never sees a model whose data is missing.
    for (const f of readdirSync(tmpDir)) if (f !== name) renameSync(join(tmpDir, f), join(dir, f));
    renameSync(tmpPath, o.path);
  } finally {
    rmSync(tmpDir, { recursive: true, force: true });
  }
}
