/**
 * Upgrades an imported model's default-domain opset (7 or later) to a newer one — 13 for quantization
 * (per-channel QuantizeLinear/DequantizeLinear need `axis`), 21 for training step graphs — rewriting every operator whose form or
 * semantics changed on the way (the table is `OPSET_TRANSITIONS` in `opset-transitions.ts`). Each rewrite
 * keeps the operator's outputs equal; an operator that cannot be converted with equal semantics makes the
 * whole upgrade fail with a one-line error naming the node, and the model is left untouched. Walks
 * subgraphs (If/Loop/Scan bodies).
 */
import type { DType } from './dtype.js';
import { type Attribute, type Graph, type Model, type Node, walkGraphs } from './ir.js';
import { capturedValues } from './passes.js';
import { inferTypes } from './shape-infer.js';
import type { Tensor } from './tensor.js';
import { TrainferError } from '../util/errors.js';
import { DEPRECATED_OPS, OPSET_TRANSITIONS, type Step, type UpgradeContext } from './opset-transitions.js';

/** The oldest default-domain opset `upgradeOpset` converts from (older ones had `consumed_inputs` and `broadcast` forms). */
export const MIN_UPGRADE_OPSET = 7;
/** The newest target opset `upgradeOpset` knows every transition up to. */
export const MAX_UPGRADE_OPSET = 21;

/** Options for `upgradeOpset`. */
export interface UpgradeOpsetOptions {
  /** Target default-domain opset (default 13; at most `MAX_UPGRADE_OPSET`). */
  target?: number;
}

/** Result of `upgradeOpset`. */
export interface UpgradeResult {
  from: number;
  to: number;
  /** Nodes rewritten, as `OpType 'name'`. */
  rewritten: string[];
}

/** The minimum IR version each opset needs (ONNX's versioning table). */
function irVersionFor(opset: number): number {
  return opset >= 21 ? 10 : opset >= 19 ? 9 : opset >= 15 ? 8 : opset >= 13 ? 7 : opset >= 11 ? 6 : opset >= 10 ? 5 : opset >= 9 ? 4 : 3;
}

/**
 * Rewrites `model` in place from its opset to `options.target`. Returns undefined (and leaves the model
 * untouched) when it already is at or above the target. Throws a one-line `TrainferError` naming the node
 * when an operator cannot be converted with equal semantics; the model is then left untouched.
 *
 * @example
 * const r = upgradeOpset(model, { target: 13 }); // { from: 9, to: 13, rewritten: ["Slice 'crop'", …] }
 */
export function upgradeOpset(model: Model, options: UpgradeOpsetOptions = {}): UpgradeResult | undefined {
  const target = options.target ?? 13;
  const from = model.opset;
  if (from >= target) return undefined;
  if (target > MAX_UPGRADE_OPSET) throw new TrainferError(`cannot upgrade to opset ${target}: the newest known target is ${MAX_UPGRADE_OPSET}`);
  if (from < MIN_UPGRADE_OPSET) throw new TrainferError(`cannot upgrade opset ${from} → ${target}: opsets older than ${MIN_UPGRADE_OPSET} are not supported (re-export the model at opset 9 or later)`);
  const inferred = inferTypes(model);
  const typeMaps = new Map<Graph, Map<string, { dtype: DType; shape?: unknown[] }>>([[model.graph, inferred.types], ...inferred.subgraphs]);
  // Plan every graph first, so a refusal anywhere leaves the whole model untouched.
  const plans: { g: Graph; nodes: Node[]; inits: [string, Tensor][]; dropValueInfo: string[] }[] = [];
  const rewritten: string[] = [];
  const visit = (g: Graph, outer: Graph[]): void => {
    const plan = planGraph(g, outer, from, target, typeMaps.get(g), rewritten);
    plans.push(plan);
    for (const n of g.nodes) {
      for (const a of Object.values(n.attributes)) for (const sg of subgraphsOf(a)) visit(sg, [g, ...outer]);
    }
  };
  visit(model.graph, []);
  for (const p of plans) {
    p.g.nodes = p.nodes;
    for (const [k, t] of p.inits) p.g.initializers.set(k, t);
    for (const v of p.dropValueInfo) p.g.valueInfo.delete(v);
  }
  model.opsets.set('', target);
  model.opsets.delete('ai.onnx');
  model.irVersion = Math.max(model.irVersion, irVersionFor(target));
  return { from, to: target, rewritten };
}

