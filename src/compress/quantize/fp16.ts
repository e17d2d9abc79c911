/**
 * fp16 conversion. Every float32 initializer is stored as float16 (half the file). Ops that onnxruntime's
 * CPU provider runs natively in fp16 compute in fp16; the rest (on x86: nearly all arithmetic — measured,
 * see `FP16_CPU_OPS`) keep computing in float32 behind a Cast, which ORT folds at load for constants.
 * Graph inputs and outputs stay float32 by default, with Casts at the boundary. `computeAll` converts every
 * op (for GPU providers; ORT CPU then inserts its own Casts).
 */
import { attr } from '../../onnx/attr.js';
import { floatToHalf } from '../../onnx/dtype.js';
import { type Model, type Node, walkGraphs } from '../../onnx/ir.js';
import { capturedValues, topoSort } from '../../onnx/passes.js';
import { inferTypes } from '../../onnx/shape-infer.js';
import { Tensor } from '../../onnx/tensor.js';
import { floatData } from './qmath.js';
import type { QuantizeReport } from './report.js';

/**
 * Ops with a float16 kernel on ORT 1.30's CPU provider on x86 (checked: a float16 graph of the op gets no
 * Cast from ORT's InsertCastTransformer; `fp16.test.ts` re-checks this list).
 */
export const FP16_CPU_OPS = new Set(['Reshape', 'Transpose', 'Flatten', 'Concat', 'Clip', 'LayerNormalization', 'Gather', 'Slice', 'Squeeze', 'Unsqueeze', 'Split', 'Max', 'Min', 'Expand', 'Identity']);

/** Ops that read any float type without needing a particular one. */
const TYPE_AGNOSTIC_READERS = new Set(['Shape', 'Size']);

/** (op, input index) pairs that must stay float32 even in fp16 ops. */
const FLOAT32_INPUTS: Record<string, number[]> = { Resize: [1, 2], Upsample: [1] };

/** Ops that only move data (no arithmetic): fp16 pays off for them only between fp16 ops. */
const DATA_MOVEMENT = new Set(['Reshape', 'Transpose', 'Flatten', 'Concat', 'Slice', 'Squeeze', 'Unsqueeze', 'Split', 'Expand', 'Identity', 'Gather']);

/**
 * Drops data-movement ops from the fp16 set when nothing after them computes in fp16, so the Cast back
 * to float32 sits right after the last fp16 op. An embedding lookup (Gather from a constant table) stays
 * fp16: it reads a few rows of the half-size table. Besides saving work, this keeps clear of an
 * onnxruntime 1.30 crash: an fp16 Transpose → Cast → MatMul segfaults its level-3 optimizer (checked
 * on x86; the float32 Transpose after the Cast loads fine).
 */
function pruneDataMovement(g: Model['graph'], half: Set<Node>, keepIoTypes: boolean): void {
  const consumers = g.index().consumers;
  const outputs = new Set(g.outputs.map((v) => v.name));
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i]!;
    if (!half.has(n) || !DATA_MOVEMENT.has(n.opType)) continue;
    if (n.opType === 'Gather' && g.initializers.has(n.inputs[0]!)) continue;
    const readers = n.outputs.flatMap((v) => consumers.get(v) ?? []);
    const fedHalf = readers.some((c) => half.has(c)) || (!keepIoTypes && n.outputs.some((v) => outputs.has(v)));
    const feedsFloatMatMul = n.opType === 'Transpose' && readers.some((c) => !half.has(c) && (c.opType === 'MatMul' || c.opType === 'Gemm'));
    if (!fedHalf || feedsFloatMatMul) half.delete(n);
  }
}

/** Options for `convertFp16`. */
export interface Fp16Options {
  /** Keep float32 graph inputs and outputs (Casts at the boundary). */
  keepIoTypes: boolean;
  /** Convert every op, not only those ORT CPU runs in fp16 (for CUDA/WebGPU). */
  computeAll?: boolean;
  exclude?: ReadonlySet<string>;
}

