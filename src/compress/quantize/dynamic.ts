/**
 * Dynamic int8 quantization: weights become int8 constants ahead of time; activations are quantized at
 * run time (u8, per batch). MatMul/Gemm become either ORT's fused `com.microsoft.DynamicQuantizeMatMul`
 * or the standard `DynamicQuantizeLinear → MatMulInteger → Cast → Mul` chain; Conv becomes
 * `DynamicQuantizeLinear → ConvInteger → Cast → Mul (→ Add bias)` when asked, else keeps Conv in float32 with
 * int8-stored weights (weight-only). Works in every (sub)graph.
 */
import { attr } from '../../onnx/attr.js';
import { type Graph, type Model, type Node, attrFloat, attrInt, walkGraphs } from '../../onnx/ir.js';
import { eliminateDeadNodes, topoSort } from '../../onnx/passes.js';
import { Tensor } from '../../onnx/tensor.js';
import { floatData, quantizeWeight, scaleTensor, zeroPointTensor } from './qmath.js';
import type { QuantizeReport } from './report.js';

/** MatMul form for dynamic quantization. */
export type DynamicMatMulFormat = 'fused' | 'integer';

/** Options for `quantizeDynamic`. */
export interface DynamicOptions {
  /** Per-channel (per output column / output channel) weight scales (default true). */
  perChannel: boolean;
  /** 7-bit weights for CPUs without VNNI. */
  reduceRange: boolean;
  /** `integer` = standard DynamicQuantizeLinear → MatMulInteger chain (ORT fuses it into DynamicQuantizeMatMul), `fused` = that contrib op directly. */
  matmulFormat: DynamicMatMulFormat;
  /**
   * Conv with ConvInteger (int8 compute; per-tensor zero point). When false, Conv weights are stored int8
   * and decoded to float32 when onnxruntime loads the model (weight-only: 4× smaller weights, fp32 speed),
   * since ConvInteger ran slower than fp32 Conv on onnxruntime's CPU provider (see docs/quantization.md).
   */
  conv: boolean;
  /** Skip MatMuls whose weight has fewer elements than this (default 0). */
  minWeightElements?: number;
  exclude?: ReadonlySet<string>;
}

/** Rewrites `model` in place (every graph, subgraphs included); fills `report`. */
export function quantizeDynamic(model: Model, o: DynamicOptions, report: QuantizeReport): void {
  let usesMs = false;
  for (const g of [...walkGraphs(model.graph)]) {
    const graphName = g === model.graph ? 'main' : `subgraph '${g.name}'`;
    const out: Node[] = [];
    for (const n of g.nodes) {
      const where = { graph: graphName, node: n.name, opType: n.opType };
      const attention = n.domain === 'com.microsoft' && n.opType === 'Attention';
      const table = n.domain === '' && n.opType === 'Gather' && g.initializers.get(n.inputs[0]!)?.dtype === 'float32' && attrInt(n, 'axis', 0) === 0;
      const covered = attention || table || (n.domain === '' && (n.opType === 'MatMul' || n.opType === 'Gemm' || n.opType === 'Conv'));
      if (!covered) {
        out.push(n);
        continue;
      }
      if (o.exclude?.has(n.name)) {
        report.outcomes.push({ ...where, status: 'float', detail: 'excluded' });
        out.push(n);
        continue;
      }
      const r = table ? rewriteGatherWeightOnly(g, n, o) : attention ? rewriteAttention(g, n, o) : n.opType === 'Conv' ? (o.conv ? rewriteConv(g, n, o) : rewriteConvWeightOnly(g, n, o)) : rewriteMatMul(g, n, o);
      if (typeof r === 'string') {
        report.outcomes.push({ ...where, status: 'float', detail: r });
        out.push(n);
      } else {
        out.push(...r.nodes);
        usesMs ||= r.nodes.some((x) => x.domain === 'com.microsoft');
        report.outcomes.push({ ...where, status: 'quantized', detail: r.detail });
      }
    }
    g.nodes = out;
    topoSort(g);
    eliminateDeadNodes(g);
  }
  if (usesMs && !model.opsets.has('com.microsoft')) model.opsets.set('com.microsoft', 1);
}

type Rewrite = { nodes: Node[]; detail: string } | string;

/**
 * Stores every embedding table (Gather from a constant float32 table, ≥ 4096 elements) as int8 rows
 * (the in-graph Cast · Mul form; `quantizeEmbeddingTables` in compress/embedding-tables.ts is the
 * embeddings-only command)
 * decoded at load (weight-only), in place; static mode calls it after inserting QDQ, dynamic mode does it
 * as part of its rewrite.
 */
