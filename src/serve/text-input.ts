/**
 * Raw text in, for a served model that carries its tokenizer: a version directory holding `model.onnx`
 * and `tokenizer.json` (the layout `trainfer train` writes for text) is served with one BYTES input
 * `text` of shape [-1] (one string per sample). `TextFrontEnd` checks the pair at load (a malformed
 * tokenizer, token inputs the model does not have, a vocabulary larger than the model's embedding
 * table: the version does not load, with the reason), then turns each request's strings into the
 * model's token inputs in a tokenizer worker thread (never on the HTTP thread) — after the text
 * preparation recorded in the model's `trainfer.text` metadata (e.g. `email`: MIME decoding) — truncated to the
 * tokenizer's maximum length and padded to a length bucket (the next multiple of 16 above the request's
 * longest row): requests in one bucket batch together, and padding never changes a row's result (the
 * attention mask hides it).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Model } from '../onnx/ir.js';
import { readModel } from '../onnx/model-io.js';
import { Tensor } from '../onnx/tensor.js';
import { oneLine, TrainferError } from '../util/errors.js';
import { tokenRole } from '../data/text-feeds.js';
import { TextTokenizer } from '../data/tokenizer.js';
import { TokenizerWorker } from '../data/tokenizer-worker.js';
import { readTextRecord } from '../train/job-text.js';
import { badRequest } from './errors.js';

/** The name of the served text input. */
export const TEXT_INPUT = 'text';

/** Rows are padded to a multiple of this many tokens (the length buckets). */
export const LENGTH_BUCKET = 16;

/** What one request's strings became. */
export interface EncodedText {
  feeds: Record<string, Tensor>;
  /** Texts cut to the maximum length, by position in the request. */
  truncated: number[];
}

/** The tokenizer half of a served text model. */
export class TextFrontEnd {
  private constructor(
    private readonly worker: TokenizerWorker,
    /** The model's token inputs, in its order. */
    readonly modelInputs: readonly { name: string; dtype: 'int64' | 'int32'; role: ReturnType<typeof tokenRole> }[],
    readonly maxLength: number,
    /** The tokenizer file. */
    readonly source: string,
  ) {}

  /** The tokenizer.json beside a model file, if there is one. */
  static besides(modelFile: string): string | undefined {
    const p = join(dirname(modelFile), 'tokenizer.json');
    return existsSync(p) ? p : undefined;
  }

  /** Loads and checks the tokenizer against the model, and starts its worker. */
  static async open(o: { modelFile: string; tokenizerFile: string; model?: Model }): Promise<TextFrontEnd> {
    const model = o.model ?? readModel(o.modelFile);
    // Rows as long as the model was trained with (`trainfer.text`), as `eval` reads them, whatever the file says.
    const tokenizer = TextTokenizer.load(o.tokenizerFile, { maxLength: readTextRecord(model.metadata)?.maxLength });
    const inputs = model.graph.feedInputs();
    const modelInputs = inputs.map((i) => {
      const dtype = i.type?.dtype;
      const rank = i.type?.shape?.length;
      if ((dtype !== 'int64' && dtype !== 'int32') || rank !== 2) {
        throw new TrainferError(`${o.modelFile}: beside ${o.tokenizerFile}, but input '${i.name}' is ${dtype ?? 'untyped'} of rank ${rank ?? '?'}: a text model takes [batch, sequence] int64 token ids (and masks)`);
      }
      const seq = i.type!.shape![1];
      if (typeof seq === 'number' && seq !== tokenizer.maxLength) {
        throw new TrainferError(`${o.modelFile}: input '${i.name}' takes ${seq} tokens per row but ${o.tokenizerFile} truncates to ${tokenizer.maxLength}: set truncation.max_length to ${seq}`);
      }
      return { name: i.name, dtype, role: tokenRole(i.name), fixed: typeof seq === 'number' };
    });
    const ids = modelInputs.find((i) => i.role === 'ids');
    if (!ids) throw new TrainferError(`${o.modelFile}: none of its inputs (${inputs.map((i) => i.name).join(', ')}) takes token ids`);
    const rows = embeddingRows(model, ids.name);
    if (rows !== undefined && tokenizer.vocabSize > rows) {
      throw new TrainferError(`${o.tokenizerFile}: ${tokenizer.vocabSize} tokens, but the model's embedding table has ${rows} rows: this is not the tokenizer the model was trained with`);
    }
    let worker: TokenizerWorker;
    try {
      // The text preparation the model was trained with (trainfer.text metadata), applied in the worker.
      worker = await TokenizerWorker.start({ json: tokenizer.toJsonText(), source: o.tokenizerFile, preprocess: readTextRecord(model.metadata)?.preprocess });
    } catch (err) {
      throw new TrainferError(`${o.tokenizerFile}: ${oneLine(err)}`);
    }
    const fe = new TextFrontEnd(worker, modelInputs, tokenizer.maxLength, o.tokenizerFile);
    fe.fixedLength = modelInputs.some((i) => i.fixed);
    return fe;
  }

