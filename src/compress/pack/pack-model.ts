/**
 * Deep Compression (Han et al. 2016) as `packModel` / `unpackModel`. Packing: prune (gradual magnitude
 * pruning while fine-tuning with data, one-shot without), share each prunable layer's non-zero weights
 * through a 2^b-centroid k-means codebook, fine-tune the centroids with the trainer (the weight becomes
 * Gather(codebook, indices) in the training graph, so weights sharing a centroid sum their gradients; the
 * zero entry stays 0 through a fixed `paramMasks` mask), then entropy-code positions and indices into a
 * checksummed `.tfz`. The file is decoded and run in onnxruntime before it is written (atomically).
 * Unpacking restores a runnable ONNX model (dense weights, or `keepShared`: uint8 indices + codebook
 * through Gather), written through `writeModelVerified`.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { modelFromProto, modelToProto } from '../../onnx/ir-proto.js';
import type { Model } from '../../onnx/ir.js';
import { decodeModelProto, encodeModelProto, readModel } from '../../onnx/model-io.js';
import { Tensor } from '../../onnx/tensor.js';
import { Session } from '../../runtime/session.js';
import { sampleFeeds } from '../../runtime/sample-feeds.js';
import { writeModelVerified } from '../../runtime/verified-write.js';
import { writeFileAtomic } from '../../util/atomic-write.js';
import { FileFormatError, TrainferError, oneLine } from '../../util/errors.js';
import { runTrainJob } from '../../train/job.js';
import type { ProgressMode } from '../../train/progress.js';
import { fileBytes, loadSplits, scoreModel } from '../common/score.js';
import { FixedMasks } from '../prune/gradual.js';
import { magnitudeMasks, prunableWeights } from '../prune/magnitude.js';
import { pruneModel } from '../prune/prune-model.js';
import { checkSparsity } from '../prune/schedule.js';
import { brotli, decodeIndices, decodePositions, encodeIndices, encodePositions, order0Bits, unbrotli } from './codec.js';
import { type SharedTensorEntry, type TfzManifest, TFZ_VERSION, decodeTfz, encodeTfz } from './container.js';
import { kmeans1d } from './kmeans.js';
import { type SharedWeight, denseWeight, sharedModel, sharedNames } from './shared-graph.js';

/** Options for `packModel` (the flags of `trainfer compress`). */
export interface PackOptions {
  input: string;
  /** The .tfz to write. */
  out: string;
  /** Bits per shared weight: 2^bits centroids per layer, 1–8 (default 5). */
  bits?: number;
  /** Fraction of the prunable weights pruned, in [0, 1) (default 0.9). */
  sparsity?: number;
  /** Data for pruning with fine-tuning, centroid fine-tuning and accuracy. */
  data?: string;
  /** `global` (default: larger layers are pruned more) or `layer`. */
  scope?: 'layer' | 'global';
  /** Epochs of gradual pruning while fine-tuning (default 3; 0: one-shot). */
  epochs?: number;
  /** Epochs of centroid fine-tuning (default 1; 0: none). */
  centroidEpochs?: number;
  /** Adam learning rate of the centroid fine-tuning (default 1e-4). */
  centroidLr?: number;
  /** Pruning fine-tuning learning rate (default: as trainfer prune). */
  lr?: number;
  seed?: number;
  target?: string;
  threads?: number;
  progress?: ProgressMode;
}

/** One shared tensor in the result. */
export interface PackedTensorReport {
  name: string;
  dims: number[];
  total: number;
  nonZero: number;
  bits: number;
  positionsBytes: number;
  positionsForm: string;
  indicesBytes: number;
  indicesForm: string;
  /** What an ideal order-0 coder would need for the indices (bytes), for comparison with brotli. */
  indicesOrder0Bytes: number;
  codebookBytes: number;
}

/** What `packModel` did. */
export interface PackResult {
  input: string;
  out: string;
  bits: number;
  sparsity: number;
  sizes: { onnx: number; tfz: number; ratio: number; skeleton: number };
  tensors: PackedTensorReport[];
  /** Test accuracy of the input, after pruning (with data), and of the decompressed model. */
  accuracy?: { before: number; pruned?: number; after: number };
  seconds: number;
}

