/**
 * The text part of a training job: which column holds the text (`--text-column`, or the only text
 * column), the tokenizer (`--tokenizer FILE`, or one learned from the training split's texts), the
 * `transformer[:L,D,H]` preset sized by it (or an imported model's token inputs, checked against it),
 * the text preparation (`--text-preprocess`; `email` by default for a column of raw emails, e.g.
 * `--data spam`), and the feed providers that tokenize the text column into the model's token inputs. The tokenizer is
 * written beside the model as `tokenizer.json` (the layout the browser page and `trainfer serve` read),
 * and `trainfer.text` metadata tells evaluation and serving which column, tokenizer and preparation the
 * model was trained with.
 */
import { existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import type { Model } from '../onnx/ir.js';
import { TrainferError } from '../util/errors.js';
import { type TextPreprocess, parseTextPreprocess, preprocessTexts } from '../data/email-text.js';
import { type TextFeeds, textFeeds, tokenRole } from '../data/text-feeds.js';
import { TextTokenizer } from '../data/tokenizer.js';
import { trainTokenizer } from '../data/tokenizer-train.js';
import { type Table, getColumn } from '../data/table.js';
import { buildTransformerPreset } from '../nn/presets-text.js';
import type { ModelInput } from '../nn/network.js';
import type { TaskChoice } from './task.js';
import type { Trainable } from './trainable.js';

/** Metadata key: the text column and tokenizer file a model was trained with. */
export const TEXT_METADATA_KEY = 'trainfer.text';

/** What `trainfer.text` holds. */
export interface TextRecord {
  column: string;
  /** The tokenizer file, relative to the model's directory. */
  tokenizer: string;
  maxLength: number;
  /** The preparation applied to each text before tokenizing (absent: `none`). */
  preprocess?: TextPreprocess;
}

/** The text column: `--text-column`, else the table's only text column (undefined when it has none). */
export function textColumn(t: Pick<Table, 'source' | 'columns'>, flag: string | undefined): string | undefined {
  if (flag !== undefined) {
    const c = getColumn(t, flag);
    if (c.dtype !== 'string') throw new TrainferError(`--text-column ${flag}: column '${flag}' of ${t.source} holds ${c.kind === 'categorical' ? 'categories' : 'numbers'}, not text (pass --column-type ${flag}=text if it is text)`);
    return flag;
  }
  const texts = t.columns.filter((c) => c.kind === 'text');
  if (texts.length > 1) throw new TrainferError(`${t.source}: ${texts.length} text columns (${texts.map((c) => c.name).join(', ')}); choose one with --text-column`);
  return texts[0]?.name;
}

/** Options for `setupText`. */
export interface TextSetupOptions {
  model: string;
  train: Table;
  column: string;
  choice: TaskChoice;
  seed: number;
  /** `--tokenizer FILE` (else one is learned from `train`). */
  tokenizer?: string;
  vocabSize?: number;
  maxLength?: number;
  /** `--text-preprocess` (default: `email` for a column of raw emails, else `none`). */
  preprocess?: TextPreprocess;
  /** An imported model (instead of the preset). */
  imported?: Trainable;
  /** Progress lines. */
  say: (line: string) => void;
}

/** The text model, its tokenizer and the providers feeding it. */
export interface TextSetup {
  model: Trainable;
  tokenizer: TextTokenizer;
  text: TextFeeds;
  /** The text preparation the feeds apply (recorded in the model's metadata). */
  preprocess: TextPreprocess;
  /** Class names of the head (two classes for a yes/no target: softmax over [no, yes]). */
  classNames?: string[];
}

/**
 * Builds (or checks) the model for text and starts its tokenizer worker. A yes/no target becomes two
 * softmax classes for the preset (as Hugging Face sequence classifiers and transformers.js expect).
 */
export async function setupText(o: TextSetupOptions): Promise<TextSetup> {
  const col = getColumn(o.train, o.column);
  const preprocess: TextPreprocess = o.preprocess ?? (col.textKind === 'email' ? 'email' : 'none');
  if (preprocess !== 'none') o.say(`text: ${preprocess} preparation (${preprocess === 'email' ? 'Subject, From, compact headers, decoded body' : preprocess}; --text-preprocess none reads the raw text)`);
  let tokenizer: TextTokenizer;
  if (o.tokenizer) {
    tokenizer = TextTokenizer.load(o.tokenizer, { maxLength: o.maxLength });
  } else {
    const t0 = performance.now();
    const texts = await preprocessTexts(col.data as string[], preprocess);
    tokenizer = trainTokenizer({ texts, vocabSize: o.vocabSize, maxLength: o.maxLength });
    o.say(`tokenizer: WordPiece, ${tokenizer.vocabSize.toLocaleString('en-US')} tokens learned from ${o.train.count.toLocaleString('en-US')} training texts in ${((performance.now() - t0) / 1000).toFixed(1)} s; rows of ${tokenizer.maxLength} tokens`);
  }
  let model: Trainable;
  let classNames = o.choice.classNames;
  if (o.imported) {
    model = o.imported;
    checkVocabulary(model, tokenizer, o.model);
  } else {
    const binary = o.choice.task === 'binary';
    if (binary && !classNames) classNames = ['0', '1'];
    model = buildTransformerPreset({ spec: o.model, vocabSize: tokenizer.vocabSize, maxLength: tokenizer.maxLength, numClasses: binary ? 2 : o.choice.outputs, task: binary ? 'classification' : o.choice.task, classNames, seed: o.seed });
  }
  const inputs = tokenInputs(model.inputs, o.model);
  const dims = new Set(inputs.map((i) => i.shape[0]).filter((d): d is string => typeof d === 'string'));
  if (dims.size > 1) throw new TrainferError(`${o.model}: token inputs have different sequence dims (${[...dims].join(', ')})`);
  for (const i of inputs) {
    const d = i.shape[0];
    if (typeof d === 'number' && d !== tokenizer.maxLength) throw new TrainferError(`${o.model}: input '${i.name}' takes ${d} tokens per row but the tokenizer makes rows of ${tokenizer.maxLength}; pass --max-length ${d}`);
  }
  const text = await textFeeds({ tokenizer, column: o.column, inputs: inputs.map((i) => i.name), dim: [...dims][0], preprocess });
  return { model, tokenizer, text, preprocess, classNames };
}

/** The model's token inputs: every input, each int64/int32 of one sequence axis per sample. */
function tokenInputs(inputs: readonly ModelInput[], name: string): ModelInput[] {
  for (const i of inputs) {
    if (!(i.dtype === 'int64' || i.dtype === 'int32') || i.shape.length !== 1) {
      throw new TrainferError(`${name}: input '${i.name}' is ${i.dtype} [${i.shape.join(', ')}] per sample; text feeds int64 token ids [sequence] (and an attention mask)`);
    }
  }
  return [...inputs];
}

/**
 * Rows of the embedding table a saved model's token ids index (the first Gather from an initializer
 * reading the ids input, through casts); undefined when none is found.
 */
export function tokenEmbeddingRows(model: Model): number | undefined {
  const g = model.graph;
  const ids = g.feedInputs().find((i) => tokenRole(i.name) === 'ids');
  if (!ids) return undefined;
  const seen = new Set([ids.name]);
  for (const n of g.nodes) {
    if (n.opType === 'Cast' && seen.has(n.inputs[0]!)) n.outputs.forEach((x) => seen.add(x));
    if (n.opType === 'Gather' && seen.has(n.inputs[1]!) && g.initializers.has(n.inputs[0]!)) return g.initializers.get(n.inputs[0]!)!.dims[0];
  }
  return undefined;
}

/** An imported model's embedding tables must have a row for every id the tokenizer makes. */
function checkVocabulary(model: Trainable, tokenizer: TextTokenizer, name: string): void {
  const ids = model.inputs.find((i) => tokenRole(i.name) === 'ids');
  if (!ids) return;
  const g = model.inferenceGraph({}).graph;
  const gather = g.nodes.find((n) => n.opType === 'Gather' && n.inputs[1] === ids.name && g.initializers.has(n.inputs[0]!));
  const rows = gather ? g.initializers.get(gather.inputs[0]!)!.dims[0] : undefined;
  if (rows !== undefined && tokenizer.vocabSize > rows) {
    throw new TrainferError(`${tokenizer.source}: the tokenizer has ${tokenizer.vocabSize} tokens but ${name}'s embedding table '${gather!.inputs[0]}' has ${rows} rows: use the tokenizer the model was trained with`);
  }
}

/** Records the text column, the tokenizer file (`tokenizer.json` beside it) and the text preparation in a model's metadata. */
export function recordText(o: { model: Model; tokenizer: TextTokenizer; column: string; preprocess?: TextPreprocess }): void {
  const record: TextRecord = { column: o.column, tokenizer: 'tokenizer.json', maxLength: o.tokenizer.maxLength, ...(o.preprocess && o.preprocess !== 'none' ? { preprocess: o.preprocess } : {}) };
  o.model.metadata.set(TEXT_METADATA_KEY, JSON.stringify(record));
}

/** Writes the tokenizer as `tokenizer.json` beside a model file (atomically); returns its path. */
export function saveTokenizerBeside(modelPath: string, tokenizer: TextTokenizer): string {
  const path = join(dirname(modelPath), 'tokenizer.json');
  tokenizer.save(path);
  return path;
}

/** Reads `trainfer.text` (undefined when absent). */
export function readTextRecord(metadata: ReadonlyMap<string, string>): TextRecord | undefined {
  const v = metadata.get(TEXT_METADATA_KEY);
  if (v === undefined) return undefined;
  let rec: TextRecord;
  try {
    rec = JSON.parse(v) as TextRecord;
  } catch {
    throw new TrainferError(`model metadata '${TEXT_METADATA_KEY}' is not valid JSON`);
  }
  // A preparation this version does not know would make the model read other text than it was trained on.
  if (rec.preprocess !== undefined) parseTextPreprocess(rec.preprocess, `model metadata '${TEXT_METADATA_KEY}' preprocess`);
  return rec;
}

/**
 * Token feeds for scoring a saved text model on `data`: reads `trainfer.text` (or, for a model without
 * it, a `tokenizer.json` beside the file and the data's only text column); undefined when the model
 * reads no text. The caller closes the returned feeds.
 */
export async function openTextFeedsFor(o: { model: Model; file: string; data: Table; tokenizer?: string }): Promise<TextFeeds | undefined> {
  const rec = readTextRecord(o.model.metadata);
  const beside = join(dirname(o.file), rec?.tokenizer ?? 'tokenizer.json');
  const path = o.tokenizer ?? (rec || existsSync(beside) ? beside : undefined);
  if (!path) return undefined;
  const column = rec?.column ?? textColumn(o.data, undefined);
  if (!column) {
    if (!rec && !o.tokenizer) return undefined;
    throw new TrainferError(`${o.data.source}: ${o.file} reads text, but no column is text (columns: ${o.data.columns.map((c) => c.name).join(', ')})`);
  }
  if (!o.data.columns.some((c) => c.name === column)) throw new TrainferError(`${o.data.source}: no column '${column}', the text column ${o.file} was trained on (columns: ${o.data.columns.map((c) => c.name).join(', ')})`);
  if (!existsSync(path)) throw new TrainferError(`${o.file}: its tokenizer ${path} is missing (a text model is served and scored with the tokenizer.json it was trained with)`);
  const tokenizer = TextTokenizer.load(path, { maxLength: rec?.maxLength });
  const rows = tokenEmbeddingRows(o.model);
  if (rows !== undefined && tokenizer.vocabSize > rows) throw new TrainferError(`${path}: ${tokenizer.vocabSize} tokens, but ${o.file}'s embedding table has ${rows} rows: this is not the tokenizer the model was trained with`);
  const names = o.model.graph.feedInputs().map((i) => i.name);
  const dim = o.model.graph.feedInputs()[0]?.type?.shape?.[1];
  return textFeeds({ tokenizer, column, inputs: names, dim: typeof dim === 'string' ? dim : undefined, preprocess: rec?.preprocess });
}
