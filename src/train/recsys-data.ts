/**
 * Loading interaction data for a recommender job: `synthetic:…` (generated, with its oracle) or a file
 * (MovieLens layouts, CSV/TSV/JSONL), split by `leave-last-out` (default) or `time`.
 */
import { existsSync } from 'node:fs';
import { TrainferError } from '../util/errors.js';
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