export function storeTablesInt8(model: Model, o: { reduceRange: boolean; exclude?: ReadonlySet<string> }, report: QuantizeReport): void {
  const g = model.graph;
  const out: Node[] = [];
  for (const n of g.nodes) {
    const table = n.domain === '' && n.opType === 'Gather' && g.initializers.get(n.inputs[0]!)?.dtype === 'float32' && attrInt(n, 'axis', 0) === 0 && !o.exclude?.has(n.name);
    const r = table ? rewriteGatherWeightOnly(g, n, { perChannel: true, reduceRange: o.reduceRange, matmulFormat: 'integer', conv: false }) : undefined;
    if (r && typeof r !== 'string') {
      out.push(...r.nodes);
      report.outcomes.push({ graph: 'main', node: n.name, opType: n.opType, status: 'quantized', detail: r.detail });
    } else out.push(n);
  }
  g.nodes = out;
  topoSort(g);
  eliminateDeadNodes(g);
}

function node(g: Graph, opType: string, inputs: string[], outputs: string[], attributes: Node['attributes'] = {}, domain = ''): Node {
  return { name: g.uniqueName(`${outputs[0]}_${opType}`), opType, domain, inputs, outputs, attributes };
}

function addInit(g: Graph, base: string, t: Tensor): string {
  const name = g.uniqueName(base);
  g.initializers.set(name, t);
  return name;
}

/** MatMul(A, B) / Gemm(A, B, C) with constant 2-D B → dynamic int8. */
function rewriteMatMul(g: Graph, n: Node, o: DynamicOptions): Rewrite {
  const b = g.initializers.get(n.inputs[1]!);
  if (!b) return 'weight is not a constant';
  if (b.dtype !== 'float32' || b.dims.length !== 2) return 'weight is not a 2-D float32 constant';
  if (b.size < (o.minWeightElements ?? 0)) return `weight smaller than ${o.minWeightElements} elements`;
  let w = b;
  let bias: Tensor | undefined;
  if (n.opType === 'Gemm') {
    if (attrInt(n, 'transA', 0)) return 'Gemm with transA';
    const alpha = attrFloat(n, 'alpha', 1);
    const beta = attrFloat(n, 'beta', 1);
    w = prepareGemmWeight(b, attrInt(n, 'transB', 0) === 1, alpha);
    if (n.inputs[2]) {
      const c = g.initializers.get(n.inputs[2]);
      if (!c || c.dtype !== 'float32') return 'Gemm bias is not a float constant';
      const cd = floatData(c);
      bias = new Tensor('float32', c.dims, Float32Array.from(cd, (x) => x * beta));
    }
  }
  const [, cols] = w.dims as [number, number];
  const qw = quantizeWeight(w, { qtype: 'int8', axis: o.perChannel ? 1 : undefined, symmetric: true, reduceRange: o.reduceRange });
  const base = n.outputs[0]!;
  const wq = addInit(g, `${n.inputs[1]}_quantized`, qw.q);
  const ws = addInit(g, `${n.inputs[1]}_scale`, scaleTensor(qw.params));
  const wz = addInit(g, `${n.inputs[1]}_zero_point`, zeroPointTensor(qw.params));
  const y = n.outputs[0]!;
  const nodes: Node[] = [];
  const biasFits = bias !== undefined && bias.size === cols && bias.dims[bias.dims.length - 1] === cols;
  const mmOut = bias ? g.uniqueName(`${base}_nobias`) : y;
  const detail = `int8 weights ${o.perChannel ? 'per channel' : 'per tensor'}, u8 activations at run time`;
  if (o.matmulFormat === 'fused') {
    const inputs = [n.inputs[0]!, wq, ws, wz];
    if (bias && biasFits) inputs.push(addInit(g, `${base}_bias`, new Tensor('float32', [cols], bias.data as Float32Array)));
    const out = bias && !biasFits ? mmOut : y;
    nodes.push(node(g, 'DynamicQuantizeMatMul', inputs, [out], {}, 'com.microsoft'));
    if (bias && !biasFits) nodes.push(node(g, 'Add', [out, addInit(g, `${base}_bias`, bias)], [y]));
    return { nodes, detail: `${detail} (DynamicQuantizeMatMul)` };
  }
  const [aq, as, az] = [g.uniqueName(`${base}_a_quantized`), g.uniqueName(`${base}_a_scale`), g.uniqueName(`${base}_a_zero_point`)];
  nodes.push(node(g, 'DynamicQuantizeLinear', [n.inputs[0]!], [aq, as, az]));
  const acc = g.uniqueName(`${base}_int32`);
  nodes.push(node(g, 'MatMulInteger', [aq, wq, az, wz], [acc]));
  const accF = g.uniqueName(`${base}_int32_float`);
  nodes.push(node(g, 'Cast', [acc], [accF], { to: attr.int(1) }));
  const scale = g.uniqueName(`${base}_scale_product`);
  nodes.push(node(g, 'Mul', [as, ws], [scale]));
  nodes.push(node(g, 'Mul', [accF, scale], [mmOut]));
  if (bias) nodes.push(node(g, 'Add', [mmOut, addInit(g, `${base}_bias`, bias)], [y]));
  return { nodes, detail: `${detail} (MatMulInteger)` };
}

