/**
 * Exporting a trained text classifier in the layout `@huggingface/transformers` (transformers.js) loads
 * with `pipeline('text-classification', dir)`: `config.json` (a model type its sequence-classification
 * auto class knows, `id2label`/`label2id`, `problem_type`), `tokenizer.json` + `tokenizer_config.json`
 * (`model_max_length`, the special tokens, right padding), `onnx/model.onnx` (and optionally
 * `onnx/model_quantized.onnx`, the file the browser's wasm backend picks by default).
 *
 * The model is adapted, not just copied, so that transformers.js's answers equal Trainfer's:
 * - inputs are renamed to `input_ids`, `attention_mask`, `token_type_ids` (by role, as Trainfer feeds
 *   them), int64 [batch, sequence], cast to int32 inside where the model takes int32, padded inside to
 *   a fixed sequence length the model may declare, and sliced to the maximum length;
 * - transformers.js truncates by cutting the id array at `model_max_length` (it ignores tokenizer.json's
 *   `truncation`), which drops the trailing `[SEP]`; Trainfer (and the `tokenizers` library) truncate the
 *   text and then add the specials. The graph restores them: in a row that fills the maximum length,
 *   the last positions become the post-processor's trailing specials — a no-op for a row that was not
 *   cut (it already ends in them), and exactly Trainfer's row for one that was;
 * - the classifier's raw scores become the one output `logits` (transformers.js applies softmax itself);
 *   a binary classifier's single logit z becomes [0, z] (softmax of it is [1 − σ(z), σ(z)]).
 * The directory is written atomically: built beside the target, the model verified by onnxruntime
 * (loaded and run on tokenized text), then renamed into place.
 */
