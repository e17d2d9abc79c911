/**
 * A recommender training job as `trainfer train --model mf|two-tower` runs it: load and split the
 * interactions, build the retrieval model (side features from the data), train it with `fit` — its
 * loss as a custom loss, negatives and logQ from feed providers, the id tables updated sparsely by the
 * `SparseEmbeddings` extension — export the retrieval model (catalog baked in, verified), and rank the
 * held-out interactions with the exported file, the popularity baseline and, on synthetic data, the
 * planted-factor oracle.
 */
import { existsSync, statSync } from 'node:fs';
import type { OptimizerConfig } from '../autodiff/types.js';
import { readModel } from '../onnx/model-io.js';
import { TrainferError } from '../util/errors.js';
import type { FeedBinding } from '../data/feed-plan.js';
import { interactionTable, itemCounts } from '../data/interactions.js';
import { itemLogQ, negativeSampler } from '../data/negatives.js';
import { RETRIEVAL_LOSSES, type RetrievalLossName, needsNegatives, retrievalLoss } from '../nn/retrieval-losses.js';
import { RetrievalModel } from '../nn/retrieval.js';
import { fit, type FitResult } from './fit.js';
import { type RetrievalEvalResult, evaluateRetrieval } from './ranking-eval.js';
import { type InteractionJobOptions, loadRecsysData } from './recsys-data.js';
import { exportRetrieval } from './retrieval-export.js';
import { parseSchedule } from './schedule.js';
import { SparseEmbeddings } from './sparse-embeddings.js';
import { SPARSE_OPTIMIZERS } from './sparse-optimizers.js';
import type { TrainingExtension } from './extension.js';

/** Retrieval model presets. */
export const RETRIEVAL_PRESETS = ['mf', 'two-tower'] as const;

/** Options for `runRetrievalJob` (the flags of `trainfer train --model mf|two-tower`). */
export interface RetrievalJobOptions extends InteractionJobOptions {
  model: 'mf' | 'two-tower';
  /** `bpr` (mf default), `softmax` (two-tower default), `bce`, `mse` (ratings). */
  loss?: RetrievalLossName;
  /** Two-tower MLP hidden sizes. */
  hidden?: readonly number[];
  score?: 'dot' | 'cosine';
  temperature?: number;
  /** Sampled negatives per positive (bpr, bce; default 4). */
  negatives?: number;
  negativeSampling?: 'uniform' | 'popularity';
  /** Dense parameters (MLPs, global bias): `adam` (default) or `sgd`. */
  optimizer?: 'sgd' | 'adam' | 'adamw';
  /** L2 on the embedding rows a step touches (sparse optimizers only; default 1e-4 for two-tower, 0 for mf). */
  sparseWeightDecay?: number;
  /** K of the exported model's TopK (default 100). */
  topK?: number;
  /** Users to evaluate (seeded sample; default all, at most 20,000). */
  evalUsers?: number;
  ks?: readonly number[];
}

/** What `trainfer train --model mf|two-tower --json` prints. */
export interface RetrievalJobResult {
  model: string;
  data: string;
  out: string;
  loss: string;
  users: number;
  items: number;
  trainInteractions: number;
  testInteractions: number;
  parameters: number;
  sparse: string;
  epochs: number;
  steps: number;
  trainSeconds: number;
  samplesPerSecond: number;
  finalLoss: number;
  eval: RetrievalEvalResult;
  history: FitResult['history'];
}

