/**
 * The `.tfz` container: a versioned, checksummed file holding a packed model.
 *
 * Layout (little-endian): magic `\x89TFZ` · u8 format version · u8 flags (0) · u16 reserved (0) · u32 total
 * file length · u32 manifest length · the manifest (brotli-compressed JSON: every shared tensor's name,
 * shape, bits, codebook, non-zero count and the forms of its two streams, plus the section table) · the
 * sections, back to back · SHA-256 of everything before it (32 bytes). Section 0 is the model skeleton:
 * the ONNX model without the shared weights (every other initializer, the graph, opsets and metadata),
 * brotli-compressed. Reading checks magic, version, length and checksum before decoding anything, so a
 * truncated, corrupt or foreign file is a one-line error and never a wrong model.
 */
import { createHash } from 'node:crypto';
import { FileFormatError } from '../../util/errors.js';
import type { IndicesForm, PositionsForm } from './codec.js';
import { brotli, unbrotli } from './codec.js';

/** The format version this code writes and reads. */
export const TFZ_VERSION = 1;
const MAGIC = [0x89, 0x54, 0x46, 0x5a]; // \x89 T F Z
const HEADER = 16;
const DIGEST = 32;

/** One shared (pruned + clustered) weight tensor. */
export interface SharedTensorEntry {
  name: string;
  dims: number[];
  bits: number;
  /** Centroid values (float32), ascending. */
  codebook: number[];
  nonZero: number;
  positions: { section: number; form: PositionsForm };
  indices: { section: number; form: IndicesForm };
}

/** The manifest. */
export interface TfzManifest {
  producer: string;
  /** Size of the .onnx it was packed from, for the ratio. */
  sourceBytes: number;
  skeleton: { section: number; bytes: number };
  tensors: SharedTensorEntry[];
  /** Byte length of each section, in order. */
  sections: number[];
}

/** Serialises a manifest and its sections into .tfz bytes. */
export function encodeTfz(manifest: Omit<TfzManifest, 'sections'>, sections: readonly Uint8Array[]): Uint8Array {
  const full: TfzManifest = { ...manifest, sections: sections.map((s) => s.length) };
  const m = brotli(new TextEncoder().encode(JSON.stringify(full)));
  const total = HEADER + m.length + sections.reduce((s, x) => s + x.length, 0) + DIGEST;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[4] = TFZ_VERSION;
  dv.setUint32(8, total, true);
  dv.setUint32(12, m.length, true);
  out.set(m, HEADER);
  let off = HEADER + m.length;
  for (const s of sections) {
    out.set(s, off);
    off += s.length;
  }
  out.set(createHash('sha256').update(out.subarray(0, off)).digest(), off);
  return out;
}

/** Parses .tfz bytes: the manifest and views of its sections. Throws `FileFormatError` naming `file`. */
export function decodeTfz(bytes: Uint8Array, file: string): { manifest: TfzManifest; sections: Uint8Array[] } {
  if (bytes.length < 4 || MAGIC.some((b, i) => bytes[i] !== b)) throw new FileFormatError(file, 'not a .tfz file (no \\x89TFZ magic); trainfer compress writes them');
  if (bytes.length < HEADER + DIGEST) throw new FileFormatError(file, `truncated: ${bytes.length} bytes, shorter than a .tfz header`);
  const version = bytes[4]!;
  if (version !== TFZ_VERSION) throw new FileFormatError(file, `.tfz format version ${version}; this trainfer reads version ${TFZ_VERSION}${version > TFZ_VERSION ? ' (written by a newer trainfer)' : ''}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const total = dv.getUint32(8, true);
  if (bytes.length < total) throw new FileFormatError(file, `truncated: ${bytes.length} of ${total} bytes`);
  if (bytes.length > total) throw new FileFormatError(file, `corrupt: ${bytes.length - total} bytes after the end of the .tfz data`);
  const digest = createHash('sha256').update(bytes.subarray(0, total - DIGEST)).digest();
  if (!digest.equals(Buffer.from(bytes.buffer, bytes.byteOffset + total - DIGEST, DIGEST))) throw new FileFormatError(file, 'corrupt: checksum mismatch (the file was changed or damaged after it was written)');
  const mlen = dv.getUint32(12, true);
  if (HEADER + mlen > total - DIGEST) throw new FileFormatError(file, 'corrupt: manifest length past the end');
  let manifest: TfzManifest;
  try {
    manifest = JSON.parse(new TextDecoder().decode(unbrotli(bytes.subarray(HEADER, HEADER + mlen), file, 'manifest'))) as TfzManifest;
  } catch (err) {
    if (err instanceof FileFormatError) throw err;
    throw new FileFormatError(file, 'corrupt: the manifest is not valid JSON');
  }
  if (!Array.isArray(manifest.sections) || !Array.isArray(manifest.tensors) || typeof manifest.skeleton?.section !== 'number') throw new FileFormatError(file, 'corrupt: the manifest lacks sections, tensors or the skeleton');
  const sections: Uint8Array[] = [];
  let off = HEADER + mlen;
  for (const len of manifest.sections) {
    if (!(Number.isInteger(len) && len >= 0) || off + len > total - DIGEST) throw new FileFormatError(file, 'corrupt: a section runs past the end');
    sections.push(bytes.subarray(off, off + len));
    off += len;
  }
  if (off !== total - DIGEST) throw new FileFormatError(file, 'corrupt: the sections do not fill the file');
  return { manifest, sections };
}
