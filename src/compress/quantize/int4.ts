/**
 * int4 weight-only quantization of large MatMuls into ORT's `com.microsoft.MatMulNBits`: weights are cut
 * into blocks of `blockSize` along K per output column, each block stored as 4-bit values with a float
 * scale (and, asymmetric, a 4-bit zero point). Activations stay float. Works in every (sub)graph.
 */
import { attr } from '../../onnx/attr.js';
import { type Graph, type Model, type Node, attrFloat, attrInt, walkGraphs } from '../../onnx/ir.js';
import { eliminateDeadNodes, topoSort } from '../../onnx/passes.js';
import { Tensor } from '../../onnx/tensor.js';
import { TrainferError } from '../../util/errors.js';
import { floatData, roundHalfEven } from './qmath.js';
import type { QuantizeReport } from './report.js';

/** Options for `quantizeInt4`. */
export interface Int4Options {
  /** Block size along K: a power of two ≥ 16 (default 32). */
  blockSize: number;
  /** Symmetric blocks (zero point 8, not stored) or asymmetric (4-bit zero point per block). */
  symmetric: boolean;
  /** Only weights with at least this many elements. */
  minElements: number;
  /** MatMulNBits accuracy_level (0 = kernel default, 4 = int8 compute). */
  accuracyLevel: number;
  exclude?: ReadonlySet<string>;
}

/** A blockwise 4-bit weight in MatMulNBits layout. */
export interface PackedInt4 {
  /** uint8 [N, nBlocks, blockSize/2]: two 4-bit values per byte, the lower k in the low nibble. */
  data: Uint8Array;
  /** float32 [N · nBlocks]. */
  scales: Float32Array;
  /** uint8 [N · ceil(nBlocks/2)] packed 4-bit zero points (asymmetric only). */
  zeroPoints?: Uint8Array;
  nBlocks: number;
}

/**
 * Packs a [K, N] float weight (row-major) for MatMulNBits. Symmetric: scale = m/−8 where m is the block's
 * value of largest magnitude (so it maps exactly to −8), q = clamp(round(w/scale), −8, 7) + 8.
 * Asymmetric: scale = (max − min)/15 over the block (range widened to include 0), zp = round(−min/scale).
 * Ties round to even, as ONNX's QuantizeLinear does.
 */