/** Option checks before any data is read. */
export function checkRetrievalOptions(o: RetrievalJobOptions): void {
  if (!(RETRIEVAL_PRESETS as readonly string[]).includes(o.model)) throw new TrainferError(`--model ${o.model}: expected ${RETRIEVAL_PRESETS.join(', ')} (or dlrm)`);
  if (o.loss !== undefined && !(RETRIEVAL_LOSSES as readonly string[]).includes(o.loss)) throw new TrainferError(`--loss ${o.loss}: a retrieval model trains with ${RETRIEVAL_LOSSES.join(', ')}`);
  if (o.loss === 'softmax' && o.model === 'mf') throw new TrainferError('--loss softmax needs user and item vectors without biases: use it with --model two-tower (mf trains with bpr, bce or mse)');
  const posInt = (flag: string, v: number | undefined) => {
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw new TrainferError(`${flag} must be a positive integer, got ${v}`);
  };
  posInt('--dim', o.dim);
  posInt('--negatives', o.negatives);
  posInt('--epochs', o.epochs);
  posInt('--batch-size', o.batchSize);
  posInt('--eval-users', o.evalUsers);
  posInt('--top-k', o.topK);
  for (const [flag, v] of [['--lr', o.lr], ['--sparse-lr', o.sparseLr], ['--temperature', o.temperature]] as const) {
    if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new TrainferError(`${flag} must be a positive number, got ${v}`);
  }
  if (o.sparseWeightDecay !== undefined && !(Number.isFinite(o.sparseWeightDecay) && o.sparseWeightDecay >= 0)) throw new TrainferError(`--sparse-weight-decay must be a number ≥ 0, got ${o.sparseWeightDecay}`);
  if (o.sparseOptimizer !== undefined && o.sparseOptimizer !== 'dense' && !(SPARSE_OPTIMIZERS as readonly string[]).includes(o.sparseOptimizer)) {
    throw new TrainferError(`--sparse-optimizer must be ${SPARSE_OPTIMIZERS.join(', ')} or dense, got '${o.sparseOptimizer}'`);
  }
  if (o.resume && !o.checkpointDir) throw new TrainferError('--resume needs --checkpoint-dir (the directory holding checkpoint.trainfer)');
  if (o.schedule) parseSchedule(o.schedule);
  if (o.out && existsSync(o.out) && statSync(o.out).isDirectory()) throw new TrainferError(`--out ${o.out}: is a directory`);
}

/** Default settings per preset (measured on synthetic data; docs/recommenders.md). */
export function retrievalDefaults(model: 'mf' | 'two-tower'): { loss: RetrievalLossName; dim: number; epochs: number; batchSize: number; lr: number; sparseLr: number; sparseWeightDecay: number } {
  // two-tower on synthetic 100k × 50k (docs/recommenders.md): one epoch ranks better than four (the user
  // rows, ~20 interactions each, overfit), and L2 1e-4 on the touched rows adds about a point.
  return model === 'mf'
    ? { loss: 'bpr', dim: 32, epochs: 10, batchSize: 1024, lr: 0.01, sparseLr: 0.1, sparseWeightDecay: 0 }
    : { loss: 'softmax', dim: 64, epochs: 1, batchSize: 1024, lr: 0.002, sparseLr: 0.1, sparseWeightDecay: 1e-4 };
}

