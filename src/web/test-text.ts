/**
 * Test helper (not public API): a small text classifier in the layout `trainfer train` writes for text
 * (`<dir>/model.onnx` + `<dir>/tokenizer.json`), so the page's text box is tested before the language
 * work lands. The tokenizer is a BERT-style WordPiece (lower-casing normalizer, `[CLS] … [SEP]`); the
 * model averages 2-d word embeddings over the attention mask — "ham" words vote for class 0, "spam"
 * words for class 1 — so the right answer for a sentence is known exactly.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GraphBuilder } from '../onnx/builder.js';
import type { Model } from '../onnx/ir.js';
import { writeModel } from '../onnx/model-io.js';
import { Tensor } from '../onnx/tensor.js';

const SPECIAL = ['[PAD]', '[UNK]', '[CLS]', '[SEP]'];
/** Words that vote ham (class 0) and spam (class 1). */
export const HAM_WORDS = ['meeting', 'agenda', 'tomorrow', 'project', 'notes', 'lunch'];
export const SPAM_WORDS = ['free', 'money', 'win', 'prize', 'claim', 'now', '##s'];
const OTHER = ['the', 'for', 'a', 'you', 'our', 'your', 'to', 'and', '!', '.', ','];

/** The vocabulary in id order. */
export function textVocab(): string[] {
  return [...SPECIAL, ...HAM_WORDS, ...SPAM_WORDS, ...OTHER];
}

/** A Hugging Face tokenizer.json (WordPiece, BERT normalizer and pre-tokenizer, [CLS]/[SEP] template). */
export function textTokenizerJson(): object {
  const vocab = Object.fromEntries(textVocab().map((t, i) => [t, i]));
  return {
    version: '1.0',
    truncation: { direction: 'Right', max_length: 64, strategy: 'LongestFirst', stride: 0 },
    padding: null,
    added_tokens: SPECIAL.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
      special_tokens: { '[CLS]': { id: '[CLS]', ids: [2], tokens: ['[CLS]'] }, '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] } },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
}

/**
 * `input_ids` and `attention_mask` (int64 [batch, seq]) → `logits` [batch, 2]: the mask-weighted mean of
 * each token's embedding (ham words [1, 0], spam words [0, 1], the rest [0, 0]).
 */
export function textClassifier(): Model {
  const vocab = textVocab();
  const emb = new Float32Array(vocab.length * 2);
  vocab.forEach((t, i) => {
    if (HAM_WORDS.includes(t)) emb[i * 2] = 1;
    if (SPAM_WORDS.includes(t)) emb[i * 2 + 1] = 1;
  });
  const g = new GraphBuilder({ name: 'bag_of_words' });
  const ids = g.input('input_ids', 'int64', ['batch', 'sequence']);
  const mask = g.input('attention_mask', 'int64', ['batch', 'sequence']);
  const e = g.op('Gather', [g.initializer('embedding', new Tensor('float32', [vocab.length, 2], emb)), ids])[0]!; // [B, S, 2]
  const m = g.op('Unsqueeze', [g.op('Cast', [mask], { to: { type: 'int', value: 1 } })[0]!, g.constant(Tensor.i64([1], [2]))])[0]!; // [B, S, 1]
  const axis = g.constant(Tensor.i64([1], [1]));
  const sum = g.op('ReduceSum', [g.op('Mul', [e, m])[0]!, axis], { keepdims: { type: 'int', value: 0 } })[0]!; // [B, 2]
  const count = g.op('ReduceSum', [m, axis], { keepdims: { type: 'int', value: 0 } })[0]!; // [B, 1]
  g.output(g.op('Div', [sum, count])[0]!, 'logits', { dtype: 'float32', shape: ['batch', 2] });
  const model = g.toModel({ opset: 18 });
  model.metadata.set('trainfer.class_names', JSON.stringify(['ham', 'spam']));
  return model;
}

/** Writes `dir/model.onnx` and `dir/tokenizer.json`. */
export function writeTextClassifier(dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeModel(join(dir, 'model.onnx'), textClassifier());
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(textTokenizerJson()));
}
