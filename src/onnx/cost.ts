/**
 * The cost model's inputs: parameter counts (and bytes) of a model, and a per-node FLOP and memory
 * traffic estimate at a given batch size, computed from inferred shapes. Dynamic dims are substituted
 * (the leading dim of each input takes `batch`; other symbols take `dims[name]` or 1) and every
 * substitution is reported, so a number never hides what it assumed.
 *
 * Conventions: one multiply-accumulate = 2 FLOPs (Conv, ConvTranspose, MatMul, Gemm, Einsum and their
 * integer/QLinear forms); elementwise ops 1 per output element; see `PER_ELEMENT` for the rest.
 */
import { byteLength, dtypeFromOnnx } from './dtype.js';
import type { Dim, Graph, Model, Node, ValueType } from './ir.js';
import { attrInt, attrString } from './ir.js';
import { inferTypes } from './shape-infer.js';

/** Parameter statistics. */
export interface ParameterCount {
  /** Elements of weight initializers (float and quantised integer tensors; int64/bool/string excluded). */
  parameters: number;
  /** Bytes those parameters occupy. */
  parameterBytes: number;
  /** Weight tensors counted. */
  tensors: number;
  /** Per element type: elements, bytes and tensors. */
  byDType: Record<string, { parameters: number; bytes: number; tensors: number }>;
  /** int64/bool/string initializers (shapes, axes, indices): reported, not counted as parameters. */
  constants: { elements: number; bytes: number; tensors: number };
}

const NOT_PARAMETERS = new Set(['int64', 'uint64', 'bool', 'string']);

/** Counts parameters over the main graph and every subgraph (sparse initializers count their stored values). */
export function countParameters(target: Model | Graph): ParameterCount {
  const graph = 'graph' in target ? target.graph : target;
  const r: ParameterCount = { parameters: 0, parameterBytes: 0, tensors: 0, byDType: {}, constants: { elements: 0, bytes: 0, tensors: 0 } };
  const addTensor = (dtype: string, elements: number, bytes: number) => {
    if (NOT_PARAMETERS.has(dtype)) {
      r.constants.elements += elements;
      r.constants.bytes += bytes;
      r.constants.tensors++;
      return;
    }
    r.parameters += elements;
    r.parameterBytes += bytes;
    r.tensors++;
    const e = (r.byDType[dtype] ??= { parameters: 0, bytes: 0, tensors: 0 });
    e.parameters += elements;
    e.bytes += bytes;
    e.tensors++;
  };
  const visit = (g: Graph): void => {
    for (const t of g.initializers.values()) addTensor(t.dtype, t.size, t.dtype === 'string' ? t.byteLength : byteLength(t.dtype, t.size));
    for (const s of g.proto?.sparseInitializer ?? []) {
      const v = s.values;
      if (!v) continue;
      const n = Number(v.dims.reduce((a, b) => a * b, 1n));
      const t = dtypeFromOnnx(v.dataType);
      if (t) addTensor(t, n, t === 'string' ? 0 : byteLength(t, n));
    }
    for (const n of g.nodes) {
      for (const a of Object.values(n.attributes)) {
        if (a.type === 'graph') visit(a.value);
        if (a.type === 'graphs') a.value.forEach(visit);
      }
    }
  };
  visit(graph);
  return r;
}

/** Options for `estimateFlops`. */
export interface FlopOptions {
  /** Value for each input's dynamic leading (batch) dim. Default 1. */
  batch?: number;
  /** Values for other symbolic dims by name (e.g. `{ seq: 128 }`); unnamed ones default to 1. */
  dims?: Record<string, number>;
}

/** Cost of one node. `flops` is null when the op or its shapes are unknown. */
export interface NodeCost {
  node: string;
  opType: string;
  /** Graph the node sits in (subgraph names for If/Loop/Scan bodies). */
  graph: string;
  flops: number | null;
  /** Bytes of all inputs (weights included), when every input shape is known. */
  bytesRead?: number;
  /** Bytes of all outputs, when every output shape is known. */
  bytesWritten?: number;
}

/** A model's estimated cost per inference. */
export interface FlopEstimate {
  /** Total FLOPs over the counted nodes. */
  total: number;
  /** Per-node records, main graph first then subgraphs in execution order. */
  nodes: NodeCost[];
  /** FLOPs per op type. */
  byOpType: Record<string, number>;
  /** Human-readable statements of every dim substituted or guess made. */
  assumptions: string[];
  /** Op types whose FLOPs were not counted (unknown op or unknown shapes). */
  uncounted: string[];
  /** The concrete input shapes used. */
  inputShapes: Record<string, number[]>;
}

