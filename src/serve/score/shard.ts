/**
 * Sharded batch scoring (`trainfer score`): one shard of a dataset through a model, predictions written
 * in row order as JSON lines. Shard i of N is the contiguous row range [⌊i·n/N⌋, ⌊(i+1)·n/N⌋), so every
 * pod of an Indexed Job computes the same split with no coordination. The output is resumable and
 * idempotent: a state file beside it records how many rows and bytes are final (written after the data is
 * fsync'ed, by rename); a rerun after kill -9 truncates the output to that length and continues from that
 * row on the same batch boundaries, so the bytes come out identical; a rerun of a finished shard does
 * nothing. Inference runs on a pool of single-thread sessions in worker threads, as `bench --scenario
 * offline` does, with several batches in flight.
 */
import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Batcher, packTable } from '../../data/batcher.js';
import { type FeedBinding, type FeedSpec, planFeeds } from '../../data/feed-plan.js';
import type { Tensor } from '../../onnx/tensor.js';
import { SessionPool } from '../../runtime/pool.js';
import { TrainferError } from '../../util/errors.js';
import { type ScoreInput, readScoreInput } from './input.js';
import { type ShardState, encodeRows, readState, shardFiles, writeState } from './state.js';

/** Which shard: `index` of `count` (0 ≤ index < count). */
export interface ShardSpec {
  index: number;
  count: number;
}

/** Options for `scoreShard`. */
export interface ScoreShardOptions {
  /** The model file. */
  model: string;
  /** The data: a .csv/.tsv/.jsonl file or an IDX array file. */
  input: string;
  /** Directory the shard's predictions and state go to (created). */
  out: string;
  /** Default: the whole dataset (0/1). */
  shard?: ShardSpec;
  /** Rows per run (default 64, as `bench --scenario offline`). */
  batchSize?: number;
  /** Worker threads, one single-thread session each (default: every core). */
  instances?: number;
  /** Columns per model input (default: inputs named like columns, else one input takes every non-target column). */
  inputs?: Readonly<Record<string, FeedBinding>>;
  /** Called after each checkpoint with rows done and the shard's total. */
  onProgress?: (done: number, total: number) => void;
}

/** What `scoreShard` did. */
export interface ScoreShardResult {
  /** The shard's predictions file. */
  file: string;
  /** Rows in the shard. */
  rows: number;
  /** Rows scored by this run (0 when the shard was already complete). */
  scored: number;
  /** The row this run continued from (within the shard), 0 for a fresh start. */
  resumedAt: number;
  /** Wall time of the scoring loop and rows per second over it. */
  ms: number;
  rowsPerSecond: number;
}

/** Parses `i/N` (0 ≤ i < N). */
export function parseShard(text: string): ShardSpec {
  const m = /^([0-9]{1,9})\/([0-9]{1,9})$/.exec(text.trim());
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || !(count >= 1) || !(index < count)) throw new TrainferError(`--shard must look like i/N with 0 ≤ i < N, got '${text}'`);
  return { index, count };
}

/** The row range of shard `s` of `rows` rows. */
export function shardRange(rows: number, s: ShardSpec): { start: number; end: number } {
  return { start: Math.floor((s.index * rows) / s.count), end: Math.floor(((s.index + 1) * rows) / s.count) };
}

/** The state file is brought up to date every this many ms, or every `CHECKPOINT_BATCHES` batches, whichever comes first. */
const CHECKPOINT_MS = 500;
const CHECKPOINT_BATCHES = 16;

/**
 * Scores one shard (see the file header for the resume rules). Throws a `TrainferError` when the output
 * directory holds this shard from a different model, input or batch size.
 */
export async function scoreShard(o: ScoreShardOptions): Promise<ScoreShardResult> {
  const shard = o.shard ?? { index: 0, count: 1 };
  const batchSize = o.batchSize ?? 64;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new TrainferError(`--batch-size must be a positive integer, got ${batchSize}`);
  const data = readScoreInput({ model: o.model, input: o.input });
  const { start, end } = shardRange(data.table.count, shard);
  const files = shardFiles(o.out, shard);
  const fresh: ShardState = {
    format: 'trainfer-score-shard/1', model: { file: o.model, sha256: data.modelSha256 }, input: { file: o.input, sha256: data.inputSha256, rows: data.table.count },
    shard: { index: shard.index, count: shard.count, start, end }, batchSize, outputs: data.outputs, rowsDone: 0, bytes: 0, complete: false,
  };
  mkdirSync(o.out, { recursive: true });
  const prior = readState(files.state);
  if (prior) checkSameRun(prior, fresh, files.state);
  if (prior?.complete && existsSync(files.data)) {
    const fd = openSync(files.data, 'r');
    const size = fstatSync(fd).size;
    closeSync(fd);
    if (size === prior.bytes) return { file: files.data, rows: end - start, scored: 0, resumedAt: end - start, ms: 0, rowsPerSecond: 0 };
  }
  const state: ShardState = prior && !prior.complete && existsSync(files.data) ? prior : fresh;
  const fd = openSync(files.data, existsSync(files.data) ? 'r+' : 'w');
  try {
    if (fstatSync(fd).size < state.bytes) throw new TrainferError(`${files.data}: shorter than its state file records (${state.bytes} bytes); remove both and rerun`);
    ftruncateSync(fd, state.bytes);
    const resumedAt = state.rowsDone;
    const t0 = performance.now();
    await run({ data, state, fd, batchSize, requested: o.batchSize, instances: o.instances, inputs: o.inputs, statePath: files.state, onProgress: o.onProgress });
    const ms = performance.now() - t0;
    const scored = state.rowsDone - resumedAt;
    return { file: files.data, rows: end - start, scored, resumedAt, ms, rowsPerSecond: scored / Math.max(1e-9, ms / 1000) };
  } finally {
    closeSync(fd);
  }
}

