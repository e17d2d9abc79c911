/**
 * Reverse-mode autodiff over an ONNX graph: walk the nodes between `wrt` and `loss` backwards, ask each
 * node's rule (rules/index.ts) for its input gradients, and sum fan-out contributions. Backward nodes are
 * appended to the same graph (names prefixed `grad/`) and reuse forward values.
 */
import { GraphBuilder } from '../onnx/builder.js';
import type { Graph, Node } from '../onnx/ir.js';
import { isFloat } from '../onnx/dtype.js';
import { constantValue } from '../onnx/passes.js';
import { Tensor } from '../onnx/tensor.js';
import { TrainferError } from '../util/errors.js';
import { type VjpContext, type VjpRule, sumAll } from './rule-context.js';
import type { Formulations } from './types.js';
import { STOP_GRADIENT_INPUTS, VJP_RULES } from './rules/index.js';
import { type TypeMap, inferTypes } from './shapes.js';

/** Options for `gradients`. */
export interface GradientsOptions {
  /** Graph holding the forward pass; backward nodes are appended to it. */
  graph: Graph;
  /** Scalar value to differentiate. */
  loss: string;
  /** Values (usually initializers) to differentiate with respect to. */
  wrt: readonly string[];
  /** Seed gradient for `loss` (a value name); default the constant 1. */
  seed?: string;
  /** Backward formulation choices (default: the fastest measured). */
  formulations?: Formulations;
  /** Precomputed types (default: inferred from `graph`). */
  types?: TypeMap;
  /**
   * The rule table (default `VJP_RULES`). Tests pass a modified copy, e.g. to prove that a gradient check
   * catches a rule whose output is 1% off.
   */
  rules?: Readonly<Record<string, VjpRule>>;
}

/** Ops whose integer outputs still carry a (straight-through) gradient. */
const STRAIGHT_THROUGH_INT = new Set(['QuantizeLinear']);

/**
 * Appends the backward pass for `d loss / d wrt` to `graph` and returns wrt name → gradient value name.
 * Only nodes on a path from a `wrt` value to `loss` get backward nodes; a `wrt` value the loss does not
 * depend on gets a zero gradient. Throws `TrainferError` naming the op and node when a rule is missing, and
 * naming the op and input when a rule gives no gradient for an input that needs one (a silent zero
 * gradient would let weight decay shrink the parameter behind it) — except the inputs a rule stops by
 * definition (`STOP_GRADIENT_INPUTS`: the scale and zero point of the straight-through Q/DQ estimator).
 *
 * @example
 * const grads = gradients({ graph, loss: 'loss', wrt: ['w', 'b'] });
 * graph.outputs.push({ name: grads.get('w')! });
 */
