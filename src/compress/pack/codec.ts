/**
 * Entropy coding of a shared layer's two streams, with Node's brotli (quality 11): the positions of the
 * non-zero weights (as a bitmap, or as zero-run lengths in bytes — whichever compresses smaller) and the
 * centroid indices (one byte per index, or bit-packed at b bits — whichever compresses smaller). The
 * chosen form is stored with the stream. `order0Bits` gives the empirical entropy a perfect order-0
 * coder would reach, the bound docs/compression.md compares brotli against.
 */
import { brotliCompressSync, brotliDecompressSync, constants } from 'node:zlib';
import { FileFormatError } from '../../util/errors.js';

/** How a stream's bytes were laid out before compression. */
export type PositionsForm = 'bitmap' | 'runs' | 'dense';
export type IndicesForm = 'bytes' | 'packed';

/** Brotli at its best setting (window 2^24). */
export function brotli(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_LGWIN]: 24, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length } }));
}

/** Inverse of `brotli`; a corrupt stream is a `FileFormatError` naming `file`. */
export function unbrotli(bytes: Uint8Array, file: string, what: string, expected?: number): Uint8Array {
  let out: Uint8Array;
  try {
    out = new Uint8Array(brotliDecompressSync(bytes));
  } catch {
    throw new FileFormatError(file, `corrupt ${what} (brotli cannot decode it)`);
  }
  if (expected !== undefined && out.length !== expected) throw new FileFormatError(file, `corrupt ${what} (${out.length} bytes decoded, ${expected} expected)`);
  return out;
}

/** Bitmap of `mask` (1 = non-zero), 8 positions per byte, LSB first. */
function bitmap(mask: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(mask.length / 8));
  for (let i = 0; i < mask.length; i++) if (mask[i]) out[i >> 3]! |= 1 << (i & 7);
  return out;
}

/** Zero-run lengths before each non-zero (and after the last), each as bytes: 0–254 literal, 255 adds 255 and continues. */
function runs(mask: Uint8Array): Uint8Array {
  const out: number[] = [];
  let run = 0;
  const emit = (r: number) => {
    while (r >= 255) {
      out.push(255);
      r -= 255;
    }
    out.push(r);
  };
  for (let i = 0; i < mask.length; i++) {
    if (mask[i]) {
      emit(run);
      run = 0;
    } else run++;
  }
  emit(run);
  return Uint8Array.from(out);
}

/** Encodes the non-zero positions in `form`, or (default) in the form that compresses smaller. */
export function encodePositions(mask: Uint8Array, form?: Exclude<PositionsForm, 'dense'>): { form: PositionsForm; bytes: Uint8Array } {
  if (!form && mask.every((m) => m === 1)) return { form: 'dense', bytes: new Uint8Array(0) };
  const a = form === 'runs' ? undefined : brotli(bitmap(mask));
  const b = form === 'bitmap' ? undefined : brotli(runs(mask));
  return a && (!b || a.length <= b.length) ? { form: 'bitmap', bytes: a } : { form: 'runs', bytes: b! };
}

/** Decodes positions into a 0/1 mask of `size` elements with `nonZero` ones. */
export function decodePositions(form: PositionsForm, bytes: Uint8Array, size: number, nonZero: number, file: string, what: string): Uint8Array {
  const mask = new Uint8Array(size);
  if (form === 'dense') {
    if (nonZero !== size) throw new FileFormatError(file, `corrupt ${what} (dense positions but ${nonZero} of ${size} weights)`);
    return mask.fill(1);
  }
  if (form === 'bitmap') {
    const raw = unbrotli(bytes, file, what, Math.ceil(size / 8));
    for (let i = 0; i < size; i++) mask[i] = (raw[i >> 3]! >> (i & 7)) & 1;
  } else if (form === 'runs') {
    const raw = unbrotli(bytes, file, what);
    let pos = 0;
    let k = 0;
    let seen = 0;
    while (k < raw.length) {
      let r = 0;
      while (raw[k] === 255) {
        r += 255;
        k++;
      }
      r += raw[k++] ?? 0;
      pos += r;
      if (seen === nonZero) break;
      if (pos >= size) throw new FileFormatError(file, `corrupt ${what} (a position past the end)`);
      mask[pos++] = 1;
      seen++;
    }
  } else throw new FileFormatError(file, `unknown positions form '${String(form)}' in ${what}`);
  let count = 0;
  for (const m of mask) count += m;
  if (count !== nonZero) throw new FileFormatError(file, `corrupt ${what} (${count} positions decoded, ${nonZero} expected)`);
  return mask;
}

function packBits(idx: Uint16Array, bits: number): Uint8Array {
  const out = new Uint8Array(Math.ceil((idx.length * bits) / 8));
  let bit = 0;
  for (const v of idx) {
    for (let b = 0; b < bits; b++, bit++) if ((v >> b) & 1) out[bit >> 3]! |= 1 << (bit & 7);
  }
  return out;
}

function unpackBits(raw: Uint8Array, n: number, bits: number): Uint16Array {
  const out = new Uint16Array(n);
  let bit = 0;
  for (let i = 0; i < n; i++) {
    let v = 0;
    for (let b = 0; b < bits; b++, bit++) v |= ((raw[bit >> 3]! >> (bit & 7)) & 1) << b;
    out[i] = v;
  }
  return out;
}

/** Encodes centroid indices (each < 2^bits ≤ 256) in `form`, or (default) the form that compresses smaller. */
export function encodeIndices(idx: Uint16Array, bits: number, form?: IndicesForm): { form: IndicesForm; bytes: Uint8Array } {
  const a = form === 'packed' ? undefined : brotli(Uint8Array.from(idx));
  const b = form === 'bytes' ? undefined : brotli(packBits(idx, bits));
  return a && (!b || a.length <= b.length) ? { form: 'bytes', bytes: a } : { form: 'packed', bytes: b! };
}

/** Decodes `n` indices, each checked to be below `k`. */
export function decodeIndices(form: IndicesForm, bytes: Uint8Array, n: number, bits: number, k: number, file: string, what: string): Uint16Array {
  let idx: Uint16Array;
  if (form === 'bytes') idx = Uint16Array.from(unbrotli(bytes, file, what, n));
  else if (form === 'packed') idx = unpackBits(unbrotli(bytes, file, what, Math.ceil((n * bits) / 8)), n, bits);
  else throw new FileFormatError(file, `unknown indices form '${String(form)}' in ${what}`);
  for (const v of idx) if (v >= k) throw new FileFormatError(file, `corrupt ${what} (index ${v} with ${k} centroids)`);
  return idx;
}

/** Bits an ideal order-0 coder needs for these symbols (Σ −log2 p), for comparisons. */
export function order0Bits(symbols: ArrayLike<number>): number {
  const counts = new Map<number, number>();
  for (let i = 0; i < symbols.length; i++) counts.set(symbols[i]!, (counts.get(symbols[i]!) ?? 0) + 1);
  let bits = 0;
  for (const c of counts.values()) bits -= c * Math.log2(c / symbols.length);
  return bits;
}