/** Checks option values that need no file. */
export function checkPackOptions(o: Pick<PackOptions, 'bits' | 'sparsity' | 'epochs' | 'centroidEpochs' | 'input' | 'out' | 'scope'>): void {
  if (o.bits !== undefined && !(Number.isInteger(o.bits) && o.bits >= 1 && o.bits <= 8)) throw new TrainferError(`--bits must be an integer from 1 to 8, got ${o.bits}`);
  if (o.sparsity !== undefined) checkSparsity(o.sparsity);
  for (const [flag, v] of [['--epochs', o.epochs], ['--centroid-epochs', o.centroidEpochs]] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v >= 0)) throw new TrainferError(`${flag} must be a non-negative integer, got ${v}`);
  }
  if (o.scope !== undefined && o.scope !== 'layer' && o.scope !== 'global') throw new TrainferError(`--scope must be layer or global, got '${o.scope}'`);
  if (resolve(o.input) === resolve(o.out)) throw new TrainferError(`--out must differ from the input (${o.input} is never modified)`);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Clusters the non-zeros of every prunable weight: codebook entry 0 is the zero, 1…2^bits the centroids. */
function share(model: Model, bits: number): Map<string, SharedWeight> {
  const out = new Map<string, SharedWeight>();
  for (const w of prunableWeights(model)) {
    const t = model.graph.initializers.get(w.name)!;
    if (t.dtype !== 'float32') continue;
    const d = t.data as Float32Array;
    const nz: number[] = [];
    for (let i = 0; i < d.length; i++) if (d[i] !== 0) nz.push(i);
    const values = Float32Array.from(nz, (i) => d[i]!);
    const { centroids, assignment } = kmeans1d(values, 2 ** bits);
    const codebook = new Float32Array(centroids.length + 1);
    codebook.set(centroids, 1);
    const indices = new Uint16Array(d.length);
    nz.forEach((pos, k) => (indices[pos] = assignment[k]! + 1));
    out.set(w.name, { codebook, indices, dims: t.dims });
  }
  return out;
}

/** The dense model a set of shared weights stands for. */
function densify(model: Model, shared: ReadonlyMap<string, SharedWeight>): Model {
  const m = modelFromProto(modelToProto(model));
  for (const [name, s] of shared) m.graph.initializers.set(name, denseWeight(s));
  return m;
}

/** .tfz bytes of a model whose `shared` weights replace initializers of the same names. */
function encodePacked(model: Model, shared: ReadonlyMap<string, SharedWeight>, bits: number, sourceBytes: number): { bytes: Uint8Array; tensors: PackedTensorReport[]; skeleton: number } {
  const skeleton = modelFromProto(modelToProto(model));
  for (const name of shared.keys()) skeleton.graph.initializers.delete(name);
  skeleton.graph.inputs = skeleton.graph.inputs.filter((v) => !shared.has(v.name));
  const skelBytes = encodeModelProto(modelToProto(skeleton));
  const sections: Uint8Array[] = [brotli(skelBytes)];
  const entries: SharedTensorEntry[] = [];
  const tensors: PackedTensorReport[] = [];
  for (const [name, s] of shared) {
    const mask = Uint8Array.from(s.indices, (i) => (i === 0 ? 0 : 1));
    const nzIdx = Uint16Array.from(s.indices.filter((i) => i !== 0), (i) => i - 1);
    const pos = encodePositions(mask);
    const idx = encodeIndices(nzIdx, bits);
    entries.push({ name, dims: [...s.dims], bits, codebook: Array.from(s.codebook.subarray(1)), nonZero: nzIdx.length, positions: { section: sections.length, form: pos.form }, indices: { section: sections.length + 1, form: idx.form } });
    sections.push(pos.bytes, idx.bytes);
    tensors.push({ name, dims: [...s.dims], total: s.indices.length, nonZero: nzIdx.length, bits, positionsBytes: pos.bytes.length, positionsForm: pos.form, indicesBytes: idx.bytes.length, indicesForm: idx.form, indicesOrder0Bytes: Math.ceil(order0Bits(nzIdx) / 8), codebookBytes: 4 * (s.codebook.length - 1) });
  }
  const manifest: Omit<TfzManifest, 'sections'> = { producer: 'trainfer', sourceBytes, skeleton: { section: 0, bytes: skelBytes.length }, tensors: entries };
  return { bytes: encodeTfz(manifest, sections), tensors, skeleton: sections[0]!.length };
}

