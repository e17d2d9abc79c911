/**
 * Text columns into token feeds: `textFeeds` gives feed providers for a model's token inputs (ids,
 * attention mask, token type ids — chosen by name as the browser page does: `*mask*` gets the mask,
 * `*type*` zeros, the rest the ids), all read from one text column through one tokenizer. Rows are
 * tokenized once per table and kept (an epoch re-reads them in another order); in a worker thread by
 * default, and the next batch of the epoch's order is tokenized while the current step runs, so the
 * step never waits for the tokenizer (bench/language.ts measures it).
 */
import { TrainferError } from '../util/errors.js';
import type { FeedBinding, FeedProvider, ProviderBatch } from './feed-plan.js';
import { type Table, getColumn } from './table.js';
import { type TextPreprocess, preprocessTexts } from './email-text.js';
import type { EncodedBatch, TextTokenizer } from './tokenizer.js';
import { TokenizerWorker } from './tokenizer-worker.js';

/** What a token input receives. */
export type TokenRole = 'ids' | 'mask' | 'type_ids';

/** The role of a model input by its name: `*mask*` → mask, `*type*` → token type ids, else ids. */
export function tokenRole(name: string): TokenRole {
  const n = name.toLowerCase();
  if (n.includes('mask')) return 'mask';
  if (n.includes('type')) return 'type_ids';
  return 'ids';
}

/** Options for `textFeeds`. */
export interface TextFeedsOptions {
  tokenizer: TextTokenizer;
  /** The text column. */
  column: string;
  /** The model's token inputs (names; roles by `tokenRole`). */
  inputs: readonly string[];
  /** The symbolic sequence dim of those inputs (fixed to the maximum length). Default `sequence`. */
  dim?: string;
  /** Tokenize in a worker thread (default true); false tokenizes on the calling thread. */
  worker?: boolean;
  /** Tokenize the epoch's next batch while the current step runs (default true). */
  prefetch?: boolean;
  /** Preparation of each text before tokenizing (default `none`; `email`: see email-text.ts), in the worker. */
  preprocess?: TextPreprocess;
}

/**
 * Providers for the token inputs, and `close()` to stop the worker. The providers have no `close` of
 * their own: one `TextFeeds` serves training, validation and testing, and its owner closes it once.
 */
export interface TextFeeds {
  feeds: Record<string, FeedBinding>;
  /** Rows tokenized so far, and how many were truncated. */
  stats(): { rows: number; truncated: number; waitedMs: number };
  close(): Promise<void>;
}

interface TableTokens {
  ids: Int32Array;
  mask: Uint8Array;
  done: Uint8Array;
  inflight: Map<number, Promise<void>>;
  texts: readonly string[];
}

/**
 * Token feeds for a text column.
 *
 * @example
 * const text = await textFeeds({ tokenizer, column: 'text', inputs: ['input_ids', 'attention_mask'] });
 * await fit({ model, train, feeds: text.feeds, target: 'label' });
 */
