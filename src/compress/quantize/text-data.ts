/**
 * Quantizing text models from the command line: a model that reads token ids (its `trainfer.text`
 * metadata, or a `tokenizer.json` beside the file) is calibrated on raw texts of a data argument
 * (`spam`, a .csv/.jsonl with a text column), tokenized by that tokenizer into every token input (ids,
 * attention mask, type ids); accuracy before and after is scored by the ordinary evaluator on the test
 * split; and the tokenizer is copied beside the written model, so the output serves raw text too.
 */
import { copyFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { tokenRole } from '../../data/text-feeds.js';
import { TextTokenizer } from '../../data/tokenizer.js';
import { type TextPreprocess, preprocessTexts } from '../../data/email-text.js';
import { loadTable } from '../../data/load.js';
import { type Table, getColumn, headRows } from '../../data/table.js';
import type { Model } from '../../onnx/ir.js';
import { Tensor } from '../../onnx/tensor.js';
import { TrainferError } from '../../util/errors.js';
import { evaluate } from '../../train/evaluate.js';
import { openTextFeedsFor, readTextRecord, textColumn } from '../../train/job-text.js';

/** A model that reads text through a tokenizer. */
export interface TextModel {
  tokenizerPath: string;
  /** The text column it was trained on (from its metadata), if recorded. */
  column?: string;
  maxLength: number;
  /** The token inputs' symbolic sequence dim (e.g. `sequence`). */
  sequenceDim?: string;
  /** The text preparation it was trained with (from its metadata; absent: none). */
  preprocess?: TextPreprocess;
}

/** The model's tokenizer (metadata or `tokenizer.json` beside `file`); undefined for models that read no text. */
export function textModel(model: Model, file: string): TextModel | undefined {
  const rec = readTextRecord(model.metadata);
  const path = join(dirname(file), rec?.tokenizer ?? 'tokenizer.json');
  const inputs = model.graph.feedInputs();
  const tokenInputs = inputs.every((v) => v.type?.dtype === 'int64' || v.type?.dtype === 'int32');
  if (!existsSync(path) || !tokenInputs) {
    if (rec) throw new TrainferError(`${file}: its tokenizer ${path} is missing (a text model is quantized, scored and served with the tokenizer.json it was trained with)`);
    return undefined;
  }
  const tok = TextTokenizer.load(path, { maxLength: rec?.maxLength });
  const dim = inputs[0]?.type?.shape?.[1];
  return { tokenizerPath: path, column: rec?.column, maxLength: tok.maxLength, sequenceDim: typeof dim === 'string' ? dim : undefined, ...(rec?.preprocess ? { preprocess: rec.preprocess } : {}) };
}

/** The split of a data argument (`spam`, a .csv/.jsonl) as a table, first `limit` rows. */
export function textTable(source: string, split: 'train' | 'test', limit?: number): Table {
  const s = loadTable({ source, validationSplit: 0, seed: 0 });
  const t = split === 'train' ? s.train : s.test;
  if (!t) throw new TrainferError(`${source}: no ${split} split`);
  return limit === undefined ? t : headRows(t, Math.min(limit, t.count));
}

/** Tokenized calibration batches (64 rows each) of the table's text column after the model's recorded preparation, for every token input of `model`. */
export async function textBatches(o: { model: Model; text: TextModel; table: Table; batchSize?: number }): Promise<Record<string, Tensor>[]> {
  const column = o.text.column ?? textColumn(o.table, undefined);
  if (!column || !o.table.columns.some((c) => c.name === column)) throw new TrainferError(`${o.table.source}: no text column${o.text.column ? ` '${o.text.column}' (the column the model was trained on)` : ''} to calibrate on (columns: ${o.table.columns.map((c) => c.name).join(', ')})`);
  // The rows the model was trained on: its recorded preparation first (the `email` decoding for spam).
  const texts = await preprocessTexts(getColumn(o.table, column).data as string[], o.text.preprocess);
  const tok = TextTokenizer.load(o.text.tokenizerPath, { maxLength: o.text.maxLength });
  const inputs = o.model.graph.feedInputs();
  const bs = o.batchSize ?? 64;
  const out: Record<string, Tensor>[] = [];
  for (let i = 0; i < texts.length; i += bs) {
    const e = await tok.encodeBatch(texts.slice(i, i + bs));
    const feeds: Record<string, Tensor> = {};
    for (const v of inputs) {
      const role = tokenRole(v.name);
      const src = role === 'ids' ? e.ids : role === 'mask' ? e.mask : new Uint8Array(e.ids.length);
      const dims = [e.count, e.length];
      feeds[v.name] = v.type?.dtype === 'int32' ? new Tensor('int32', dims, Int32Array.from(src)) : new Tensor('int64', dims, BigInt64Array.from(src, (x) => BigInt(x)));
    }
    out.push(feeds);
  }
  return out;
}

/** Test accuracy of a saved text model on `table` (tokenized as in training). */
export async function textAccuracy(o: { file: string; model: Model; table: Table; tokenizer: string; threads?: number }): Promise<number> {
  const feeds = await openTextFeedsFor({ model: o.model, file: o.file, data: o.table, tokenizer: o.tokenizer });
  if (!feeds) throw new TrainferError(`${o.file}: reads no text`);
  try {
    return (await evaluate({ model: o.model, data: o.table, feeds: feeds.feeds, threads: o.threads })).accuracy;
  } finally {
    await feeds.close();
  }
}

/** Copies the tokenizer beside `output` (unless it is already there); returns its path. */
export function copyTokenizerBeside(text: TextModel, output: string): string {
  const dest = join(dirname(output), 'tokenizer.json');
  if (resolve(dest) !== resolve(text.tokenizerPath)) copyFileSync(text.tokenizerPath, dest);
  return dest;
}