export function gradients(options: GradientsOptions): Map<string, string> {
  const { graph, loss, wrt } = options;
  const types = options.types ?? inferTypes(graph);
  const forward = [...graph.nodes];
  const b = new GraphBuilder({ graph, prefix: 'grad/' });

  // Values that depend on some wrt value through differentiable (float) data.
  const fromWrt = new Set(wrt);
  for (const n of forward) {
    if (!n.inputs.some((i) => i && fromWrt.has(i))) continue;
    for (const o of n.outputs) {
      if (!o) continue;
      const dt = types.get(o)?.dtype;
      if (dt === undefined || isFloat(dt) || STRAIGHT_THROUGH_INT.has(n.opType)) fromWrt.add(o);
    }
  }
  // Values the loss depends on.
  const toLoss = new Set([loss]);
  for (let i = forward.length - 1; i >= 0; i--) {
    const n = forward[i]!;
    if (n.outputs.some((o) => o && toLoss.has(o))) for (const x of n.inputs) if (x) toLoss.add(x);
  }
  if (!forward.some((n) => n.outputs.includes(loss)) && !fromWrt.has(loss)) {
    throw new TrainferError(`autodiff: loss '${loss}' is not produced by any node of graph '${graph.name}'`);
  }

  // Constants rules may read (shapes, axes): initializers plus the values of Constant nodes.
  const inits = new Map(graph.initializers);
  for (const n of forward) {
    const t = n.opType === 'Constant' && n.domain === '' ? constantValue(n) : undefined;
    if (t && n.outputs[0]) inits.set(n.outputs[0], t);
  }

  const pending = new Map<string, string[]>();
  const add = (v: string, g: string): void => {
    const list = pending.get(v);
    if (list) list.push(g);
    else pending.set(v, [g]);
  };
  const take = (v: string): string | undefined => {
    const list = pending.get(v);
    if (!list) return undefined;
    const g = sumAll(b, list);
    pending.set(v, [g]);
    return g;
  };
  const lossType = types.get(loss);
  add(loss, options.seed ?? b.constant(Tensor.scalar(lossType?.dtype ?? 'float32', 1), 'seed'));
  if (lossType?.shape && lossType.shape.length > 0 && !options.seed) {
    throw new TrainferError(`autodiff: loss '${loss}' must be a scalar, got shape [${lossType.shape.join(', ')}]`);
  }

  for (let i = forward.length - 1; i >= 0; i--) {
    const n = forward[i]!;
    if (!n.outputs.some((o) => o && toLoss.has(o) && fromWrt.has(o))) continue;
    const dy = n.outputs.map((o) => (o && fromWrt.has(o) ? take(o) : undefined));
    if (dy.every((d) => d === undefined)) continue;
    const needs = n.inputs.map((x) => !!x && fromWrt.has(x) && toLoss.has(x));
    if (!needs.some(Boolean)) continue;
    const rule = ruleFor(n, options.rules ?? VJP_RULES);
    const ctx: VjpContext = { node: n, dy, needs, b, types, inits, formulations: options.formulations ?? {} };
    const dxs = rule(ctx);
    const stops: readonly number[] = (STOP_GRADIENT_INPUTS as Record<string, readonly number[]>)[n.opType] ?? [];
    n.inputs.forEach((x, k) => {
      const g = dxs[k];
      if (x && needs[k] && g) add(x, g);
      else if (x && needs[k] && !stops.includes(k)) {
        const from = wrt.find((w) => dependsOn(forward, x, w)) ?? wrt[0];
        throw new TrainferError(`autodiff: op '${n.opType}' (node '${n.name || n.outputs[0]}') has no gradient for its input ${k} ('${x}'), which depends on trainable '${from}'; freeze '${from}' or see docs/autodiff.md to extend the rule`);
      }
    });
  }

  const out = new Map<string, string>();
  for (const w of wrt) {
    let g = take(w);
    if (!g) {
      const t = types.get(w);
      const dims = t?.shape?.every((d) => typeof d === 'number') ? (t.shape as number[]) : undefined;
      if (!dims) throw new TrainferError(`autodiff: '${w}' does not affect loss '${loss}' and its shape is unknown`);
      g = b.constant(new Tensor(t!.dtype, dims), `zero_grad`);
    }
    out.set(w, g);
  }
  return out;
}

/** True when value `v` is computed from `w` (or is `w`). Only used to word an error. */
function dependsOn(nodes: readonly Node[], v: string, w: string): boolean {
  const reach = new Set([w]);
  for (const n of nodes) if (n.inputs.some((i) => i && reach.has(i))) for (const o of n.outputs) if (o) reach.add(o);
  return reach.has(v);
}

function ruleFor(n: Node, rules: Readonly<Record<string, VjpRule>>): VjpRule {
  const rule = n.domain === '' || n.domain === 'ai.onnx' ? rules[n.opType] : undefined;
  if (!rule) {
    const op = n.domain ? `${n.domain}.${n.opType}` : n.opType;
    throw new TrainferError(`autodiff: no gradient rule for op '${op}' (node '${n.name || n.outputs[0]}'); see docs/autodiff.md to add one`);
  }
  return rule;
}