/** Converts the main graph to fp16 storage (and fp16 compute where ORT CPU has kernels), in place. */
export function convertFp16(model: Model, o: Fp16Options, report: QuantizeReport): void {
  const g = model.graph;
  const types = inferTypes(model).types;
  const isF32 = (v: string): boolean => (g.initializers.get(v)?.dtype ?? types.get(v)?.dtype) === 'float32';
  const hasSub = (n: Node): boolean => Object.values(n.attributes).some((a) => a.type === 'graph' || a.type === 'graphs');
  const fp16Node = (n: Node): boolean =>
    n.domain === '' && !hasSub(n) && !o.exclude?.has(n.name) && (o.computeAll ? n.opType !== 'Cast' && !TYPE_AGNOSTIC_READERS.has(n.opType) : FP16_CPU_OPS.has(n.opType)) && [...n.inputs, ...n.outputs].some((v) => v && isF32(v));
  // Data-movement ops only go fp16 when fed fp16 (otherwise they would just add Casts).
  const half = new Set<Node>();
  // Weights with finite values beyond ±65504 would become ±Inf in float16: they stay float32.
  const keep32 = new Set([...g.initializers].filter(([, t]) => t.dtype === 'float32' && beyondHalf(t)).map(([v]) => v));
  const halfValue = new Set<string>([...g.initializers].filter(([v, t]) => t.dtype === 'float32' && !keep32.has(v)).map(([v]) => v));
  if (!o.keepIoTypes) for (const v of g.feedInputs()) halfValue.add(v.name);
  for (const n of g.nodes) {
    if (!fp16Node(n) || !(o.computeAll || n.inputs.some((v) => halfValue.has(v)))) continue;
    half.add(n);
    for (const v of n.outputs) if (v) halfValue.add(v);
  }
  if (!o.computeAll) pruneDataMovement(g, half, o.keepIoTypes);
  // Values whose float32 version must keep the original name: graph outputs (with keepIoTypes) and values subgraphs capture.
  const keepName = new Set<string>(o.keepIoTypes ? g.outputs.map((v) => v.name) : []);
  for (const n of g.nodes) if (hasSub(n)) for (const a of Object.values(n.attributes)) for (const sg of a.type === 'graph' ? [a.value] : a.type === 'graphs' ? a.value : []) capturedValues(sg).forEach((v) => keepName.add(v));
  const home = new Map<string, 'f16' | 'f32'>();
  const inputNames = new Set(g.feedInputs().map((v) => v.name));
  for (const v of inputNames) if (isF32(v)) home.set(v, o.keepIoTypes ? 'f32' : 'f16');
  for (const [v, t] of g.initializers) if (t.dtype === 'float32') home.set(v, keep32.has(v) ? 'f32' : 'f16');
  for (const n of g.nodes) for (const v of n.outputs) if (v && isF32(v)) home.set(v, half.has(n) ? 'f16' : 'f32');
  // Names: the home version keeps `v` unless its float32 twin needs that name.
  const names = new Map<string, { f16: string; f32: string }>();
  for (const [v, h] of home) {
    const moved = h === 'f16' && keepName.has(v);
    names.set(v, { f16: h === 'f16' && !moved ? v : g.uniqueName(`${v}_fp16`), f32: h === 'f32' || moved ? v : g.uniqueName(`${v}_fp32`) });
  }
  const casts: Node[] = [];
  const made = new Set<string>();
  const version = (v: string, want: 'f16' | 'f32'): string => {
    const h = home.get(v);
    const nm = names.get(v);
    if (!h || !nm) return v;
    const target = nm[want];
    const homeName = nm[h];
    if (h !== want && !made.has(target)) {
      made.add(target);
      casts.push({ name: g.uniqueName(`${target}_Cast`), opType: 'Cast', domain: '', inputs: [homeName], outputs: [target], attributes: { to: attr.int(want === 'f16' ? 10 : 1) } });
    }
    return target;
  };
  // Initializers → float16 under their f16 name.
  const floatInits = new Set([...g.initializers].filter(([, t]) => t.dtype === 'float32').map(([v]) => v));
  let converted = 0;
  for (const [v, t] of [...g.initializers]) {
    if (t.dtype !== 'float32' || keep32.has(v)) continue;
    const d = floatData(t);
    const h = new Uint16Array(d.length);
    for (let i = 0; i < d.length; i++) h[i] = floatToHalf(d[i]!);
    g.initializers.delete(v);
    g.initializers.set(names.get(v)!.f16, new Tensor('float16', t.dims, h));
    converted++;
  }
  for (const i of g.inputs) if (g.initializers.get(i.name)?.dtype === 'float16' && i.type) i.type = { ...i.type, dtype: 'float16' };
  if (!o.keepIoTypes) for (const i of g.inputs) if (home.get(i.name) === 'f16' && i.type) i.type = { ...i.type, dtype: 'float16' };
  for (const n of g.nodes) {
    const isHalf = half.has(n);
    const hadWeight = n.inputs.some((v) => floatInits.has(v));
    const keep32 = FLOAT32_INPUTS[n.opType] ?? [];
    n.inputs = n.inputs.map((v, i) => {
      if (!v || !home.has(v)) return v;
      if (TYPE_AGNOSTIC_READERS.has(n.opType)) return names.get(v)![home.get(v)!];
      return version(v, isHalf && !keep32.includes(i) ? 'f16' : 'f32');
    });
    n.outputs = n.outputs.map((v) => (v && home.has(v) ? names.get(v)![home.get(v)!] : v));
    if (isHalf) for (const a of ['to', 'dtype']) if (n.attributes[a]?.type === 'int' && n.attributes[a]!.value === 1) n.attributes[a] = attr.int(10);
    const where = { graph: 'main', node: n.name, opType: n.opType };
    if (isHalf) report.outcomes.push({ ...where, status: 'quantized', detail: 'fp16 compute' });
    else if (hadWeight) report.outcomes.push({ ...where, status: 'quantized', detail: 'fp16 weights, float32 compute (no fp16 kernel on ORT CPU)' });
    else if (home.has(n.outputs[0] ?? '') && n.opType !== 'Identity') report.outcomes.push({ ...where, status: 'float', detail: hasSub(n) ? 'has subgraphs' : FP16_CPU_OPS.has(n.opType) ? 'fed float32 (kept float32 to avoid Casts)' : 'no fp16 kernel on ORT CPU' });
  }
  // Graph outputs: float32 twins (keepIoTypes) or the fp16 home.
  for (const out of g.outputs) {
    if (!home.has(out.name)) continue;
    if (o.keepIoTypes) version(out.name, 'f32');
    else {
      out.name = version(out.name, 'f16');
      if (out.type) out.type = { ...out.type, dtype: 'float16' };
    }
  }
  g.nodes.push(...casts);
  for (const v of [...g.valueInfo.keys()]) if (home.has(v) || v.endsWith('_fp16') || v.endsWith('_fp32')) g.valueInfo.delete(v);
  topoSort(g);
  report.notes.push(`stored ${converted} float32 initializer(s) as float16; ${half.size} op(s) compute in fp16`);
  if (keep32.size) report.notes.push(`kept ${keep32.size} initializer(s) float32: values beyond ±65504 would be ±Inf in float16 (${[...keep32].slice(0, 5).join(', ')}${keep32.size > 5 ? ', …' : ''})`);
  let sub = 0;
  const subKept: string[] = [];
  for (const sg of walkGraphs(g)) {
    if (sg === g) continue;
    const r = halveSubgraphWeights(sg);
    sub += r.converted;
    subKept.push(...r.kept);
    if (r.converted) report.outcomes.push({ graph: `subgraph '${sg.name}'`, node: '', opType: 'Cast', status: 'quantized', detail: 'fp16 weights, float32 compute (subgraph)' });
  }
  if (sub) report.notes.push(`stored ${sub} subgraph weight(s) as float16, cast to float32 inside their subgraph (If/Loop bodies compute in float32)`);
  if (subKept.length) report.notes.push(`kept ${subKept.length} subgraph initializer(s) float32: values beyond ±65504 (${subKept.slice(0, 5).join(', ')})`);
}