/** Trains, exports and evaluates a retrieval model. Nothing is written unless training succeeds and the file loads and runs. */
export async function runRetrievalJob(o: RetrievalJobOptions): Promise<RetrievalJobResult> {
  checkRetrievalOptions(o);
  const say = (line: string) => { if (o.progress !== 'none' && typeof o.progress !== 'object') process.stderr.write(`${line}\n`); };
  const d = retrievalDefaults(o.model);
  const data = loadRecsysData({ data: o.data, split: o.split });
  const { train, validation, test } = data.splits;
  const seen = validation ? [train, validation] : [train];
  const lossName = o.loss ?? d.loss;
  const counts = itemCounts(train);
  const negatives = needsNegatives(lossName) ? (o.negatives ?? 4) : 0;
  const model = new RetrievalModel({
    kind: o.model, users: data.all.users, items: data.all.items, dim: o.dim ?? d.dim, hidden: o.hidden, score: o.score,
    userFeatures: o.model === 'two-tower' ? data.all.userFeatures.map((f) => ({ name: f.name, values: f.values, categories: f.vocabulary.length })) : [],
    itemFeatures: o.model === 'two-tower' ? data.all.itemFeatures.map((f) => ({ name: f.name, values: f.values, categories: f.vocabulary.length })) : [],
    negatives, popularity: counts, seed: o.seed ?? 0, name: o.model.replace('-', '_'),
  });
  const loss = retrievalLoss(lossName, { temperature: o.temperature ?? (o.score === 'cosine' ? 0.05 : undefined) });
  const feeds: Record<string, FeedBinding> = { user: { columns: ['user'] }, item: { columns: ['item'] } };
  if (negatives) feeds.neg_item = { provider: negativeSampler({ items: data.all.items, distribution: o.negativeSampling ?? 'uniform', counts, seed: (o.seed ?? 0) + 1 }) };
  if (lossName === 'softmax') feeds.item_logq = { provider: itemLogQ({ counts }) };
  if (lossName === 'mse') {
    if (data.all.labelKind !== 'rating') throw new TrainferError(`--loss mse fits explicit ratings; ${o.data} has ${data.all.labelKind} feedback (use bpr, bce or softmax)`);
    feeds.rating = { columns: ['label'] };
  }
  const sparseOpt = o.sparseOptimizer ?? 'rowwise-adagrad';
  const sparse = sparseOpt === 'dense' ? undefined : new SparseEmbeddings({ optimizer: { type: sparseOpt }, lr: o.sparseLr ?? d.sparseLr, weightDecay: o.sparseWeightDecay ?? d.sparseWeightDecay });
  const extensions: TrainingExtension[] = sparse ? [sparse] : [];
  const batchSize = o.batchSize ?? Math.min(d.batchSize, Math.max(32, 2 ** Math.floor(Math.log2(Math.max(32, train.count / 50)))));
  const optimizer: OptimizerConfig = o.optimizer === 'sgd' ? { type: 'sgd', momentum: 0.9 } : { type: o.optimizer ?? 'adam' };
  const epochs = o.epochs ?? d.epochs;
  const n = (x: number) => x.toLocaleString('en-US');
  say(`training ${o.model} (${n(model.parameterCount())} parameters) on ${data.source}: ${n(data.all.users)} users × ${n(data.all.items)} items, ${n(train.count)} train / ${n(validation?.count ?? 0)} validation / ${n(test.count)} test interactions (${data.split.type}); loss ${lossName}${negatives ? ` with ${negatives} ${o.negativeSampling ?? 'uniform'} negatives` : ''}; batch ${batchSize}, ${epochs} epochs`);
  const table = interactionTable(train);
  const r = await fit({
    model, train: table, feeds, losses: [{ loss }], epochs, batchSize, optimizer, lr: o.lr ?? d.lr,
    schedule: o.schedule ? parseSchedule(o.schedule) : { type: 'constant' }, seed: o.seed ?? 0, extensions,
    checkpointDir: o.checkpointDir, checkpointEverySteps: o.checkpointEverySteps, resume: o.resume, overwrite: o.overwrite,
    maxSteps: o.maxSteps, threads: o.threads, progress: o.progress, signal: o.signal,
  });
  if (sparse) say(`sparse embeddings: ${sparse.describe()}`);
  const out = o.out ?? `${model.name}.onnx`;
  await exportRetrieval({ path: out, model, weights: r.weights, userIds: data.all.userIds, itemIds: data.all.itemIds, info: { data: data.source, split: data.split, loss: lossName }, topK: o.topK, threads: o.threads });
  const ev = await evaluateRetrieval({ model: readModel(out), seen, test, oracle: data.oracle, ks: o.ks, maxUsers: o.evalUsers ?? 20_000, seed: o.seed ?? 0, threads: o.threads, modelName: out });
  const last = r.history[r.history.length - 1];
  return {
    model: o.model, data: data.source, out, loss: lossName, users: data.all.users, items: data.all.items,
    trainInteractions: train.count, testInteractions: test.count, parameters: model.parameterCount(), sparse: sparse?.describe() ?? 'dense',
    epochs: r.epochs, steps: r.steps, trainSeconds: r.trainSeconds, samplesPerSecond: r.samplesPerSecond, finalLoss: last?.loss ?? NaN, eval: ev, history: r.history,
  };
}
