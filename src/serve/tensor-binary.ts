/**
 * Tensors in the binary tensor data extension: little-endian, row major; BOOL one byte per element;
 * BYTES as a 4-byte little-endian length followed by the bytes. Sizes are checked against the declared
 * shape before anything is allocated. BYTES elements must be UTF-8 without NUL bytes: onnxruntime-node
 * carries string tensors as C strings of UTF-8 text, and would silently replace other bytes with U+FFFD
 * and cut a string at its first NUL (both measured), so such elements are refused instead; everything
 * else comes back byte for byte.
 */
import { isUtf8 } from 'node:buffer';
import { type TypedArray, allocate } from '../onnx/dtype.js';
import { Tensor, sizeOf } from '../onnx/tensor.js';
import { badRequest } from './errors.js';
import { DATATYPES, ELEMENT_BYTES, type ServedDType } from './datatypes.js';

/** Decodes binary tensor bytes of `dtype` and `shape`. The result never shares memory with `bytes`. */
export function tensorFromBinary(name: string, dtype: ServedDType, shape: readonly number[], bytes: Uint8Array, what = 'input'): Tensor {
  const n = sizeOf(shape);
  if (dtype === 'string') return bytesFromBinary(name, shape, n, bytes, what);
  const need = n * ELEMENT_BYTES[dtype];
  if (bytes.length !== need) {
    throw badRequest(`${what} '${name}': shape [${shape.join(', ')}] of ${DATATYPES[dtype]} needs ${need} bytes, binary_data_size is ${bytes.length}`);
  }
  const arr = allocate(dtype, n) as TypedArray;
  new Uint8Array(arr.buffer).set(bytes);
  if (dtype === 'bool') for (let i = 0; i < n; i++) if (arr[i]! > 1) throw badRequest(`${what} '${name}': BOOL element ${i} is ${arr[i]}, not 0 or 1`);
  return new Tensor(dtype, shape, arr);
}

function bytesFromBinary(name: string, shape: readonly number[], n: number, bytes: Uint8Array, what: string): Tensor {
  if (n * 4 > bytes.length) throw badRequest(`${what} '${name}': shape [${shape.join(', ')}] needs ${n} BYTES elements, at least ${n * 4} bytes; binary_data_size is ${bytes.length}`);
  const out: string[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 0;
  while (p < bytes.length) {
    if (p + 4 > bytes.length) throw badRequest(`${what} '${name}': BYTES element ${out.length} has a truncated length prefix`);
    const len = view.getUint32(p, true);
    if (p + 4 + len > bytes.length) throw badRequest(`${what} '${name}': BYTES element ${out.length} runs past its binary data`);
    const el = Buffer.from(bytes.buffer, bytes.byteOffset + p + 4, len);
    if (!isUtf8(el)) {
      throw badRequest(`${what} '${name}': BYTES element ${out.length} is not valid UTF-8; onnxruntime string tensors carry UTF-8 text only, and other bytes would be altered`);
    }
    if (what === 'input' && el.includes(0)) {
      throw badRequest(`${what} '${name}': BYTES element ${out.length} contains a NUL byte, where onnxruntime would cut the string`);
    }
    out.push(el.toString('utf8'));
    p += 4 + len;
    if (out.length > n) break;
  }
  if (out.length !== n) throw badRequest(`${what} '${name}': shape [${shape.join(', ')}] needs ${n} elements, binary data has ${out.length === n + 1 ? 'more' : out.length}`);
  return new Tensor('string', shape, out);
}

/** A tensor's binary form. Numeric tensors are viewed without copying; BYTES elements are their UTF-8. */
export function tensorToBinary(t: Tensor): Uint8Array {
  if (!Array.isArray(t.data)) return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const parts = t.data.map((s) => Buffer.from(s, 'utf8'));
  const out = Buffer.allocUnsafe(parts.reduce((n, b) => n + 4 + b.length, 0));
  let p = 0;
  for (const b of parts) {
    out.writeUInt32LE(b.length, p);
    b.copy(out, p + 4);
    p += 4 + b.length;
  }
  return out;
}