/**
 * com.microsoft.Attention(x, W [D, 3D], b, mask) with constant W → DynamicQuantizeLinear(x) →
 * com.microsoft.QAttention (int8 weights, u8 activations, the fused QKV projection in one integer GEMM;
 * the attention itself in float inside the kernel). Weight scales per column when per-channel.
 */
function rewriteAttention(g: Graph, n: Node, o: DynamicOptions): Rewrite {
  const w = g.initializers.get(n.inputs[1]!);
  if (!w || w.dtype !== 'float32' || w.dims.length !== 2) return 'weight is not a 2-D float32 constant';
  if (n.inputs.length > 4) return 'past state or extra inputs (not covered)';
  const extra = Object.keys(n.attributes).filter((k) => !['num_heads', 'scale', 'mask_filter_value', 'unidirectional'].includes(k));
  if (extra.length) return `attributes ${extra.join(', ')} (not covered)`;
  const qw = quantizeWeight(w, { qtype: 'int8', axis: o.perChannel ? 1 : undefined, symmetric: true, reduceRange: o.reduceRange });
  const base = n.outputs[0]!;
  const wq = addInit(g, `${n.inputs[1]}_quantized`, qw.q);
  const ws = addInit(g, `${n.inputs[1]}_scale`, scaleTensor(qw.params));
  const wz = addInit(g, `${n.inputs[1]}_zero_point`, zeroPointTensor(qw.params));
  const [aq, as, az] = [g.uniqueName(`${base}_a_quantized`), g.uniqueName(`${base}_a_scale`), g.uniqueName(`${base}_a_zero_point`)];
  const nodes: Node[] = [node(g, 'DynamicQuantizeLinear', [n.inputs[0]!], [aq, as, az])];
  nodes.push(node(g, 'QAttention', [aq, wq, n.inputs[2]!, as, ws, n.inputs[3] ?? '', az, wz], [...n.outputs], { ...n.attributes }, 'com.microsoft'));
  return { nodes, detail: `int8 weights ${o.perChannel ? 'per column' : 'per tensor'}, u8 activations at run time (QAttention: Q/K/V in one integer GEMM)` };
}

/**
 * Gather(table, ids) from a constant float table (an embedding) → Gather(Cast(table_int8) · s, ids):
 * int8 rows with a scale per row, decoded to float32 once when onnxruntime loads the model (it
 * constant-folds Cast and Mul), so lookups run as before and the file stores the table 4× smaller.
 */
function rewriteGatherWeightOnly(g: Graph, n: Node, o: DynamicOptions): Rewrite {
  const w = g.initializers.get(n.inputs[0]!)!;
  if (w.dims.length !== 2) return 'table is not 2-D';
  if (w.size < (o.minWeightElements ?? 4096)) return `table smaller than ${o.minWeightElements ?? 4096} elements`;
  const qw = quantizeWeight(w, { qtype: 'int8', axis: 0, symmetric: true, reduceRange: o.reduceRange });
  const name = n.inputs[0]!;
  const wq = addInit(g, `${name}_quantized`, qw.q);
  const ws = addInit(g, `${name}_scale`, Tensor.f32([w.dims[0]!, 1], qw.params.scale));
  const wf = g.uniqueName(`${name}_int8_float`);
  const deq = g.uniqueName(`${name}_dequantized`);
  const nodes = [node(g, 'Cast', [wq], [wf], { to: attr.int(1) }), node(g, 'Mul', [wf, ws], [deq]), { ...n, inputs: [deq, ...n.inputs.slice(1)] }];
  return { nodes, detail: 'int8 rows (a scale per row), decoded to float32 at load (weight-only: 4× smaller file, lookups as fast as before)' };
}

/** Gemm's B as a [K, N] matrix with alpha folded in. */
function prepareGemmWeight(b: Tensor, transB: boolean, alpha: number): Tensor {
  const d = floatData(b);
  const [r, c] = b.dims as [number, number];
  if (!transB && alpha === 1) return b;
  const out = new Float32Array(d.length);
  if (!transB) for (let i = 0; i < d.length; i++) out[i] = d[i]! * alpha;
  else for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = d[i * c + j]! * alpha;
  return new Tensor('float32', transB ? [c, r] : [r, c], out);
}

