/**
 * `trainfer train --model mf|two-tower|dlrm`: the recommender presets' part of `trainfer train` (called
 * from train.ts): maps the flags onto the retrieval or CTR job, refuses flags that do not apply, and
 * prints the ranking metrics beside the popularity baseline and (synthetic data) the oracle.
 */
import { runCtrJob } from '../train/ctr-job.js';
import { runRetrievalJob } from '../train/recsys-job.js';
import type { RetrievalLossName } from '../nn/retrieval-losses.js';
import type { ProgressMode } from '../train/progress.js';
import type { SparseOptimizerConfig } from '../train/sparse-optimizers.js';
import { TrainferError } from '../util/errors.js';

/** Recommender presets `trainfer train --model` takes. */
export const RECOMMENDER_PRESETS = ['mf', 'two-tower', 'dlrm'] as const;

/** True for `mf`, `two-tower`, `dlrm`. */
export function isRecommenderPreset(model: string): boolean {
  return (RECOMMENDER_PRESETS as readonly string[]).includes(model);
}

/** The flags of `trainfer train` a recommender job reads. */
export interface RecsysTrainFlags {
  model: string;
  data: string;
  out?: string;
  loss?: string;
  dim?: number;
  hidden?: string;
  score?: string;
  temperature?: number;
  negatives?: number;
  negativeSampling?: string;
  epochs?: number;
  batchSize?: number;
  optimizer?: string;
  lr?: number;
  sparseOptimizer?: string;
  sparseLr?: number;
  sparseWeightDecay?: number;
  schedule?: string;
  split?: string;
  seed?: number;
  evalUsers?: number;
  topK?: number;
  checkpointDir?: string;
  checkpointEvery?: number;
  resume?: boolean;
  overwrite?: boolean;
  maxSteps?: number;
  threads?: number;
  progress?: string;
  json?: boolean;
  [flag: string]: unknown;
}

/** Flags of `trainfer train` that only the other presets take. */
const NOT_FOR_RECOMMENDERS = ['target', 'labelColumn', 'task', 'inputs', 'exclude', 'columnType', 'stream', 'testData', 'limit', 'trainable', 'freeze', 'validationSplit', 'patience', 'monitor', 'labelSmoothing', 'classWeights', 'posWeight', 'huberDelta', 'device', 'momentum', 'weightDecay', 'clipGradNorm', 'metricsLog'];

