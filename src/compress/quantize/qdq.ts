/**
 * Static int8 quantization in QDQ form: given calibrated ranges, insert QuantizeLinear → DequantizeLinear
 * pairs on activations and DequantizeLinear on int8 weights (per channel) and int32 biases, so ORT fuses
 * `DQ → Conv → Q` into QLinearConv (and MatMul/Gemm/Add/… into their QLinear forms). Relu and Clip(0, ·)
 * right after a quantized op are folded into its output quantization when activations are asymmetric.
 */
import { attr } from '../../onnx/attr.js';
import { type Graph, type Model, type Node, attrFloat, walkGraphs } from '../../onnx/ir.js';
import { capturedValues, eliminateDeadNodes, topoSort } from '../../onnx/passes.js';
import { Tensor } from '../../onnx/tensor.js';
import type { Calibration } from './calibration.js';
import type { Range } from './calib-stats.js';
import { type QParams, type QType, biasSafeWeightScale, floatData, paramsFromRange, qrange, quantizeBias, quantizeValue, quantizeWeight, scaleTensor, zeroPointTensor } from './qmath.js';
import { RELU_FOLD_PRODUCERS, ruleFor } from './qdq-rules.js';
import type { QuantizeReport } from './report.js';

/** Options for static QDQ quantization. */
export interface QdqOptions {
  /** Activation type: `uint8` (U8S8, fastest on x86 with VNNI) or `int8` (S8S8). */
  activationType: QType;
  /** Symmetric activations (zp at the middle); asymmetric lets Relu fold away. */
  activationSymmetric: boolean;
  /** Per-channel weight scales (default true). */
  perChannel: boolean;
  /** 7-bit weights, for CPUs without VNNI (avoids int16 saturation in the u8·s8 kernels). */
  reduceRange: boolean;
  /** Ops to leave float, by node name. */
  exclude?: ReadonlySet<string>;
  /**
   * Keep a Conv float when its reduction size C_in/group · ∏kernel is below this (default 64): measured on
   * ORT 1.30 x86, QLinearConv is 2–3× slower than fp32 Conv for 1-channel 3×3 inputs (K = 9) and faster from
   * 16 channels (K = 144) up. 0 quantizes every Conv.
   */
  minConvReduction?: number;
}

/** Main-graph values whose ranges static quantization may need: activation inputs and outputs of covered ops. */
export function calibrationTargets(g: Graph): string[] {
  const out = new Set<string>();
  for (const n of g.nodes) {
    const rule = ruleFor(n);
    if (!rule) continue;
    for (const i of rule.acts(n)) if (n.inputs[i] && !g.initializers.has(n.inputs[i]!)) out.add(n.inputs[i]!);
    if (n.outputs[0]) out.add(n.outputs[0]);
  }
  return [...out];
}

