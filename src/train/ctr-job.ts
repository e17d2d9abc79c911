/**
 * A click-through ranker job as `trainfer train --model dlrm` runs it: interactions split like the
 * retrieval job's, turned into CTR rows (ctr.ts: sampled negatives for implicit feedback, fixed with a
 * seed), a DLRM built for the columns (dense: user activity, item popularity; sparse: user, item and
 * every side feature), trained with BCE by `fit` (tables updated sparsely), exported as a plain ONNX
 * classifier through `writeModelVerified` (served through OIP with dynamic batching like any model),
 * and scored on the test rows (ROC-AUC, log loss) — beside the planted-factor oracle's AUC on
 * synthetic data.
 */
import type { OptimizerConfig } from '../autodiff/types.js';
import { readModel } from '../onnx/model-io.js';
import { TrainferError } from '../util/errors.js';
import { ctrTable, userCounts } from '../data/ctr.js';
import type { FeedBinding } from '../data/feed-plan.js';
import { itemCounts } from '../data/interactions.js';
import { columnStats, getColumn, type Table } from '../data/table.js';
import { buildDlrm, guardSparseIds } from '../nn/dlrm.js';
import { rankingMetrics } from './metrics.js';
import { evaluate } from './evaluate.js';
import { annotateModel, exportModel } from './export.js';
import { fit, type FitResult } from './fit.js';
import { type InteractionJobOptions, loadRecsysData } from './recsys-data.js';
import { parseSchedule } from './schedule.js';
import { SparseEmbeddings } from './sparse-embeddings.js';

/** Options for `runCtrJob`. */
export interface CtrJobOptions extends InteractionJobOptions {
  /** Embedding width (default 16). */
  dim?: number;
  /** Sampled negatives per positive (implicit feedback; default 4). */
  negatives?: number;
}

/** What `trainfer train --model dlrm --json` prints. */
export interface CtrJobResult {
  model: 'dlrm';
  data: string;
  out: string;
  trainRows: number;
  testRows: number;
  parameters: number;
  sparse: string;
  epochs: number;
  steps: number;
  trainSeconds: number;
  samplesPerSecond: number;
  testMetrics: Record<string, number>;
  /** Synthetic data: the planted model's ROC-AUC on the same test rows. */
  oracleAuc?: number;
  history: FitResult['history'];
}

