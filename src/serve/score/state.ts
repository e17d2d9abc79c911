/**
 * A scoring shard's files — `shard-<i>-of-<N>.jsonl` (predictions, one JSON object per row in row
 * order: `{"row": k, "<output>": [values of that row]}`) and `shard-<i>-of-<N>.state.json` (what is
 * final in it) — and the row encoding. The state file is replaced by rename, never written in place.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor } from '../../onnx/tensor.js';
import { TrainferError } from '../../util/errors.js';

/** What a shard's state file records. */
export interface ShardState {
  format: 'trainfer-score-shard/1';
  model: { file: string; sha256: string };
  input: { file: string; sha256: string; rows: number };
  /** Its rows are [start, end) of the input. */
  shard: { index: number; count: number; start: number; end: number };
  batchSize: number;
  outputs: string[];
  /** Rows whose lines are final, and the bytes they take. */
  rowsDone: number;
  bytes: number;
  complete: boolean;
}

/** The files of shard `s` under `out`. */
export function shardFiles(out: string, s: { index: number; count: number }): { data: string; state: string } {
  const w = String(s.count).length;
  const base = join(out, `shard-${String(s.index).padStart(w, '0')}-of-${s.count}`);
  return { data: `${base}.jsonl`, state: `${base}.state.json` };
}

/** Reads a state file (undefined when there is none). */
export function readState(file: string): ShardState | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TrainferError(`${file}: ${(err as Error).message}`);
  }
  let s: ShardState;
  try {
    s = JSON.parse(text) as ShardState;
  } catch {
    throw new TrainferError(`${file}: not a valid shard state file (remove it and its .jsonl to start the shard again)`);
  }
  if (s.format !== 'trainfer-score-shard/1' || !Number.isInteger(s.rowsDone) || !Number.isInteger(s.bytes)) throw new TrainferError(`${file}: not a trainfer score shard state file`);
  return s;
}

/** Writes a state file atomically (beside it, then rename). */
export function writeState(file: string, s: ShardState): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(s)}\n`);
  renameSync(tmp, file);
}

/** The shortest decimal that reads back as the same float32. */
function f32(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? '"NaN"' : x > 0 ? '"Infinity"' : '"-Infinity"';
  for (let p = 6; p < 9; p++) {
    const s = x.toPrecision(p);
    if (Math.fround(Number(s)) === x) return String(Number(s));
  }
  return String(Number(x.toPrecision(9)));
}

function value(t: Tensor, i: number): string {
  const d = t.data;
  if (Array.isArray(d)) return JSON.stringify(d[i]);
  const v = d[i]!;
  if (typeof v === 'bigint') return v.toString();
  if (t.dtype === 'float32' || t.dtype === 'float16') return f32(v);
  if (t.dtype === 'bool') return v ? 'true' : 'false';
  return Number.isFinite(v) ? String(v) : f32(v);
}

/** JSON lines for rows `rowAt … rowAt + n - 1`, one per row: its slice of every output (dim 0 = the batch). */
export function encodeRows(outputs: Record<string, Tensor>, names: readonly string[], rowAt: number, n: number): string {
  const parts: string[] = [];
  const cols = names.map((name) => {
    const t = outputs[name];
    if (!t) throw new TrainferError(`the model did not produce output '${name}'`);
    const per = t.dims.length === 0 ? 0 : t.dims.slice(1).reduce((a, b) => a * b, 1);
    return { key: JSON.stringify(name), t, per };
  });
  for (let r = 0; r < n; r++) {
    let line = `{"row":${rowAt + r}`;
    for (const c of cols) {
      const vals: string[] = [];
      for (let k = 0; k < c.per; k++) vals.push(value(c.t, r * c.per + k));
      line += `,${c.key}:[${vals.join(',')}]`;
    }
    parts.push(`${line}}\n`);
  }
  return parts.join('');
}