/** Rewrites `model` (prepared, main graph calibrated) into QDQ form in place; fills `report`. */
export function insertQdq(model: Model, cal: Calibration, o: QdqOptions, report: QuantizeReport): void {
  const g = model.graph;
  const isFloatValue = (v: string): boolean => {
    const init = g.initializers.get(v);
    if (init) return init.dtype === 'float32';
    return cal.dtypes.get(v) === 'float32';
  };
  const actParams = new Map<string, QParams>();
  const paramsOf = (v: string, r: Range): QParams => {
    const p = paramsFromRange(r.min, r.max, { qtype: o.activationType, symmetric: o.activationSymmetric });
    return { qtype: o.activationType, scale: Float32Array.of(p.scale), zeroPoint: Int32Array.of(p.zeroPoint) };
  };
  const rangeOf = (v: string): Range | undefined => {
    const init = g.initializers.get(v);
    if (init) {
      const d = floatData(init);
      let lo = Infinity;
      let hi = -Infinity;
      for (const x of d) {
        if (x < lo) lo = x;
        if (x > hi) hi = x;
      }
      return d.length ? { min: lo, max: hi } : { min: 0, max: 0 };
    }
    return cal.ranges.get(v);
  };
  const idx = g.index();
  // Graph outputs, and values that reach one only through Identity (how exporters rename outputs).
  const graphOutputs = new Set(g.outputs.map((v) => v.name));
  // Values If/Loop bodies read from the main graph: they keep their float producers (a Relu they read is never folded).
  for (const n of g.nodes) for (const a of Object.values(n.attributes)) for (const sg of a.type === 'graph' ? [a.value] : a.type === 'graphs' ? a.value : []) for (const v of capturedValues(sg)) graphOutputs.add(v);
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i]!;
    if (n.opType === 'Identity' && graphOutputs.has(n.outputs[0]!)) graphOutputs.add(n.inputs[0]!);
  }
  const willQuantize = (c: Node): boolean => ruleFor(c) !== undefined && !o.exclude?.has(c.name) && !(c.opType === 'Softmax' && graphOutputs.has(c.outputs[0]!));
  const weightPlans: { node: Node; slot: number; axis: number | undefined }[] = [];
  const biasPlans: { node: Node; slot: number; weightSlot: number; axis: number | undefined }[] = [];
  const quantizedNodes = new Set<Node>();
  const dropped = new Set<Node>();
  for (const n of g.nodes) {
    const rule = ruleFor(n);
    const where = { graph: 'main', node: n.name, opType: n.opType };
    // Relu / Clip(0, ·) right after a quantized op: its output Q (zero point at qmin) saturates at 0 — the same clamp.
    const x = n.inputs[0] ?? '';
    const p = idx.producer.get(x);
    const r = cal.ranges.get(n.outputs[0] ?? '');
    if (!o.activationSymmetric && (n.opType === 'Relu' || (n.opType === 'Clip' && clipStartsAtZero(g, n))) && n.domain === '' && p && quantizedNodes.has(p)
      && RELU_FOLD_PRODUCERS.has(p.opType) && actParams.has(x) && (idx.consumers.get(x) ?? []).length === 1 && !graphOutputs.has(x) && !graphOutputs.has(n.outputs[0]!) && r && !o.exclude?.has(n.name)) {
      p.outputs = [n.outputs[0]!, ...p.outputs.slice(1)];
      actParams.delete(x);
      actParams.set(n.outputs[0]!, paramsOf(n.outputs[0]!, { min: 0, max: r.max }));
      dropped.add(n);
      report.outcomes.push({ ...where, status: 'folded', detail: `into ${p.opType} '${p.name}' output quantization` });
      continue;
    }
    if (!rule) {
      if (n.opType === 'Identity') continue;
      report.outcomes.push({ ...where, status: 'float', detail: 'not covered by static quantization' });
      continue;
    }
    if (o.exclude?.has(n.name)) {
      report.outcomes.push({ ...where, status: 'float', detail: 'excluded' });
      continue;
    }
    const acts = rule.acts(n).filter((i) => i !== rule.weight?.index && i !== rule.bias && n.inputs[i]);
    // MatMul's second input is a weight only when it is a constant.
    const w = rule.weight && n.inputs[rule.weight.index] ? g.initializers.get(n.inputs[rule.weight.index]!) : undefined;
    if (rule.weight && !w && n.opType === 'MatMul' && n.inputs[1]) acts.push(1);
    if (rule.weight && n.opType !== 'MatMul' && (!w || w.dtype !== 'float32')) {
      report.outcomes.push({ ...where, status: 'float', detail: 'weight is not a float constant' });
      continue;
    }
    const notFloat = acts.find((i) => !isFloatValue(n.inputs[i]!) || !rangeOf(n.inputs[i]!));
    if (notFloat !== undefined) {
      report.outcomes.push({ ...where, status: 'float', detail: `input '${n.inputs[notFloat]}' is not a calibrated float tensor` });
      continue;
    }
    const light = rule.light || (n.opType === 'Gather' && !g.initializers.has(n.inputs[0]!));
    if (light && !acts.some((i) => actParams.has(n.inputs[i]!))) {
      report.outcomes.push({ ...where, status: 'float', detail: 'float input (int8 here would only add Q/DQ)' });
      continue;
    }
    if (n.opType === 'Softmax' && graphOutputs.has(n.outputs[0]!)) {
      report.outcomes.push({ ...where, status: 'float', detail: 'graph output (probabilities kept float)' });
      continue;
    }
    const k = convReduction(n, w);
    if (k !== undefined && k < (o.minConvReduction ?? 64)) {
      const min = o.minConvReduction ?? 64;
      report.outcomes.push({ ...where, status: 'float', detail: Number.isFinite(min) ? `too narrow for int8 to pay off (C_in·∏k = ${k} < ${min})` : 'fp32 Conv measured faster here (autotune)' });
      continue;
    }
    if (n.opType === 'MaxPool' && n.outputs.filter(Boolean).length > 1) {
      report.outcomes.push({ ...where, status: 'float', detail: 'MaxPool with Indices output' });
      continue;
    }
    for (const i of acts) {
      const v = n.inputs[i]!;
      if (!actParams.has(v)) actParams.set(v, paramsOf(v, rangeOf(v)!));
    }
    let how = `${o.activationType} activations`;
    if (w && rule.weight) {
      const axis = o.perChannel ? rule.weight.axis(n, w) : undefined;
      weightPlans.push({ node: n, slot: rule.weight.index, axis });
      how = `int8 weights ${axis === undefined ? 'per tensor' : 'per channel'}, ${how}`;
      const b = rule.bias !== undefined ? n.inputs[rule.bias] : undefined;
      const bt = b ? g.initializers.get(b) : undefined;
      const gemmPlain = n.opType !== 'Gemm' || (attrFloat(n, 'alpha', 1) === 1 && attrFloat(n, 'beta', 1) === 1);
      if (bt && bt.dtype === 'float32' && bt.dims.length === 1 && gemmPlain) {
        biasPlans.push({ node: n, slot: rule.bias!, weightSlot: rule.weight.index, axis });
        how += ', int32 bias';
      }
    }
    const out = n.outputs[0]!;
    const consumers = idx.consumers.get(out) ?? [];
    if (rule.output === 'quantize' && isFloatValue(out) && rangeOf(out)) actParams.set(out, paramsOf(out, rangeOf(out)!));
    else if (rule.output === 'optional' && !graphOutputs.has(out) && consumers.some((c) => willQuantize(c)) && rangeOf(out)) actParams.set(out, paramsOf(out, rangeOf(out)!));
    else if (rule.output === 'share') actParams.set(out, actParams.get(n.inputs[0]!)!);
    else if (rule.output === 'softmax') actParams.set(out, paramsOf(out, { min: 0, max: 1 }));
    report.outcomes.push({ ...where, status: 'quantized', detail: how });
    quantizedNodes.add(n);
  }
  g.nodes = g.nodes.filter((n) => !dropped.has(n));
  emit(g, actParams, weightPlans, biasPlans, o);
  for (const sg of walkGraphs(g)) {
    if (sg === g) continue;
    for (const n of sg.nodes) if (ruleFor(n)) report.outcomes.push({ graph: `subgraph '${sg.name}'`, node: n.name, opType: n.opType, status: 'float', detail: 'inside a subgraph (static calibration covers the main graph; use --mode dynamic)' });
  }
}

