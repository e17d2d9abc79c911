/**
 * Reading and writing `.onnx` files: protobuf decode/encode with one-line errors that name the file,
 * external data files (read relative to the model, written beside it), atomic writes.
 */
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, relative, resolve, sep } from 'node:path';
import { create, fromBinary } from '@bufbuild/protobuf';
import { GraphProtoSchema, type ModelProto, ModelProtoSchema, StringStringEntryProtoSchema, TensorProtoSchema, TensorProto_DataLocation } from './gen/onnx_pb.js';
import { FileFormatError, oneLine } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { modelFromProto, modelToProto } from './ir-proto.js';
import { concatChunks, encodeModelChunks } from './proto-chunks.js';
import type { Model } from './ir.js';
import type { ExternalDataLoader } from './tensor.js';

/**
 * Decodes ONNX protobuf bytes, checking that the result is a model (IR version, graph, opset).
 * @param bytes the file contents
 * @param file name used in error messages
 */
export function decodeModelProto(bytes: Uint8Array, file = '<bytes>'): ModelProto {
  if (bytes.byteLength === 0) throw new FileFormatError(file, 'empty file, not an ONNX model');
  let p: ModelProto;
  try {
    p = fromBinary(ModelProtoSchema, bytes, { readUnknownFields: true });
  } catch (err) {
    throw new FileFormatError(file, decodeFailure((err as Error).message), { cause: err });
  }
  checkModelProto(p, file);
  return p;
}

/** Turns a protobuf decoder message into a reason a user can act on. */
function decodeFailure(msg: string): string {
  const detail = oneLine(msg);
  if (/premature EOF/i.test(detail)) return `truncated or corrupt ONNX file (protobuf data ends early: ${detail})`;
  if (/recursion depth/i.test(detail)) return `not a valid ONNX model (messages nest too deeply: ${detail})`;
  return `not a valid ONNX model (protobuf decode failed: ${detail})`;
}

function checkModelProto(p: ModelProto, file: string): void {
  const ir = Number(p.irVersion);
  if (!(ir >= 1 && ir <= 64)) throw new FileFormatError(file, `not an ONNX model (ir_version ${p.irVersion} is not a known IR version)`);
  if (!p.graph) throw new FileFormatError(file, 'not an ONNX model (it has no graph)');
  if (ir >= 3 && p.opsetImport.length === 0) throw new FileFormatError(file, 'invalid ONNX model: no opset_import');
  for (const o of p.opsetImport) {
    const v = Number(o.version);
    if (!(v >= 1 && v <= 1000)) throw new FileFormatError(file, `invalid ONNX model: opset '${o.domain || 'ai.onnx'}' has version ${o.version}`);
  }
}

/** Encodes a `ModelProto` to bytes (unknown fields are written back). Large weights are copied once. */
export function encodeModelProto(p: ModelProto): Uint8Array {
  return concatChunks(encodeModelChunks(p));
}

/** Reads a `.onnx` file as a `ModelProto` (external data is not loaded). Errors name the file. */
export function readModelProto(path: string): ModelProto {
  return decodeModelProto(readFileOrThrow(path), path);
}

/** Options for `readModel`/`loadModel`. */
export interface ReadModelOptions {
  /** Directory against which external data locations resolve (default: the model's directory). */
  externalDataDir?: string;
  /**
   * `load` (default) reads external tensor data. `check` only checks that each external file exists
   * and is long enough, and gives those tensors zero-filled storage the OS maps lazily — for tools that
   * need shapes and sizes but not weights (`trainfer inspect`). Never write or run such a model.
   */
  externalData?: 'load' | 'check';
}

/** Reads a `.onnx` file into the IR, loading external data from beside it. Errors name the file. */
export function readModel(path: string, options: ReadModelOptions = {}): Model {
  return loadModel(readFileOrThrow(path), { ...options, file: path, externalDataDir: options.externalDataDir ?? dirname(resolve(path)) });
}

/** Decodes model bytes into the IR. `file` names the source in errors. */
export function loadModel(bytes: Uint8Array, options: ReadModelOptions & { file?: string } = {}): Model {
  const file = options.file ?? '<bytes>';
  const p = decodeModelProto(bytes, file);
  try {
    const dir = options.externalDataDir;
    return modelFromProto(p, { loadExternal: dir ? externalLoader(dir, { readData: options.externalData !== 'check' }) : undefined });
  } catch (err) {
    if (err instanceof FileFormatError) throw err;
    throw new FileFormatError(file, (err as Error).message, { cause: err });
  }
}