export async function textFeeds(o: TextFeedsOptions): Promise<TextFeeds> {
  const L = o.tokenizer.maxLength;
  const dim = o.dim ?? 'sequence';
  const worker = o.worker === false ? undefined : await TokenizerWorker.start({ json: o.tokenizer.toJsonText(), source: o.tokenizer.source, preprocess: o.preprocess });
  const encoder: { encodeBatch(t: readonly string[]): Promise<EncodedBatch> } = worker ?? { encodeBatch: async (t) => o.tokenizer.encodeBatch(await preprocessTexts(t, o.preprocess)) };
  const tables = new WeakMap<Table, TableTokens>();
  let rows = 0;
  let truncated = 0;
  let waitedMs = 0;
  let closed = false;

  const tokensOf = (t: Table): TableTokens => {
    let e = tables.get(t);
    if (!e) {
      const c = getColumn(t, o.column);
      if (c.dtype !== 'string') throw new TrainferError(`${t.source}: column '${o.column}' holds ${c.dtype} values, not text`);
      e = { ids: new Int32Array(t.count * L), mask: new Uint8Array(t.count * L), done: new Uint8Array(t.count), inflight: new Map(), texts: c.data as string[] };
      tables.set(t, e);
    }
    return e;
  };
  /** Starts tokenizing the rows not done or in flight; resolves when all of `want` are done. */
  const ensure = (e: TableTokens, want: readonly number[]): Promise<void> => {
    const missing = want.filter((r) => !e.done[r] && !e.inflight.has(r));
    if (missing.length) {
      const p = encoder.encodeBatch(missing.map((r) => e.texts[r]!)).then((b) => {
        missing.forEach((r, k) => {
          e.ids.set(b.ids.subarray(k * L, (k + 1) * L), r * L);
          e.mask.set(b.mask.subarray(k * L, (k + 1) * L), r * L);
          e.done[r] = 1;
          e.inflight.delete(r);
        });
        rows += missing.length;
        truncated += b.truncated.reduce((a, v) => a + v, 0);
      });
      // A failed prefetch is reported by the batch that needs it, not as an unhandled rejection.
      p.catch(() => undefined);
      for (const r of missing) e.inflight.set(r, p);
    }
    const waits = new Set(want.filter((r) => !e.done[r]).map((r) => e.inflight.get(r)!));
    return waits.size ? Promise.all(waits).then(() => undefined) : Promise.resolve();
  };
  const rowsOf = (b: Pick<ProviderBatch, 'rows'>, start: number, size: number): number[] => {
    const { order } = b.rows;
    const out: number[] = [];
    const end = Math.min(start + size, order ? order.length : b.rows.table.count);
    for (let i = start; i < end; i++) out.push(order ? order[i]! : i);
    return out;
  };
  const provider = (role: TokenRole): FeedProvider => ({
    dims: { [dim]: L },
    columns: [o.column],
    async fill(b: ProviderBatch): Promise<void> {
      if (closed) throw new TrainferError('text feeds are closed');
      if (b.shape.length !== 1 || b.shape[0] !== L) throw new TrainferError(`token input takes [${b.shape.join(', ')}] per sample but the tokenizer makes rows of ${L}`);
      const e = tokensOf(b.rows.table);
      const want = rowsOf(b, b.rows.start, b.size);
      const t0 = performance.now();
      if (role !== 'type_ids') await ensure(e, want);
      if (role === 'ids') {
        waitedMs += performance.now() - t0;
        if (o.prefetch !== false) void ensure(e, rowsOf(b, b.rows.start + b.size, b.size)).catch(() => undefined);
      }
      // int64 rows are written as little-endian word pairs (ids and mask values are small and non-negative).
      const wide = b.out instanceof BigInt64Array;
      if (!wide && !(b.out instanceof Int32Array)) throw new TrainferError(`token inputs must be int64 or int32, got ${b.out.constructor.name}`);
      const stride = wide ? 2 : 1;
      const out = new Int32Array(b.out.buffer, b.out.byteOffset, b.size * L * stride);
      if (role === 'type_ids') {
        out.fill(0);
        return;
      }
      const src = role === 'ids' ? e.ids : e.mask;
      want.forEach((r, k) => {
        const base = k * L * stride;
        const from = r * L;
        if (!wide) {
          out.set(src.subarray(from, from + L), base);
          return;
        }
        for (let j = 0; j < L; j++) {
          out[base + 2 * j] = src[from + j]!;
          out[base + 2 * j + 1] = 0;
        }
      });
    },
  });
  const feeds: Record<string, FeedBinding> = {};
  for (const name of o.inputs) feeds[name] = { provider: provider(tokenRole(name)) };
  if (!o.inputs.some((n) => tokenRole(n) === 'ids')) throw new TrainferError(`none of the inputs ${o.inputs.join(', ')} takes token ids`);
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await worker?.close();
  };
  return { feeds, stats: () => ({ rows, truncated, waitedMs }), close };
}