type Shapes = Map<string, ValueType>;
type FlopFn = (n: Node, shape: (v: string) => number[] | undefined) => number | null;

const numel = (s: readonly number[] | undefined): number | null => (s ? s.reduce((a, b) => a * b, 1) : null);

/** FLOPs per output element of elementwise-like ops (those not listed default to 1). */
export const PER_ELEMENT: Readonly<Record<string, number>> = {
  Softmax: 5, LogSoftmax: 5, Hardmax: 2, LayerNormalization: 8, InstanceNormalization: 8, GroupNormalization: 8,
  BatchNormalization: 2, Gelu: 8, Erf: 4, Sigmoid: 4, Tanh: 4, HardSwish: 3, HardSigmoid: 2, Mish: 6, Softplus: 3,
  QuantizeLinear: 2, DequantizeLinear: 2, DynamicQuantizeLinear: 4, Clip: 2, Where: 1, LeakyRelu: 2, PRelu: 2,
};

/** Ops that only move or view data: 0 FLOPs (their bytes still count). */
const DATA_MOVEMENT = new Set([
  'Reshape', 'Flatten', 'Transpose', 'Squeeze', 'Unsqueeze', 'Expand', 'Tile', 'Pad', 'Concat', 'Split', 'Slice', 'Gather', 'GatherElements',
  'GatherND', 'ScatterElements', 'ScatterND', 'Scatter', 'Shape', 'Size', 'Constant', 'ConstantOfShape', 'Identity', 'Cast', 'CastLike',
  'Range', 'OneHot', 'Dropout', 'DepthToSpace', 'SpaceToDepth', 'NonZero', 'EyeLike', 'Resize', 'Upsample', 'MaxUnpool',
]);

const convFlops = (x: number, w: number): FlopFn => (n, shape) => {
  const out = shape(n.outputs[0]!);
  const ws = shape(n.inputs[w]!);
  if (!out || !ws || !shape(n.inputs[x]!)) return null;
  // out: [N, M, spatial...], w: [M, C/group, k...] → MACs = |out| · C/group · Πk
  const macs = numel(out)! * numel(ws.slice(1))!;
  const bias = n.opType === 'Conv' && n.inputs[2] ? numel(out)! : 0;
  return 2 * macs + bias;
};

const convTransposeFlops: FlopFn = (n, shape) => {
  const xs = shape(n.inputs[0]!);
  const ws = shape(n.inputs[1]!);
  if (!xs || !ws) return null;
  // x: [N, C, spatial...], w: [C, M/group, k...] → every input element scatters into M/group · Πk outputs
  const bias = n.inputs[2] ? (numel(shape(n.outputs[0]!)) ?? 0) : 0;
  return 2 * numel(xs)! * numel(ws.slice(1))! + bias;
};

const matmulFlops = (a: number): FlopFn => (n, shape) => {
  const as = shape(n.inputs[a]!);
  const out = shape(n.outputs[0]!);
  if (!as || !out) return null;
  return 2 * numel(out)! * as[as.length - 1]!;
};

const gemmFlops: FlopFn = (n, shape) => {
  const as = shape(n.inputs[0]!);
  const out = shape(n.outputs[0]!);
  if (!as || !out) return null;
  const k = attrInt(n, 'transA', 0) ? as[0]! : as[1]!;
  return 2 * numel(out)! * k + (n.inputs[2] ? numel(out)! : 0);
};

const einsumFlops: FlopFn = (n, shape) => {
  const terms = attrString(n, 'equation', '').replace(/\s+/g, '').split('->')[0]!.split(',');
  const sizes = new Map<string, number>();
  for (let i = 0; i < terms.length; i++) {
    const s = shape(n.inputs[i] ?? '');
    if (!s || terms[i]!.includes('...')) return null;
    [...terms[i]!].forEach((ch, k) => sizes.set(ch, Math.max(sizes.get(ch) ?? 1, s[k] ?? 1)));
  }
  return 2 * [...sizes.values()].reduce((a, b) => a * b, 1);
};

const poolFlops: FlopFn = (n, shape) => {
  const out = shape(n.outputs[0]!);
  const k = (n.attributes.kernel_shape?.type === 'ints' ? n.attributes.kernel_shape.value : undefined) ?? [];
  return out ? numel(out)! * numel(k)! : null;
};

const inputElements: FlopFn = (n, shape) => numel(shape(n.inputs[0]!));