/** Decodes .tfz bytes into the skeleton model and its shared weights. */
export function decodePacked(bytes: Uint8Array, file: string): { model: Model; shared: Map<string, SharedWeight> } {
  const { manifest, sections } = decodeTfz(bytes, file);
  const sec = (i: number, what: string): Uint8Array => {
    const s = sections[i];
    if (!s) throw new FileFormatError(file, `corrupt: ${what} names section ${i}, which is missing`);
    return s;
  };
  let model: Model;
  try {
    model = modelFromProto(decodeModelProto(unbrotli(sec(manifest.skeleton.section, 'the skeleton'), file, 'model skeleton', manifest.skeleton.bytes), file));
  } catch (err) {
    if (err instanceof FileFormatError) throw err;
    throw new FileFormatError(file, `corrupt model skeleton: ${oneLine(err)}`);
  }
  const shared = new Map<string, SharedWeight>();
  for (const t of manifest.tensors) {
    const what = `tensor '${t.name}'`;
    const size = t.dims.reduce((a, b) => a * b, 1);
    if (!(t.bits >= 1 && t.bits <= 8) || t.codebook.length > 2 ** t.bits || !(t.nonZero >= 0 && t.nonZero <= size)) throw new FileFormatError(file, `corrupt ${what} entry`);
    const mask = decodePositions(t.positions.form, sec(t.positions.section, what), size, t.nonZero, file, `${what} positions`);
    const nz = decodeIndices(t.indices.form, sec(t.indices.section, what), t.nonZero, t.bits, t.codebook.length, file, `${what} indices`);
    const indices = new Uint16Array(size);
    let k = 0;
    for (let i = 0; i < size; i++) if (mask[i]) indices[i] = nz[k++]! + 1;
    const codebook = new Float32Array(t.codebook.length + 1);
    codebook.set(t.codebook, 1);
    shared.set(t.name, { codebook, indices, dims: t.dims });
  }
  return { model, shared };
}

/** Runs `a` and `b` on the same sample feeds; throws unless every output is identical. */
async function checkSame(a: Model, b: Model, what: string): Promise<void> {
  const feeds = sampleFeeds({ model: a, dims: { batch: 2 }, defaultDim: 2 });
  const run = async (m: Model) => {
    const s = await Session.create({ model: m }, { intraOpThreads: 1 });
    try {
      return await s.run(feeds);
    } finally {
      await s.release();
    }
  };
  const [ra, rb] = [await run(a), await run(b)];
  for (const k of Object.keys(ra)) {
    const x = ra[k]!.data as Float32Array;
    const y = rb[k]!.data as Float32Array;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i] && !(Number.isNaN(x[i]) && Number.isNaN(y[i]))) throw new TrainferError(`${what}: output '${k}' differs after decoding`);
  }
}

/**
 * Packs a model into a `.tfz`.
 *
 * @example
 * const r = await packModel({ input: 'lenet300.onnx', out: 'lenet300.tfz', data: 'mnist', sparsity: 0.92, bits: 5 });
 * console.log(`${r.sizes.ratio.toFixed(1)}× smaller, accuracy ${r.accuracy?.after}`);
 */
