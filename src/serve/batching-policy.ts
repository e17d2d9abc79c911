/**
 * Whether a served model batches requests, and why — the rule Triton follows: batching needs
 * `maxBatchSize > 0`; left unset ("auto"), it is switched on only for a model that says it is batch-first
 * (Trainfer's exports record `trainfer.batch_first` = "true" in their metadata) and whose inputs and
 * outputs all have a dynamic first dimension. Models with operators that make one row's result depend on
 * the other rows of its batch (dynamic quantization computes one activation scale per run) are never
 * batched: a request's answer must not depend on its neighbours.
 */
import { TrainferError } from '../util/errors.js';
import type { ModelFacts } from './model-facts.js';

/** The metadata key (value `"true"`) by which a model says dimension 0 of every input and output is the batch. */
export const BATCH_FIRST_KEY = 'trainfer.batch_first';

const PER_BATCH_SCALE = 'computes one activation scale and zero point for its whole input, so a row\'s result would depend on the other rows in its batch';

/** Operators (`domain:op_type`) whose results couple the rows of a batch, with the reason. */
export const BATCH_COUPLED_OPS: Readonly<Record<string, string>> = {
  ':DynamicQuantizeLinear': `DynamicQuantizeLinear ${PER_BATCH_SCALE}`,
  'com.microsoft:DynamicQuantizeMatMul': `DynamicQuantizeMatMul ${PER_BATCH_SCALE}`,
  'com.microsoft:DynamicQuantizeLSTM': `DynamicQuantizeLSTM ${PER_BATCH_SCALE}`,
};

/** The batching a model version runs with. */
export interface BatchingDecision {
  /** Largest concatenated batch; 0 = requests run one at a time as sent. */
  maxBatchSize: number;
  /** Why, in words (reported by `GET /v2/models/{name}/config`). */
  reason: string;
}

/** What `decideBatching` looks at. */
export interface BatchingInput {
  /** `maxBatchSize` from config.json, or `auto` when it leaves it unset. */
  configured: number | 'auto';
  /** The batch limit an `auto` batch-first model gets (0 = never batch automatically). */
  autoMaxBatchSize: number;
  facts: ModelFacts;
  /** Shapes of every input and output, -1 for dynamic dims. */
  tensors: readonly { name: string; shape: readonly number[] }[];
  /** Named in errors (the config file). */
  where: string;
}

/** Decides batching. An explicit `maxBatchSize > 0` the model cannot honour is a one-line error. */
export function decideBatching(o: BatchingInput): BatchingDecision {
  const fixed = o.tensors.find((t) => t.shape.length === 0 || t.shape[0] !== -1);
  const coupled = [...o.facts.ops].find((op) => op in BATCH_COUPLED_OPS);
  const fixedWhy = fixed && `'${fixed.name}' has no dynamic first dimension (shape [${fixed.shape.join(', ')}])`;
  if (o.configured !== 'auto') {
    if (o.configured === 0) return { maxBatchSize: 0, reason: 'maxBatchSize is 0 in config.json' };
    if (fixedWhy) throw new TrainferError(`${o.where}: maxBatchSize ${o.configured} needs a dynamic first (batch) dimension on every input and output, but ${fixedWhy}; set maxBatchSize to 0`);
    if (coupled) throw new TrainferError(`${o.where}: maxBatchSize ${o.configured}: this model cannot be batched: ${BATCH_COUPLED_OPS[coupled]}; set maxBatchSize to 0`);
    return { maxBatchSize: o.configured, reason: 'maxBatchSize is set in config.json' };
  }
  if (o.facts.metadata.get(BATCH_FIRST_KEY) !== 'true') {
    return { maxBatchSize: 0, reason: `the model does not declare ${BATCH_FIRST_KEY}=true in its metadata; set maxBatchSize in config.json to batch it` };
  }
  if (fixedWhy) return { maxBatchSize: 0, reason: fixedWhy };
  if (coupled) return { maxBatchSize: 0, reason: `not batched: ${BATCH_COUPLED_OPS[coupled]}` };
  if (o.autoMaxBatchSize === 0) return { maxBatchSize: 0, reason: 'automatic batching is off (--max-batch-size 0)' };
  return { maxBatchSize: o.autoMaxBatchSize, reason: `the model declares ${BATCH_FIRST_KEY}=true` };
}
