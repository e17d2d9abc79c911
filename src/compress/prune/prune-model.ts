/**
 * `pruneModel`: the whole pruning job as `trainfer prune` and the lab run it. Unstructured: magnitude
 * masks (layer-wise or global) applied gradually while fine-tuning (Zhu & Gupta) through the
 * `MagnitudePruning` extension of the trainer, or one-shot. Structured: the dependency analysis removes
 * whole channels, then the smaller model is fine-tuned with the existing trainer (`runTrainJob` on the
 * imported model). Every output goes through `writeModelVerified`; the input is never modified. Returns
 * sizes, accuracy before/after on the test split, FLOPs and the per-layer report.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { readModel } from '../../onnx/model-io.js';
import type { Model } from '../../onnx/ir.js';
import { Tensor } from '../../onnx/tensor.js';
import { sampleFeeds } from '../../runtime/sample-feeds.js';
import { writeModelVerified } from '../../runtime/verified-write.js';
import { TrainferError } from '../../util/errors.js';
import type { Table } from '../../data/table.js';
import { sampleBatch } from '../../train/export.js';
import { runTrainJob } from '../../train/job.js';
import type { ProgressMode } from '../../train/progress.js';
import { fileBytes, loadSplits, scoreModel } from '../common/score.js';
import { MagnitudePruning } from './gradual.js';
import type { Importance } from './importance.js';
import { magnitudeMasks, prunableWeights } from './magnitude.js';
import { type SparsityReport, sparsityReport } from './report.js';
import { type SparsitySchedule, checkSparsity } from './schedule.js';
import { type GroupOutcome, structuredPrune } from './structured.js';

/** Options for `pruneModel` (the flags of `trainfer prune`). */
export interface PruneOptions {
  /** The .onnx to prune (never modified). */
  input: string;
  /** Where to write the pruned model. */
  out: string;
  /** Fraction to remove, in [0, 1): of the prunable weights (unstructured) or of each channel group (structured). */
  sparsity: number;
  /** Data for fine-tuning and accuracy (`mnist`, an IDX directory, a CSV/JSONL file). Without it: one-shot, no fine-tuning. */
  data?: string;
  /** Remove whole channels/neurons/heads (real speedup) instead of zeroing single weights. */
  structured?: boolean;
  /** Unstructured: `gradual` (default with data) or `oneshot`. */
  schedule?: 'gradual' | 'oneshot';
  /** `layer` (default) or `global`. */
  scope?: 'layer' | 'global';
  /** Structured: channel importance (default `l1`). */
  importance?: Importance;
  /** Structured: kept channel counts rounded up to this multiple (default 1). */
  channelMultiple?: number;
  /** Structured: also prune LayerNorm-normalised channels (changes the function; fine-tuning recovers). */
  allowLossy?: boolean;
  /** Fine-tuning epochs (0: none; default: the trainer's default for imported models, 3). */
  epochs?: number;
  lr?: number;
  optimizer?: 'sgd' | 'adam' | 'adamw';
  batchSize?: number;
  maxSteps?: number;
  seed?: number;
  target?: string;
  threads?: number;
  progress?: ProgressMode;
}

/** What `pruneModel` did (everything `trainfer prune --json` prints). */
export interface PruneResult {
  input: string;
  out: string;
  kind: 'structured' | 'unstructured';
  sparsity: number;
  schedule?: SparsitySchedule;
  /** File sizes in bytes. */
  sizes: { input: number; output: number };
  /** Test accuracy: the input, the pruned model before fine-tuning (structured), the written model. */
  accuracy?: { before: number; pruned?: number; after: number };
  /** Test loss of the input and of the written model. */
  loss?: { before: number; after: number };
  report: SparsityReport;
  /** Structured: channels per group before and after. */
  groups?: GroupOutcome[];
  fineTune?: { epochs: number; steps: number; seconds: number; samplesPerSecond: number };
  seconds: number;
}

/** Checks option values that need no file (before anything is read). */
export function checkPruneOptions(o: Pick<PruneOptions, 'sparsity' | 'schedule' | 'scope' | 'data' | 'epochs' | 'channelMultiple' | 'structured' | 'importance' | 'input' | 'out'>): void {
  checkSparsity(o.sparsity);
  if (o.schedule !== undefined && o.schedule !== 'gradual' && o.schedule !== 'oneshot') throw new TrainferError(`--schedule must be gradual or oneshot, got '${o.schedule}'`);
  if (o.scope !== undefined && o.scope !== 'layer' && o.scope !== 'global') throw new TrainferError(`--scope must be layer or global, got '${o.scope}'`);
  if (o.schedule === 'gradual' && o.structured) throw new TrainferError('--schedule gradual applies to unstructured pruning; --structured removes channels once, then fine-tunes');
  if (o.schedule === 'gradual' && (!o.data || o.epochs === 0)) throw new TrainferError('--schedule gradual prunes while fine-tuning: it needs --data (and --epochs above 0)');
  if (o.epochs !== undefined && !(Number.isInteger(o.epochs) && o.epochs >= 0)) throw new TrainferError(`--epochs must be a non-negative integer, got ${o.epochs}`);
  if (o.channelMultiple !== undefined && !(Number.isInteger(o.channelMultiple) && o.channelMultiple >= 1)) throw new TrainferError(`--channel-multiple must be a positive integer, got ${o.channelMultiple}`);
  if (o.importance === 'taylor' && !o.data) throw new TrainferError('--importance taylor needs --data (gradients of the loss)');
  if (resolve(o.input) === resolve(o.out)) throw new TrainferError(`--out must differ from the input (${o.input} is never modified)`);
}

