/**
 * Inference-only transformer fusions onnxruntime's CPU graph optimizer does not find by itself (checked
 * on ORT 1.30: on a BERT-style encoder only `BiasGelu` and `FusedMatMul` fire): multi-head self-attention
 * written with standard ops — separate Q/K/V `MatMul + Add` projections, `Reshape → Transpose` into
 * heads, `MatMul(Q, Kᵀ)`, an optional scale `Div`/`Mul`, an additive padding-mask bias
 * `(1 − Cast(Unsqueeze(mask))) · c`, `Softmax`, `MatMul(·, V)`, `Transpose → Reshape` back — becomes one
 * `com.microsoft.Attention` node with the three projections fused into one [D, 3D] weight (one GEMM) and
 * the raw [batch, sequence] mask as `mask_index`. The rewritten model computes the same function (tested
 * against the original in onnxruntime) but runs only on onnxruntime; it is what `trainfer quantize` feeds
 * its int8 rewrite (`QAttention`). Training graphs are never rewritten.
 */
import { attr } from './attr.js';
import { type Graph, type Model, type Node, attrInts } from './ir.js';
import { eliminateDeadNodes, topoSort } from './passes.js';
import { Tensor } from './tensor.js';

/** One fused attention block. */
export interface FusedAttention {
  /** The Softmax node the match was found from. */
  softmax: string;
  /** The new `Attention` node. */
  node: string;
  heads: number;
  hidden: number;
}

/** What `fuseAttention` did. */
export interface FuseAttentionResult {
  fused: FusedAttention[];
  /** Softmax nodes that looked like attention but did not match, with the reason. */
  skipped: { softmax: string; reason: string }[];
}

/** Rewrites every matching self-attention block of the main graph in place into `com.microsoft.Attention`. */
export function fuseAttention(model: Model): FuseAttentionResult {
  const g = model.graph;
  const result: FuseAttentionResult = { fused: [], skipped: [] };
  const maskCasts = new Map<string, string>();
  for (const sm of g.nodes.filter((n) => n.opType === 'Softmax' && n.domain === '')) {
    const m = matchAttention(g, sm, maskCasts);
    if (typeof m === 'string') result.skipped.push({ softmax: sm.name, reason: m });
    else result.fused.push(m);
  }
  if (result.fused.length) {
    if (!model.opsets.has('com.microsoft')) model.opsets.set('com.microsoft', 1);
    topoSort(g);
    eliminateDeadNodes(g);
  }
  return result;
}

interface Projection {
  x: string;
  weight: Tensor;
  bias: Tensor;
  heads: number;
  headDim: number;
}

/** Transpose(perm) ← Reshape([0, 0, H, dh]) ← Add(MatMul(x, W), b) with constant W [D, D] and b [D]. */
function projection(g: Graph, value: string, perm: readonly number[], only: (v: string) => boolean): Projection | string {
  const { producer } = g.index();
  const t = producer.get(value);
  if (t?.opType !== 'Transpose' || String(attrInts(t, 'perm')) !== String(perm)) return `expected Transpose ${JSON.stringify(perm)} before '${value}'`;
  const r = producer.get(t.inputs[0]!);
  if (r?.opType !== 'Reshape' || !only(t.inputs[0]!)) return 'expected a head Reshape';
  const shape = g.initializers.get(r.inputs[1]!);
  if (!shape || shape.size !== 4) return 'the head Reshape target is not a constant of 4 dims';
  const [a, b, heads, headDim] = [...(shape.data as BigInt64Array)].map(Number) as [number, number, number, number];
  if (a !== 0 || b !== 0 || !(heads > 0 && headDim > 0)) return 'the head Reshape target is not [0, 0, H, dh]';
  const add = producer.get(r.inputs[0]!);
  if (add?.opType !== 'Add' || !only(r.inputs[0]!)) return 'expected a bias Add';
  for (const [mmIn, bIn] of [[0, 1], [1, 0]] as const) {
    const mm = producer.get(add.inputs[mmIn]!);
    const bias = g.initializers.get(add.inputs[bIn]!);
    if (mm?.opType !== 'MatMul' || !bias || !only(add.inputs[mmIn]!)) continue;
    const weight = g.initializers.get(mm.inputs[1]!);
    const D = heads * headDim;
    if (!weight || weight.dtype !== 'float32' || weight.dims.length !== 2 || weight.dims[1] !== D) return 'the projection weight is not a constant [D, H·dh]';
    if (bias.dtype !== 'float32' || bias.size !== D) return 'the projection bias is not a constant [H·dh]';
    return { x: mm.inputs[0]!, weight, bias, heads, headDim };
  }
  return 'expected MatMul(x, W) + b';
}

/** (1 − Cast(Unsqueeze(mask, [1, 2]))) · c → mask input and c. */
function maskBias(g: Graph, value: string): { mask: string; filter: number } | undefined {
  const { producer } = g.index();
  const mul = producer.get(value);
  if (mul?.opType !== 'Mul') return undefined;
  const c = g.initializers.get(mul.inputs[1]!);
  const sub = producer.get(mul.inputs[0]!);
  if (!c || c.size !== 1 || sub?.opType !== 'Sub') return undefined;
  const one = g.initializers.get(sub.inputs[0]!);
  if (!one || one.size !== 1 || Number(one.data[0]) !== 1) return undefined;
  const cast = producer.get(sub.inputs[1]!);
  if (cast?.opType !== 'Cast') return undefined;
  const un = producer.get(cast.inputs[0]!);
  if (un?.opType !== 'Unsqueeze') return undefined;
  const axes = g.initializers.get(un.inputs[1]!);
  if (!axes || String([...(axes.data as BigInt64Array)].map(Number)) !== '1,2') return undefined;
  const mask = un.inputs[0]!;
  if (!g.inputs.some((v) => v.name === mask)) return undefined;
  return { mask, filter: Number(c.data[0]) };
}

