/**
 * Interaction data for recommenders: who interacted with what, when, how strongly, and the side
 * features of users and items. Readers for MovieLens' layouts (`u.data`: user, item, rating, timestamp,
 * tab-separated, no header; `ratings.csv`: `userId,movieId,rating,timestamp`) and for any CSV/TSV/JSONL
 * file whose columns name a user, an item and optionally a rating or click and a timestamp; columns
 * prefixed `user_` / `item_` (or named with `userFeatures` / `itemFeatures`) are categorical side
 * features, constant per user / item. Raw ids become contiguous indices (sorted vocabularies), so every
 * reader and every split of one file agree. Errors name the file and the line.
 */
import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { FileFormatError, TrainferError } from '../util/errors.js';
import { csvRecords } from './csv.js';
import { jsonlRecords } from './jsonl.js';
import { type Column, type Table } from './table.js';

/** A categorical side feature of users or items: one id per user/item and its vocabulary. */
export interface SideFeature {
  name: string;
  /** Per user (or item) index: the category id, `vocabulary[id]`. */
  values: Int32Array;
  vocabulary: string[];
}

/** What the `label` of an interaction means. */
export type LabelKind = 'rating' | 'click' | 'implicit';

/** Interactions as parallel arrays (one entry per interaction). */
export interface Interactions {
  /** Where they came from, for messages. */
  source: string;
  count: number;
  /** User index per interaction, 0..users-1. */
  user: Int32Array;
  /** Item index per interaction, 0..items-1. */
  item: Int32Array;
  /** Rating, click (0/1), or 1 for implicit feedback. */
  label: Float32Array;
  /** Timestamp (the file's row order when the file has none). */
  time: Float64Array;
  labelKind: LabelKind;
  users: number;
  items: number;
  /** Raw user id of each index (absent: the index is the id). */
  userIds?: string[];
  itemIds?: string[];
  userFeatures: SideFeature[];
  itemFeatures: SideFeature[];
}

/** Column names recognised for each role (compared case-insensitively). */
export const INTERACTION_COLUMNS = {
  user: ['user', 'user_id', 'userid', 'uid', 'customer_id'],
  item: ['item', 'item_id', 'itemid', 'movieid', 'movie_id', 'iid', 'product_id'],
  rating: ['rating', 'score', 'stars'],
  click: ['click', 'clicked', 'label', 'clicks'],
  time: ['timestamp', 'ts', 'time', 'datetime', 'date'],
} as const;

/** Options for `readInteractions`. */
export interface ReadInteractionsOptions {
  /** Column names (default: recognised from `INTERACTION_COLUMNS`). */
  userColumn?: string;
  itemColumn?: string;
  /** A rating or click column (default: the first recognised; none → implicit feedback, label 1). */
  labelColumn?: string;
  timeColumn?: string;
  /** Side features (default: every other column prefixed `user_` / `item_`). */
  userFeatures?: readonly string[];
  itemFeatures?: readonly string[];
  /** Reuse these id vocabularies (a test file read with the training file's ids); unknown ids are errors unless `unknown: 'skip'`. */
  userIds?: readonly string[];
  itemIds?: readonly string[];
  unknown?: 'error' | 'skip';
}

/** True for MovieLens' headerless `u.data` layout (name, or a first line of four tab-separated integers). */
export function isMovieLensData(path: string, firstLine: string): boolean {
  return basename(path) === 'u.data' || path.endsWith('.data') || /^\d+\t\d+\t\d+(\.\d+)?\t\d+$/.test(firstLine.trim());
}

/**
 * Reads interactions from a file: MovieLens `u.data` (tab-separated user, item, rating, timestamp; no
 * header), `ratings.csv` and any CSV/TSV/JSONL with user and item columns.
 *
 * @example
 * const inter = readInteractions('ml-100k/u.data');          // 943 users, 1682 items, ratings 1..5
 * const clicks = readInteractions('clicks.jsonl', { itemFeatures: ['item_category'] });
 */
