/**
 * `checkGradients`: compares the backward graph autodiff emits against central finite differences, both
 * run on onnxruntime. The loss is a fixed random projection Σₖ ⟨outₖ, Rₖ⟩ of the checked outputs, so every
 * element of the Jacobian contributes. Used by the rule tests; handy when adding a rule.
 */
import { GraphBuilder } from '../onnx/builder.js';
import { isFloat } from '../onnx/dtype.js';
import { Model } from '../onnx/ir.js';
import { Tensor } from '../onnx/tensor.js';
import { Session } from '../runtime/session.js';
import { gradients } from './gradients.js';
import { cloneGraph } from './train-step.js';
import type { Formulations } from './types.js';
import type { VjpRule } from './rule-context.js';

/** Options for `checkGradients`. */
export interface GradCheckOptions {
  /** Adds the forward computation to `g` (whose inputs are already declared) and returns the outputs to check. */
  build: (g: GraphBuilder) => string[];
  /** Graph inputs: name → value. Float inputs named in `wrt` are differentiated. */
  feeds: Record<string, Tensor>;
  /** Inputs to differentiate. */
  wrt: readonly string[];
  /** Finite-difference step (default 1e-6 for float64, 1e-2 for float32). */
  step?: number;
  /** Seed of the projection weights. */
  seed?: number;
  formulations?: Formulations;
  /** Rule table for the analytic gradients (default `VJP_RULES`). */
  rules?: Readonly<Record<string, VjpRule>>;
  /**
   * Declared input shapes where they differ from the feeds' dims: strings are symbolic (e.g.
   * `['batch', 'sequence', 8]`), so the rules are checked as they run on dynamic shapes.
   */
  shapes?: Readonly<Record<string, readonly (number | string)[]>>;
}

/** Per wrt input: analytic and numeric gradients. */
export interface GradCheckResult {
  analytic: Map<string, number[]>;
  numeric: Map<string, number[]>;
  /**
   * The largest error relative to the gradient's scale: per wrt tensor, max |analytic − numeric| over its
   * elements divided by max |numeric| (the tensor's largest gradient, floored at 1e-6); the max over all
   * wrt tensors. A rule that is 1% off on the largest elements scores ≥ 0.01 whatever the magnitudes.
   */
  maxError: number;
  /** max |analytic − numeric| over all elements (absolute). */
  maxAbsError: number;
}

/** A tiny seeded generator (mulberry32) for reproducible test data. */
export function seededUniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Runs the analytic backward graph and central differences; returns both and the largest scaled error.
 *
 * @example
 * const r = await checkGradients({ feeds: { x }, wrt: ['x'], build: (g) => [g.tanh('x')] });
 * assert.ok(r.maxError < 1e-6);
 */
export async function checkGradients(o: GradCheckOptions): Promise<GradCheckResult> {
  const g = new GraphBuilder({ name: 'gradcheck' });
  for (const [name, t] of Object.entries(o.feeds)) g.input(name, t.dtype, [...(o.shapes?.[name] ?? t.dims)]);
  const outs = o.build(g);
  // Output shapes: run the forward once.
  const probe = cloneGraph(g.graph);
  probe.outputs = outs.map((name) => ({ name }));
  const fwd = await Session.create({ model: modelOf(probe) }, { intraOpThreads: 1 });
  const values = await fwd.run(o.feeds);
  await fwd.release();
  const rand = seededUniform(o.seed ?? 7);
  const terms: string[] = [];
  for (const name of outs) {
    const v = values[name]!;
    if (!isFloat(v.dtype)) continue;
    const r = Array.from({ length: v.size }, () => rand() * 2 - 1);
    const R = g.constant(v.dtype === 'float64' ? Tensor.f64(v.dims, r) : Tensor.f32(v.dims, r), 'proj');
    if (!o.shapes) g.graph.valueInfo.set(name, { name, type: { dtype: v.dtype, shape: [...v.dims] } });
    terms.push(g.reduceSum(g.mul(name, R), undefined, false));
  }
  const loss = terms.length === 1 ? terms[0]! : g.op1('Sum', terms);
  const lossGraph = cloneGraph(g.graph);
  lossGraph.outputs = [{ name: loss }];
  const grads = gradients({ graph: g.graph, loss, wrt: o.wrt, formulations: o.formulations, rules: o.rules });
  g.graph.outputs = [{ name: loss }, ...o.wrt.map((w) => ({ name: grads.get(w)! }))];
  // Dedupe outputs (two wrt values could share a gradient value only if identical; keep first).
  const seen = new Set<string>();
  g.graph.outputs = g.graph.outputs.filter((v) => (seen.has(v.name) ? false : (seen.add(v.name), true)));
  const back = await Session.create({ model: modelOf(g.graph) }, { intraOpThreads: 1 });
  const res = await back.run(o.feeds);
  await back.release();
  const analytic = new Map(o.wrt.map((w) => [w, res[grads.get(w)!]!.toNumbers()]));

  const lossSession = await Session.create({ model: modelOf(lossGraph) }, { intraOpThreads: 1 });
  const numeric = new Map<string, number[]>();
  let maxError = 0;
  let maxAbsError = 0;
  for (const w of o.wrt) {
    const base = o.feeds[w]!;
    const h = o.step ?? (base.dtype === 'float64' ? 1e-6 : 1e-2);
    const num: number[] = [];
    for (let i = 0; i < base.size; i++) {
      const at = async (delta: number): Promise<number> => {
        const t = base.clone();
        (t.data as Float64Array)[i] = (t.data as Float64Array)[i]! + delta;
        const out = await lossSession.run({ ...o.feeds, [w]: t });
        return out[loss]!.toNumbers()[0]!;
      };
      num.push(((await at(h)) - (await at(-h))) / (2 * h));
    }
    numeric.set(w, num);
    const an = analytic.get(w)!;
    let scale = 1e-6;
    let abs = 0;
    for (let i = 0; i < num.length; i++) {
      scale = Math.max(scale, Math.abs(num[i]!));
      abs = Math.max(abs, Math.abs(an[i]! - num[i]!));
    }
    maxAbsError = Math.max(maxAbsError, abs);
    maxError = Math.max(maxError, abs / scale);
  }
  await lossSession.release();
  return { analytic, numeric, maxError, maxAbsError };
}

function modelOf(graph: import('../onnx/ir.js').Graph): Model {
  const m = new Model(graph);
  m.opsets = new Map([['', 21]]);
  return m;
}
