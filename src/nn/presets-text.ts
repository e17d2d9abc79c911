/**
 * The text-classification preset `transformer[:L,D,H]`: token + learned positional embeddings, L pre-LN
 * encoder blocks of width D with H heads (FFN 4·D, GELU, dropout 0.2), a final LayerNorm, mean pooling
 * over the attention mask and a linear head (`transformer:0,D,1`: no blocks, a bag of embeddings). Inputs `input_ids` and `attention_mask` (int64
 * [batch, sequence], the Hugging Face names), output `logits` [batch, classes] (+ `probabilities`).
 */
import { TrainferError } from '../util/errors.js';
import { LayerNorm } from './layers-conv.js';
import { Dropout, Linear } from './layers-dense.js';
import { SequencePool, TokenEmbedding, TransformerBlock } from './layers-text.js';
import type { Task } from './loss.js';
import { Network } from './network.js';

/** Defaults of `transformer` without sizes: 2 layers, width 128, 4 heads. */
export const TRANSFORMER_DEFAULTS = { layers: 2, dim: 128, heads: 4 } as const;

/** True when `spec` names the transformer preset. */
export function isTextPreset(spec: string): boolean {
  return spec === 'transformer' || spec.startsWith('transformer:');
}

/** `transformer[:L,D,H]` → sizes (one-line errors for anything else). */
export function parseTransformerSpec(spec: string): { layers: number; dim: number; heads: number } {
  if (spec === 'transformer') return { ...TRANSFORMER_DEFAULTS };
  const parts = spec.slice('transformer:'.length).split(',').map((s) => s.trim());
  const nums = parts.map(Number);
  if (parts.length !== 3 || nums.some((n, i) => !Number.isInteger(n) || n < (i === 0 ? 0 : 1))) throw new TrainferError(`--model ${spec}: expected transformer:L,D,H (layers ≥ 0 — 0 is a bag of embeddings — width and heads positive integers), e.g. transformer:2,128,4`);
  const [layers, dim, heads] = nums as [number, number, number];
  if (dim % heads !== 0) throw new TrainferError(`--model ${spec}: width ${dim} is not a multiple of ${heads} heads`);
  return { layers, dim, heads };
}

/** Options for `buildTransformerPreset`. */
export interface TransformerPresetOptions {
  spec: string;
  /** Rows of the token table (the tokenizer's vocabulary size). */
  vocabSize: number;
  /** Longest sequence (the tokenizer's maximum length). */
  maxLength: number;
  numClasses: number;
  task?: Task;
  classNames?: readonly string[];
  seed?: number;
  /** Dropout (default 0.2: on the spam corpus it scored 98.95% where 0.1 scored 98.87%, with weight decay 0.1 and label smoothing 0.1). */
  dropout?: number;
  /** Pooling (default mean over the mask). */
  pool?: 'mean' | 'first';
}

/**
 * Builds the transformer text classifier.
 *
 * @example
 * const net = buildTransformerPreset({ spec: 'transformer:2,128,4', vocabSize: tokenizer.vocabSize, maxLength: 256, numClasses: 2 });
 */
export function buildTransformerPreset(o: TransformerPresetOptions): Network {
  const { layers, dim, heads } = parseTransformerSpec(o.spec);
  const p = o.dropout ?? 0.2;
  const mask = 'attention_mask';
  const blocks = Array.from({ length: layers }, () => new TransformerBlock({ heads, dropout: p, mask }));
  return new Network({
    name: `transformer_${layers}_${dim}_${heads}`,
    inputs: [
      { name: 'input_ids', shape: ['sequence'], dtype: 'int64', layers: [new TokenEmbedding({ vocabSize: o.vocabSize, dim, maxLength: o.maxLength }), ...(p > 0 ? [new Dropout({ rate: p })] : []), ...blocks, new LayerNorm(), new SequencePool({ mode: o.pool ?? 'mean', mask })] },
      { name: mask, shape: ['sequence'], dtype: 'int64', context: true },
    ],
    layers: [new Linear({ outFeatures: o.numClasses, init: 'xavier-uniform' })],
    task: o.task ?? 'classification',
    classNames: o.classNames,
    seed: o.seed,
  });
}