/** FLOP formulas of ops that are not simply per-element. */
const FLOP_RULES = {
  Conv: convFlops(0, 1),
  ConvInteger: convFlops(0, 1),
  QLinearConv: convFlops(0, 3),
  ConvTranspose: convTransposeFlops,
  MatMul: matmulFlops(0),
  MatMulInteger: matmulFlops(0),
  QLinearMatMul: matmulFlops(0),
  Gemm: gemmFlops,
  Einsum: einsumFlops,
  MaxPool: poolFlops,
  AveragePool: poolFlops,
  LpPool: poolFlops,
  GlobalAveragePool: inputElements,
  GlobalMaxPool: inputElements,
  GlobalLpPool: inputElements,
  ReduceSum: inputElements, ReduceMean: inputElements, ReduceMax: inputElements, ReduceMin: inputElements, ReduceProd: inputElements,
  ReduceL1: inputElements, ReduceL2: inputElements, ReduceLogSum: inputElements, ReduceLogSumExp: inputElements, ReduceSumSquare: inputElements,
  ArgMax: inputElements, ArgMin: inputElements, TopK: inputElements, CumSum: inputElements,
  SoftmaxCrossEntropyLoss: (n, shape) => (shape(n.inputs[0]!) ? 6 * numel(shape(n.inputs[0]!))! : null),
  NegativeLogLikelihoodLoss: (n, shape) => numel(shape(n.inputs[1]!)),
} satisfies Record<string, FlopFn>;

/** Elementwise ops counted per output element (every op in `shape/elementwise.ts` plus normalisation). */
const ELEMENTWISE = new Set([
  'Abs', 'Neg', 'Sqrt', 'Exp', 'Log', 'Reciprocal', 'Relu', 'LeakyRelu', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh', 'Erf', 'Gelu',
  'Floor', 'Ceil', 'Round', 'Sin', 'Cos', 'Tan', 'Asin', 'Acos', 'Atan', 'Sinh', 'Cosh', 'Asinh', 'Acosh', 'Atanh', 'Softplus', 'Softsign',
  'Elu', 'Selu', 'Celu', 'ThresholdedRelu', 'Mish', 'Sign', 'Shrink', 'Clip', 'BitwiseNot', 'Not', 'Trilu', 'Add', 'Sub', 'Mul', 'Div',
  'Pow', 'Mod', 'BitShift', 'BitwiseAnd', 'BitwiseOr', 'BitwiseXor', 'PRelu', 'Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual',
  'And', 'Or', 'Xor', 'IsNaN', 'IsInf', 'Sum', 'Max', 'Min', 'Mean', 'Where', 'Softmax', 'LogSoftmax', 'Hardmax', 'LayerNormalization',
  'BatchNormalization', 'InstanceNormalization', 'GroupNormalization', 'LpNormalization', 'MeanVarianceNormalization', 'LRN',
  'QuantizeLinear', 'DequantizeLinear', 'DynamicQuantizeLinear',
]);

/** Resolves an input's declared shape to numbers, recording what was assumed. */
function concreteInputs(g: Graph, o: FlopOptions, assumptions: string[]): Record<string, number[]> {
  const batch = o.batch ?? 1;
  const out: Record<string, number[]> = {};
  const said = new Set<string>();
  const say = (s: string) => {
    if (said.has(s)) return;
    said.add(s);
    assumptions.push(s);
  };
  for (const v of g.feedInputs()) {
    const shape = v.type?.shape;
    if (!shape) {
      say(`input '${v.name}' has no declared shape; its cost is not counted`);
      continue;
    }
    out[v.name] = shape.map((d: Dim, i) => {
      if (typeof d === 'number') return d;
      if (typeof d === 'string' && o.dims?.[d] !== undefined) {
        say(`${d} = ${o.dims[d]} (given)`);
        return o.dims[d]!;
      }
      if (i === 0) {
        say(`${d === null ? `'${v.name}' dim 0 (unnamed)` : d} = ${batch} (batch)`);
        return batch;
      }
      say(`${d === null ? `'${v.name}' dim ${i} (unnamed)` : d} = 1 (assumed; set it with dims/--dim)`);
      return 1;
    });
  }
  return out;
}