export function readInteractions(path: string, o: ReadInteractionsOptions = {}): Interactions {
  let text: string;
  try {
    if (statSync(path).isDirectory()) throw new FileFormatError(path, 'is a directory, not an interactions file');
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof TrainferError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new FileFormatError(path, code === 'ENOENT' ? 'no such file' : (err as Error).message, { cause: err });
  }
  const lower = path.toLowerCase();
  const firstLine = text.slice(0, Math.max(0, text.indexOf('\n')) || text.length);
  let header: string[];
  let rows: Iterable<{ cells: (string | number | boolean | null)[]; line: number }>;
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) {
    const recs = [...jsonlRecords(text, path)];
    if (recs.length === 0) throw new FileFormatError(path, 'no interactions (the file is empty)');
    header = [...recs[0]!.values.keys()];
    rows = recs.map((r) => {
      const keys = [...r.values.keys()];
      if (keys.length !== header.length || keys.some((k) => !header.includes(k))) throw new FileFormatError(path, `line ${r.line}: keys ${keys.join(', ')} differ from the first line's (${header.join(', ')})`);
      return { cells: header.map((k) => {
        const v = r.values.get(k);
        if (Array.isArray(v)) throw new FileFormatError(path, `line ${r.line}: '${k}' is an array; interaction columns hold one value`);
        return v ?? null;
      }), line: r.line };
    });
  } else if (isMovieLensData(path, firstLine)) {
    header = ['user', 'item', 'rating', 'timestamp'];
    rows = csvRecords(text, '\t');
  } else {
    const delim = lower.endsWith('.tsv') || (firstLine.includes('\t') && !firstLine.includes(',')) ? '\t' : lower.endsWith('.dat') ? '::' : ',';
    if (delim === '::') {
      header = ['user', 'item', 'rating', 'timestamp'];
      rows = text.split('\n').map((l, i) => ({ cells: l.trim() ? l.trim().split('::') : [], line: i + 1 })).filter((r) => r.cells.length > 0);
    } else {
      const it = csvRecords(text, delim);
      const first = it.next();
      if (first.done) throw new FileFormatError(path, 'no interactions (the file is empty)');
      header = first.value.cells.map((c) => c.trim());
      if (header.every((h) => h !== '' && Number.isFinite(Number(h)))) {
        throw new FileFormatError(path, `line 1: the first row holds numbers (${header.slice(0, 4).join(', ')}), not column names: add a header (e.g. user,item,rating,timestamp), or name a MovieLens file u.data`);
      }
      rows = { [Symbol.iterator]: () => it };
    }
  }
  return interactionsFromRows({ source: path, header, rows, options: o });
}

function pick(header: readonly string[], explicit: string | undefined, names: readonly string[], role: string, source: string, required: boolean): number {
  if (explicit !== undefined) {
    const k = header.indexOf(explicit);
    if (k < 0) throw new TrainferError(`${source}: no column named '${explicit}' for the ${role} (columns: ${header.join(', ')})`);
    return k;
  }
  const k = header.findIndex((h) => names.includes(h.toLowerCase()));
  if (k < 0 && required) throw new TrainferError(`${source}: no ${role} column (expected one named ${names.join(', ')}; columns: ${header.join(', ')}) — name it with --${role}-column`);
  return k;
}

/** Sorted vocabulary: numerically when every id is a number, else as strings. */
function sortIds(ids: Iterable<string>): string[] {
  const list = [...ids];
  if (list.every((s) => s !== '' && Number.isFinite(Number(s)))) return list.sort((a, b) => Number(a) - Number(b) || (a < b ? -1 : a > b ? 1 : 0));
  return list.sort();
}