import { chmodSync, existsSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { attr } from '../onnx/attr.js';
import type { DType } from '../onnx/dtype.js';
import { type Attribute, type Graph, type Model, type Node, type ValueInfo, walkGraphs } from '../onnx/ir.js';
import { readModel } from '../onnx/model-io.js';
import { upgradeOpset } from '../onnx/opset-upgrade.js';
import { eliminateDeadNodes, topoSort } from '../onnx/passes.js';
import { Tensor } from '../onnx/tensor.js';
import { writeModelVerified } from '../runtime/verified-write.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { TrainferError, oneLine } from '../util/errors.js';
import { type TokenRole, tokenRole } from '../data/text-feeds.js';
import { TextTokenizer } from '../data/tokenizer.js';
import type { Task } from '../nn/loss.js';
import { readTrainfer } from './export.js';
import { readTextRecord, tokenEmbeddingRows } from './job-text.js';

/** Input names transformers.js feeds, by role. */
export const HF_INPUT_NAMES: Readonly<Record<TokenRole, string>> = { ids: 'input_ids', mask: 'attention_mask', type_ids: 'token_type_ids' };

/** Options for `exportTransformersJs`. */
export interface TransformersJsExportOptions {
  /** The trained text classifier (.onnx). Never modified. */
  model: string;
  /** The directory to write (replaced atomically when it holds an earlier export). */
  out: string;
  /** The tokenizer.json (default: the one `trainfer.text` names, else `tokenizer.json` beside the model). */
  tokenizer?: string;
  /** Class names (default: `trainfer.class_names`, else `LABEL_0`, `LABEL_1`, …). */
  labels?: readonly string[];
  /** Also write `onnx/model_quantized.onnx` (transformers.js dtype `q8`): this turns the adapted model into it. */
  quantize?: (model: Model) => Model | Promise<Model>;
}

/** What `exportTransformersJs` wrote. */
export interface TransformersJsExportResult {
  dir: string;
  /** Files, relative to `dir`. */
  files: string[];
  labels: string[];
  problemType: 'single_label_classification' | 'multi_label_classification';
  maxLength: number;
  /** The exported model's inputs. */
  inputs: string[];
  /** Special tokens restored at the end of a cut row. */
  trailingSpecials: string[];
  /**
   * The text preparation the model was trained with (`email`), which transformers.js does not run: feed
   * its pipeline texts already prepared (`emailText`), or it reads raw emails differently from Trainfer.
   */
  preprocess?: string;
}

/** How `adaptForTransformersJs` rewires a model. */
export interface AdaptOptions {
  maxLength: number;
  /** Ids the post-processor appends after the text (restored at the end of a row that fills `maxLength`). */
  trailing: readonly number[];
  padId: number;
  /** For messages. */
  name?: string;
  labels?: readonly string[];
}

/** The adapted model and what it classifies. */
export interface AdaptedModel {
  model: Model;
  labels: string[];
  problemType: TransformersJsExportResult['problemType'];
}

/**
 * Writes `out/` for transformers.js (see the file header). One-line errors for a model that is not a
 * text classifier, a missing tokenizer, a tokenizer larger than the model's embedding table or whose
 * maximum length disagrees with the model, and a non-empty `out` that is not an earlier export.
 *
 * @example
 * await exportTransformersJs({ model: 'spam/model.onnx', out: 'spam-hf' });
 * // then, in Node or a browser: await pipeline('text-classification', 'spam-hf')
 */
export async function exportTransformersJs(o: TransformersJsExportOptions): Promise<TransformersJsExportResult> {
  const out = resolve(o.out);
  checkTarget(out);
  const model = readModel(o.model);
  const rec = readTextRecord(model.metadata);
  const tokPath = o.tokenizer ?? join(dirname(o.model), rec?.tokenizer ?? 'tokenizer.json');
  if (!existsSync(tokPath)) throw new TrainferError(`${o.model}: no tokenizer: ${tokPath} is missing (pass --tokenizer FILE, the tokenizer.json the model was trained with)`);
  const tokenizer = TextTokenizer.load(tokPath, { maxLength: rec?.maxLength });
  const rows = tokenEmbeddingRows(model);
  if (rows !== undefined && tokenizer.vocabSize > rows) throw new TrainferError(`${tokPath}: ${tokenizer.vocabSize} tokens, but ${o.model}'s embedding table has ${rows} rows: this is not the tokenizer the model was trained with`);
  const trailing = await tokenizer.trailingSpecials();
  const prep = rec?.preprocess && rec.preprocess !== 'none' ? rec.preprocess : undefined;
  const adapted = adaptForTransformersJs(model, { maxLength: tokenizer.maxLength, trailing, padId: tokenizer.padId, name: o.model, labels: o.labels });

  const parent = dirname(out);
  const tmp = mkdtempSync(join(parent, `.${basename(out)}.export-`));
  chmodSync(tmp, 0o777 & ~process.umask()); // mkdtemp makes it 0700; the export is an ordinary directory
  try {
    const files: string[] = [];
    const feeds = await sampleTokens(tokenizer, adapted.model);
    await writeModelVerified({ path: join(tmp, 'onnx', 'model.onnx'), model: adapted.model, feeds });
    files.push('onnx/model.onnx');
    if (o.quantize) {
      const q = await o.quantize(readModel(join(tmp, 'onnx', 'model.onnx')));
      await writeModelVerified({ path: join(tmp, 'onnx', 'model_quantized.onnx'), model: q, feeds });
      files.push('onnx/model_quantized.onnx');
    }
    writeFileAtomic(join(tmp, 'tokenizer.json'), tokenizer.toJsonText());
    writeFileAtomic(join(tmp, 'tokenizer_config.json'), `${JSON.stringify(tokenizerConfig(tokenizer), null, 2)}\n`);
    writeFileAtomic(join(tmp, 'config.json'), `${JSON.stringify(modelConfig({ adapted, tokenizer, rows, quantized: !!o.quantize, source: basename(o.model), preprocess: prep }), null, 2)}\n`);
    files.push('tokenizer.json', 'tokenizer_config.json', 'config.json');
    replaceDir(tmp, out);
    return { dir: out, files: files.sort(), labels: adapted.labels, problemType: adapted.problemType, maxLength: tokenizer.maxLength, inputs: adapted.model.graph.inputs.map((i) => i.name), trailingSpecials: trailing.map((id) => tokenizer.token(id) ?? String(id)), ...(prep ? { preprocess: prep } : {}) };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Rewires a text classifier in place for transformers.js (see the file header) and returns it with its
 * labels. Throws a one-line error for a model it cannot serve: no token ids input, inputs that are not
 * [batch, sequence] integers, several heads, a regression output.
 */
export function adaptForTransformersJs(model: Model, o: AdaptOptions): AdaptedModel {
  const name = o.name ?? 'model';
  if (model.opset < 13) upgradeOpset(model, { target: 13 });
  const g = model.graph;
  const L = o.maxLength;
  const head = chooseHead(model, name);
  const labels = [...(o.labels ?? readTrainfer(model.metadata).classNames ?? Array.from({ length: head.classes ?? 0 }, (_, i) => `LABEL_${i}`))];
  if (head.classes !== undefined && labels.length !== head.classes) throw new TrainferError(`${name}: ${labels.length} labels (${labels.join(', ')}) for ${head.classes} classes`);
  if (!labels.length) throw new TrainferError(`${name}: the number of classes of '${head.value}' is unknown; pass --labels a,b,…`);

  // Token inputs by role.
  const feeds = g.feedInputs();
  const byRole = new Map<TokenRole, ValueInfo>();
  for (const i of feeds) {
    const dtype = i.type?.dtype;
    const rank = i.type?.shape?.length;
    if ((dtype !== 'int64' && dtype !== 'int32') || rank !== 2) throw new TrainferError(`${name}: input '${i.name}' is ${dtype ?? 'untyped'} of rank ${rank ?? '?'}: transformers.js feeds [batch, sequence] int64 token ids and masks`);
    const role = tokenRole(i.name);
    if (byRole.has(role)) throw new TrainferError(`${name}: inputs '${byRole.get(role)!.name}' and '${i.name}' both look like ${HF_INPUT_NAMES[role]}`);
    const seq = i.type!.shape![1];
    if (typeof seq === 'number' && seq !== L) throw new TrainferError(`${name}: input '${i.name}' takes ${seq} tokens per row but the tokenizer truncates to ${L}`);
    byRole.set(role, i);
  }
  if (!byRole.has('ids')) throw new TrainferError(`${name}: none of its inputs (${feeds.map((i) => i.name).join(', ')}) takes token ids`);

  const b = new Prefix(g);
  const c = {
    zero: b.const('zero', Tensor.i64([1], [0])),
    L: b.const('max_length', Tensor.i64([1], [L])),
    axis1: b.const('axis1', Tensor.i64([1], [1])),
  };
  // Every internal use of an original input now reads a fresh name the prefix computes.
  const internal = new Map<TokenRole, string>();
  for (const [role, i] of byRole) {
    const fresh = g.uniqueName(`${i.name}_tjs`);
    renameUses(g, i.name, fresh);
    internal.set(role, fresh);
  }
  const ext = (role: TokenRole): string => HF_INPUT_NAMES[role];
  g.inputs = g.inputs.filter((i) => ![...byRole.values()].includes(i));
  const roles: TokenRole[] = ['ids', 'mask', 'type_ids'].filter((r) => r !== 'type_ids' || byRole.has('type_ids')) as TokenRole[];
  g.inputs.unshift(...roles.map((r) => ({ name: ext(r), type: { dtype: 'int64' as DType, shape: ['batch', 'sequence'] } })));

  const cut = new Map(roles.map((r) => [r, b.op('Slice', [ext(r), c.zero, c.L, c.axis1])]));
  let ids = cut.get('ids')!;
  if (o.trailing.length) {
    if (o.trailing.length >= L) throw new TrainferError(`${name}: the tokenizer adds ${o.trailing.length} trailing specials to rows of ${L}`);
    const tail = new Array<number>(L).fill(-1);
    o.trailing.forEach((id, k) => (tail[L - o.trailing.length + k] = id));
    const full = b.op('Equal', [b.op('ReduceSum', [cut.get('mask')!, c.axis1], { keepdims: attr.int(1) }), c.L]); // [B, 1]
    const seqLen = b.op('Gather', [b.op('Shape', [ids]), c.axis1]); // [1]
    const tailRow = b.op('Slice', [b.const('tail', Tensor.i64([1, L], tail)), c.zero, seqLen, c.axis1]); // [1, S]
    const isTail = b.op('Greater', [tailRow, b.const('minus_one', Tensor.i64([1], [-1]))]);
    ids = b.op('Where', [b.op('And', [full, isTail]), tailRow, ids]);
  }
  for (const [role, i] of byRole) {
    let v = role === 'ids' ? ids : cut.get(role)!;
    if (typeof i.type!.shape![1] === 'number') {
      // A fixed sequence dim: pad inside to it (transformers.js pads to the batch's longest row).
      const seqLen = b.op('Gather', [b.op('Shape', [v]), c.axis1]);
      const pads = b.op('Concat', [b.const('pads_head', Tensor.i64([3], [0, 0, 0])), b.op('Sub', [c.L, seqLen])], { axis: attr.int(0) });
      v = b.op('Pad', [v, pads, b.const(`pad_${role}`, Tensor.i64([], [role === 'ids' ? o.padId : 0]))]);
    }
    b.op(i.type!.dtype === 'int32' ? 'Cast' : 'Identity', [v], i.type!.dtype === 'int32' ? { to: attr.int(6) } : {}, internal.get(role)!);
  }
  g.nodes.unshift(...b.nodes);

  // The one output: raw scores named `logits`.
  let scores = head.value;
  const transform = head.task === 'binary' || (head.dtype !== undefined && head.dtype !== 'float32');
  if ((transform || scores !== 'logits') && usesName(g, 'logits')) {
    // The name `logits` goes to the new output; the value that had it is renamed.
    const fresh = g.uniqueName('logits_orig');
    renameValue(g, 'logits', fresh);
    if (scores === 'logits') scores = fresh;
  }
  const tail = new Prefix(g);
  if (head.task === 'binary') {
    const zeros = tail.op('Sub', [scores, scores]);
    scores = tail.op('Concat', [zeros, scores], { axis: attr.int(-1) });
  }
  if (head.dtype && head.dtype !== 'float32') scores = tail.op('Cast', [scores], { to: attr.int(1) });
  if (scores !== 'logits') tail.op('Identity', [scores], {}, 'logits');
  g.nodes.push(...tail.nodes);
  g.outputs = [{ name: 'logits', type: { dtype: 'float32', shape: ['batch', labels.length] } }];
  eliminateDeadNodes(g);
  topoSort(g);
  for (const k of [...model.metadata.keys()]) if (k.startsWith('trainfer.') && k !== 'trainfer.class_names') model.metadata.delete(k);
  model.metadata.set('trainfer.class_names', JSON.stringify(labels));
  model.metadata.set('trainfer.export', JSON.stringify({ format: 'transformers-js', maxLength: L, trailingSpecials: o.trailing }));
  return { model, labels, problemType: head.task === 'multilabel' ? 'multi_label_classification' : 'single_label_classification' };
}

interface Head {
  /** The value holding raw scores. */
  value: string;
  task: Exclude<Task, 'regression'>;
  classes?: number;
  dtype?: DType;
}

/** The classifier's raw scores: the metadata's head, else the one output (the input of a final Softmax/Sigmoid). */
function chooseHead(model: Model, name: string): Head {
  const g = model.graph;
  const meta = readTrainfer(model.metadata);
  let value: string;
  let task: Task | undefined;
  if (meta.heads?.length) {
    if (meta.heads.length > 1) throw new TrainferError(`${name}: ${meta.heads.length} heads (${meta.heads.map((h) => h.name).join(', ')}); transformers.js's text-classification pipeline reads one 'logits' output`);
    value = meta.heads[0]!.output;
    task = meta.heads[0]!.task;
  } else {
    const outs = g.outputs.length === 1 ? g.outputs : g.outputs.filter((v) => v.name === 'logits');
    if (outs.length !== 1) throw new TrainferError(`${name}: ${g.outputs.length} outputs (${g.outputs.map((v) => v.name).join(', ')}) and none named 'logits': which one holds the class scores?`);
    value = outs[0]!.name;
    // The output's width (a Softmax/Sigmoid keeps its input's shape).
    const last = outs[0]!.type?.shape?.at(-1) ?? g.typeOf(value)?.shape?.at(-1);
    const producerOf = (v: string) => g.nodes.find((n) => n.outputs.includes(v));
    let producer = producerOf(value);
    while (producer?.opType === 'Identity') producer = producerOf((value = producer.inputs[0]!));
    if (producer?.opType === 'Softmax' || producer?.opType === 'LogSoftmax') {
      value = producer.inputs[0]!;
      task = 'classification';
    } else if (producer?.opType === 'Sigmoid') {
      value = producer.inputs[0]!;
    }
    task ??= producer?.opType === 'Sigmoid' ? (last === 1 ? 'binary' : 'multilabel') : last === 1 ? undefined : 'classification';
    if (!task) throw new TrainferError(`${name}: output '${value}' holds one score per text and the model has no trainfer metadata: a binary logit cannot be told from a regression`);
  }
  if (task === 'regression') throw new TrainferError(`${name}: a regression model: transformers.js's text-classification pipeline turns 'logits' into label probabilities (softmax, or sigmoid for multi-label), so a regression output has no labels to give`);
  const type = g.typeOf(value) ?? g.outputs.find((v) => v.name === value)?.type;
  const last = type?.shape?.at(-1) ?? g.outputs[0]?.type?.shape?.at(-1);
  const width = typeof last === 'number' ? last : undefined;
  return { value, task, classes: task === 'binary' ? 2 : width, dtype: type?.dtype };
}

/** Nodes built for the prefix or suffix of the graph, with constants as initializers. */
class Prefix {
  readonly nodes: Node[] = [];
  constructor(private readonly g: Graph) {}
  const(base: string, t: Tensor): string {
    const n = this.g.uniqueName(`tjs_${base}`);
    this.g.initializers.set(n, t);
    return n;
  }
  op(opType: string, inputs: string[], attributes: Record<string, Attribute> = {}, output?: string): string {
    const out = output ?? this.fresh(opType);
    this.nodes.push({ name: this.fresh(`${opType}_node`), opType, domain: '', inputs, outputs: [out], attributes });
    return out;
  }
  private taken = new Set<string>();
  private fresh(base: string): string {
    let n = this.g.uniqueName(`tjs_${base}`);
    for (let i = 1; this.taken.has(n); i++) n = this.g.uniqueName(`tjs_${base}_${i}`);
    this.taken.add(n);
    return n;
  }
}

/** Every read of `from` (in the graph and its subgraphs) reads `to` instead. */
function renameUses(g: Graph, from: string, to: string): void {
  for (const sg of walkGraphs(g)) for (const n of sg.nodes) n.inputs = n.inputs.map((i) => (i === from ? to : i));
  for (const v of g.outputs) if (v.name === from) throw new TrainferError(`input '${from}' is also an output`);
}

/** Renames a value everywhere (producer, readers, outputs, value info). */
function renameValue(g: Graph, from: string, to: string): void {
  for (const sg of walkGraphs(g)) for (const n of sg.nodes) n.inputs = n.inputs.map((i) => (i === from ? to : i));
  g.outputs = g.outputs.map((v) => (v.name === from ? { ...v, name: to } : v));
  for (const n of g.nodes) n.outputs = n.outputs.map((o) => (o === from ? to : o));
  const vi = g.valueInfo.get(from);
  if (vi) {
    g.valueInfo.delete(from);
    g.valueInfo.set(to, { ...vi, name: to });
  }
}

function usesName(g: Graph, n: string): boolean {
  return g.initializers.has(n) || g.inputs.some((v) => v.name === n) || g.nodes.some((x) => x.outputs.includes(n));
}

/** Feeds for the check run: tokenized texts, cut as transformers.js cuts them (one row fills the maximum length). */
async function sampleTokens(tokenizer: TextTokenizer, model: Model): Promise<Record<string, Tensor>> {
  const b = await tokenizer.encodeBatch(['a short text', 'a long text '.repeat(tokenizer.maxLength)], { pad: 'longest' });
  const feeds: Record<string, Tensor> = {};
  for (const i of model.graph.feedInputs()) {
    const role = (Object.keys(HF_INPUT_NAMES) as TokenRole[]).find((r) => HF_INPUT_NAMES[r] === i.name)!;
    const src = role === 'ids' ? b.ids : role === 'mask' ? b.mask : new Uint8Array(b.ids.length);
    feeds[i.name] = new Tensor('int64', [b.count, b.length], BigInt64Array.from(src, (v) => BigInt(v)));
  }
  return feeds;
}

function tokenizerConfig(t: TextTokenizer): Record<string, unknown> {
  const model = (t.json.model as { type?: string } | undefined)?.type;
  const named = (...c: string[]) => c.find((x) => t.tokenId(x) !== undefined);
  const entries: Record<string, unknown> = {
    tokenizer_class: model === 'WordPiece' ? 'BertTokenizerFast' : 'PreTrainedTokenizerFast',
    model_max_length: t.maxLength,
    padding_side: 'right',
    truncation_side: 'right',
    pad_token: t.token(t.padId),
    unk_token: named('[UNK]', '<unk>'),
    cls_token: named('[CLS]', '<s>'),
    sep_token: named('[SEP]', '</s>'),
    mask_token: named('[MASK]', '<mask>'),
  };
  return Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== undefined));
}

function modelConfig(o: { adapted: AdaptedModel; tokenizer: TextTokenizer; rows?: number; quantized: boolean; source: string; preprocess?: string }): Record<string, unknown> {
  const { labels, problemType } = o.adapted;
  return {
    // transformers.js picks the model class by model_type; its BERT sequence classifier runs the ONNX
    // graph with the inputs the graph declares and reads `logits`: no BERT weights or layout are implied.
    model_type: 'bert',
    architectures: ['BertForSequenceClassification'],
    id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
    label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
    num_labels: labels.length,
    problem_type: problemType,
    max_position_embeddings: o.tokenizer.maxLength,
    vocab_size: o.rows ?? o.tokenizer.vocabSize,
    pad_token_id: o.tokenizer.padId,
    // Without a quantized file, every device (the browser's wasm defaults to q8) loads onnx/model.onnx.
    ...(o.quantized ? {} : { 'transformers.js_config': { dtype: 'fp32' } }),
    trainfer: { exported_from: o.source, format: 'transformers-js', ...(o.preprocess ? { text_preprocess: o.preprocess } : {}) },
  };
}

/** `out` must be absent, empty, or an earlier export (a directory with config.json and onnx/). */
function checkTarget(out: string): void {
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) throw new TrainferError(`${out}: exists and is not a directory`);
  const entries = readdirSync(out);
  if (entries.length && !(entries.includes('config.json') && entries.includes('onnx'))) throw new TrainferError(`${out}: not empty and not an earlier export (no config.json and onnx/): choose another --out`);
}

/** Moves the finished `tmp` to `out`: an earlier export is moved aside first and removed after. */
function replaceDir(tmp: string, out: string): void {
  let old: string | undefined;
  if (existsSync(out)) {
    if (readdirSync(out).length === 0) rmSync(out, { recursive: true });
    else {
      old = `${tmp}.old`;
      renameSync(out, old);
    }
  }
  try {
    renameSync(tmp, out);
  } catch (err) {
    if (old) renameSync(old, out);
    throw new TrainferError(`${out}: not written: ${oneLine(err)}`);
  }
  if (old) rmSync(old, { recursive: true, force: true });
}
