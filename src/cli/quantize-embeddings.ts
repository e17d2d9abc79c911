/**
 * `trainfer quantize <in.onnx> --out <out.onnx> --embeddings int8|fp16`: a model's embedding tables
 * (and a retrieval model's item catalog) stored row-wise int8 — one scale per row, fp16 by default
 * (`--scale fp32` for the old layout) — or fp16, everything else untouched. The output is written only
 * once onnxruntime has loaded and run it; the report lists each table's bytes before and after, the file
 * sizes, and with `--data` (a recommender's interactions) the quality effect: recall@10 / NDCG@10 of a
 * retrieval model, ROC-AUC / log loss of a DLRM ranker, before and after.
 */
import { statSync } from 'node:fs';
import { quantizeEmbeddingTables, type TableReport } from '../compress/embedding-tables.js';
import type { Model } from '../onnx/ir.js';
import { readModel } from '../onnx/model-io.js';
import { Tensor } from '../onnx/tensor.js';
import { writeModelVerified } from '../runtime/verified-write.js';
import { TrainferError } from '../util/errors.js';
import { isRetrievalModel } from '../serve/retrieval.js';
import { evaluateRecommender, isRecommenderModel } from './eval-recsys.js';

/** What `--embeddings` reads. */
export interface EmbeddingQuantizeFlags {
  out: string;
  embeddings: string;
  scale?: string;
  data?: string;
  evalSize?: number;
  threads?: number;
  json?: boolean;
}

/** One quality metric before and after. */
interface QualityRow {
  metric: string;
  before: number;
  after: number;
  relative: number;
}

/** Runs `quantize --embeddings`. */
export async function runQuantizeEmbeddings(input: string, f: EmbeddingQuantizeFlags): Promise<void> {
  if (f.embeddings !== 'int8' && f.embeddings !== 'fp16') throw new TrainferError(`--embeddings must be int8 or fp16, got '${f.embeddings}'`);
  const scale = f.scale ?? 'fp16';
  if (scale !== 'fp16' && scale !== 'fp32') throw new TrainferError(`--scale must be fp16 or fp32, got '${scale}'`);
  if (f.scale !== undefined && f.embeddings !== 'int8') throw new TrainferError('--scale applies to --embeddings int8 only');
  const model = readModel(input);
  const { model: small, tables } = quantizeEmbeddingTables(model, { dtype: f.embeddings, scale });
  const inputs = model.graph.inputs.map((i) => i.name);
  // A retrieval model is checked on a real query (a known user, nothing excluded); others on synthetic feeds.
  const feeds = isRetrievalModel({ metadata: model.metadata, inputs }) ? { user: Tensor.i64([1, 1], [0]), exclude: Tensor.i64([1, 1], [-1]) } : undefined;
  await writeModelVerified({ path: f.out, model: small, feeds });
  const quality = f.data ? await qualityRows(input, model, small, f) : undefined;
  const before = statSync(input).size;
  const after = statSync(f.out).size;
  const tb = tables.reduce((s, t) => s + t.bytesBefore, 0);
  const ta = tables.reduce((s, t) => s + t.bytesAfter, 0);
  if (f.json) {
    process.stdout.write(`${JSON.stringify({ input, output: f.out, embeddings: f.embeddings, ...(f.embeddings === 'int8' ? { scale } : {}), tables, tableBytes: { before: tb, after: ta, ratio: tb / ta }, fileBytes: { before, after, ratio: before / after }, ...(quality ? { data: f.data, quality } : {}) }, null, 2)}\n`);
    return;
  }
  console.log(format(input, f, scale, tables, { tb, ta, before, after }, quality));
}

async function qualityRows(input: string, base: Model, small: Model, f: EmbeddingQuantizeFlags): Promise<QualityRow[]> {
  if (!isRecommenderModel(base)) throw new TrainferError(`--data measures recommenders (models trainfer train --model mf|two-tower|dlrm wrote); ${input} is not one`);
  const o = { data: f.data!, evalUsers: f.evalSize, threads: f.threads };
  const [a, b] = [await evaluateRecommender(input, base, o), await evaluateRecommender(f.out, small, o)];
  const pick = (q: typeof a): Record<string, number> => (q.kind === 'dlrm' ? { auc: q.metrics.auc!, log_loss: q.metrics.log_loss! } : { 'recall@10': q.result.model['recall@10']!, 'ndcg@10': q.result.model['ndcg@10']! });
  const x = pick(a);
  const y = pick(b);
  return Object.keys(x).map((metric) => ({ metric, before: x[metric]!, after: y[metric]!, relative: (y[metric]! - x[metric]!) / x[metric]! }));
}

function format(input: string, f: EmbeddingQuantizeFlags, scale: string, tables: TableReport[], s: { tb: number; ta: number; before: number; after: number }, quality: QualityRow[] | undefined): string {
  const mb = (b: number) => (b >= 1e6 ? `${(b / 1e6).toFixed(2)} MB` : b >= 1e3 ? `${(b / 1e3).toFixed(1)} kB` : `${b} B`);
  const what = f.embeddings === 'int8' ? `row-wise int8 (one ${scale} scale per row)` : 'fp16';
  const lines = [`${input} → ${f.out}: embedding tables ${what}; written after onnxruntime loaded and ran it`, ''];
  const w = Math.max(12, ...tables.map((t) => t.name.length));
  lines.push(`  ${'table'.padEnd(w)}  ${'rows × dim'.padStart(16)}  ${'fp32'.padStart(10)}  ${'after'.padStart(10)}  ratio`);
  for (const t of tables) lines.push(`  ${t.name.padEnd(w)}  ${`${t.rows.toLocaleString('en-US')} × ${t.dim}`.padStart(16)}  ${mb(t.bytesBefore).padStart(10)}  ${mb(t.bytesAfter).padStart(10)}  ${(t.bytesBefore / t.bytesAfter).toFixed(2)}×`);
  lines.push(`  ${'all tables'.padEnd(w)}  ${''.padStart(16)}  ${mb(s.tb).padStart(10)}  ${mb(s.ta).padStart(10)}  ${(s.tb / s.ta).toFixed(2)}×`);
  lines.push(`  ${'file'.padEnd(w)}  ${''.padStart(16)}  ${mb(s.before).padStart(10)}  ${mb(s.after).padStart(10)}  ${(s.before / s.after).toFixed(2)}×`);
  if (quality) {
    lines.push('', `  quality on ${f.data}:`);
    for (const q of quality) {
      const v = (x: number) => (q.metric.startsWith('recall') ? `${(x * 100).toFixed(2)}%` : x.toFixed(4));
      lines.push(`    ${q.metric.padEnd(10)} ${v(q.before)} → ${v(q.after)}  (${q.relative >= 0 ? '+' : '−'}${Math.abs(q.relative * 100).toFixed(2)}% relative)`);
    }
  }
  return lines.join('\n');
}
