/**
 * Embedding tables stored row-wise int8 (one scale per row, symmetric: s = max|row| / 127, stored fp16 —
 * the values quantized with the rounded scale — or, with `scale: 'fp32'`, fp32) or fp16, in any model.
 * A 64-wide row is 64 bytes + its scale: 3.76× smaller than fp32 with an fp32 scale, 3.88× with an
 * fp16 one; exactly 4× would need the scale stored outside the row. A table read only by axis-0 `Gather`s becomes Gather(int8 table) → Cast → × the
 * gathered row scales (only the looked-up rows are dequantized), or Gather(fp16) → Cast. A retrieval
 * model's catalog (`item_matrix_t`, the MatMul operand of every score) becomes int8 per item with the
 * user vector quantized per row in the graph — U8S8 MatMulInteger, whose result is rescaled by both
 * scales — so each request's scores depend on its own vector only (never on its batch neighbours'). An
 * fp16 catalog is cast to float32 once (onnxruntime folds it at load: half the file, same compute).
 */
import { attr } from '../onnx/attr.js';
import { GraphBuilder } from '../onnx/builder.js';
import { floatToHalf, halfToFloat } from '../onnx/dtype.js';
import { cloneGraph } from '../autodiff/index.js';
import { type Graph, Model, attrInt } from '../onnx/ir.js';
import { topoSort } from '../onnx/passes.js';
import { Tensor } from '../onnx/tensor.js';
import { TrainferError } from '../util/errors.js';

/** What was rewritten, with its size before and after (bytes of the table and its scales). */
export interface TableReport {
  name: string;
  rows: number;
  dim: number;
  bytesBefore: number;
  bytesAfter: number;
}

/** Options for `quantizeEmbeddingTables`. */
export interface QuantizeTablesOptions {
  /** `int8` (row-wise, per-row scale) or `fp16`. */
  dtype: 'int8' | 'fp16';
  /** Only tables with at least this many rows (default 2). */
  minRows?: number;
  /** Only tables at least this wide (default 4: a [rows, 1] bias table would grow with a scale per row). */
  minDim?: number;
  /** int8: the per-row scale's type, `fp16` (default: 2 bytes a row less, 3.88× at dim 64) or `fp32` (3.76×). */
  scale?: 'fp32' | 'fp16';
}

/** The largest scale an fp16 can hold (65504). */
const HALF_MAX = 65504;

/**
 * Symmetric row-wise int8 of a [rows, dim] float table: values and one scale per row. With `half`, each
 * scale is rounded to fp16 first and the values are quantized with the rounded scale.
 */
export function rowwiseInt8(data: Float32Array, rows: number, dim: number, half = false): { q: Int8Array; scale: Float32Array } {
  const q = new Int8Array(rows * dim);
  const scale = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let d = 0; d < dim; d++) m = Math.max(m, Math.abs(data[r * dim + d]!));
    let s = m > 0 ? m / 127 : 1;
    if (half) {
      if (s > HALF_MAX) throw new TrainferError(`row ${r} holds ${m.toExponential(3)}, beyond an fp16 scale's range: use an fp32 scale`);
      s = halfToFloat(floatToHalf(s));
      // A scale below fp16's smallest subnormal rounds to 0: the row is (almost) zero, keep it zero.
      if (!(s > 0)) s = 1;
    }
    scale[r] = s;
    for (let d = 0; d < dim; d++) q[r * dim + d] = Math.max(-127, Math.min(127, Math.round(data[r * dim + d]! / s)));
  }
  return { q, scale };
}

function scaleTensor(scale: Float32Array, dims: number[], half: boolean): Tensor {
  return half ? new Tensor('float16', dims, Uint16Array.from(scale, (x) => floatToHalf(x))) : new Tensor('float32', dims, scale);
}

function fp16(t: Tensor): Tensor {
  const src = t.data as Float32Array;
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = floatToHalf(src[i]!);
  return new Tensor('float16', t.dims, out);
}

/** Tables read only by axis-0 Gathers: name → the Gather nodes. */
function gatherTables(g: Graph, minRows: number, minDim: number): Map<string, Graph['nodes']> {
  const out = new Map<string, Graph['nodes']>();
  for (const [name, t] of g.initializers) {
    if (t.dtype !== 'float32' || t.dims.length !== 2 || t.dims[0]! < minRows || t.dims[1]! < minDim) continue;
    const users = g.nodes.filter((n) => n.inputs.includes(name));
    if (users.length && users.every((n) => n.opType === 'Gather' && n.inputs[0] === name && n.inputs.indexOf(name, 1) < 0 && attrInt(n, 'axis', 0) === 0) && !g.outputs.some((o) => o.name === name)) out.set(name, users);
  }
  return out;
}

/**
 * A copy of `model` with its embedding tables (and a retrieval catalog) stored as int8 or fp16. The
 * input model is not modified.
 *
 * @example
 * const { model: small, tables } = quantizeEmbeddingTables(readModel('tt.onnx'), { dtype: 'int8' });
 */
