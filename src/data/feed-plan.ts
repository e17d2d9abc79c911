/**
 * The feed plan: which table columns (or which computed provider) fill each tensor a step graph takes per
 * batch — model inputs and loss targets alike. The feed's dtype decides how columns are read (a model
 * taking int64 ids [batch, 16] trains from 16 integer columns); symbolic per-sample dims are solved from
 * the data; every mismatch (missing column, wrong dtype, a non-integer in an id column, a shape that does
 * not add up) is a one-line error before any step runs. Providers fill feeds that no column holds:
 * teacher logits from another model, sampled negatives, tokenized text.
 */
import type { DType, TypedArray } from '../onnx/dtype.js';
import { TrainferError } from '../util/errors.js';
import { type Column, type Table, columnSize, columnToFloat64, describeColumn } from './table.js';

/** A tensor the step graph takes per batch: a model input or a loss target. */
export interface FeedSpec {
  name: string;
  dtype: DType;
  /** Per-sample dims (no batch axis); strings are symbolic and solved from the data. */
  shape: readonly (number | string)[];
  role: 'input' | 'target';
  /** Targets of a built-in loss: the model head they belong to. */
  head?: string;
  /**
   * Standardisation the batcher applies while copying float inputs: one mean/std per channel (axis 0 of
   * the sample) or one for all values. Set when a model leaves its leading `Normalize` to the batcher.
   */
  normalize?: { mean: readonly number[]; std: readonly number[] };
}

/** A feed of the batch as a provider sees it. */
export interface BatchFeed {
  data: TypedArray;
  dtype: DType;
  shape: readonly number[];
  role: FeedSpec['role'];
  /** Column names that fill it (undefined for provider feeds). */
  columns?: readonly string[];
}

/** What a provider sees when it fills its feed for one batch. */
export interface ProviderBatch {
  /** The buffer to fill: `size × prod(shape)` elements of the feed's dtype (the first `size` rows of a full buffer). */
  out: TypedArray;
  /** Per-sample shape of the feed. */
  shape: readonly number[];
  /** Rows in this batch. */
  size: number;
  /** The batch's feeds (column feeds are filled; providers listed before this one too), with their columns. */
  feeds: ReadonlyMap<string, BatchFeed>;
  /** The batch's rows: rows `order[start … start + size)` of `table` (`start …` when `order` is null). */
  rows: { table: Table; order: ArrayLike<number> | null; start: number };
  /** Training steps (`train`) or evaluation (`eval`). */
  phase: 'train' | 'eval';
  /** 1-based training step (0 during evaluation). */
  step: number;
}

/**
 * Fills a feed that no column holds, once per batch: teacher logits, sampled negatives, token ids.
 * `fill` may be async (e.g. an onnxruntime run). `state`/`restore` carry its randomness through
 * checkpoints, so a resumed run computes the same values.
 *
 * @example
 * const negatives: FeedProvider = {
 *   fill: ({ out, size }) => { for (let i = 0; i < size; i++) (out as BigInt64Array)[i] = BigInt(rng.int(1000)); },
 *   state: () => rng.state(), restore: (s) => (rng = Rng.fromState(s as RngState)),
 * };
 */
export interface FeedProvider {
  fill(batch: ProviderBatch): void | Promise<void>;
  /** Symbolic dims this provider fixes (a tokenizer: the sequence length it pads to). */
  readonly dims?: Readonly<Record<string, number>>;
  /** Columns it reads (recorded in exported metadata, so evaluation reads the same). */
  readonly columns?: readonly string[];
  /** JSON-serialisable state saved in checkpoints. */
  state?(): unknown;
  /** Restores what `state` returned. */
  restore?(state: unknown): void;
  /** Releases resources (sessions) when training or evaluation ends. */
  close?(): void | Promise<void>;
}

/** Where a feed's values come from: table columns (concatenated in order) or a provider. */
export type FeedBinding = { columns: readonly string[] } | { provider: FeedProvider };