function subgraphsOf(a: Attribute): Graph[] {
  return a.type === 'graph' ? [a.value] : a.type === 'graphs' ? a.value : [];
}

function planGraph(g: Graph, outer: Graph[], from: number, target: number, types: Map<string, { dtype: DType; shape?: unknown[] }> | undefined, rewritten: string[]) {
  const used = new Set<string>([...g.initializers.keys(), ...g.inputs.map((v) => v.name)]);
  for (const sg of walkGraphs(g)) for (const n of sg.nodes) {
    used.add(n.name);
    for (const o of n.outputs) used.add(o);
  }
  for (const og of outer) for (const k of og.initializers.keys()) used.add(k);
  const reads = new Set<string>(g.outputs.map((v) => v.name));
  for (const n of g.nodes) {
    for (const i of n.inputs) if (i) reads.add(i);
    for (const a of Object.values(n.attributes)) for (const sg of subgraphsOf(a)) for (const v of capturedValues(sg)) reads.add(v);
  }
  const inits: [string, Tensor][] = [];
  const dropValueInfo: string[] = [];
  const fresh = (base: string): string => {
    let name = base;
    for (let i = 1; used.has(name); i++) name = `${base}_${i}`;
    used.add(name);
    return name;
  };
  const ctx: UpgradeContext = {
    from,
    target,
    fresh,
    constant: (t, base) => {
      const name = fresh(base);
      inits.push([name, t]);
      return name;
    },
    constValue: (name) => {
      for (const sc of [g, ...outer]) {
        const t = sc.initializers.get(name);
        if (t) return t;
      }
      return undefined;
    },
    dtypeOf: (name) => types?.get(name)?.dtype ?? g.typeOf(name)?.dtype ?? outer.map((o) => o.typeOf(name)?.dtype).find(Boolean),
    rankOf: (name) => (types?.get(name)?.shape ?? g.typeOf(name)?.shape)?.length,
    isRead: (name) => reads.has(name),
    dropValueInfo: (name) => dropValueInfo.push(name),
    node: (opType, inputs, outputs, attributes = {}) => ({ name: fresh(`${outputs[0] ?? opType}_${opType}`), opType, domain: '', inputs, outputs, attributes }),
    refuse: (n, reason) => {
      throw new TrainferError(`cannot upgrade opset ${from} → ${target}: ${n.opType} '${n.name || n.outputs[0]}': ${reason}`);
    },
  };
  const nodes: Node[] = [];
  for (const original of g.nodes) {
    if (original.domain !== '' && original.domain !== 'ai.onnx') {
      nodes.push(original);
      continue;
    }
    // Work on a copy: the model stays untouched until every graph is planned.
    const n: Node = { ...original, inputs: [...original.inputs], outputs: [...original.outputs], attributes: { ...original.attributes } };
    const before: Node[] = [];
    const after: Node[] = [];
    let replaced: Node[] | undefined;
    let changed = false;
    const apply = (s: Step): void => {
      if (!s) return;
      changed = true;
      if (s.replace) replaced = s.replace;
      else {
        before.push(...(s.before ?? []));
        after.unshift(...(s.after ?? []));
      }
    };
    const deprecated = DEPRECATED_OPS[n.opType];
    if (deprecated) apply(deprecated(ctx, n));
    for (let v = from + 1; v <= target && !replaced; v++) {
      const t = OPSET_TRANSITIONS[n.opType]?.find((x) => x.at === v);
      if (t) apply(t.apply(ctx, n));
    }
    if (changed) rewritten.push(`${original.opType} '${original.name || original.outputs[0]}'`);
    nodes.push(...before, ...(replaced ?? [n]), ...after);
  }
  return { g, nodes, inits, dropValueInfo };
}