export async function packModel(o: PackOptions): Promise<PackResult> {
  const t0 = performance.now();
  checkPackOptions(o);
  const bits = o.bits ?? 5;
  const sparsity = o.sparsity ?? 0.9;
  const model = readModel(o.input);
  const sourceBytes = fileBytes(o.input);
  const names = prunableWeights(model).map((w) => w.name);
  if (!names.length) throw new TrainferError(`${o.input}: nothing to compress: no Conv, Gemm or MatMul weights`);
  const seed = o.seed ?? 0;
  const splits = o.data ? loadSplits(o.data, seed) : undefined;
  const before = splits ? await scoreModel({ model, data: splits.test, target: o.target, name: o.input, threads: o.threads }) : undefined;
  const dir = mkdtempSync(join(tmpdir(), 'trainfer-pack-'));
  try {
    const stem = basename(o.input, '.onnx');
    let pruned: Model;
    let prunedAccuracy: number | undefined;
    const epochs = o.epochs ?? 3;
    if (sparsity > 0 && o.data && epochs > 0) {
      const p = join(dir, `${stem}-pruned.onnx`);
      const r = await pruneModel({ input: o.input, out: p, data: o.data, sparsity, scope: o.scope ?? 'global', epochs, lr: o.lr, seed, target: o.target, threads: o.threads, progress: o.progress });
      pruned = readModel(p);
      prunedAccuracy = r.accuracy?.after;
    } else {
      pruned = readModel(o.input);
      if (sparsity > 0) {
        const masks = magnitudeMasks({ weights: model.graph.initializers, names, sparsity, scope: o.scope ?? 'global' });
        for (const [name, m] of masks) {
          const w = model.graph.initializers.get(name)!;
          pruned.graph.initializers.set(name, new Tensor(w.dtype, w.dims, Float32Array.from(w.data as Float32Array, (v, i) => v * m[i]!)));
        }
      }
    }
    let shared = share(pruned, bits);
    const centroidEpochs = o.centroidEpochs ?? 1;
    if (o.data && centroidEpochs > 0) {
      // Centroid fine-tuning: only the codebooks train; their zero entry is held at 0 by a fixed mask.
      const train = join(dir, `${stem}-shared.onnx`);
      const tuned = join(dir, `${stem}-tuned.onnx`);
      await writeModelVerified({ path: train, model: sharedModel(pruned, shared, 'train'), feeds: sampleFeeds({ model: pruned, dims: { batch: 2 } }) });
      const masks = new Map([...shared].map(([w, s]) => [sharedNames(w).codebook, Float32Array.from(s.codebook, (_, i) => (i === 0 ? 0 : 1))]));
      await runTrainJob({
        model: train, data: o.data, out: tuned, epochs: centroidEpochs, optimizer: 'adam', lr: o.centroidLr ?? 1e-4, schedule: 'cosine', seed, target: o.target, threads: o.threads, progress: o.progress ?? 'none',
        trainable: `^(${[...masks.keys()].map(escapeRe).join('|')})$`, extensions: [new FixedMasks(masks)],
      });
      const t = readModel(tuned);
      shared = new Map([...shared].map(([w, s]) => [w, { ...s, codebook: Float32Array.from(t.graph.initializers.get(sharedNames(w).codebook)!.data as Float32Array) }]));
    }
    const enc = encodePacked(pruned, shared, bits, sourceBytes);
    // Never write a file that does not decode into the model it stands for.
    const back = decodePacked(enc.bytes, o.out);
    const reference = densify(pruned, shared);
    const decoded = densify(back.model, back.shared);
    await checkSame(reference, decoded, `${o.out}: not written`);
    writeFileAtomic(o.out, enc.bytes);
    const after = splits ? await scoreModel({ model: decoded, data: splits.test, target: o.target, name: o.out, threads: o.threads }) : undefined;
    const total = enc.tensors.reduce((s, t) => s + t.total, 0);
    const nonZero = enc.tensors.reduce((s, t) => s + t.nonZero, 0);
    return {
      input: o.input, out: o.out, bits, sparsity: total ? 1 - nonZero / total : 0,
      sizes: { onnx: sourceBytes, tfz: enc.bytes.length, ratio: sourceBytes / enc.bytes.length, skeleton: enc.skeleton },
      tensors: enc.tensors,
      ...(before && after ? { accuracy: { before: before.accuracy, ...(prunedAccuracy !== undefined ? { pruned: prunedAccuracy } : {}), after: after.accuracy } } : {}),
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Options for `unpackModel` (the flags of `trainfer decompress`). */
export interface UnpackOptions {
  input: string;
  out: string;
  /** Keep weights as uint8 indices + codebook through Gather (small in the file and in memory). */
  keepShared?: boolean;
}

/** What `unpackModel` wrote. */
export interface UnpackResult {
  input: string;
  out: string;
  keepShared: boolean;
  sizes: { tfz: number; onnx: number };
  tensors: number;
  format: number;
}

/**
 * Restores a runnable ONNX model from a `.tfz` (verified: written only once onnxruntime has run it).
 *
 * @example
 * await unpackModel({ input: 'lenet300.tfz', out: 'lenet300.onnx' });
 */
export async function unpackModel(o: UnpackOptions): Promise<UnpackResult> {
  if (resolve(o.input) === resolve(o.out)) throw new TrainferError(`--out must differ from the input (${o.input})`);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(o.input);
  } catch (err) {
    throw new TrainferError(`${o.input}: cannot read: ${oneLine(err)}`, { cause: err });
  }
  const { model, shared } = decodePacked(bytes, o.input);
  const out = o.keepShared ? sharedModel(model, shared, 'compact') : densify(model, shared);
  await writeModelVerified({ path: o.out, model: out, dims: { batch: 2 } });
  return { input: o.input, out: o.out, keepShared: !!o.keepShared, sizes: { tfz: bytes.length, onnx: fileBytes(o.out) }, tensors: shared.size, format: TFZ_VERSION };
}