function matchAttention(g: Graph, sm: Node, maskCasts: Map<string, string>): FusedAttention | string {
  const { producer, consumers } = g.index();
  const only = (v: string) => (consumers.get(v)?.length ?? 0) === 1 && !g.outputs.some((o) => o.name === v);
  const axis = sm.attributes.axis ? Number((sm.attributes.axis as { value: number }).value) : -1;
  if (axis !== -1 && axis !== 3) return 'Softmax not over the last axis';
  // Backwards: Softmax ← [Add(scores, maskBias)] ← [Div/Mul(scale)] ← MatMul(Q, Kᵀ)
  let v = sm.inputs[0]!;
  let mask: { mask: string; filter: number } | undefined;
  let node = producer.get(v);
  if (node?.opType === 'Add' && only(v)) {
    for (const [s, b] of [[0, 1], [1, 0]] as const) {
      const mb = maskBias(g, node.inputs[b]!);
      if (mb) {
        mask = mb;
        v = node.inputs[s]!;
        break;
      }
    }
    if (!mask) return 'the Add before Softmax is not a padding-mask bias';
    node = producer.get(v);
  }
  let scale: number | undefined;
  if ((node?.opType === 'Div' || node?.opType === 'Mul') && only(v)) {
    const c = g.initializers.get(node.inputs[1]!);
    if (!c || c.size !== 1) return 'the score scale is not a constant scalar';
    scale = node.opType === 'Div' ? 1 / Number(c.data[0]) : Number(c.data[0]);
    v = node.inputs[0]!;
    node = producer.get(v);
  }
  if (node?.opType !== 'MatMul' || !only(v)) return 'no MatMul(Q, Kᵀ) before the Softmax';
  const q = projection(g, node.inputs[0]!, [0, 2, 1, 3], only);
  if (typeof q === 'string') return `Q: ${q}`;
  const k = projection(g, node.inputs[1]!, [0, 2, 3, 1], only);
  if (typeof k === 'string') return `K: ${k}`;
  // Forwards: Softmax → MatMul(·, V) → Transpose [0,2,1,3] → Reshape [0, 0, D]
  const smOut = sm.outputs[0]!;
  const av = consumers.get(smOut)?.[0];
  if (!only(smOut) || av?.opType !== 'MatMul' || av.inputs[0] !== smOut) return 'the Softmax does not feed MatMul(·, V)';
  const vp = projection(g, av.inputs[1]!, [0, 2, 1, 3], only);
  if (typeof vp === 'string') return `V: ${vp}`;
  const tr = consumers.get(av.outputs[0]!)?.[0];
  if (!only(av.outputs[0]!) || tr?.opType !== 'Transpose' || String(attrInts(tr, 'perm')) !== '0,2,1,3') return 'the attention output is not transposed back [0, 2, 1, 3]';
  const rs = consumers.get(tr.outputs[0]!)?.[0];
  if (!only(tr.outputs[0]!) || rs?.opType !== 'Reshape') return 'the attention output is not reshaped back';
  const D = q.heads * q.headDim;
  const shape = g.initializers.get(rs.inputs[1]!);
  if (!shape || String([...(shape.data as BigInt64Array)].map(Number)) !== `0,0,${D}`) return 'the merge Reshape target is not [0, 0, D]';
  if (q.x !== k.x || q.x !== vp.x) return 'Q, K and V read different inputs (not self-attention)';
  if (q.heads !== k.heads || q.heads !== vp.heads || q.headDim !== k.headDim || q.headDim !== vp.headDim) return 'Q, K and V split into different heads';
  const Din = q.weight.dims[0]!;
  // Fused [Din, 3D] weight (columns Q | K | V) and [3D] bias.
  const w = new Float32Array(Din * 3 * D);
  const b = new Float32Array(3 * D);
  [q, k, vp].forEach((p, j) => {
    const src = p.weight.data as Float32Array;
    for (let r = 0; r < Din; r++) w.set(src.subarray(r * D, (r + 1) * D), r * 3 * D + j * D);
    b.set(p.bias.data as Float32Array, j * D);
  });
  const base = g.uniqueName(`${sm.name}_attention`);
  const wName = g.uniqueName(`${base}.qkv_weight`);
  const bName = g.uniqueName(`${base}.qkv_bias`);
  g.initializers.set(wName, new Tensor('float32', [Din, 3 * D], w));
  g.initializers.set(bName, new Tensor('float32', [3 * D], b));
  const inputs = [q.x, wName, bName];
  if (mask) {
    let m32 = maskCasts.get(mask.mask);
    if (!m32) {
      m32 = g.uniqueName(`${mask.mask}_int32`);
      g.nodes.push({ name: g.uniqueName(`${m32}_Cast`), opType: 'Cast', domain: '', inputs: [mask.mask], outputs: [m32], attributes: { to: attr.int(6) } });
      maskCasts.set(mask.mask, m32);
    }
    inputs.push(m32);
  }
  const attributes: Node['attributes'] = { num_heads: attr.int(q.heads), scale: attr.float(scale ?? 1) };
  if (mask) attributes.mask_filter_value = attr.float(mask.filter);
  // The Reshape's output keeps its name: every consumer (the output projection) is unchanged.
  g.nodes.push({ name: base, opType: 'Attention', domain: 'com.microsoft', inputs, outputs: [rs.outputs[0]!], attributes });
  rs.outputs = [g.uniqueName(`${rs.outputs[0]}_unfused`)];
  return { softmax: sm.name, node: base, heads: q.heads, hidden: D };
}