/** Builds interactions from parsed rows (shared by every file layout). */
function interactionsFromRows(o: { source: string; header: string[]; rows: Iterable<{ cells: (string | number | boolean | null)[]; line: number }>; options: ReadInteractionsOptions }): Interactions {
  const { source, header, options: opt } = o;
  const ku = pick(header, opt.userColumn, INTERACTION_COLUMNS.user, 'user', source, true);
  const ki = pick(header, opt.itemColumn, INTERACTION_COLUMNS.item, 'item', source, true);
  const kr = opt.labelColumn !== undefined ? pick(header, opt.labelColumn, [], 'label', source, true) : pick(header, undefined, INTERACTION_COLUMNS.rating, 'rating', source, false);
  const kc = kr >= 0 ? -1 : pick(header, undefined, INTERACTION_COLUMNS.click, 'click', source, false);
  const kl = kr >= 0 ? kr : kc;
  const kt = pick(header, opt.timeColumn, INTERACTION_COLUMNS.time, 'time', source, false);
  const taken = new Set([ku, ki, kl, kt]);
  const side = (prefix: string, given: readonly string[] | undefined): number[] => {
    if (given) return given.map((n) => pick(header, n, [], `${prefix} feature`, source, true));
    return header.map((h, k) => (!taken.has(k) && h.toLowerCase().startsWith(`${prefix}_`) ? k : -1)).filter((k) => k >= 0);
  };
  const ufk = side('user', opt.userFeatures);
  const ifk = side('item', opt.itemFeatures);
  const users: string[] = [];
  const items: string[] = [];
  const labels: number[] = [];
  const times: number[] = [];
  const uf: string[][] = ufk.map(() => []);
  const itf: string[][] = ifk.map(() => []);
  const lines: number[] = [];
  let clickOnly = kc >= 0;
  const str = (v: string | number | boolean | null | undefined): string => (v === null || v === undefined ? '' : String(v).trim());
  for (const r of o.rows) {
    const c = r.cells;
    if (c.length === 1 && str(c[0]) === '') continue;
    if (c.length !== header.length) throw new FileFormatError(source, `line ${r.line}: ${c.length} fields, expected ${header.length} (${header.join(', ')})`);
    const u = str(c[ku]);
    const it = str(c[ki]);
    if (u === '') throw new FileFormatError(source, `line ${r.line}: empty ${header[ku]}`);
    if (it === '') throw new FileFormatError(source, `line ${r.line}: empty ${header[ki]}`);
    let label = 1;
    if (kl >= 0) {
      const raw = c[kl];
      label = typeof raw === 'boolean' ? Number(raw) : Number(str(raw));
      if (str(raw) === '' || !Number.isFinite(label)) throw new FileFormatError(source, `line ${r.line}, column '${header[kl]}': '${str(raw)}' is not a number`);
      if (kc >= 0 && label !== 0 && label !== 1) clickOnly = false;
    }
    let t = r.line;
    if (kt >= 0) {
      const raw = str(c[kt]);
      t = Number(raw);
      if (!Number.isFinite(t)) t = Date.parse(raw);
      if (raw === '' || !Number.isFinite(t)) throw new FileFormatError(source, `line ${r.line}, column '${header[kt]}': '${raw}' is not a timestamp (seconds, or an ISO date)`);
    }
    users.push(u);
    items.push(it);
    labels.push(label);
    times.push(t);
    lines.push(r.line);
    ufk.forEach((k, j) => uf[j]!.push(str(c[k])));
    ifk.forEach((k, j) => itf[j]!.push(str(c[k])));
  }
  if (users.length === 0) throw new FileFormatError(source, 'no interactions (the file has a header but no rows)');
  if (kc >= 0 && !clickOnly) throw new FileFormatError(source, `column '${header[kc]}' holds values other than 0 and 1; name a rating column with --label-column`);
  const index = (raw: string[], given: readonly string[] | undefined, what: string): { ids: string[]; idx: Int32Array; keep: Uint8Array } => {
    const ids = given ? [...given] : sortIds(new Set(raw));
    const map = new Map(ids.map((s, i) => [s, i]));
    const idx = new Int32Array(raw.length);
    const keep = new Uint8Array(raw.length).fill(1);
    raw.forEach((s, i) => {
      const v = map.get(s);
      if (v === undefined) {
        if (opt.unknown === 'skip') keep[i] = 0;
        else throw new FileFormatError(source, `line ${lines[i]}: ${what} '${s}' is not in the model's vocabulary (${ids.length} ${what}s)`);
      } else idx[i] = v;
    });
    return { ids, idx, keep };
  };
  const U = index(users, opt.userIds, 'user');
  const I = index(items, opt.itemIds, 'item');
  const keepRows: number[] = [];
  for (let i = 0; i < users.length; i++) if (U.keep[i] && I.keep[i]) keepRows.push(i);
  const n = keepRows.length;
  const out: Interactions = {
    source,
    count: n,
    user: Int32Array.from(keepRows, (i) => U.idx[i]!),
    item: Int32Array.from(keepRows, (i) => I.idx[i]!),
    label: Float32Array.from(keepRows, (i) => labels[i]!),
    time: Float64Array.from(keepRows, (i) => times[i]!),
    labelKind: kr >= 0 ? 'rating' : kc >= 0 ? 'click' : 'implicit',
    users: U.ids.length,
    items: I.ids.length,
    userIds: U.ids,
    itemIds: I.ids,
    userFeatures: sideFeatures(ufk.map((k) => header[k]!), uf, U.idx, U.ids.length, lines, source, 'user'),
    itemFeatures: sideFeatures(ifk.map((k) => header[k]!), itf, I.idx, I.ids.length, lines, source, 'item'),
  };
  return out;
}