  /** True when the model's sequence dim is fixed (rows are then padded to the maximum length). */
  private fixedLength = false;

  /** Strings → token feeds for the model (400 for anything but a rank-1 BYTES tensor of strings). */
  async encode(t: Tensor | undefined): Promise<EncodedText> {
    if (!t || t.dtype !== 'string' || !Array.isArray(t.data)) throw badRequest(`input '${TEXT_INPUT}' must be BYTES: one UTF-8 string per sample`);
    if (t.dims.length !== 1) throw badRequest(`input '${TEXT_INPUT}' must have shape [n] (one string per sample), got [${t.dims.join(', ')}]`);
    const texts = t.data as string[];
    if (texts.length === 0) throw badRequest(`input '${TEXT_INPUT}' holds no text`);
    const b = await this.worker.encodeBatch(texts, { pad: 'longest' });
    const n = b.count;
    const length = this.fixedLength ? this.maxLength : Math.min(this.maxLength, Math.ceil(b.length / LENGTH_BUCKET) * LENGTH_BUCKET);
    const feeds: Record<string, Tensor> = {};
    for (const i of this.modelInputs) {
      const wide = i.dtype === 'int64';
      const data = wide ? new BigInt64Array(n * length) : new Int32Array(n * length);
      if (i.role !== 'type_ids') {
        const src = i.role === 'ids' ? b.ids : b.mask;
        const pad = i.role === 'ids' ? this.worker.padId : 0;
        for (let r = 0; r < n; r++) {
          for (let j = 0; j < length; j++) {
            const v = j < b.length ? src[r * b.length + j]! : pad;
            if (wide) (data as BigInt64Array)[r * length + j] = BigInt(v);
            else (data as Int32Array)[r * length + j] = v;
          }
        }
      }
      feeds[i.name] = new Tensor(i.dtype, [n, length], data);
    }
    const truncated: number[] = [];
    b.truncated.forEach((v, k) => v && truncated.push(k));
    return { feeds, truncated };
  }

  /**
   * One row of the maximum length (ids the pad id, mask all ones, token types 0): the load-time check
   * that the model takes rows as long as the tokenizer makes (a position table with fewer rows fails it).
   */
  fullLengthFeeds(): Record<string, Tensor> {
    const feeds: Record<string, Tensor> = {};
    for (const i of this.modelInputs) {
      const v = i.role === 'ids' ? this.worker.padId : i.role === 'mask' ? 1 : 0;
      feeds[i.name] = i.dtype === 'int64' ? new Tensor('int64', [1, this.maxLength], new BigInt64Array(this.maxLength).fill(BigInt(v))) : new Tensor('int32', [1, this.maxLength], new Int32Array(this.maxLength).fill(v));
    }
    return feeds;
  }

  /** Stops the tokenizer worker. */
  close(): Promise<void> {
    return this.worker.close();
  }
}

/** Rows of the embedding table the ids input indexes (a Gather from an initializer), if found. */
function embeddingRows(model: Model, ids: string): number | undefined {
  const g = model.graph;
  const seen = new Set([ids]);
  // Follow casts of the ids (int64 → int32 exports) to the first Gather from an initializer.
  for (const n of g.nodes) {
    if (n.opType === 'Cast' && seen.has(n.inputs[0]!)) n.outputs.forEach((o) => seen.add(o));
    if (n.opType === 'Gather' && seen.has(n.inputs[1]!) && g.initializers.has(n.inputs[0]!)) return g.initializers.get(n.inputs[0]!)!.dims[0];
  }
  return undefined;
}
