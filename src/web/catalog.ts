/**
 * The models directory as the browser page sees it: `scanModels` walks a directory for `.onnx` files,
 * reads each one's graph (never its external weights), and says what the page can do with it — its
 * `kind` (digits / text / other, see manifest.ts), its precision, its input and output, its size and
 * hash. Any layout works: flat files (`cnn.onnx`, `cnn-int8.onnx`), a serving repository
 * (`mnist/1/model.onnx`), or a text classifier's directory (`spam/model.onnx` + `spam/tokenizer.json`).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, sep } from 'node:path';
import type { Model, ValueInfo } from '../onnx/ir.js';
import { loadModel } from '../onnx/model-io.js';
import { TrainferError, oneLine } from '../util/errors.js';
import type { ManifestModel, ManifestTensor, ModelManifest, ModelPrecision } from './manifest.js';

/** Options for `scanModels`. */
export interface ScanModelsOptions {
  /** The directory to scan (recursively, 4 levels deep, skipping hidden folders and node_modules). */
  dir: string;
  /** URL prefix the files are served under (default `models/`). */
  urlPrefix?: string;
  /** URL of the lab report to advertise, if any. */
  labReport?: string;
}

const MAX_DEPTH = 4;
const INT8_OPS = new Set(['QuantizeLinear', 'DequantizeLinear', 'DynamicQuantizeLinear', 'MatMulInteger', 'ConvInteger', 'QLinearConv', 'QLinearMatMul', 'QGemm', 'DynamicQuantizeMatMul']);
const cache = new Map<string, { stamp: string; entry: ManifestModel }>();

/**
 * Scans `o.dir` and returns the page's manifest, models sorted by name. Files that are not ONNX models
 * are listed as `kind: 'other'` with the reason, never thrown. Throws `TrainferError` when `o.dir` is
 * not a directory.
 *
 * @example
 * const manifest = scanModels({ dir: 'models' }); // manifest.models[0].kind === 'digits'
 */
export function scanModels(o: ScanModelsOptions): ModelManifest {
  if (!existsSync(o.dir) || !statSync(o.dir).isDirectory()) throw new TrainferError(`--models ${o.dir}: not a directory`);
  const prefix = o.urlPrefix ?? 'models/';
  const models = findOnnxFiles(o.dir, 0).map((file) => describeCached(o.dir, file, prefix));
  models.sort((a, b) => a.name.localeCompare(b.name));
  return { models, labReport: o.labReport, scannedAt: new Date().toISOString() };
}

function findOnnxFiles(dir: string, depth: number): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.') || e.name === 'node_modules') continue;
    const p = join(dir, e.name);
    // Symbolic links count as what they point to (a lab's `latest`, linked model files); broken ones are skipped.
    const st = e.isSymbolicLink() ? statOrUndefined(p) : e;
    if (!st) continue;
    if (st.isDirectory() && depth < MAX_DEPTH) out.push(...findOnnxFiles(p, depth + 1));
    else if (st.isFile() && e.name.toLowerCase().endsWith('.onnx')) out.push(p);
  }
  return out;
}

function statOrUndefined(p: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
}

/** Describes one file, re-reading it only when its size or modification time changed. */
function describeCached(root: string, file: string, prefix: string): ManifestModel {
  const st = statSync(file);
  const stamp = `${st.size}:${st.mtimeMs}:${prefix}:${root}`;
  const hit = cache.get(file);
  if (hit && hit.stamp === stamp) return hit.entry;
  const entry = describeModel(root, file, prefix);
  cache.set(file, { stamp, entry });
  return entry;
}

