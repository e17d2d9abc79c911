/**
 * The merge step of a sharded scoring run (`trainfer score --merge <dir> --shards N`): checks that all N
 * shards are complete, come from the same model and input, tile the input's rows with no gap or overlap
 * and hold exactly their bytes and rows, then concatenates them in order into `predictions.jsonl`
 * (written beside it and renamed: a failed merge leaves nothing).
 */
import { closeSync, openSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { TrainferError } from '../../util/errors.js';
import { readState, shardFiles } from './state.js';

/** What `mergeShards` wrote. */
export interface MergeResult {
  file: string;
  rows: number;
  bytes: number;
}

/** The merged file's name in the output directory. */
export const MERGED_FILE = 'predictions.jsonl';

/** Checks and concatenates the shards of `out`. Throws one-line `TrainferError`s naming what is missing. */
export function mergeShards(o: { out: string; shards: number }): MergeResult {
  if (!Number.isInteger(o.shards) || o.shards < 1) throw new TrainferError(`--shards must be a positive integer, got ${o.shards}`);
  const parts = Array.from({ length: o.shards }, (_, index) => {
    const f = shardFiles(o.out, { index, count: o.shards });
    const s = readState(f.state);
    if (!s) throw new TrainferError(`${o.out}: shard ${index}/${o.shards} is missing (no ${f.state})`);
    if (!s.complete) throw new TrainferError(`${o.out}: shard ${index}/${o.shards} is not complete (${s.rowsDone} of ${s.shard.end - s.shard.start} rows); rerun it`);
    let size = -1;
    try {
      size = statSync(f.data).size;
    } catch {
      // reported below
    }
    if (size !== s.bytes) throw new TrainferError(`${f.data}: holds ${size < 0 ? 'nothing' : `${size} bytes`} where its state records ${s.bytes}; rerun shard ${index}/${o.shards}`);
    return { ...f, s };
  });
  const first = parts[0]!.s;
  let row = 0;
  for (const p of parts) {
    if (p.s.model.sha256 !== first.model.sha256 || p.s.input.sha256 !== first.input.sha256) throw new TrainferError(`${p.state}: scored a different model or input than shard 0`);
    if (p.s.shard.start !== row) throw new TrainferError(`${p.state}: starts at row ${p.s.shard.start}, expected ${row}`);
    row = p.s.shard.end;
  }
  if (row !== first.input.rows) throw new TrainferError(`${o.out}: the shards cover ${row} of ${first.input.rows} rows`);
  const target = join(o.out, MERGED_FILE);
  const tmp = `${target}.tmp-${process.pid}`;
  const out = openSync(tmp, 'w');
  let bytes = 0;
  try {
    const buf = Buffer.allocUnsafe(4 << 20);
    for (const p of parts) {
      let lines = 0;
      const fd = openSync(p.data, 'r');
      try {
        for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0;) {
          for (let i = 0; i < n; i++) if (buf[i] === 10) lines++;
          writeSync(out, buf, 0, n);
          bytes += n;
        }
      } finally {
        closeSync(fd);
      }
      if (lines !== p.s.shard.end - p.s.shard.start) throw new TrainferError(`${p.data}: has ${lines} lines for ${p.s.shard.end - p.s.shard.start} rows`);
    }
  } catch (err) {
    closeSync(out);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(out);
  renameSync(tmp, target);
  return { file: target, rows: row, bytes };
}