/** Writes `model` verified on a real batch of `table` (or synthetic feeds without data). */
async function writeChecked(path: string, model: Model, table: Table | undefined): Promise<void> {
  let feeds: Record<string, Tensor> | undefined;
  if (table) {
    try {
      feeds = sampleBatch(model, table);
    } catch {
      feeds = undefined; // a model whose metadata the data does not fit: synthetic feeds still prove it runs
    }
  }
  await writeModelVerified({ path, model, feeds: feeds ?? sampleFeeds({ model, dims: { batch: 2 } }) });
}

/**
 * Prunes a model file.
 *
 * @example
 * const r = await pruneModel({ input: 'cnn.onnx', out: 'cnn-half.onnx', data: 'mnist', sparsity: 0.5, structured: true, epochs: 1 });
 * console.log(r.accuracy, r.report.flops);
 */
export async function pruneModel(o: PruneOptions): Promise<PruneResult> {
  const t0 = performance.now();
  checkPruneOptions(o);
  const model = readModel(o.input);
  const seed = o.seed ?? 0;
  const splits = o.data ? loadSplits(o.data, seed) : undefined;
  const before = splits ? await scoreModel({ model, data: splits.test, target: o.target, name: o.input, threads: o.threads }) : undefined;
  const epochs = o.data ? o.epochs : 0;
  const fineTuning = !!o.data && epochs !== 0;
  const job = { data: o.data!, epochs, lr: o.lr, optimizer: o.optimizer, batchSize: o.batchSize, maxSteps: o.maxSteps, seed, target: o.target, threads: o.threads, progress: o.progress ?? 'none', out: o.out } as const;
  let result: Pick<PruneResult, 'kind' | 'schedule' | 'groups' | 'fineTune'> & { pruned?: number };
  if (o.structured) {
    const sp = structuredPrune({ model, sparsity: o.sparsity, importance: o.importance === 'taylor' ? 'l1' : o.importance, scope: o.scope, channelMultiple: o.channelMultiple, allowLossy: o.allowLossy, name: o.input });
    const pruned = splits ? (await scoreModel({ model: sp.model, data: splits.test, target: o.target, name: o.input, threads: o.threads })).accuracy : undefined;
    result = { kind: 'structured', groups: sp.groups, pruned };
    if (fineTuning) {
      const dir = mkdtempSync(join(tmpdir(), 'trainfer-prune-'));
      try {
        const tmp = join(dir, `${basename(o.input, '.onnx')}-pruned.onnx`);
        await writeChecked(tmp, sp.model, splits?.test);
        const r = await runTrainJob({ ...job, model: tmp });
        result.fineTune = { epochs: r.epochs, steps: r.steps, seconds: r.trainSeconds, samplesPerSecond: r.samplesPerSecond };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    } else await writeChecked(o.out, sp.model, splits?.test);
  } else {
    const names = prunableWeights(model).map((w) => w.name);
    if (!names.length) throw new TrainferError(`${o.input}: nothing to prune: no Conv, Gemm or MatMul weights`);
    const schedule = o.schedule ?? (fineTuning ? 'gradual' : 'oneshot');
    if (fineTuning) {
      const pruning = new MagnitudePruning({ params: names, sparsity: o.sparsity, schedule, scope: o.scope });
      const r = await runTrainJob({ ...job, model: o.input, extensions: [pruning] });
      result = { kind: 'unstructured', schedule: pruning.schedule(), fineTune: { epochs: r.epochs, steps: r.steps, seconds: r.trainSeconds, samplesPerSecond: r.samplesPerSecond } };
    } else {
      const masks = magnitudeMasks({ weights: model.graph.initializers, names, sparsity: o.sparsity, scope: o.scope });
      const g = model.graph;
      const copy = readModel(o.input);
      for (const [name, m] of masks) {
        const w = g.initializers.get(name)!;
        copy.graph.initializers.set(name, new Tensor(w.dtype, w.dims, Float32Array.from(w.data as Float32Array, (v, i) => v * m[i]!)));
      }
      await writeChecked(o.out, copy, splits?.test);
      result = { kind: 'unstructured', schedule: { kind: 'oneshot', initial: o.sparsity, final: o.sparsity, begin: 0, end: 0, frequency: 1 } };
    }
  }
  const written = readModel(o.out);
  const after = splits ? await scoreModel({ model: written, data: splits.test, target: o.target, name: o.out, threads: o.threads }) : undefined;
  const { pruned, ...rest } = result;
  return {
    input: o.input,
    out: o.out,
    sparsity: o.sparsity,
    ...rest,
    sizes: { input: fileBytes(o.input), output: fileBytes(o.out) },
    ...(before && after ? { accuracy: { before: before.accuracy, ...(pruned !== undefined && fineTuning ? { pruned } : {}), after: after.accuracy }, loss: { before: before.loss, after: after.loss } } : {}),
    report: sparsityReport({ before: model, after: written, kind: result.kind }),
    seconds: (performance.now() - t0) / 1000,
  };
}