/** Per-user (per-item) categories of side-feature columns; a value that changes for one user/item is an error naming the line. */
function sideFeatures(names: string[], raw: string[][], owner: Int32Array, count: number, lines: number[], source: string, what: string): SideFeature[] {
  return names.map((name, j) => {
    const vocabulary = sortIds(new Set(raw[j]!));
    const map = new Map(vocabulary.map((s, i) => [s, i]));
    const values = new Int32Array(count).fill(-1);
    raw[j]!.forEach((s, i) => {
      const v = map.get(s)!;
      const o = owner[i]!;
      if (values[o] === -1) values[o] = v;
      else if (values[o] !== v) throw new FileFormatError(source, `line ${lines[i]}: ${what} feature '${name}' is '${s}' here but '${vocabulary[values[o]!]}' earlier for the same ${what}; side features must be constant per ${what}`);
    });
    return { name, values: values.map((v) => Math.max(0, v)), vocabulary };
  });
}

/** Selects interactions `rows` (copied; the input is not modified). */
export function selectInteractions(d: Interactions, rows: ArrayLike<number>, source = d.source): Interactions {
  const n = rows.length;
  const pickArr = <T extends Int32Array | Float32Array | Float64Array>(a: T, make: (n: number) => T): T => {
    const out = make(n);
    for (let i = 0; i < n; i++) out[i] = a[rows[i]!]!;
    return out;
  };
  return {
    ...d,
    source,
    count: n,
    user: pickArr(d.user, (k) => new Int32Array(k)),
    item: pickArr(d.item, (k) => new Int32Array(k)),
    label: pickArr(d.label, (k) => new Float32Array(k)),
    time: pickArr(d.time, (k) => new Float64Array(k)),
  };
}

/**
 * The table the trainer consumes: `user` and `item` (int64 ids), `label` (float32), `timestamp`
 * (float64), and each side feature expanded per row (int64 categorical, named as in the file).
 */
export function interactionTable(d: Interactions): Table {
  const n = d.count;
  const ids = (a: Int32Array, vocabulary?: string[]): Pick<Column, 'data' | 'kind' | 'vocabulary'> => {
    const data = new BigInt64Array(n);
    for (let i = 0; i < n; i++) data[i] = BigInt(a[i]!);
    return { data, kind: vocabulary ? 'categorical' : 'numeric', ...(vocabulary ? { vocabulary } : {}) };
  };
  const columns: Column[] = [
    { name: 'user', dtype: 'int64', shape: [], ...ids(d.user) },
    { name: 'item', dtype: 'int64', shape: [], ...ids(d.item) },
    { name: 'label', dtype: 'float32', shape: [], data: d.label, kind: 'numeric' },
    { name: 'timestamp', dtype: 'float64', shape: [], data: d.time, kind: 'numeric' },
  ];
  const expand = (f: SideFeature, owner: Int32Array): Column => {
    const per = new Int32Array(n);
    for (let i = 0; i < n; i++) per[i] = f.values[owner[i]!]!;
    return { name: f.name, dtype: 'int64', shape: [], ...ids(per, f.vocabulary) };
  };
  for (const f of d.userFeatures) columns.push(expand(f, d.user));
  for (const f of d.itemFeatures) columns.push(expand(f, d.item));
  return { source: d.source, count: n, columns };
}

/** Interactions per item (popularity) over `d`. */
export function itemCounts(d: Interactions): Float64Array {
  const c = new Float64Array(d.items);
  for (let i = 0; i < d.count; i++) c[d.item[i]!]!++;
  return c;
}