/**
 * Loads external data from files under `dir`, refusing locations that escape it. With
 * `readData: false` the ranges are checked but zero-filled buffers are returned instead.
 */
export function externalLoader(dir: string, options: { readData?: boolean } = {}): ExternalDataLoader {
  const root = resolve(dir);
  return (location, offset, length) => {
    if (isAbsolute(location)) throw new Error(`external data location '${location}' must be relative`);
    const full = resolve(root, normalize(location));
    const rel = relative(root, full);
    if (rel.startsWith('..') || rel.split(sep).includes('..')) throw new Error(`external data location '${location}' escapes the model directory`);
    let size: number;
    try {
      size = statSync(full).size;
    } catch {
      throw new Error(`external data file '${location}' not found`);
    }
    const len = length ?? size - offset;
    if (len < 0 || offset + len > size) throw new Error(`external data '${location}' is ${size} bytes; ${offset}+${len} is past its end`);
    if (options.readData === false) return new Uint8Array(len); // calloc'd: untouched pages cost no memory
    const buf = Buffer.allocUnsafe(len);
    const fd = openSync(full, 'r');
    try {
      let got = 0;
      while (got < len) {
        const n = readSync(fd, buf, got, len - got, offset + got);
        if (n === 0) break;
        got += n;
      }
    } finally {
      closeSync(fd);
    }
    return buf;
  };
}

/** Options for `writeModel`. */
export interface WriteModelOptions {
  /**
   * Store initializers of at least this many bytes in one external data file beside the model
   * (required past protobuf's 2 GiB limit). Default: everything inline.
   */
  externalDataThreshold?: number;
  /** File name of the external data file (default `<model file name>.data`). */
  externalDataLocation?: string;
}

/** Writes a model to `path` atomically. Never modifies `model`. */
export function writeModel(path: string, model: Model, options: WriteModelOptions = {}): void {
  const p = modelToProto(model);
  writeModelProto(path, p, options);
}

/** Writes a `ModelProto` to `path` atomically, optionally moving large tensors to an external data file. */
export function writeModelProto(path: string, p: ModelProto, options: WriteModelOptions = {}): void {
  const threshold = options.externalDataThreshold;
  if (threshold === undefined || !p.graph) {
    writeFileAtomic(path, encodeModelChunks(p));
    return;
  }
  const location = options.externalDataLocation ?? `${path.split(/[\\/]/).pop()}.data`;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  // Shallow copies keep proto2 presence (own properties) and leave the caller's proto untouched.
  const out = Object.assign(create(ModelProtoSchema), p);
  const graph = Object.assign(create(GraphProtoSchema), p.graph);
  graph.initializer = p.graph.initializer.map((t) => {
    // Integer tensors are shapes/axes/indices that ORT must read at load time: keep them inline.
    if (t.rawData.byteLength < threshold || !EXTERNALIZABLE.has(t.dataType)) return t;
    const pad = (4096 - (offset % 4096)) % 4096; // page-align for mmap
    if (pad) chunks.push(new Uint8Array(pad));
    offset += pad;
    chunks.push(t.rawData);
    const entry = (key: string, value: string) => create(StringStringEntryProtoSchema, { key, value });
    const ext = Object.assign(create(TensorProtoSchema), t);
    delete (ext as Partial<typeof ext>).rawData;
    ext.dataLocation = TensorProto_DataLocation.EXTERNAL;
    ext.externalData = [entry('location', location), entry('offset', String(offset)), entry('length', String(t.rawData.byteLength))];
    offset += t.rawData.byteLength;
    return ext;
  });
  out.graph = graph;
  writeFileAtomic(join(dirname(path), location), chunks);
  writeFileAtomic(path, encodeModelChunks(out));
}

/** ONNX data types moved to external data: float32, float16, float64, bfloat16, int8, uint8, int4, uint4. */
const EXTERNALIZABLE = new Set([1, 10, 11, 16, 3, 2, 21, 22]);

function readFileOrThrow(path: string): Uint8Array {
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new FileFormatError(path, 'is a directory, not an ONNX file');
    return readFileSync(path);
  } catch (err) {
    if (err instanceof FileFormatError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new FileFormatError(path, reason, { cause: err });
  }
}