/** One feed of a resolved plan. */
export interface PlannedFeed {
  spec: FeedSpec;
  /** Per-sample dims, all resolved. */
  shape: number[];
  /** The columns that fill it (concatenated), or its provider. */
  columns?: Column[];
  provider?: FeedProvider;
}

/** A resolved plan: every feed with its source and static shape. */
export interface FeedPlan {
  feeds: PlannedFeed[];
  /** Values of the symbolic dims solved from the data (e.g. `{ seq: 16 }`). */
  dims: Record<string, number>;
}

/** Options for `planFeeds`. */
export interface PlanFeedsOptions {
  /** Every feed the graph takes per batch. */
  specs: readonly FeedSpec[];
  /** The data: its columns (every value of a float column bound to an integer feed is checked). */
  table: Pick<Table, 'source' | 'columns'>;
  /** Explicit bindings by feed name. Targets must be bound; unbound inputs take the remaining columns. */
  bindings?: Readonly<Record<string, FeedBinding>>;
  /** Columns no unbound input takes (e.g. targets when only the inputs are planned). */
  exclude?: readonly string[];
  /** Names for messages: how a user writes a binding (default `--inputs`). */
  flag?: string;
  /** The model, for messages (e.g. its file name). */
  model?: string;
}

const INT_DTYPES = new Set<DType>(['int64', 'int32', 'int16', 'int8', 'uint8', 'uint16', 'uint32', 'uint64']);
const FLOAT_DTYPES = new Set<DType>(['float32', 'float16', 'float64']);

/**
 * Resolves which columns (or providers) fill each feed and each feed's per-sample shape; checks dtypes
 * and values. Inputs without a binding are matched to a column of the same name; a single input left
 * over takes every column no other feed uses, in file order.
 *
 * @example
 * const plan = planFeeds({ specs: tg.feeds, table: train, bindings: { target: { columns: ['price'] } } });
 */
export function planFeeds(o: PlanFeedsOptions): FeedPlan {
  const flag = o.flag ?? '--inputs';
  const t = o.table;
  const byName = new Map(t.columns.map((c) => [c.name, c]));
  const bindings = o.bindings ?? {};
  for (const k of Object.keys(bindings)) {
    if (!o.specs.some((s) => s.name === k)) throw new TrainferError(`${flag} ${k}: the model has no input or target named '${k}' (it takes ${o.specs.filter((s) => s.role === 'input').map((s) => s.name).join(', ')})`);
  }
  const used = new Set<string>(o.exclude ?? []);
  const resolved = new Map<string, { columns?: Column[]; provider?: FeedProvider }>();
  const take = (spec: FeedSpec, names: readonly string[]): Column[] => {
    if (names.length === 0) throw new TrainferError(`${flag} ${spec.name}: no columns given`);
    return names.map((n) => {
      const c = byName.get(n);
      if (!c) throw new TrainferError(`${t.source}: no column named '${n}' for ${spec.role} '${spec.name}' (columns: ${t.columns.map((k) => k.name).join(', ')})`);
      used.add(n);
      return c;
    });
  };
  for (const s of o.specs) {
    const b = bindings[s.name];
    if (!b) continue;
    if ('provider' in b) resolved.set(s.name, { provider: b.provider });
    else resolved.set(s.name, { columns: take(s, b.columns) });
  }
  for (const s of o.specs) if (s.role === 'target' && !resolved.has(s.name)) throw new TrainferError(`loss target '${s.name}' has no data: name its column(s) (--target) or give it a provider`);
  // Unbound inputs: a column of the same name, then the one left over takes the rest.
  let open = o.specs.filter((s) => s.role === 'input' && !resolved.has(s.name));
  for (const s of [...open]) {
    const c = byName.get(s.name);
    if (c && !used.has(c.name) && open.length > 1) {
      resolved.set(s.name, { columns: take(s, [c.name]) });
      open = open.filter((x) => x !== s);
    }
  }
  if (open.length > 1) {
    throw new TrainferError(`the model takes ${open.length} inputs (${open.map((s) => s.name).join(', ')}) that no column is named after: map columns to them with ${flag}, e.g. ${flag} ${open[0]!.name}=<col>,…`);
  }
  if (open.length === 1) {
    const rest = t.columns.filter((c) => !used.has(c.name)).map((c) => c.name);
    if (rest.length === 0) throw new TrainferError(`${t.source}: no columns left for model input '${open[0]!.name}' (every column is a target or mapped to another input)`);
    resolved.set(open[0]!.name, { columns: take(open[0]!, rest) });
  }
  // Shapes and dtypes.
  const dims: Record<string, number> = {};
  const feeds: PlannedFeed[] = [];
  for (const spec of o.specs) {
    const r = resolved.get(spec.name)!;
    if (r.columns) {
      for (const c of r.columns) checkColumnFits(c, spec, t.source);
      feeds.push({ spec, shape: solveShape(spec, r.columns, dims, o.model, t.source), columns: r.columns });
    } else feeds.push({ spec, shape: [], provider: r.provider });
  }
  for (const f of feeds) {
    if (!f.provider) continue;
    for (const [k, v] of Object.entries(f.provider.dims ?? {})) {
      if (dims[k] !== undefined && dims[k] !== v) throw new TrainferError(`${f.spec.role} '${f.spec.name}': its provider fixes ${k} = ${v}, but the data gives ${dims[k]}`);
      dims[k] = v;
    }
  }
  for (const f of feeds) {
    if (!f.provider) continue;
    const shape = f.spec.shape.map((d) => (typeof d === 'number' ? d : dims[d]));
    if (shape.some((d) => d === undefined || d < 0)) throw new TrainferError(`${f.spec.role} '${f.spec.name}' (from a provider) has shape [${f.spec.shape.join(', ')}] with a dim no column fixes`);
    f.shape = shape as number[];
  }
  return { feeds, dims };
}

