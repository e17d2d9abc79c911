/**
 * IDX files (the MNIST format): a big-endian header `0x00 0x00 <type> <rank>`, `rank` uint32 dims, then
 * the elements. Reads image and label files (optionally gzipped), and directories with the four
 * standard files. Any image size and class count.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { FileFormatError, TrainferError } from '../util/errors.js';
import type { Column, Table, TableSplits } from './table.js';

/** A decoded IDX array. */
export interface IdxArray {
  dims: number[];
  /** Elements: bytes stay `Uint8Array`; every other type is converted to float32. */
  data: Uint8Array | Float32Array;
}

/** Element types of the IDX format: type byte → (bytes per element, reader). */
const IDX_TYPES = {
  0x08: { bytes: 1, name: 'unsigned byte' },
  0x09: { bytes: 1, name: 'signed byte' },
  0x0b: { bytes: 2, name: 'short' },
  0x0c: { bytes: 4, name: 'int' },
  0x0d: { bytes: 4, name: 'float' },
  0x0e: { bytes: 8, name: 'double' },
} as const satisfies Record<number, { bytes: number; name: string }>;

/** Parses IDX bytes. `file` names the source in errors. */
export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  if (bytes.byteLength < 4) throw new FileFormatError(file, `too short for an IDX header (${bytes.byteLength} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = bytes[2]!;
  const rank = bytes[3]!;
  const info = (IDX_TYPES as Record<number, { bytes: number; name: string }>)[type];
  if (bytes[0] !== 0 || bytes[1] !== 0 || !info || rank === 0) {
    const magic = view.getUint32(0).toString(16).padStart(8, '0');
    throw new FileFormatError(file, `magic number 0x${magic} is not an IDX header (expected 0x00000801 for labels, 0x00000803 for images)`);
  }
  const headerLen = 4 + 4 * rank;
  if (bytes.byteLength < headerLen) throw new FileFormatError(file, `truncated IDX header (rank ${rank} needs ${headerLen} bytes)`);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i));
  const count = dims.reduce((a, b) => a * b, 1);
  const need = headerLen + count * info.bytes;
  if (bytes.byteLength < need) {
    throw new FileFormatError(file, `truncated: header says [${dims.join(', ')}] ${info.name}s (${need} bytes) but the file has ${bytes.byteLength} bytes`);
  }
  if (type === 0x08) return { dims, data: bytes.slice(headerLen, need) };
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const o = headerLen + i * info.bytes;
    out[i] = type === 0x09 ? view.getInt8(o) : type === 0x0b ? view.getInt16(o) : type === 0x0c ? view.getInt32(o) : type === 0x0d ? view.getFloat32(o) : view.getFloat64(o);
  }
  return { dims, data: out };
}

/** Reads an IDX file (or `<path>.gz`). Errors name the file. */
export function readIdx(path: string): IdxArray {
  const actual = existsSync(path) ? path : existsSync(`${path}.gz`) ? `${path}.gz` : path;
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(actual);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FileFormatError(actual, code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message, { cause: err });
  }
  if (actual.endsWith('.gz') || (bytes[0] === 0x1f && bytes[1] === 0x8b)) {
    try {
      bytes = gunzipSync(bytes);
    } catch (err) {
      throw new FileFormatError(actual, `corrupt gzip data (${(err as Error).message})`, { cause: err });
    }
  }
  return parseIdx(bytes, actual);
}

/**
 * A table from an IDX image file and an IDX label file: a `pixels` column ([C, H, W] per row; bytes with
 * scale 1/255, other element types float32) and an int64 `label` column. `source` names it in messages
 * (default: the image file).
 */
export function readIdxPair(options: { images: string; labels: string; source?: string }): Table {
  const img = readIdx(options.images);
  const lab = readIdx(options.labels);
  if (img.dims.length !== 3 && img.dims.length !== 4) {
    throw new FileFormatError(options.images, `images must be a rank-3 [N, H, W] or rank-4 [N, C, H, W] IDX array, found rank ${img.dims.length}`);
  }
  if (lab.dims.length !== 1) throw new FileFormatError(options.labels, `labels must be a rank-1 IDX array, found rank ${lab.dims.length}`);
  const n = img.dims[0]!;
  if (lab.dims[0] !== n) throw new FileFormatError(options.labels, `has ${lab.dims[0]} labels but ${options.images} has ${n} images`);
  const shape = img.dims.length === 3 ? [1, img.dims[1]!, img.dims[2]!] : img.dims.slice(1);
  const y = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    const v = lab.data[i]!;
    if (!Number.isInteger(v) || v < 0) throw new FileFormatError(options.labels, `label ${v} of sample ${i} is not a non-negative integer class index`);
    y[i] = BigInt(v);
  }
  const pixels: Column = img.data instanceof Uint8Array
    ? { name: 'pixels', dtype: 'uint8', shape, data: img.data, kind: 'image', scale: 1 / 255 }
    : { name: 'pixels', dtype: 'float32', shape, data: img.data, kind: 'image' };
  return { source: options.source ?? options.images, count: n, columns: [pixels, { name: 'label', dtype: 'int64', shape: [], data: y, kind: 'numeric' }] };
}

/** The four standard file names in an IDX directory. */
export const IDX_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

/** True when `dir` is a directory holding (at least) the IDX training images. */
export function isIdxDir(dir: string): boolean {
  try {
    return statSync(dir).isDirectory() && (existsSync(join(dir, IDX_FILES.trainImages)) || existsSync(join(dir, `${IDX_FILES.trainImages}.gz`)));
  } catch {
    return false;
  }
}

/**
 * Reads a directory with the four standard IDX files (plain or `.gz`). `name` (e.g. `mnist`) replaces the
 * file paths in messages: sources become `<name>` and `<name> (test)`.
 */
export function readIdxDir(dir: string, options: { name?: string } = {}): TableSplits {
  if (!existsSync(dir)) throw new TrainferError(`${dir}: no such directory`);
  const n = options.name;
  const train = readIdxPair({ images: join(dir, IDX_FILES.trainImages), labels: join(dir, IDX_FILES.trainLabels), source: n });
  const test = readIdxPair({ images: join(dir, IDX_FILES.testImages), labels: join(dir, IDX_FILES.testLabels), source: n ? `${n} (test)` : undefined });
  const a = train.columns[0]!.shape;
  const b = test.columns[0]!.shape;
  if (a.join('x') !== b.join('x')) throw new FileFormatError(join(dir, IDX_FILES.testImages), `images are ${b.join('×')} but the training images are ${a.join('×')}`);
  return { train, test };
}

/** Encodes an IDX array (for tests and tools): unsigned bytes or float32. */
export function encodeIdx(dims: readonly number[], data: Uint8Array | Float32Array): Uint8Array {
  const type = data instanceof Uint8Array ? 0x08 : 0x0d;
  const header = 4 + 4 * dims.length;
  const out = new Uint8Array(header + data.length * (type === 0x08 ? 1 : 4));
  const view = new DataView(out.buffer);
  out[2] = type;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  if (data instanceof Uint8Array) out.set(data, header);
  else data.forEach((v, i) => view.setFloat32(header + 4 * i, v));
  return out;
}