/** C_in/group · ∏kernel of a Conv / ConvTranspose weight (undefined for other ops). */
function convReduction(n: Node, w: Tensor | undefined): number | undefined {
  if (!w || (n.opType !== 'Conv' && n.opType !== 'ConvTranspose')) return undefined;
  const kernel = w.dims.slice(2).reduce((a, b) => a * b, 1);
  const group = n.attributes.group?.type === 'int' ? n.attributes.group.value : 1;
  return (n.opType === 'Conv' ? w.dims[1]! : w.dims[0]! / group) * kernel;
}

function clipStartsAtZero(g: Graph, n: Node): boolean {
  const min = n.inputs[1] ? g.initializers.get(n.inputs[1]) : undefined;
  return min !== undefined && min.size === 1 && min.toNumbers()[0] === 0;
}

/** Writes the Q/DQ nodes and quantized initializers for the plan. */
function emit(
  g: Graph,
  actParams: Map<string, QParams>,
  weightPlans: { node: Node; slot: number; axis: number | undefined }[],
  biasPlans: { node: Node; slot: number; weightSlot: number; axis: number | undefined }[],
  o: QdqOptions,
): void {
  const before = new Map<Node, Node[]>();
  const after = new Map<Node, Node[]>();
  const head: Node[] = [];
  const dqName = new Map<string, string>();
  const producer = g.index().producer;
  const pending = new Set<string>();
  const fresh = (base: string): string => {
    let name = g.uniqueName(base);
    for (let i = 1; pending.has(name); i++) name = g.uniqueName(`${base}_${i}`);
    pending.add(name);
    return name;
  };
  const addInit = (base: string, t: Tensor): string => {
    const name = fresh(base);
    g.initializers.set(name, t);
    return name;
  };
  const dq = (q: string, p: QParams, base: string): { node: Node; out: string } => {
    const s = addInit(`${base}_scale`, scaleTensor(p));
    const z = addInit(`${base}_zero_point`, zeroPointTensor(p));
    const out = fresh(`${base}_dequantized`);
    const node: Node = { name: fresh(`${base}_DequantizeLinear`), opType: 'DequantizeLinear', domain: '', inputs: [q, s, z], outputs: [out], attributes: p.axis === undefined ? {} : { axis: attr.int(p.axis) } };
    g.valueInfo.delete(out);
    return { node, out };
  };
  // Activations: Q → DQ after the producer (or at the top for inputs and constants).
  for (const [v, p] of actParams) {
    const init = g.initializers.get(v);
    if (init) {
      const qw = quantizeConstant(init, p);
      const q = addInit(`${v}_quantized`, qw);
      const d = dq(q, p, v);
      head.push(d.node);
      dqName.set(v, d.out);
      continue;
    }
    const s = addInit(`${v}_scale`, scaleTensor(p));
    const z = addInit(`${v}_zero_point`, zeroPointTensor(p));
    const qv = fresh(`${v}_quantized`);
    const prod = producer.get(v);
    // ORT moves a Q above a float MaxPool (QDQ propagation), where the MaxPool then runs as a slow NCHW
    // uint8 kernel instead of fp32 NCHWc (measured 2.1 ms vs 0.5 ms per batch on the cnn preset). A Relu in
    // between stops that; it changes nothing when the Q's zero point is the type's minimum (negative values
    // saturate there anyway), and ORT fuses it into the Q.
    let qIn = v;
    if (prod?.opType === 'MaxPool' && !actParams.has(prod.inputs[0]!) && p.zeroPoint[0] === qrange(p.qtype)[0]) {
      qIn = fresh(`${v}_guard`);
      pushAfter(after, prod, { name: fresh(`${v}_guard_Relu`), opType: 'Relu', domain: '', inputs: [v], outputs: [qIn], attributes: {} });
    }
    const qn: Node = { name: fresh(`${v}_QuantizeLinear`), opType: 'QuantizeLinear', domain: '', inputs: [qIn, s, z], outputs: [qv], attributes: {} };
    const dv = fresh(`${v}_dequantized`);
    const dn: Node = { name: fresh(`${v}_DequantizeLinear`), opType: 'DequantizeLinear', domain: '', inputs: [qv, s, z], outputs: [dv], attributes: {} };
    if (prod) pushAfter(after, prod, qn, dn);
    else head.push(qn, dn);
    dqName.set(v, dv);
  }
  // Weights and biases: int8 / int32 initializers behind a DequantizeLinear.
  const weightDone = new Map<string, { out: string; params: QParams }>();
  const weightFor = (node: Node, slot: number, axis: number | undefined, scales?: Float32Array): { out: string; params: QParams } => {
    const name = node.inputs[slot]!;
    const key = `${name}|${axis}|${scales ? Array.from(scales).join(',') : ''}`;
    let hit = weightDone.get(key);
    if (!hit) {
      const qw = quantizeWeight(g.initializers.get(name)!, { qtype: 'int8', axis, symmetric: true, reduceRange: o.reduceRange, scales });
      const q = addInit(`${name}_quantized`, qw.q);
      const d = dq(q, qw.params, name);
      head.push(d.node);
      hit = { out: d.out, params: qw.params };
      weightDone.set(key, hit);
    }
    return hit;
  };
  for (const plan of weightPlans) {
    const bias = biasPlans.find((b) => b.node === plan.node);
    let wq = weightFor(plan.node, plan.slot, plan.axis);
    if (bias) {
      const xScale = actParams.get(plan.node.inputs[0]!)!.scale[0]!;
      const bname = plan.node.inputs[bias.slot]!;
      const bt = g.initializers.get(bname)!;
      // A bias that would overflow int32 at x_scale · w_scale gets a coarser weight scale instead (as ORT does).
      const safe = biasSafeWeightScale(bt, xScale, wq.params.scale);
      if (safe) wq = weightFor(plan.node, plan.slot, plan.axis, safe);
      const bq = quantizeBias(bt, xScale, wq.params.scale);
      const q = addInit(`${bname}_quantized`, bq.q);
      const s = addInit(`${bname}_scale`, Tensor.f32([bq.scale.length], bq.scale));
      const z = addInit(`${bname}_zero_point`, new Tensor('int32', [bq.scale.length], new Int32Array(bq.scale.length)));
      const out = fresh(`${bname}_dequantized`);
      const dn: Node = { name: fresh(`${bname}_DequantizeLinear`), opType: 'DequantizeLinear', domain: '', inputs: [q, s, z], outputs: [out], attributes: { axis: attr.int(0) } };
      pushBefore(before, plan.node, dn);
      plan.node.inputs[bias.slot] = out;
    }
    plan.node.inputs[plan.slot] = wq.out;
  }
  // Rewire consumers of quantized activations to read the DQ output (the new Q nodes are not in g.nodes yet).
  for (const n of g.nodes) n.inputs = n.inputs.map((v) => dqName.get(v) ?? v);
  const nodes: Node[] = [...head];
  for (const n of g.nodes) {
    nodes.push(...(before.get(n) ?? []), n, ...(after.get(n) ?? []));
  }
  g.nodes = nodes;
  topoSort(g);
  eliminateDeadNodes(g);
}

function pushAfter(after: Map<Node, Node[]>, n: Node, ...nodes: Node[]): void {
  after.set(n, [...(after.get(n) ?? []), ...nodes]);
}

function pushBefore(before: Map<Node, Node[]>, n: Node, d: Node): void {
  before.set(n, [...(before.get(n) ?? []), d]);
}

/** Quantizes a constant activation input (e.g. an Add operand) with the activation parameters. */
function quantizeConstant(t: Tensor, p: QParams): Tensor {
  const x = floatData(t);
  const [qmin, qmax] = p.qtype === 'int8' ? [-128, 127] : [0, 255];
  const out = p.qtype === 'int8' ? new Int8Array(x.length) : new Uint8Array(x.length);
  const s = p.scale[0]!;
  const z = p.zeroPoint[0]!;
  for (let i = 0; i < x.length; i++) out[i] = quantizeValue(x[i]!, s, z, qmin, qmax);
  return new Tensor(p.qtype, t.dims, out);
}
