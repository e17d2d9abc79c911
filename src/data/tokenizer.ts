/**
 * `TextTokenizer`: a Hugging Face `tokenizer.json` loaded with the `tokenizers` library (the Rust
 * implementation, as Node bindings), encoding batches of strings into fixed-size id and mask rows with
 * truncation and padding. Any tokenizer.json the library reads works (WordPiece, BPE, Unigram, with
 * their normalizers, pre-tokenizers and post-processors); `trainTokenizer` (tokenizer-train.ts) makes
 * one from text.
 *
 * Truncation is exact and cheap: a long text is tokenized from a prefix of its characters, and the
 * prefix grows until the tokens of the words it holds completely reach the maximum length. A cut inside
 * a word changes only that word's tokens, which are dropped, so the result equals tokenizing the whole
 * text and truncating (tested on the SpamAssassin corpus) — at a fraction of the cost for long emails.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as Tk from 'tokenizers';
import { writeFileAtomic } from '../util/atomic-write.js';
import { FileFormatError, TrainferError, oneLine } from '../util/errors.js';

const require = createRequire(import.meta.url);
/** The `tokenizers` bindings (CommonJS, with a prebuilt native module). */
export const tk = require('tokenizers') as typeof Tk;

/** Encoded rows: `count × length` ids and mask values, padded with the pad id and 0. */
export interface EncodedBatch {
  count: number;
  /** Row length (the maximum length, or the longest row with `pad: 'longest'`). */
  length: number;
  ids: Int32Array;
  mask: Uint8Array;
  /** Tokens per row (specials included) before padding. */
  lengths: Int32Array;
  /** 1 where the text had more tokens than fit and was truncated. */
  truncated: Uint8Array;
}

/** Options for `encodeBatch`. */
export interface EncodeOptions {
  /** Longest row (specials included); default the tokenizer's `maxLength`. */
  maxLength?: number;
  /** `max` pads every row to `maxLength` (default); `longest` to the longest row of this batch. */
  pad?: 'max' | 'longest';
}

/** A loaded tokenizer.json: encoding with truncation, padding and attention masks. */
export class TextTokenizer {
  /** The tokenizer.json, as parsed. */
  readonly json: Record<string, unknown>;
  /** Where it came from (for messages). */
  readonly source: string;
  /** Rows are cut to this many tokens (tokenizer.json's `truncation.max_length`, else 512). */
  readonly maxLength: number;
  /** Id used for padding (tokenizer.json's `padding.pad_id`, else `[PAD]`/`<pad>`, else 0). */
  readonly padId: number;
  /** Number of ids (vocabulary and added tokens): a model's embedding table must have at least as many rows. */
  readonly vocabSize: number;
  private readonly tok: Tk.Tokenizer;
  private specialCount?: Promise<number>;

  private constructor(json: Record<string, unknown>, source: string, maxLength?: number) {
    this.json = json;
    this.source = source;
    let tok: Tk.Tokenizer;
    try {
      // Truncation and padding are ours (exact prefix truncation, padding per batch).
      const { truncation: _t, padding: _p, ...rest } = json;
      tok = tk.Tokenizer.fromString(JSON.stringify({ ...rest, truncation: null, padding: null }));
    } catch (err) {
      throw new FileFormatError(source, `not a tokenizer.json the tokenizers library can load: ${oneLine(err)}`, { cause: err });
    }
    this.tok = tok;
    const trunc = json.truncation as { max_length?: unknown } | null | undefined;
    const declared = typeof trunc?.max_length === 'number' ? trunc.max_length : undefined;
    this.maxLength = maxLength ?? declared ?? 512;
    this.vocabSize = tok.getVocabSize(true);
    const pad = (json.padding as { pad_id?: unknown } | null | undefined)?.pad_id;
    this.padId = typeof pad === 'number' ? pad : (tok.tokenToId('[PAD]') ?? tok.tokenToId('<pad>') ?? 0);
    if (!(Number.isInteger(this.maxLength) && this.maxLength > 0)) throw new TrainferError(`${source}: maximum length must be a positive integer, got ${this.maxLength}`);
  }

  /** Special tokens the post-processor adds to one sequence (e.g. 2 for `[CLS] … [SEP]`). */
  specials(): Promise<number> {
    this.specialCount ??= this.tok.encode('', null, { addSpecialTokens: true }).then((e) => e.getLength());
    return this.specialCount;
  }