/** Per-sample values of a planned feed. */
export function feedSize(f: Pick<PlannedFeed, 'shape'>): number {
  return f.shape.reduce((a, b) => a * b, 1);
}

function solveShape(spec: FeedSpec, cols: readonly Column[], dims: Record<string, number>, model: string | undefined, source: string): number[] {
  const total = cols.reduce((s, c) => s + columnSize(c), 0);
  const want = spec.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : typeof d === 'string' && dims[d] !== undefined ? dims[d]! : undefined));
  const names = cols.length > 3 ? `${cols[0]!.name}..${cols[cols.length - 1]!.name} (${cols.length} columns)` : cols.map((c) => c.name).join(', ');
  const fmt = (s: readonly (number | string | undefined)[]) => `[${s.map((d) => d ?? '?').join(', ')}]`;
  // One column whose shape fits as is (an image [1, 28, 28] into [1, 28, 28] or [C, H, W] with symbols).
  if (cols.length === 1 && cols[0]!.shape.length === spec.shape.length && cols[0]!.shape.every((d, i) => want[i] === undefined || want[i] === d)) {
    spec.shape.forEach((d, i) => { if (typeof d === 'string') dims[d] = cols[0]!.shape[i]!; });
    return [...cols[0]!.shape];
  }
  const unknown = want.filter((d) => d === undefined).length;
  const known = want.reduce<number>((a, d) => a * (d ?? 1), 1);
  if (unknown === 0) {
    if (known === total) return want as number[];
  } else if (unknown === 1 && known > 0 && total % known === 0) {
    const solved = want.map((d) => d ?? total / known);
    spec.shape.forEach((d, i) => { if (typeof d === 'string') dims[d] = solved[i]!; });
    return solved;
  }
  if (spec.shape.length === 0 && total === 1) return [];
  throw new TrainferError(`${model ? `${model}: ` : ''}${spec.role} '${spec.name}' expects ${fmt(want)} per sample${unknown === 0 ? ` (${known} values)` : ''} but ${source} column${cols.length === 1 ? '' : 's'} ${names} give${cols.length === 1 ? 's' : ''} ${total} value${total === 1 ? '' : 's'} per row${cols.length === 1 && cols[0]!.shape.length ? ` (shape [${cols[0]!.shape.join(', ')}])` : ''}`);
}