/** What the page needs to know about one `.onnx` file under `root`. */
export function describeModel(root: string, file: string, prefix: string): ManifestModel {
  const rel = relative(root, file).split(sep);
  const bytes = readFileSync(file);
  const relName = rel.join('/').replace(/\.onnx$/i, '');
  const name = basename(file).toLowerCase() === 'model.onnx' && rel.length > 1 ? rel.slice(0, -1).join('/') : relName;
  const base: ManifestModel = {
    name,
    kind: 'other',
    precision: 'fp32',
    url: prefix + rel.map(encodeURIComponent).join('/'),
    bytes: bytes.byteLength,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    input: { name: '', dtype: '', shape: [] },
    inputs: [],
    output: { name: '', dtype: '', shape: [] },
    scores: 'logits',
    classes: [],
  };
  let model: Model;
  try {
    model = loadModel(bytes, { file, externalDataDir: dirname(file), externalData: 'check' });
  } catch (err) {
    return { ...base, reason: `not a loadable ONNX model: ${oneLine(err)}` };
  }
  const g = model.graph;
  const inputs = g.inputs.filter((v) => !g.initializers.has(v.name));
  const entry: ManifestModel = { ...base, precision: precisionOf(model) };
  entry.inputs = inputs.map(tensorOf);
  if (inputs[0]) entry.input = tensorOf(inputs[0]);
  if (g.outputs[0]) {
    entry.output = tensorOf(g.outputs[0]);
    const op = g.nodes.find((n) => n.outputs.includes(g.outputs[0]!.name))?.opType;
    entry.scores = op === 'Softmax' ? 'probabilities' : op === 'LogSoftmax' ? 'log-probabilities' : 'logits';
  }
  const classNames = parseClassNames(model.metadata.get('trainfer.class_names'));
  if (hasExternalData(model)) return { ...entry, reason: 'weights in external data files (the page loads single-file models)' };
  const tokenizer = join(dirname(file), 'tokenizer.json');
  if (basename(file).toLowerCase() === 'model.onnx' && existsSync(tokenizer)) {
    const tokRel = relative(root, tokenizer).split(sep).map(encodeURIComponent).join('/');
    const bad = inputs.find((v) => !(v.type && (v.type.dtype === 'int64' || v.type.dtype === 'int32') && v.type.shape?.length === 2));
    if (bad || !inputs.length) return { ...entry, reason: bad ? `beside tokenizer.json, but input '${bad.name}' is not [batch, sequence] int64/int32 token ids` : 'no inputs' };
    return { ...entry, kind: 'text', tokenizerUrl: prefix + tokRel, classes: classNames ?? [] };
  }
  const why = digitsMismatch(inputs, g.outputs);
  if (why) return { ...entry, reason: why, classes: classNames ?? [] };
  return { ...entry, kind: 'digits', classes: classNames && classNames.length === 10 ? classNames : Array.from({ length: 10 }, (_, i) => String(i)) };
}

/** Why a graph is not a 28×28 → 10 classifier the canvas can feed, or `undefined` when it is. */
function digitsMismatch(inputs: ValueInfo[], outputs: ValueInfo[]): string | undefined {
  if (inputs.length !== 1) return `${inputs.length} inputs (the digit canvas feeds one 28×28 image)`;
  const t = inputs[0]!.type;
  if (!t || t.dtype !== 'float32') return `input '${inputs[0]!.name}' is ${t?.dtype ?? 'untyped'}, not float32 pixels`;
  const s = t.shape;
  const fixed = s?.slice(1).map((d) => (typeof d === 'number' ? d : -1));
  const ok = fixed && (same(fixed, [1, 28, 28]) || same(fixed, [28, 28]) || same(fixed, [784]));
  if (!ok) return `input shape [${(s ?? []).map((d) => d ?? '?').join(', ')}] is not [N, 1, 28, 28], [N, 28, 28] or [N, 784]`;
  const out = outputs[0]?.type;
  const last = out?.shape?.[out.shape.length - 1];
  if (!out || out.dtype !== 'float32' || (typeof last === 'number' && last !== 10)) return 'the first output is not 10 float scores';
  return undefined;
}

function same(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function tensorOf(v: ValueInfo): ManifestTensor {
  return { name: v.name, dtype: v.type?.dtype ?? 'unknown', shape: v.type?.shape ? [...v.type.shape] : [] };
}

/** The precision of the heaviest ops: int4 (MatMulNBits), int8 (QDQ / integer ops), fp16 weights, else fp32. */
function precisionOf(model: Model): ModelPrecision {
  const ops = new Set(model.graph.nodes.map((n) => n.opType));
  if (ops.has('MatMulNBits')) return 'int4';
  if ([...ops].some((op) => INT8_OPS.has(op))) return 'int8';
  for (const t of model.graph.initializers.values()) if (t.dtype === 'float16' && t.dims.reduce((a, b) => a * b, 1) > 16) return 'fp16';
  return 'fp32';
}

function hasExternalData(model: Model): boolean {
  const proto = model.graph.proto;
  return !!proto?.initializer.some((t) => t.externalData.length > 0);
}

function parseClassNames(raw: string | undefined): string[] | undefined {
  if (!raw) return undefined;
  try {
    const v: unknown = JSON.parse(raw);
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : undefined;
  } catch {
    return undefined;
  }
}