/** Estimates FLOPs and bytes moved per inference at the given batch size. */
export function estimateFlops(target: Model | Graph, options: FlopOptions = {}): FlopEstimate {
  const graph = 'graph' in target ? target.graph : target;
  const assumptions: string[] = [];
  const inputShapes = concreteInputs(graph, options, assumptions);
  const inf = inferTypes(target, { inputShapes });
  const nodes: NodeCost[] = [];
  const uncounted = new Set<string>();
  const known = (v: string): number | undefined => {
    const k = inf.values.get(v)?.values[0];
    return typeof k === 'number' ? k : undefined;
  };
  const visit = (g: Graph, types: Shapes, multiplier: number): void => {
    const lookup = (v: string) => types.get(v) ?? inf.types.get(v);
    const shape = (v: string): number[] | undefined => {
      const s = v ? lookup(v)?.shape : undefined;
      return s && s.every((d) => typeof d === 'number') ? (s as number[]) : undefined;
    };
    const bytes = (names: readonly string[]): number | undefined => {
      let total = 0;
      for (const v of names) {
        if (!v) continue;
        const t = lookup(v);
        const s = shape(v);
        if (!t || !s || t.dtype === 'string') return undefined;
        total += byteLength(t.dtype, numel(s)!);
      }
      return total;
    };
    for (const n of g.nodes) {
      let flops = nodeFlops(n, shape);
      if (flops === null && !DATA_MOVEMENT.has(n.opType) && !isControl(n)) uncounted.add(n.opType);
      if (flops !== null) flops *= multiplier;
      const rec: NodeCost = { node: n.name, opType: n.opType, graph: g.name, flops };
      const br = bytes(n.inputs);
      const bw = bytes(n.outputs);
      if (br !== undefined) rec.bytesRead = br * multiplier;
      if (bw !== undefined) rec.bytesWritten = bw * multiplier;
      nodes.push(rec);
      if (isControl(n)) visitControl(n, visit, inf.subgraphs, shape, known, multiplier, assumptions);
    }
  };
  visit(graph, inf.types, 1);
  const byOpType: Record<string, number> = {};
  let total = 0;
  for (const c of nodes) {
    if (c.flops === null) continue;
    total += c.flops;
    byOpType[c.opType] = (byOpType[c.opType] ?? 0) + c.flops;
  }
  return { total, nodes, byOpType, assumptions, uncounted: [...uncounted].sort(), inputShapes };
}

function nodeFlops(n: Node, shape: (v: string) => number[] | undefined): number | null {
  if (n.domain !== '' && n.domain !== 'ai.onnx') return null;
  const rule = (FLOP_RULES as Record<string, FlopFn>)[n.opType];
  if (rule) return rule(n, shape);
  if (DATA_MOVEMENT.has(n.opType)) return 0;
  if (ELEMENTWISE.has(n.opType)) {
    const out = numel(shape(n.outputs[0] ?? ''));
    return out === null ? null : out * (PER_ELEMENT[n.opType] ?? 1);
  }
  return isControl(n) ? 0 : null;
}

const isControl = (n: Node) => (n.domain === '' || n.domain === 'ai.onnx') && (n.opType === 'If' || n.opType === 'Loop' || n.opType === 'Scan');

function visitControl(
  n: Node,
  visit: (g: Graph, types: Shapes, multiplier: number) => void,
  subgraphs: Map<Graph, Shapes>,
  shape: (v: string) => number[] | undefined,
  known: (v: string) => number | undefined,
  multiplier: number,
  assumptions: string[],
): void {
  const sub = (name: string) => (n.attributes[name]?.type === 'graph' ? (n.attributes[name].value as Graph) : undefined);
  const types = (g: Graph) => subgraphs.get(g) ?? new Map<string, ValueType>();
  if (n.opType === 'If') {
    // Both branches are counted at half weight: the expected cost when either is equally likely.
    for (const b of [sub('then_branch'), sub('else_branch')]) if (b) visit(b, types(b), multiplier / 2);
    assumptions.push(`If '${n.name}': each branch counted at half weight`);
    return;
  }
  const body = sub('body');
  if (!body) return;
  let trips = 1;
  if (n.opType === 'Loop') {
    const m = n.inputs[0] ? known(n.inputs[0]) : undefined;
    if (m !== undefined) {
      trips = m;
      if (n.inputs[1]) assumptions.push(`Loop '${n.name}': counted at its maximum trip count ${m}`);
    } else assumptions.push(`Loop '${n.name}': trip count unknown, body counted once`);
  } else {
    const nScan = attrInt(n, 'num_scan_inputs', 0);
    const first = shape(n.inputs[n.inputs.length - nScan] ?? '');
    if (first) trips = first[0]!;
    else assumptions.push(`Scan '${n.name}': sequence length unknown, body counted once`);
  }
  visit(body, types(body), multiplier * trips);
}