/** Checks that a column can be read as the feed's dtype (integer ids from integer values, …). */
function checkColumnFits(c: Column, spec: FeedSpec, source: string): void {
  const what = `${spec.role} '${spec.name}' (${spec.dtype})`;
  if (c.kind === 'text') throw new TrainferError(`${source}: column '${c.name}' is text; ${what} needs numbers — text needs a tokenizer (a feed provider), or leave the column out`);
  if (FLOAT_DTYPES.has(spec.dtype)) {
    if (c.kind === 'categorical' && spec.role === 'input') throw new TrainferError(`${source}: column '${c.name}' is categorical (${c.vocabulary?.length ?? '?'} values); ${what} takes numbers: feed it to an int64 input (an embedding), or pass --column-type ${c.name}=float32 if its values are numbers`);
    return;
  }
  if (INT_DTYPES.has(spec.dtype) || spec.dtype === 'bool') {
    if (c.dtype === 'float32' || c.dtype === 'float64' || c.dtype === 'float16' || (c.dtype === 'uint8' && (c.scale ?? 1) !== 1)) {
      const v = columnToFloat64(c);
      const s = columnSize(c);
      for (let i = 0; i < v.length; i++) {
        if (!Number.isInteger(v[i]!)) throw new TrainferError(`${source}: column '${c.name}' holds ${v[i]} (row ${Math.floor(i / s) + 1}) but ${what} takes integers`);
      }
    }
    if (spec.dtype === 'bool') {
      const v = columnToFloat64(c);
      const bad = v.findIndex((x) => x !== 0 && x !== 1);
      if (bad >= 0) throw new TrainferError(`${source}: column '${c.name}' holds ${v[bad]} (row ${Math.floor(bad / columnSize(c)) + 1}) but ${what} takes 0/1 values`);
    }
    return;
  }
  throw new TrainferError(`${what}: feeding ${spec.dtype} from ${describeColumn(c)} is not supported`);
}

/**
 * Parses a column→input mapping as the CLI takes it: `ids=c1..c16,dense=price,age` — a name with `=`
 * starts a feed; the columns after it (comma separated, `A..B` for every column from A to B in file
 * order) belong to it until the next `name=`. Column ranges are expanded against `columns`.
 */
export function parseFeedMapping(text: string, columns: readonly string[], flag = '--inputs'): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  let cur: string | undefined;
  for (const raw of text.split(',')) {
    let tok = raw.trim();
    if (tok === '') continue;
    const eq = tok.indexOf('=');
    if (eq >= 0) {
      cur = tok.slice(0, eq).trim();
      if (!cur) throw new TrainferError(`${flag} '${text}': '${tok}' has no feed name before '='`);
      if (out[cur]) throw new TrainferError(`${flag} '${text}': '${cur}' is given twice`);
      out[cur] = [];
      tok = tok.slice(eq + 1).trim();
      if (tok === '') continue;
    }
    if (!cur) throw new TrainferError(`${flag} '${text}': expected name=columns (e.g. ids=c1..c16,dense=price,age), found '${tok}' first`);
    out[cur]!.push(...expandRange(tok, columns, flag));
  }
  for (const [k, v] of Object.entries(out)) if (v.length === 0) throw new TrainferError(`${flag} ${k}=: no columns given`);
  return out;
}

/** `A..B` → the columns from A to B in file order; anything else → itself (checked later). */
export function expandRange(tok: string, columns: readonly string[], flag = '--inputs'): string[] {
  const m = /^(.+?)\.\.(.+)$/.exec(tok);
  if (!m) return [tok];
  const a = columns.indexOf(m[1]!.trim());
  const b = columns.indexOf(m[2]!.trim());
  if (a < 0 || b < 0) throw new TrainferError(`${flag} ${tok}: no column named '${a < 0 ? m[1] : m[2]}' (columns: ${columns.join(', ')})`);
  if (b < a) throw new TrainferError(`${flag} ${tok}: '${m[2]}' comes before '${m[1]}' in the file`);
  return columns.slice(a, b + 1);
}
