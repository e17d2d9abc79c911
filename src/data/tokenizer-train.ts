/**
 * `trainTokenizer`: learns a BERT-style WordPiece vocabulary from training texts with the `tokenizers`
 * library's trainer (Rust), and assembles a standard Hugging Face tokenizer.json: BERT normalizer
 * (clean text, lower case, strip accents), BERT pre-tokenizer (whitespace and punctuation), WordPiece
 * model with `##` continuations, `[CLS] $A [SEP]` template, WordPiece decoder, `truncation.max_length`.
 *
 * The Node bindings train only with the model's default trainer (30,000 tokens, no special tokens, no
 * size option), so the vocabulary is cut to the requested size afterwards: the trainer numbers its
 * alphabet first and then every merged token in the order it was learned (most frequent pairs first),
 * so the first N ids are exactly the vocabulary a trainer stopped at N would have made. The special
 * tokens take ids 0–4 (`[PAD]` = 0).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TrainferError, oneLine } from '../util/errors.js';
import { TextTokenizer } from './tokenizer.js';

/**
 * The trainer runs in a child process: the native trainer draws progress bars straight onto file
 * descriptors 1 and 2, which would corrupt `--json` output; the child's are discarded.
 */
const TRAIN_SCRIPT = `
const tk = require(process.argv[1]);
const [file, out, lower] = process.argv.slice(2);
const lowercase = lower === 'true';
const tok = new tk.Tokenizer(tk.WordPiece.empty());
tok.setNormalizer(tk.bertNormalizer({ cleanText: true, handleChineseChars: true, stripAccents: lowercase, lowercase }));
tok.setPreTokenizer(tk.bertPreTokenizer());
tok.train([file]);
tok.save(out, false);
`;

/** Special tokens, in id order. */
export const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;

/** Options for `trainTokenizer`. */
export interface TrainTokenizerOptions {
  /** The training split's texts (only these: the vocabulary must not see validation or test rows). */
  texts: readonly string[];
  /** Vocabulary size, special tokens included (default 8000). */
  vocabSize?: number;
  /** Longest encoded row, specials included (default 128: with the `email` preparation, 128 tokens of a spam-corpus email scored 98.87–98.95% where 256 raw tokens scored 96.94%); stored as `truncation.max_length`. */
  maxLength?: number;
  /**
   * Characters of each text the vocabulary is learned from (default 16 per position of `maxLength`): a
   * model sees only a text's first `maxLength` tokens, so words far beyond them need no token.
   */
  sampleChars?: number;
  /** Lower-case and strip accents (default true). */
  lowercase?: boolean;
}

/**
 * Trains a WordPiece tokenizer on `texts`.
 *
 * @example
 * const tokenizer = trainTokenizer({ texts: trainRows, vocabSize: 8000, maxLength: 128 });
 * tokenizer.save('model-dir/tokenizer.json');
 */
export function trainTokenizer(o: TrainTokenizerOptions): TextTokenizer {
  const vocabSize = o.vocabSize ?? 8000;
  const maxLength = o.maxLength ?? 128;
  const lowercase = o.lowercase ?? true;
  if (!(Number.isInteger(vocabSize) && vocabSize > SPECIAL_TOKENS.length + 1)) throw new TrainferError(`vocabulary size must be an integer above ${SPECIAL_TOKENS.length + 1}, got ${vocabSize}`);
  if (!(Number.isInteger(maxLength) && maxLength > 2)) throw new TrainferError(`maximum length must be an integer above 2, got ${maxLength}`);
  const sample = o.sampleChars ?? maxLength * 16;
  const texts = o.texts.filter((t) => typeof t === 'string' && t.trim() !== '');
  if (texts.length === 0) throw new TrainferError('no text to learn a vocabulary from (every training text is empty)');

  const dir = mkdtempSync(join(tmpdir(), 'trainfer-vocab-'));
  let trained: { model: { vocab: Record<string, number> } };
  try {
    const file = join(dir, 'train.txt');
    // One text per line (its own newlines would only split it into more lines: same words, same counts).
    writeFileSync(file, texts.map((t) => t.slice(0, sample)).join('\n'));
    const out = join(dir, 'tokenizer.json');
    const lib = createRequire(import.meta.url).resolve('tokenizers');
    execFileSync(process.execPath, ['-e', TRAIN_SCRIPT, lib, file, out, String(lowercase)], { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
    trained = JSON.parse(readFileSync(out, 'utf8')) as typeof trained;
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().split('\n').filter((l) => /error/i.test(l)).pop();
    throw new TrainferError(`learning the vocabulary failed: ${stderr ?? oneLine(err)}`, { cause: err });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const vocab: Record<string, number> = {};
  let next = 0;
  for (const s of SPECIAL_TOKENS) vocab[s] = next++;
  // The base alphabet first, as word starts and continuations: the library's trainer leaves some
  // characters out of its vocabulary (measured: '!', '$', '&', "'", '*' on the spam corpus), and a
  // character missing from a WordPiece vocabulary turns its whole word into [UNK].
  for (const ch of alphabet(texts.map((t) => t.slice(0, sample)), lowercase, Math.floor((vocabSize - next) / 4))) {
    for (const t of [ch, `##${ch}`]) if (!(t in vocab)) vocab[t] = next++;
  }
  for (const [token] of Object.entries(trained.model.vocab).sort((a, b) => a[1] - b[1])) {
    if (next >= vocabSize) break;
    if (!(token in vocab)) vocab[token] = next++;
  }
  const id = (t: string) => vocab[t]!;
  const json = {
    version: '1.0',
    truncation: { direction: 'Right', max_length: maxLength, strategy: 'LongestFirst', stride: 0 },
    padding: null,
    added_tokens: SPECIAL_TOKENS.map((content) => ({ id: id(content), content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: lowercase, lowercase },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [id('[CLS]')], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [id('[SEP]')], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
  return TextTokenizer.fromJson(json, { source: 'trained tokenizer' });
}

/**
 * The characters of `texts` (normalized as the BERT normalizer does: lower case, accents stripped)
 * seen at least twice, most frequent first, at most `limit`.
 */
function alphabet(texts: readonly string[], lowercase: boolean, limit: number): string[] {
  const counts = new Map<string, number>();
  for (const t of texts) {
    let s = lowercase ? t.toLowerCase().normalize('NFD').replace(/\p{Mn}/gu, '') : t;
    s = s.replace(/\s+/gu, '');
    for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  }
  return [...counts].filter(([ch, n]) => n >= 2 && !/\p{C}/u.test(ch)).sort((a, b) => b[1] - a[1]).slice(0, limit).map(([ch]) => ch);
}