/**
 * Conv(X, W, B) with constant W → Conv(X, Cast(W_int8) · s, B): weight-only int8. The int8 weight is
 * decoded with Cast and Mul rather than DequantizeLinear because onnxruntime constant-folds those at load
 * (it never folds a DequantizeLinear, keeping it for QDQ fusion), so the Conv sees a constant float weight
 * and runs exactly as fast as the original; a DequantizeLinear here ran 2.2× slower (it dequantizes every
 * run and blocks the NCHWc layout). The file stores the weight 4× smaller.
 */
function rewriteConvWeightOnly(g: Graph, n: Node, o: DynamicOptions): Rewrite {
  const w = g.initializers.get(n.inputs[1]!);
  if (!w || w.dtype !== 'float32') return 'weight is not a float constant';
  const qw = quantizeWeight(w, { qtype: 'int8', axis: o.perChannel ? 0 : undefined, symmetric: true, reduceRange: o.reduceRange });
  const name = n.inputs[1]!;
  const m = w.dims[0]!;
  const wq = addInit(g, `${name}_quantized`, qw.q);
  const bcast = [m, ...Array<number>(w.dims.length - 1).fill(1)];
  const scale = qw.params.scale.length === 1 ? Tensor.f32([], qw.params.scale) : Tensor.f32(bcast, qw.params.scale);
  const ws = addInit(g, `${name}_scale`, scale);
  const wf = g.uniqueName(`${name}_int8_float`);
  const deq = g.uniqueName(`${name}_dequantized`);
  const cast = node(g, 'Cast', [wq], [wf], { to: attr.int(1) });
  const mul = node(g, 'Mul', [wf, ws], [deq]);
  const conv: Node = { ...n, inputs: [n.inputs[0]!, deq, ...n.inputs.slice(2)] };
  return { nodes: [cast, mul, conv], detail: `int8 weights ${o.perChannel ? 'per channel' : 'per tensor'}, decoded to float32 at load (weight-only: ConvInteger is slower than fp32 Conv here)` };
}

/** Conv(X, W, B) with constant W → DynamicQuantizeLinear → ConvInteger → Cast → Mul(scales) → Add(bias). */
function rewriteConv(g: Graph, n: Node, o: DynamicOptions): Rewrite {
  const w = g.initializers.get(n.inputs[1]!);
  if (!w || w.dtype !== 'float32') return 'weight is not a float constant';
  const bias = n.inputs[2] ? g.initializers.get(n.inputs[2]) : undefined;
  if (n.inputs[2] && !bias) return 'bias is not a constant';
  const m = w.dims[0]!;
  const spatial = w.dims.length - 2;
  // ConvInteger takes one (scalar) weight zero point: symmetric int8 weights (zp 0), per-channel scales applied after.
  const qw = quantizeWeight(w, { qtype: 'int8', axis: o.perChannel ? 0 : undefined, symmetric: true, reduceRange: o.reduceRange });
  const base = n.outputs[0]!;
  const wq = addInit(g, `${n.inputs[1]}_quantized`, qw.q);
  const bcast = [m, ...Array<number>(spatial).fill(1)];
  const wsData = qw.params.scale.length === 1 ? new Float32Array(m).fill(qw.params.scale[0]!) : qw.params.scale;
  const ws = addInit(g, `${n.inputs[1]}_scale`, Tensor.f32(bcast, wsData));
  const [xq, xs, xz] = [g.uniqueName(`${base}_x_quantized`), g.uniqueName(`${base}_x_scale`), g.uniqueName(`${base}_x_zero_point`)];
  const nodes: Node[] = [node(g, 'DynamicQuantizeLinear', [n.inputs[0]!], [xq, xs, xz])];
  const acc = g.uniqueName(`${base}_int32`);
  nodes.push(node(g, 'ConvInteger', [xq, wq, xz], [acc], { ...n.attributes }));
  const accF = g.uniqueName(`${base}_int32_float`);
  nodes.push(node(g, 'Cast', [acc], [accF], { to: attr.int(1) }));
  const scale = g.uniqueName(`${base}_scale_product`);
  nodes.push(node(g, 'Mul', [xs, ws], [scale]));
  const y = n.outputs[0]!;
  const scaled = bias ? g.uniqueName(`${base}_nobias`) : y;
  nodes.push(node(g, 'Mul', [accF, scale], [scaled]));
  if (bias) nodes.push(node(g, 'Add', [scaled, addInit(g, `${n.inputs[2]}_reshaped`, Tensor.f32(bcast, floatData(bias)))], [y]));
  return { nodes, detail: `int8 weights ${o.perChannel ? 'per channel' : 'per tensor'}, u8 activations at run time (ConvInteger)` };
}
