/**
 * Splitting interactions for recommender evaluation, and per-user histories. `leaveLastOut` holds out
 * each user's latest interaction (and the one before it for validation) — the protocol of NCF, SASRec
 * and most top-K papers; `timeSplit` holds out everything after a global time cutoff (no future leaks
 * into training). Ties in time keep the file's order. `userHistory` is a CSR list of each user's items,
 * for excluding already-seen items when ranking.
 */
import { TrainferError } from '../util/errors.js';
import { type Interactions, selectInteractions } from './interactions.js';

/** Train / validation / test interactions. */
export interface InteractionSplits {
  train: Interactions;
  validation?: Interactions;
  test: Interactions;
}

/** How to split: `leave-last-out` (per user) or `time` (a global cutoff at a quantile of timestamps). */
export type SplitSpec = { type: 'leave-last-out'; validation?: boolean } | { type: 'time'; testFraction?: number; validationFraction?: number };

/** Parses `--split leave-last-out` / `--split time[,test=0.2,validation=0.1]`. */
export function parseSplit(text: string): SplitSpec {
  const [kind, ...rest] = text.split(',').map((s) => s.trim());
  const kv = Object.fromEntries(rest.map((p) => p.split('=').map((s) => s.trim())));
  for (const [k, v] of Object.entries(kv)) if (v === undefined || !Number.isFinite(Number(v))) throw new TrainferError(`--split ${text}: '${k}' needs a number (e.g. test=0.2)`);
  if (kind === 'leave-last-out' || kind === 'loo') {
    for (const k of Object.keys(kv)) if (k !== 'validation') throw new TrainferError(`--split ${text}: leave-last-out takes only validation=0|1`);
    return { type: 'leave-last-out', validation: kv.validation === undefined ? true : Number(kv.validation) !== 0 };
  }
  if (kind === 'time') {
    for (const k of Object.keys(kv)) if (k !== 'test' && k !== 'validation') throw new TrainferError(`--split ${text}: time takes test=F and validation=F`);
    const test = kv.test === undefined ? 0.2 : Number(kv.test);
    const validation = kv.validation === undefined ? 0.05 : Number(kv.validation);
    if (!(test > 0 && validation >= 0 && test + validation < 1)) throw new TrainferError(`--split ${text}: fractions must be test > 0, validation ≥ 0, test + validation < 1`);
    return { type: 'time', testFraction: test, validationFraction: validation };
  }
  throw new TrainferError(`--split ${text}: expected leave-last-out or time[,test=F,validation=F]`);
}

/** Row indices of each user's interactions in time order (file order breaks ties). */
function byUserInTime(d: Interactions): { start: Int32Array; rows: Int32Array } {
  const start = new Int32Array(d.users + 1);
  for (let i = 0; i < d.count; i++) start[d.user[i]! + 1]!++;
  for (let u = 0; u < d.users; u++) start[u + 1]! += start[u]!;
  const fill = start.slice(0, d.users);
  const rows = new Int32Array(d.count);
  for (let i = 0; i < d.count; i++) rows[fill[d.user[i]!]!++] = i;
  for (let u = 0; u < d.users; u++) {
    const seg = rows.subarray(start[u]!, start[u + 1]!);
    if (seg.length > 1) seg.sort((a, b) => d.time[a]! - d.time[b]! || a - b);
  }
  return { start, rows };
}

/**
 * Each user's latest interaction → test, the one before → validation (when asked and the user has at
 * least three), the rest → train. Users with a single interaction stay entirely in train.
 */
export function leaveLastOut(d: Interactions, o: { validation?: boolean } = {}): InteractionSplits {
  if (d.count === 0) throw new TrainferError(`${d.source}: no interactions to split`);
  const { start, rows } = byUserInTime(d);
  const train: number[] = [];
  const val: number[] = [];
  const test: number[] = [];
  for (let u = 0; u < d.users; u++) {
    const s = start[u]!;
    const e = start[u + 1]!;
    const n = e - s;
    if (n === 0) continue;
    if (n === 1) {
      train.push(rows[s]!);
      continue;
    }
    test.push(rows[e - 1]!);
    const withVal = o.validation !== false && n >= 3;
    if (withVal) val.push(rows[e - 2]!);
    for (let k = s; k < e - (withVal ? 2 : 1); k++) train.push(rows[k]!);
  }
  if (test.length === 0) throw new TrainferError(`${d.source}: no user has two or more interactions; leave-last-out needs some to hold out (use --split time)`);
  const sorted = (a: number[]) => Int32Array.from(a).sort();
  return {
    train: selectInteractions(d, sorted(train), d.source),
    validation: val.length ? selectInteractions(d, sorted(val), `${d.source} (validation: each user's second-to-last)`) : undefined,
    test: selectInteractions(d, sorted(test), `${d.source} (test: each user's last)`),
  };
}

/** Interactions after the (1 − test) quantile of time → test, the validation slice before it → validation. */
export function timeSplit(d: Interactions, o: { testFraction?: number; validationFraction?: number } = {}): InteractionSplits {
  if (d.count === 0) throw new TrainferError(`${d.source}: no interactions to split`);
  const order = Int32Array.from({ length: d.count }, (_, i) => i).sort((a, b) => d.time[a]! - d.time[b]! || a - b);
  const nTest = Math.max(1, Math.round(d.count * (o.testFraction ?? 0.2)));
  const nVal = Math.round(d.count * (o.validationFraction ?? 0.05));
  if (nTest + nVal >= d.count) throw new TrainferError(`${d.source}: only ${d.count} interactions; too few for a time split`);
  const trainRows = order.slice(0, d.count - nTest - nVal).sort();
  const valRows = order.slice(d.count - nTest - nVal, d.count - nTest).sort();
  const testRows = order.slice(d.count - nTest).sort();
  return {
    train: selectInteractions(d, trainRows),
    validation: nVal ? selectInteractions(d, valRows, `${d.source} (validation: before the test cutoff)`) : undefined,
    test: selectInteractions(d, testRows, `${d.source} (test: the latest ${((o.testFraction ?? 0.2) * 100).toFixed(0)}%)`),
  };
}

/** Splits by `spec`. */
export function splitInteractions(d: Interactions, spec: SplitSpec): InteractionSplits {
  return spec.type === 'leave-last-out' ? leaveLastOut(d, spec) : timeSplit(d, spec);
}

/** Each user's distinct items, CSR: items of user u are `items[start[u] .. start[u+1])`, sorted. */
export interface UserHistory {
  start: Int32Array;
  items: Int32Array;
}

/** The distinct items each user interacted with in `d` (for excluding seen items, and as relevance sets). */
export function userHistory(d: Interactions): UserHistory {
  const start = new Int32Array(d.users + 1);
  for (let i = 0; i < d.count; i++) start[d.user[i]! + 1]!++;
  for (let u = 0; u < d.users; u++) start[u + 1]! += start[u]!;
  const fill = start.slice(0, d.users);
  const raw = new Int32Array(d.count);
  for (let i = 0; i < d.count; i++) raw[fill[d.user[i]!]!++] = d.item[i]!;
  // Sort and dedupe each user's segment, compacting in place.
  const outStart = new Int32Array(d.users + 1);
  let w = 0;
  for (let u = 0; u < d.users; u++) {
    const seg = raw.subarray(start[u]!, start[u + 1]!).sort();
    outStart[u] = w;
    for (let k = 0; k < seg.length; k++) if (k === 0 || seg[k] !== seg[k - 1]) raw[w++] = seg[k]!;
  }
  outStart[d.users] = w;
  return { start: outStart, items: raw.slice(0, w) };
}
