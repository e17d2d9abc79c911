/**
 * `trainfer eval` for recommender models (called from eval.ts when the model carries `trainfer.recsys`
 * metadata). Retrieval models (mf, two-tower): the held-out interactions of `--data` ranked against
 * every unseen item — recall@K, NDCG@K, hit rate, MRR, AUC — beside the popularity baseline and, on
 * synthetic data, the planted-factor oracle. `--data` equal to the training source is split as in
 * training (its test split; training items excluded); another file's rows are all test pairs, with the
 * training source's interactions as the seen items when it can be read. DLRM rankers: ROC-AUC and log
 * loss on CTR rows built the same way, beside the oracle's AUC.
 */
import { existsSync } from 'node:fs';
import type { Model } from '../onnx/ir.js';
import { TrainferError } from '../util/errors.js';
import { ctrTable, userCounts } from '../data/ctr.js';
import { itemCounts, readInteractions } from '../data/interactions.js';
import { readTrainfer } from '../train/export.js';
import { evaluate } from '../train/evaluate.js';
import { modelHeads } from '../train/onnx-trainable.js';
import { evaluateRetrieval, readRecsysMetadata } from '../train/ranking-eval.js';
import { loadRecsysData } from '../train/recsys-data.js';
import type { SplitSpec } from '../data/interaction-splits.js';

/** The eval flags a recommender evaluation reads. */
export interface RecsysEvalFlags {
  data: string;
  k?: string;
  evalUsers?: number;
  split?: string;
  threads?: number;
  json?: boolean;
}

/** True when the model is one of trainfer's recommenders. */
export function isRecommenderModel(model: Model): boolean {
  return readRecsysMetadata(model) !== undefined;
}

/** A recommender's quality on `--data`: a DLRM's CTR metrics, or a retrieval model's ranking evaluation. */
export type RecommenderQuality =
  | { kind: 'dlrm'; metrics: Record<string, number>; rows: number }
  | { kind: 'retrieval'; result: Awaited<ReturnType<typeof evaluateRetrieval>> };

/**
 * Evaluates a recommender model (`trainfer eval`'s numbers, also `trainfer quantize --embeddings`'s
 * before/after): DLRM rankers by ROC-AUC and log loss on CTR rows, retrieval models by recall@K etc.
 */
export async function evaluateRecommender(file: string, model: Model, f: Omit<RecsysEvalFlags, 'json'>): Promise<RecommenderQuality> {
  const md = readRecsysMetadata(model);
  if (!md) throw new TrainferError(`${file}: not a trainfer recommender (no 'trainfer.recsys' metadata)`);
  const ks = f.k ? f.k.split(',').map((s) => Number(s.trim())) : undefined;
  if (ks?.some((k) => !(Number.isInteger(k) && k > 0))) throw new TrainferError(`--k must be positive integers, e.g. 10 or 10,50; got '${f.k}'`);
  const trained = typeof md.data === 'string' ? md.data : undefined;
  const split = (f.split ?? md.split) as string | SplitSpec | undefined;
  const same = f.data === trained;
  if (md.kind === 'dlrm') {
    const data = loadRecsysData({ data: f.data, split });
    const ic = itemCounts(data.splits.train);
    const rows = ctrTable(data.splits.test, { negatives: typeof md.negatives === 'number' ? md.negatives : 4, itemCounts: ic, userCounts: userCounts(data.splits.train), seed: typeof md.ctrSeed === 'number' ? md.ctrSeed : 12 });
    const tm = readTrainfer(model.metadata);
    const heads = modelHeads(model, { outputs: tm.heads?.map((h) => h.name) ?? ['click'], task: 'binary' });
    const feeds = Object.fromEntries((tm.inputs ?? []).map((i) => [i.name, { columns: i.columns }]));
    const r = await evaluate({ model, heads, losses: [{ loss: { type: 'bce' } }], data: rows, target: 'click', feeds, threads: f.threads, modelName: file });
    return { kind: 'dlrm', metrics: r.metrics, rows: r.count };
  }
  if (same || !existsSync(f.data)) {
    const data = loadRecsysData({ data: f.data, split });
    const { train, validation, test } = data.splits;
    return { kind: 'retrieval', result: await evaluateRetrieval({ model, seen: validation ? [train, validation] : [train], test, oracle: data.oracle, ks, maxUsers: f.evalUsers ?? 20_000, threads: f.threads, modelName: file }) };
  }
  const ids = { userIds: md.userIds, itemIds: md.itemIds, unknown: 'skip' as const };
  const test = readInteractions(f.data, ids);
  const seen = trained && existsSync(trained) ? [readInteractions(trained, ids)] : [];
  return { kind: 'retrieval', result: await evaluateRetrieval({ model, seen, test, ks, maxUsers: f.evalUsers ?? 20_000, threads: f.threads, modelName: file }) };
}

/** Evaluates a recommender model and prints the result. */
export async function runRecsysEval(file: string, model: Model, f: RecsysEvalFlags): Promise<void> {
  const md = readRecsysMetadata(model)!;
  const ks = f.k ? f.k.split(',').map((s) => Number(s.trim())) : undefined;
  const pct = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? 'n/a' : `${(x * 100).toFixed(2)}%`);
  const q = await evaluateRecommender(file, model, f);
  if (q.kind === 'dlrm') {
    const m = q.metrics;
    if (f.json) return void process.stdout.write(`${JSON.stringify({ model: file, data: f.data, kind: 'dlrm', metrics: m, rows: q.rows })}\n`);
    console.log(`${file} on ${f.data} (dlrm, ${q.rows.toLocaleString('en-US')} CTR rows): ROC-AUC ${m.auc!.toFixed(4)}, log loss ${m.log_loss!.toFixed(4)}, accuracy ${pct(m.accuracy)}`);
    return;
  }
  const result = q.result;
  if (f.json) return void process.stdout.write(`${JSON.stringify({ ...result, file, data: f.data, kind: md.kind })}\n`);
  const line = (who: string, m: Record<string, number>) => `  ${who.padEnd(10)} ${Object.entries(m).filter(([k]) => k !== 'users').map(([k, v]) => `${k} ${k.startsWith('recall') || k.startsWith('hit') ? pct(v) : v.toFixed(4)}`).join('  ')}`;
  console.log(`${file} on ${f.data} (${md.kind}): ${result.users.toLocaleString('en-US')} users, ${result.pairs.toLocaleString('en-US')} held-out interactions ranked against every unseen item${result.skippedSeen ? ` (${result.skippedSeen} already seen in training, skipped)` : ''}`);
  console.log(line('model', result.model));
  console.log(line('popularity', result.popularity));
  if (result.oracle) console.log(`${line('oracle', result.oracle)}\n  model/oracle recall@${(ks ?? [10])[0]}: ${((result.model[`recall@${(ks ?? [10])[0]}`]! / result.oracle[`recall@${(ks ?? [10])[0]}`]!) * 100).toFixed(1)}%`);
  if (result.estimable) console.log(`${line('estimable', result.estimable)}\n  (the oracle's item factors with each user's estimated from their training items — the most the data can tell — reaches ${((result.estimable[`recall@${(ks ?? [10])[0]}`]! / result.oracle![`recall@${(ks ?? [10])[0]}`]!) * 100).toFixed(1)}% of the oracle)`);
}