export function quantizeEmbeddingTables(model: Model, o: QuantizeTablesOptions): { model: Model; tables: TableReport[] } {
  if (o.dtype !== 'int8' && o.dtype !== 'fp16') throw new TrainferError(`table dtype must be int8 or fp16, got '${String(o.dtype)}'`);
  if (o.scale !== undefined && o.scale !== 'fp32' && o.scale !== 'fp16') throw new TrainferError(`the int8 scale must be fp32 or fp16, got '${String(o.scale)}'`);
  const half = o.dtype === 'int8' && (o.scale ?? 'fp16') === 'fp16';
  const scaleBytes = half ? 2 : 4;
  const graph = cloneGraph(model.graph);
  const b = new GraphBuilder({ graph, prefix: 'tables/' });
  const reports: TableReport[] = [];
  // Gathered tables.
  for (const [name, gathers] of gatherTables(graph, o.minRows ?? 2, o.minDim ?? 4)) {
    const t = graph.initializers.get(name)!;
    const [rows, dim] = t.dims as [number, number];
    graph.initializers.delete(name);
    if (o.dtype === 'fp16') {
      graph.initializers.set(`${name}_fp16`, fp16(t));
      for (const n of gathers) {
        n.inputs[0] = `${name}_fp16`;
        redirect(graph, n.outputs[0]!, () => b.op1('Cast', [n.outputs[0]!], { to: attr.int(1) }));
      }
      reports.push({ name, rows, dim, bytesBefore: rows * dim * 4, bytesAfter: rows * dim * 2 });
    } else {
      const { q, scale } = rowwiseInt8(t.data as Float32Array, rows, dim, half);
      graph.initializers.set(`${name}_q`, new Tensor('int8', [rows, dim], q));
      graph.initializers.set(`${name}_scale`, scaleTensor(scale, [rows, 1], half));
      for (const n of gathers) {
        n.inputs[0] = `${name}_q`;
        redirect(graph, n.outputs[0]!, () => {
          const s = b.gather(`${name}_scale`, n.inputs[1]!, 0);
          return b.mul(b.cast(n.outputs[0]!, 'float32'), half ? b.cast(s, 'float32') : s);
        });
      }
      reports.push({ name, rows, dim, bytesBefore: rows * dim * 4, bytesAfter: rows * dim + rows * scaleBytes });
    }
  }
  // A retrieval catalog: MatMul(user_vector, item_matrix_t [D, I]).
  const cat = graph.initializers.get('item_matrix_t');
  const mm = graph.nodes.find((n) => n.opType === 'MatMul' && n.inputs[1] === 'item_matrix_t');
  if (cat && mm && cat.dtype === 'float32') {
    const [D, I] = cat.dims as [number, number];
    graph.initializers.delete('item_matrix_t');
    const out = mm.outputs[0]!;
    graph.nodes = graph.nodes.filter((n) => n !== mm);
    if (o.dtype === 'fp16') {
      graph.initializers.set('item_matrix_t', fp16(cat));
      redirect(graph, out, () => b.matMul(mm.inputs[0]!, b.cast('item_matrix_t', 'float32')));
      reports.push({ name: 'item_matrix_t', rows: I, dim: D, bytesBefore: I * D * 4, bytesAfter: I * D * 2 });
    } else {
      // Per item (column) scales: quantize the transpose's rows.
      const rowsMajor = new Float32Array(I * D);
      const c = cat.data as Float32Array;
      for (let d = 0; d < D; d++) for (let i = 0; i < I; i++) rowsMajor[i * D + d] = c[d * I + i]!;
      const { q, scale } = rowwiseInt8(rowsMajor, I, D, half);
      const qt = new Int8Array(D * I);
      for (let i = 0; i < I; i++) for (let d = 0; d < D; d++) qt[d * I + i] = q[i * D + d]!;
      graph.initializers.set('item_matrix_q', new Tensor('int8', [D, I], qt));
      graph.initializers.set('item_matrix_scale', scaleTensor(scale, [1, I], half));
      const itemScale = half ? b.cast('item_matrix_scale', 'float32') : 'item_matrix_scale';
      // The user vector per row: s_u = max|u| / 127, u8 = round(u / s_u) + 128 (zero point 128).
      const u = mm.inputs[0]!;
      let acc = '';
      let su = '';
      su = b.add(b.div(b.reduceMax(b.abs(u), [1], true), b.scalar(127)), b.scalar(1e-12));
      const rounded = b.clip(b.op1('Round', [b.div(u, su)]), b.scalar(-127), b.scalar(127));
      const u8 = b.cast(b.add(rounded, b.scalar(128)), 'uint8');
      acc = b.op1('MatMulInteger', [u8, 'item_matrix_q', b.constant(new Tensor('uint8', [], Uint8Array.of(128)), 'u_zero')]);
      redirect(graph, out, () => b.mul(b.mul(b.cast(acc, 'float32'), su), itemScale));
      reports.push({ name: 'item_matrix_t', rows: I, dim: D, bytesBefore: I * D * 4, bytesAfter: I * D + I * scaleBytes });
    }
  }
  if (reports.length === 0) throw new TrainferError('the model has no embedding table (a float [rows, dim] initializer read only by Gather) and no retrieval catalog');
  // Nodes appended by the builder must come before their readers: re-sort topologically.
  topoSort(graph);
  const m = new Model(graph);
  m.opsets = new Map(model.opsets);
  m.irVersion = model.irVersion;
  m.producerName = model.producerName;
  m.metadata = new Map(model.metadata);
  m.metadata.set('trainfer.tables', JSON.stringify({ dtype: o.dtype, ...(o.dtype === 'int8' ? { scale: half ? 'fp16' : 'fp32' } : {}), tables: reports }));
  return { model: m, tables: reports };
}


/** Makes every reader of `from` (and a graph output of that name) read the value `make` emits instead. */
function redirect(g: Graph, from: string, make: () => string): void {
  const before = new Set(g.nodes);
  const to = make();
  for (const n of g.nodes) if (before.has(n)) n.inputs = n.inputs.map((x) => (x === from ? to : x));
  g.outputs = g.outputs.map((v) => (v.name === from ? { ...v, name: to } : v));
}