/** Runs a recommender training job from `trainfer train` flags and prints its result. */
export async function runRecommenderTrain(f: RecsysTrainFlags, signal: AbortSignal): Promise<void> {
  for (const k of NOT_FOR_RECOMMENDERS) {
    if (f[k] !== undefined) throw new TrainferError(`--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} does not apply to --model ${f.model} (see docs/recommenders.md for its flags)`);
  }
  if (f.progress !== undefined && !['auto', 'bar', 'lines', 'none'].includes(f.progress)) throw new TrainferError(`--progress must be auto, bar, lines or none, got '${f.progress}'`);
  if (f.score !== undefined && f.score !== 'dot' && f.score !== 'cosine') throw new TrainferError(`--score must be dot or cosine, got '${f.score}'`);
  if (f.negativeSampling !== undefined && f.negativeSampling !== 'uniform' && f.negativeSampling !== 'popularity') throw new TrainferError(`--negative-sampling must be uniform or popularity, got '${f.negativeSampling}'`);
  if (f.optimizer !== undefined && !['sgd', 'adam', 'adamw'].includes(f.optimizer)) throw new TrainferError(`--optimizer must be sgd, adam or adamw, got '${f.optimizer}'`);
  const hidden = f.hidden?.split(',').map((s) => Number(s.trim()));
  if (hidden?.some((h) => !(Number.isInteger(h) && h > 0))) throw new TrainferError(`--hidden must be positive integers, e.g. 128 or 256,128; got '${f.hidden}'`);
  const progress = (f.progress as ProgressMode | undefined) ?? 'auto';
  const common = {
    data: f.data, out: f.out, dim: f.dim, negatives: f.negatives, epochs: f.epochs, batchSize: f.batchSize,
    optimizer: f.optimizer as 'sgd' | 'adam' | 'adamw' | undefined, lr: f.lr, sparseOptimizer: f.sparseOptimizer as SparseOptimizerConfig['type'] | 'dense' | undefined,
    sparseLr: f.sparseLr, sparseWeightDecay: f.sparseWeightDecay, schedule: f.schedule, split: f.split, seed: f.seed, checkpointDir: f.checkpointDir, checkpointEverySteps: f.checkpointEvery,
    resume: f.resume, overwrite: f.overwrite, maxSteps: f.maxSteps, threads: f.threads, progress, signal,
  };
  const pct = (x: number | undefined) => (x === undefined ? 'n/a' : `${(x * 100).toFixed(2)}%`);
  if (f.model === 'dlrm') {
    if (f.loss !== undefined && f.loss !== 'bce') throw new TrainferError(`--model dlrm trains with bce (click-through), not ${f.loss}`);
    for (const k of ['hidden', 'score', 'temperature', 'negativeSampling', 'evalUsers', 'topK'] as const) if (f[k] !== undefined) throw new TrainferError(`--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} applies to mf and two-tower, not dlrm`);
    const r = await runCtrJob(common);
    if (f.json) return void process.stdout.write(`${JSON.stringify(r)}\n`);
    const m = r.testMetrics;
    console.log(`dlrm on ${r.data}: test ROC-AUC ${m.auc!.toFixed(4)}, log loss ${m.log_loss!.toFixed(4)}, accuracy ${pct(m.accuracy)} over ${r.testRows.toLocaleString('en-US')} CTR rows${r.oracleAuc !== undefined ? `; planted-factor oracle ROC-AUC ${r.oracleAuc.toFixed(4)}` : ''}`);
    console.log(`trained in ${r.trainSeconds.toFixed(1)} s at ${Math.round(r.samplesPerSecond).toLocaleString('en-US')} samples/s; ${r.parameters.toLocaleString('en-US')} parameters; embeddings ${r.sparse}`);
    console.log(`wrote ${r.out}`);
    return;
  }
  const r = await runRetrievalJob({
    ...common, model: f.model as 'mf' | 'two-tower', loss: f.loss as RetrievalLossName | undefined, hidden, score: f.score as 'dot' | 'cosine' | undefined,
    temperature: f.temperature, negativeSampling: f.negativeSampling as 'uniform' | 'popularity' | undefined, evalUsers: f.evalUsers, topK: f.topK,
  });
  if (f.json) return void process.stdout.write(`${JSON.stringify(r)}\n`);
  const e = r.eval;
  const line = (who: string, m: Record<string, number>) => `  ${who.padEnd(10)} recall@10 ${pct(m['recall@10'])}  recall@50 ${pct(m['recall@50'])}  NDCG@10 ${(m['ndcg@10'] ?? NaN).toFixed(4)}  MRR ${(m.mrr ?? NaN).toFixed(4)}  AUC ${(m.auc ?? NaN).toFixed(4)}`;
  console.log(`${r.model} on ${r.data}: ${e.users.toLocaleString('en-US')} test users (held-out items ranked against every item they have not seen)`);
  console.log(line('model', e.model));
  console.log(line('popularity', e.popularity));
  if (e.oracle) console.log(`${line('oracle', e.oracle)}   (model/oracle recall@10: ${((e.model['recall@10']! / e.oracle['recall@10']!) * 100).toFixed(1)}%)`);
  if (e.estimable) console.log(`${line('estimable', e.estimable)}   (the oracle's item factors, each user's estimated from their training items: ${((e.estimable['recall@10']! / e.oracle!['recall@10']!) * 100).toFixed(1)}% of the oracle)`);
  console.log(`trained in ${r.trainSeconds.toFixed(1)} s at ${Math.round(r.samplesPerSecond).toLocaleString('en-US')} samples/s; ${r.parameters.toLocaleString('en-US')} parameters; embeddings ${r.sparse}`);
  console.log(`wrote ${r.out}`);
}