function checkSameRun(prior: ShardState, now: ShardState, file: string): void {
  const diff = prior.model.sha256 !== now.model.sha256 ? 'a different model'
    : prior.input.sha256 !== now.input.sha256 ? 'different input data'
      : prior.batchSize !== now.batchSize ? `--batch-size ${prior.batchSize}`
        : prior.shard.count !== now.shard.count || prior.shard.index !== now.shard.index ? `shard ${prior.shard.index}/${prior.shard.count}` : undefined;
  if (diff) throw new TrainferError(`${file}: this shard was started with ${diff}; rerun with the same model, input and --batch-size, or use another --out`);
}

interface RunContext {
  data: ScoreInput;
  state: ShardState;
  fd: number;
  batchSize: number;
  /** The batch size asked for (undefined: the default). */
  requested?: number;
  instances?: number;
  inputs?: Readonly<Record<string, FeedBinding>>;
  statePath: string;
  onProgress?: (done: number, total: number) => void;
}

/** The scoring loop: batches on fixed boundaries from the shard's start, several in flight, written in order. */
async function run(c: RunContext): Promise<void> {
  const { data, state } = c;
  const { start, end } = state.shard;
  const total = end - start;
  const fixed = data.fixedBatch;
  const batch = fixed ?? c.batchSize;
  if (fixed !== undefined && c.requested !== undefined && c.requested !== fixed) throw new TrainferError(`${c.data.modelFile}: the model takes batches of exactly ${fixed}; --batch-size ${c.batchSize} cannot be used`);
  const specs: FeedSpec[] = data.specs;
  const plan = planFeeds({ specs, table: data.table, bindings: c.inputs ?? data.bindings, exclude: data.exclude, model: data.modelFile, flag: '--inputs' });
  const packed = packTable(data.table, plan);
  const batcher = new Batcher({ plan, batchSize: batch });
  const instances = c.instances ?? availableParallelism();
  const pool = await SessionPool.create({ source: { path: data.modelFile }, instances, label: data.modelFile });
  try {
    const inFlight: { rows: number; result: Promise<Record<string, Tensor>> }[] = [];
    let next = start + state.rowsDone;
    let lastCheckpoint = performance.now();
    let sinceCheckpoint = 0;
    const submit = () => {
      const n = batcher.fill(packed, null, next, Math.min(batch, end - next));
      const feeds: Record<string, Tensor> = {};
      for (const b of batcher.buffers) {
        // A fixed-batch model gets its last, short batch padded by repeating the last row (outputs cut back to n).
        const per = b.data.length / batch;
        const copy = b.data.slice(0, batch * per);
        for (let r = n; r < batch && fixed !== undefined; r++) copy.copyWithin(r * per, (n - 1) * per, n * per);
        feeds[b.name] = data.tensor(b.dtype, [fixed !== undefined ? batch : n, ...b.shape], copy.subarray(0, (fixed !== undefined ? batch : n) * per));
      }
      inFlight.push({ rows: n, result: pool.run(feeds, data.outputs, { transfer: true }).then((r) => r.outputs) });
      next += n;
    };
    while (next < end && inFlight.length < instances * 2) submit();
    while (inFlight.length > 0) {
      const head = inFlight.shift()!;
      const outputs = await head.result;
      if (next < end) submit();
      const rowAt = start + state.rowsDone;
      const text = encodeRows(outputs, data.outputs, rowAt, head.rows);
      state.bytes += writeSync(c.fd, text, state.bytes);
      state.rowsDone += head.rows;
      const now = performance.now();
      if (++sinceCheckpoint >= CHECKPOINT_BATCHES || now - lastCheckpoint >= CHECKPOINT_MS || state.rowsDone === total) {
        sinceCheckpoint = 0;
        state.complete = state.rowsDone === total;
        fsyncSync(c.fd);
        writeState(c.statePath, state);
        lastCheckpoint = now;
        c.onProgress?.(state.rowsDone, total);
      }
    }
    if (total === 0) {
      state.complete = true;
      writeState(c.statePath, state);
    }
  } finally {
    await pool.close();
  }
}