/** Trains, exports and scores a DLRM ranker. */
export async function runCtrJob(o: CtrJobOptions): Promise<CtrJobResult> {
  for (const [flag, v] of [['--dim', o.dim], ['--epochs', o.epochs], ['--batch-size', o.batchSize]] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw new TrainferError(`${flag} must be a positive integer, got ${v}`);
  }
  if (o.negatives !== undefined && !(Number.isInteger(o.negatives) && o.negatives > 0)) throw new TrainferError(`--negatives must be a positive integer, got ${o.negatives}`);
  const say = (line: string) => { if (o.progress !== 'none' && typeof o.progress !== 'object') process.stderr.write(`${line}\n`); };
  const data = loadRecsysData({ data: o.data, split: o.split });
  const { train, test } = data.splits;
  const ic = itemCounts(train);
  const uc = userCounts(train);
  const seed = o.seed ?? 0;
  const neg = o.negatives ?? 4;
  const trainRows = ctrTable(train, { negatives: neg, itemCounts: ic, userCounts: uc, seed: seed + 11 });
  const testRows = ctrTable(test, { negatives: neg, itemCounts: ic, userCounts: uc, seed: seed + 12 });
  const denseCols = ['user_activity', 'item_popularity'];
  const sparseCols = trainRows.columns.filter((c) => c.dtype === 'int64').map((c) => c.name);
  const stats = denseCols.map((c) => columnStats(getColumn(trainRows, c), trainRows.count));
  const net = buildDlrm({
    dense: denseCols.length,
    normalize: { mean: stats.map((s) => Math.fround(s.mean[0]!)), std: stats.map((s) => Math.fround(s.std[0]!)) },
    sparse: sparseCols.map((c) => ({ name: c, categories: c === 'user' ? data.all.users : c === 'item' ? data.all.items : getColumn(trainRows, c).vocabulary!.length })),
    dim: o.dim, seed,
  });
  const feeds: Record<string, FeedBinding> = { dense: { columns: denseCols }, ...Object.fromEntries(sparseCols.map((c) => [c, { columns: [c] }])) };
  const sparseOpt = o.sparseOptimizer ?? 'rowwise-adagrad';
  const sparse = sparseOpt === 'dense' ? undefined : new SparseEmbeddings({ optimizer: { type: sparseOpt }, lr: o.sparseLr ?? 0.05 });
  const batchSize = o.batchSize ?? 1024;
  if (batchSize > trainRows.count) throw new TrainferError(`--batch-size ${batchSize} is larger than the ${trainRows.count} training rows of ${o.data}`);
  const optimizer: OptimizerConfig = o.optimizer === 'sgd' ? { type: 'sgd', momentum: 0.9 } : { type: o.optimizer ?? 'adam' };
  const epochs = o.epochs ?? 5;
  const n = (x: number) => x.toLocaleString('en-US');
  say(`training dlrm (${n(net.parameterCount())} parameters) on ${data.source}: ${n(trainRows.count)} train / ${n(testRows.count)} test CTR rows; dense ${denseCols.join(', ')}; sparse ${sparseCols.join(', ')}; batch ${batchSize}, ${epochs} epochs`);
  const loss = { type: 'bce' as const };
  const r = await fit({
    model: net, train: trainRows, target: 'click', feeds, loss, epochs, batchSize, optimizer, lr: o.lr ?? 0.002,
    schedule: o.schedule ? parseSchedule(o.schedule) : { type: 'constant' }, seed, extensions: sparse ? [sparse] : [],
    checkpointDir: o.checkpointDir, checkpointEverySteps: o.checkpointEverySteps, resume: o.resume, overwrite: o.overwrite,
    maxSteps: o.maxSteps, threads: o.threads, progress: o.progress, signal: o.signal,
  });
  const out = o.out ?? 'dlrm.onnx';
  const fields = sparseCols.map((c) => ({ name: c, categories: c === 'user' ? data.all.users : c === 'item' ? data.all.items : getColumn(trainRows, c).vocabulary!.length }));
  const exported = annotateModel(guardSparseIds(net.inferenceGraph({ weights: r.weights }), fields), { heads: net.heads, losses: [{ loss }], targets: { click: ['click'] }, table: trainRows, inputs: feeds });
  exported.metadata.set('trainfer.recsys', JSON.stringify({ kind: 'dlrm', users: data.all.users, items: data.all.items, data: data.source, split: data.split, negatives: neg, ctrSeed: seed + 12, userIds: data.all.userIds, itemIds: data.all.itemIds }));
  await exportModel({ path: out, model: exported, table: testRows, inputs: feeds, exclude: ['click'] });
  const ev = await evaluate({ model: readModel(out), heads: net.heads, losses: [{ loss }], data: testRows, target: 'click', feeds, threads: o.threads, modelName: out });
  return {
    model: 'dlrm', data: data.source, out, trainRows: trainRows.count, testRows: testRows.count, parameters: net.parameterCount(),
    sparse: sparse?.describe() ?? 'dense', epochs: r.epochs, steps: r.steps, trainSeconds: r.trainSeconds, samplesPerSecond: r.samplesPerSecond,
    testMetrics: ev.metrics, ...(data.oracle ? { oracleAuc: oracleAuc(testRows, data.oracle, ic) } : {}), history: r.history,
  };
}

/** The planted model's AUC on CTR rows: its likelihood ratio p(item | user) / q_neg(item). */
function oracleAuc(t: Table, oracle: NonNullable<ReturnType<typeof loadRecsysData>['oracle']>, counts: ArrayLike<number>): number {
  const users = getColumn(t, 'user').data as BigInt64Array;
  const items = getColumn(t, 'item').data as BigInt64Array;
  const click = getColumn(t, 'click').data as Float32Array;
  const scores = new Float32Array(t.count);
  const buf = new Float32Array(oracle.spec.items);
  let last = -1;
  for (let r = 0; r < t.count; r++) {
    const u = Number(users[r]!);
    if (u !== last) {
      oracle.scores(u, buf);
      last = u;
    }
    const j = Number(items[r]!);
    scores[r] = Math.log(buf[j]! + 1e-30) - 0.75 * Math.log(counts[j]! + 1);
  }
  return rankingMetrics(scores, click).auc;
}