export function packInt4(w: ArrayLike<number>, k: number, n: number, blockSize: number, symmetric: boolean): PackedInt4 {
  const nBlocks = Math.ceil(k / blockSize);
  const blob = blockSize / 2;
  const data = new Uint8Array(n * nBlocks * blob);
  const scales = new Float32Array(n * nBlocks);
  const zpBytes = Math.ceil(nBlocks / 2);
  const zeroPoints = symmetric ? undefined : new Uint8Array(n * zpBytes);
  const q = new Uint8Array(blockSize);
  for (let col = 0; col < n; col++) {
    for (let b = 0; b < nBlocks; b++) {
      const k0 = b * blockSize;
      const k1 = Math.min(k, k0 + blockSize);
      let scale: number;
      let zp: number;
      if (symmetric) {
        let m = 0;
        for (let i = k0; i < k1; i++) {
          const v = w[i * n + col]!;
          if (Math.abs(v) > Math.abs(m)) m = v;
        }
        scale = m === 0 ? 1 : Math.fround(m / -8);
        zp = 8;
      } else {
        let lo = 0;
        let hi = 0;
        for (let i = k0; i < k1; i++) {
          const v = w[i * n + col]!;
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
        scale = hi === lo ? 1 : Math.fround((hi - lo) / 15);
        zp = Math.min(15, Math.max(0, roundHalfEven(-lo / scale)));
      }
      scales[col * nBlocks + b] = scale;
      q.fill(zp);
      for (let i = k0; i < k1; i++) q[i - k0] = Math.min(15, Math.max(0, roundHalfEven(Math.fround(w[i * n + col]! / scale)) + zp));
      const off = (col * nBlocks + b) * blob;
      for (let j = 0; j < blob; j++) data[off + j] = q[2 * j]! | (q[2 * j + 1]! << 4);
      if (zeroPoints) zeroPoints[col * zpBytes + (b >> 1)]! |= b & 1 ? zp << 4 : zp;
    }
  }
  return { data, scales, zeroPoints, nBlocks };
}

/** Unpacks a MatMulNBits weight back to a [K, N] float matrix (the reference for tests). */
export function unpackInt4(p: PackedInt4, k: number, n: number, blockSize: number): Float32Array {
  const out = new Float32Array(k * n);
  const blob = blockSize / 2;
  const zpBytes = Math.ceil(p.nBlocks / 2);
  for (let col = 0; col < n; col++) {
    for (let b = 0; b < p.nBlocks; b++) {
      const scale = p.scales[col * p.nBlocks + b]!;
      const zpByte = p.zeroPoints ? p.zeroPoints[col * zpBytes + (b >> 1)]! : 0x88;
      const zp = b & 1 ? zpByte >> 4 : zpByte & 15;
      for (let j = 0; j < blockSize; j++) {
        const kk = b * blockSize + j;
        if (kk >= k) break;
        const byte = p.data[(col * p.nBlocks + b) * blob + (j >> 1)]!;
        const qv = j & 1 ? byte >> 4 : byte & 15;
        out[kk * n + col] = (qv - zp) * scale;
      }
    }
  }
  return out;
}

/** Rewrites large constant-weight MatMul/Gemm nodes into MatMulNBits, in place; fills `report`. */
export function quantizeInt4(model: Model, o: Int4Options, report: QuantizeReport): void {
  if (!(o.blockSize >= 16 && (o.blockSize & (o.blockSize - 1)) === 0)) throw new TrainferError(`int4 block size must be a power of two ≥ 16, got ${o.blockSize}`);
  let used = false;
  for (const g of [...walkGraphs(model.graph)]) {
    const graphName = g === model.graph ? 'main' : `subgraph '${g.name}'`;
    const out: Node[] = [];
    for (const n of g.nodes) {
      if (n.domain !== '' || (n.opType !== 'MatMul' && n.opType !== 'Gemm')) {
        out.push(n);
        continue;
      }
      const where = { graph: graphName, node: n.name, opType: n.opType };
      const r = o.exclude?.has(n.name) ? 'excluded' : rewrite(g, n, o);
      if (typeof r === 'string') {
        report.outcomes.push({ ...where, status: 'float', detail: r });
        out.push(n);
      } else {
        used = true;
        out.push(...r);
        report.outcomes.push({ ...where, status: 'quantized', detail: `int4 weights, block ${o.blockSize}, ${o.symmetric ? 'symmetric' : 'asymmetric'} (MatMulNBits)` });
      }
    }
    g.nodes = out;
    topoSort(g);
    eliminateDeadNodes(g);
  }
  if (used && !model.opsets.has('com.microsoft')) model.opsets.set('com.microsoft', 1);
}

function rewrite(g: Graph, n: Node, o: Int4Options): Node[] | string {
  const b = g.initializers.get(n.inputs[1]!);
  if (!b) return 'weight is not a constant';
  if (b.dtype !== 'float32' || b.dims.length !== 2) return 'weight is not a 2-D float32 constant';
  if (b.size < o.minElements) return `weight smaller than ${o.minElements} elements`;
  let kDim = b.dims[0]!;
  let nDim = b.dims[1]!;
  let w = floatData(b);
  let bias: Tensor | undefined;
  if (n.opType === 'Gemm') {
    if (attrInt(n, 'transA', 0)) return 'Gemm with transA';
    const alpha = attrFloat(n, 'alpha', 1);
    if (attrInt(n, 'transB', 0)) {
      [kDim, nDim] = [nDim, kDim];
      const t = new Float32Array(w.length);
      for (let i = 0; i < nDim; i++) for (let j = 0; j < kDim; j++) t[j * nDim + i] = w[i * kDim + j]!;
      w = t;
    }
    if (alpha !== 1) w = Float32Array.from(w, (x) => x * alpha);
    if (n.inputs[2]) {
      const c = g.initializers.get(n.inputs[2]);
      if (!c || c.dtype !== 'float32') return 'Gemm bias is not a float constant';
      const beta = attrFloat(n, 'beta', 1);
      bias = new Tensor('float32', c.dims, Float32Array.from(floatData(c), (x) => x * beta));
    }
  }
  const p = packInt4(w, kDim, nDim, o.blockSize, o.symmetric);
  const base = n.inputs[1]!;
  const add = (suffix: string, t: Tensor): string => {
    const name = g.uniqueName(`${base}_${suffix}`);
    g.initializers.set(name, t);
    return name;
  };
  const inputs = [n.inputs[0]!, add('int4', new Tensor('uint8', [nDim, p.nBlocks, o.blockSize / 2], p.data)), add('int4_scales', Tensor.f32([nDim * p.nBlocks], p.scales))];
  if (p.zeroPoints) inputs.push(add('int4_zero_points', new Tensor('uint8', [p.zeroPoints.length], p.zeroPoints)));
  const y = n.outputs[0]!;
  const mm = bias ? g.uniqueName(`${y}_nobias`) : y;
  const nodes: Node[] = [{
    name: g.uniqueName(`${n.name || y}_MatMulNBits`), opType: 'MatMulNBits', domain: 'com.microsoft', inputs, outputs: [mm],
    attributes: { K: attr.int(kDim), N: attr.int(nDim), bits: attr.int(4), block_size: attr.int(o.blockSize), accuracy_level: attr.int(o.accuracyLevel) },
  }];
  if (bias) nodes.push({ name: g.uniqueName(`${y}_bias_Add`), opType: 'Add', domain: '', inputs: [mm, add('bias', bias)], outputs: [y], attributes: {} });
  return nodes;
}