  /**
   * Parses a tokenizer.json (text or object). Throws `FileFormatError` naming `source` when it is not
   * JSON or not a tokenizer the library loads. `maxLength` overrides its `truncation.max_length`.
   */
  static fromJson(json: string | Record<string, unknown>, options: { source?: string; maxLength?: number } = {}): TextTokenizer {
    const source = options.source ?? 'tokenizer.json';
    let obj: unknown = json;
    if (typeof json === 'string') {
      try {
        obj = JSON.parse(json);
      } catch (err) {
        throw new FileFormatError(source, `not valid JSON (${oneLine(err)})`);
      }
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj) || typeof (obj as { model?: unknown }).model !== 'object') {
      throw new FileFormatError(source, 'not a tokenizer.json (no "model" object)');
    }
    return new TextTokenizer(obj as Record<string, unknown>, source, options.maxLength);
  }

  /** Reads a tokenizer.json file. */
  static load(path: string, options: { maxLength?: number } = {}): TextTokenizer {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new TrainferError(`${path}: cannot read the tokenizer (${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : oneLine(err)})`);
    }
    return TextTokenizer.fromJson(text, { source: path, maxLength: options.maxLength });
  }

  /** The tokenizer.json text, with `truncation.max_length` set to this tokenizer's maximum length. */
  toJsonText(): string {
    const trunc = (this.json.truncation as Record<string, unknown> | null | undefined) ?? { direction: 'Right', strategy: 'LongestFirst', stride: 0 };
    return JSON.stringify({ ...this.json, truncation: { ...trunc, max_length: this.maxLength } });
  }

  /** Writes the tokenizer.json atomically. */
  save(path: string): void {
    writeFileAtomic(path, this.toJsonText());
  }

  /** The token of an id (undefined when no token has it). */
  token(id: number): string | undefined {
    return this.tok.idToToken(id) ?? undefined;
  }

  /**
   * Ids of the special tokens the post-processor appends after one sequence (`[SEP]` for BERT, `</s>`
   * for RoBERTa; none for a template ending in the text). Found by encoding a probe text, so any
   * post-processor the library runs is covered.
   */
  async trailingSpecials(): Promise<number[]> {
    const enc = await this.tok.encode('a', null, { addSpecialTokens: true });
    const ids = enc.getIds();
    const special = enc.getSpecialTokensMask();
    let k = ids.length;
    while (k > 0 && special[k - 1] === 1) k--;
    return ids.slice(k);
  }

  /** The id of a token (undefined when it is not in the vocabulary). */
  tokenId(token: string): number | undefined {
    return this.tok.tokenToId(token) ?? undefined;
  }

  /** Tokens of one text (specials included, truncated to the maximum length): for display and tests. */
  async tokens(text: string): Promise<string[]> {
    return (await this.encodeAll([text], this.maxLength, await this.specials()))[0]!.enc.getTokens();
  }

  /**
   * Encodes texts into rows of ids and attention mask, truncated (exactly, see the file header) and
   * padded. Empty texts give the specials alone.
   */
  async encodeBatch(texts: readonly string[], options: EncodeOptions = {}): Promise<EncodedBatch> {
    const max = options.maxLength ?? this.maxLength;
    const specials = await this.specials();
    if (!(Number.isInteger(max) && max > specials)) throw new TrainferError(`${this.source}: maximum length ${max} leaves no room for text after ${specials} special tokens`);
    const encs = await this.encodeAll(texts, max, specials);
    const lengths = Int32Array.from(encs, (e) => e.enc.getLength());
    const length = options.pad === 'longest' ? Math.max(1, ...lengths) : max;
    const n = texts.length;
    const ids = new Int32Array(n * length).fill(this.padId);
    const mask = new Uint8Array(n * length);
    const truncated = new Uint8Array(n);
    encs.forEach((e, i) => {
      const row = e.enc.getIds();
      ids.set(row, i * length);
      mask.fill(1, i * length, i * length + row.length);
      truncated[i] = e.truncated ? 1 : 0;
    });
    return { count: n, length, ids, mask, lengths, truncated };
  }

  /**
   * Texts → encodings with specials, at most `max` tokens each: every text from a prefix of its characters,
   * in batched rounds (one call into the library per round); a prefix grows 4× until the words it holds
   * completely give enough tokens, or it is the whole text.
   */
  private async encodeAll(texts: readonly string[], max: number, specials: number): Promise<{ enc: Tk.Encoding; truncated: boolean }[]> {
    const need = max - specials;
    const out = new Array<{ enc: Tk.Encoding; truncated: boolean }>(texts.length);
    const chars = texts.map((t, i) => {
      if (typeof t !== 'string') throw new TrainferError(`text ${i + 1}: tokenizer input must be a string, got ${t === null ? 'null' : typeof t}`);
      return Math.min(t.length, Math.max(64, need * 4));
    });
    let pending = texts.map((_, i) => i);
    while (pending.length) {
      const encs = await this.tok.encodeBatch(pending.map((i) => (chars[i]! >= texts[i]!.length ? texts[i]! : texts[i]!.slice(0, chars[i]))), { addSpecialTokens: false });
      const next: number[] = [];
      pending.forEach((i, k) => {
        const enc = encs[k]!;
        const n = enc.getLength();
        if (chars[i]! >= texts[i]!.length) {
          out[i] = this.finish(enc, need, n > need);
          return;
        }
        // Tokens of the words the prefix holds completely (the last word may be cut).
        const words = enc.getWordIds();
        const last = words[n - 1];
        let complete = n;
        while (complete > 0 && words[complete - 1] === last) complete--;
        if (last !== null && last !== undefined && complete >= need) out[i] = this.finish(enc, need, true);
        else {
          // Not enough yet (or no word structure to rely on: then the whole text).
          chars[i] = last === null || last === undefined ? texts[i]!.length : Math.min(texts[i]!.length, chars[i]! * 4);
          next.push(i);
        }
      });
      pending = next;
    }
    return out;
  }

  private finish(enc: Tk.Encoding, need: number, truncated: boolean): { enc: Tk.Encoding; truncated: boolean } {
    if (enc.getLength() > need) enc.truncate(need, 0, 'right'); // the binding's default direction is left
    return { enc: this.tok.postProcess(enc, null, true), truncated };
  }
}