/** Whether a float tensor holds finite values float16 cannot represent (|x| > 65504). */
function beyondHalf(t: Tensor): boolean {
  const d = floatData(t);
  for (let i = 0; i < d.length; i++) if (Math.abs(d[i]!) > 65504 && Number.isFinite(d[i]!)) return true;
  return false;
}

/** A subgraph's float32 weights stored as float16 behind a Cast back to float32 at the top of the subgraph. */
function halveSubgraphWeights(sg: Model['graph']): { converted: number; kept: string[] } {
  const casts: Node[] = [];
  const kept: string[] = [];
  for (const [v, t] of [...sg.initializers]) {
    if (t.dtype !== 'float32' || t.size < 16) continue;
    if (beyondHalf(t)) {
      kept.push(v);
      continue;
    }
    const d = floatData(t);
    const h = new Uint16Array(d.length);
    for (let i = 0; i < d.length; i++) h[i] = floatToHalf(d[i]!);
    const name = sg.uniqueName(`${v}_fp16`);
    sg.initializers.delete(v);
    sg.initializers.set(name, new Tensor('float16', t.dims, h));
    casts.push({ name: sg.uniqueName(`${v}_Cast`), opType: 'Cast', domain: '', inputs: [name], outputs: [v], attributes: { to: attr.int(1) } });
  }
  sg.nodes.unshift(...casts);
  return { converted: casts.length, kept };
}
