/**
 * Training checkpoints: every carried tensor (parameters, buffers, optimizer state, the best weights so
 * far), the step/epoch position, RNG states, the data stream's position, feed providers' states and the
 * trainer's bookkeeping (history, early-stopping state) in one file, written atomically (temp file +
 * fsync + rename), so a kill at any moment leaves the previous checkpoint or the new one, never a torn
 * file. Non-finite numbers in the header (an `Infinity` best loss, a `NaN` AUC) survive the JSON.
 *
 * Layout: `TRAINFER-CKPT1\n`, uint32 LE header length, JSON header, then tensor bytes (8-byte aligned).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type DType, allocate, storageLength, viewBytes } from '../onnx/dtype.js';
import { Tensor } from '../onnx/tensor.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { FileFormatError } from '../util/errors.js';

const MAGIC = 'TRAINFER-CKPT1\n';

/** File name of the checkpoint inside a checkpoint directory. */
export const CHECKPOINT_FILE = 'checkpoint.trainfer';

/** The path of the checkpoint in `dir`. */
export function checkpointPath(dir: string): string {
  return join(dir, CHECKPOINT_FILE);
}

/** The header format this code writes and reads. */
export const CHECKPOINT_VERSION = 2;

/** Everything besides tensors that a resumed run needs (JSON-serialisable; non-finite numbers allowed). */
export interface CheckpointMeta {
  /** Format version (`CHECKPOINT_VERSION`). */
  version: number;
  /** Identifies the run configuration; resuming with a different one is refused. */
  fingerprint: string;
  /** Steps completed. */
  step: number;
  /** 0-based epoch in progress. */
  epoch: number;
  /** Batches of `epoch` already done. */
  batchInEpoch: number;
  /** Shuffle RNG state at the start of `epoch` (the epoch's order is re-drawn from it). */
  shuffleRngAtEpochStart: number[];
  /** Dropout RNG state now. */
  dropoutRng: number[];
  /** True once the run ended (completed, stopped early or by a callback); false while it can continue. */
  finished?: boolean;
  /** A streamed training set's position inside the epoch. */
  stream?: unknown;
  /** Feed providers' states, in plan order (null for providers without state). */
  providers?: unknown[];
  /** Training extensions' JSON states, in order. */
  extensions?: unknown[];
  /** Anything else the trainer keeps (history, early-stopping state, elapsed time). */
  trainer: Record<string, unknown>;
}

/** JSON with non-finite numbers kept (`{"$float":"Infinity"}`), so e.g. "no best loss yet" survives a resume. */
export function encodeJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? { $float: String(v) } : v));
}

/** Reads `encodeJson` output. */
export function decodeJson(text: string): unknown {
  return JSON.parse(text, (_k, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 1 && typeof (v as { $float?: unknown }).$float === 'string' ? Number((v as { $float: string }).$float) : v));
}

/** A checkpoint: metadata plus named tensors. */
export interface Checkpoint {
  meta: CheckpointMeta;
  tensors: Map<string, Tensor>;
}

/** Writes a checkpoint atomically. */
export function saveCheckpoint(path: string, ckpt: Checkpoint): void {
  const entries: { name: string; dtype: DType; dims: number[]; offset: number; bytes: number }[] = [];
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of ckpt.tensors) {
    if (Array.isArray(t.data)) throw new Error(`checkpoint: tensor '${name}' is a string tensor`);
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const pad = (8 - (offset % 8)) % 8;
    if (pad) chunks.push(new Uint8Array(pad));
    offset += pad;
    entries.push({ name, dtype: t.dtype, dims: [...t.dims], offset, bytes: bytes.byteLength });
    chunks.push(bytes);
    offset += bytes.byteLength;
  }
  const header = new TextEncoder().encode(encodeJson({ meta: ckpt.meta, tensors: entries }));
  const prefix = new Uint8Array(MAGIC.length + 4);
  prefix.set(new TextEncoder().encode(MAGIC));
  new DataView(prefix.buffer).setUint32(MAGIC.length, header.byteLength, true);
  // Data starts 8-byte aligned after the header.
  const headPad = (8 - ((prefix.byteLength + header.byteLength) % 8)) % 8;
  writeFileAtomic(path, [prefix, header, new Uint8Array(headPad), ...chunks]);
}

/** Reads a checkpoint; any damage is a one-line `FileFormatError` naming the file. */
export function loadCheckpoint(path: string): Checkpoint {
  let buf: Uint8Array;
  try {
    buf = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FileFormatError(path, code === 'ENOENT' ? 'no checkpoint here (nothing to resume)' : (err as Error).message, { cause: err });
  }
  const magic = new TextDecoder().decode(buf.subarray(0, MAGIC.length));
  if (magic !== MAGIC) throw new FileFormatError(path, 'not a Trainfer checkpoint (bad magic)');
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const hlen = view.getUint32(MAGIC.length, true);
  const hstart = MAGIC.length + 4;
  if (hstart + hlen > buf.byteLength) throw new FileFormatError(path, 'truncated checkpoint header');
  let header: { meta: CheckpointMeta; tensors: { name: string; dtype: DType; dims: number[]; offset: number; bytes: number }[] };
  try {
    header = decodeJson(new TextDecoder().decode(buf.subarray(hstart, hstart + hlen))) as typeof header;
  } catch (err) {
    throw new FileFormatError(path, 'corrupt checkpoint header (invalid JSON)', { cause: err });
  }
  if (header.meta?.version !== CHECKPOINT_VERSION) {
    throw new FileFormatError(path, `checkpoint format version ${String(header.meta?.version)} (this trainfer reads version ${CHECKPOINT_VERSION}); start over with --overwrite`);
  }
  const dataStart = hstart + hlen + ((8 - ((hstart + hlen) % 8)) % 8);
  const tensors = new Map<string, Tensor>();
  for (const e of header.tensors) {
    const count = e.dims.reduce((a, b) => a * b, 1);
    const start = dataStart + e.offset;
    if (start + e.bytes > buf.byteLength) throw new FileFormatError(path, `truncated: tensor '${e.name}' runs past the end of the file`);
    // Copy out so the tensors own aligned, independent storage.
    const data = allocate(e.dtype, count);
    if (Array.isArray(data)) throw new FileFormatError(path, `tensor '${e.name}' has unsupported dtype ${e.dtype}`);
    const src = viewBytes(e.dtype, buf.subarray(start, start + e.bytes), count);
    if (src.length !== storageLength(e.dtype, count)) throw new FileFormatError(path, `tensor '${e.name}' has the wrong size`);
    (data as Float32Array).set(src as Float32Array);
    tensors.set(e.name, new Tensor(e.dtype, e.dims, data));
  }
  return { meta: header.meta, tensors };
}
