/**
 * Loading interaction data for a recommender job: `synthetic:…` (generated, with its oracle) or a file
 * (MovieLens layouts, CSV/TSV/JSONL), split by `leave-last-out` (default) or `time`.
 */
import { existsSync } from 'node:fs';
import { TrainferError } from '../util/errors.js';
import type { ProgressMode, ProgressReporter } from './progress.js';
import type { SparseOptimizerConfig } from './sparse-optimizers.js';
import { type Interactions, readInteractions } from '../data/interactions.js';
import { type InteractionSplits, type SplitSpec, parseSplit, splitInteractions } from '../data/interaction-splits.js';
import { type SyntheticOracle, generateInteractions, isSyntheticSource, parseSyntheticSpec } from '../data/synthetic-interactions.js';

/** Options for `loadRecsysData`. */
export interface RecsysDataOptions {
  /** `synthetic:users=U,items=I,…` or an interactions file. */
  data: string;
  /** `leave-last-out` (default) or `time[,test=F,validation=F]`. */
  split?: string | SplitSpec;
  /** Column names for files (default: recognised names). */
  userColumn?: string;
  itemColumn?: string;
  labelColumn?: string;
  timeColumn?: string;
}

/**
 * The options the recommender jobs share (`runRetrievalJob` for mf / two-tower, `runCtrJob` for dlrm):
 * the data and output, the training loop, the sparse tables' optimizer, checkpoints and resume.
 */
export interface InteractionJobOptions {
  /** `synthetic:users=U,items=I,…` or an interactions file. */
  data: string;
  out?: string;
  /** Embedding width. */
  dim?: number;
  /** Sampled negatives per positive (default 4). */
  negatives?: number;
  epochs?: number;
  batchSize?: number;
  /** Dense parameters (MLPs, biases). */
  optimizer?: 'sgd' | 'adam' | 'adamw';
  lr?: number;
  /** Embedding tables (default `rowwise-adagrad`); `dense` keeps them in the step graph (Adam on the whole table). */
  sparseOptimizer?: SparseOptimizerConfig['type'] | 'dense';
  sparseLr?: number;
  schedule?: string;
  /** `leave-last-out` (default) or `time[,test=F,validation=F]`. */
  split?: string;
  seed?: number;
  checkpointDir?: string;
  checkpointEverySteps?: number;
  resume?: boolean;
  overwrite?: boolean;
  maxSteps?: number;
  threads?: number;
  progress?: ProgressMode | ProgressReporter;
  signal?: AbortSignal;
}

/** Interactions split for training, with the oracle of synthetic data. */
export interface RecsysData {
  source: string;
  all: Interactions;
  splits: InteractionSplits;
  oracle?: SyntheticOracle;
  split: SplitSpec;
}

/** Loads and splits interactions. */
export function loadRecsysData(o: RecsysDataOptions): RecsysData {
  const split = typeof o.split === 'string' ? parseSplit(o.split) : (o.split ?? { type: 'leave-last-out', validation: false });
  let all: Interactions;
  let oracle: SyntheticOracle | undefined;
  if (isSyntheticSource(o.data)) {
    const g = generateInteractions(parseSyntheticSpec(o.data));
    all = g.interactions;
    oracle = g.oracle;
  } else {
    if (!existsSync(o.data)) throw new TrainferError(`${o.data}: no such file (expected an interactions file — MovieLens u.data / ratings.csv, or a CSV/TSV/JSONL with user and item columns — or synthetic:users=U,items=I)`);
    all = readInteractions(o.data, { userColumn: o.userColumn, itemColumn: o.itemColumn, labelColumn: o.labelColumn, timeColumn: o.timeColumn });
  }
  return { source: o.data, all, splits: splitInteractions(all, split), oracle, split };
}
