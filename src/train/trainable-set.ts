/**
 * Which initializers of an imported model train by default: the weights of layers — MatMul/Gemm and
 * Conv/ConvTranspose weights and biases, embedding tables (a Gather whose indices come from the model's
 * inputs), normalisation scales and biases, and biases added to a MatMul/Conv output — reached through
 * pass-through ops (Identity, Transpose, Cast, Reshape, (Un)Squeeze) and on a path to a head. Positional
 * tables, masks, running statistics and other constants stay fixed. `--trainable` / `--freeze` patterns
 * replace or trim the set.
 */
import { isFloat } from '../onnx/dtype.js';
import type { Graph, Node } from '../onnx/ir.js';
import type { Tensor } from '../onnx/tensor.js';
import { TrainferError } from '../util/errors.js';

const PASS_THROUGH = new Set(['Identity', 'Transpose', 'Cast', 'Reshape', 'Unsqueeze', 'Squeeze']);
const NORM_OPS = new Set(['BatchNormalization', 'LayerNormalization', 'InstanceNormalization', 'GroupNormalization', 'RMSNormalization', 'SimplifiedLayerNormalization']);
const LINEAR_OPS = new Set(['MatMul', 'Gemm', 'Conv', 'ConvTranspose']);

/** Options for `selectTrainable`. */
export interface SelectTrainableOptions {
  /** Head values the loss reads (initializers that do not reach one of them are never trained). */
  heads: readonly string[];
  /** Explicit choice: names, or a predicate over every float initializer (replaces the default set). */
  pick?: readonly string[] | ((name: string, tensor: Tensor) => boolean);
  /** Removes matching names from the set. */
  freeze?: (name: string) => boolean;
}

/** The trainable initializer names of `g`, in initializer order. */
export function selectTrainable(g: Graph, o: SelectTrainableOptions): string[] {
  const reaching = ancestors(g, o.heads);
  const floatInits = [...g.initializers].filter(([k, t]) => isFloat(t.dtype) && reaching.has(k));
  let names: string[];
  if (Array.isArray(o.pick)) names = [...o.pick];
  else if (typeof o.pick === 'function') {
    const f = o.pick;
    names = floatInits.filter(([k, t]) => f(k, t)).map(([k]) => k);
  } else {
    const weights = layerWeights(g);
    names = floatInits.filter(([k]) => weights.has(k)).map(([k]) => k);
  }
  return o.freeze ? names.filter((n) => !o.freeze!(n)) : names;
}

/** Values the `targets` depend on (walking producers backwards). */
function ancestors(g: Graph, targets: readonly string[]): Set<string> {
  const producer = new Map<string, Node>();
  for (const n of g.nodes) for (const out of n.outputs) if (out) producer.set(out, n);
  const seen = new Set<string>();
  const stack = [...targets];
  while (stack.length) {
    const v = stack.pop()!;
    if (seen.has(v)) continue;
    seen.add(v);
    const p = producer.get(v);
    if (p) for (const i of p.inputs) if (i) stack.push(i);
  }
  return seen;
}

/** Initializers used as layer weights (see the file comment). */
function layerWeights(g: Graph): Set<string> {
  const consumers = new Map<string, Node[]>();
  for (const n of g.nodes) for (const i of n.inputs) if (i) (consumers.get(i) ?? consumers.set(i, []).get(i)!).push(n);
  const producer = new Map<string, Node>();
  for (const n of g.nodes) for (const out of n.outputs) if (out) producer.set(out, n);
  // Values computed from graph inputs (fed data): a Gather is an embedding lookup only when its indices are.
  const fed = new Set(g.feedInputs().map((v) => v.name));
  for (const n of g.nodes) if (n.inputs.some((i) => i && fed.has(i))) for (const out of n.outputs) if (out) fed.add(out);
  const linearOut = (v: string): boolean => {
    let p = producer.get(v);
    while (p && PASS_THROUGH.has(p.opType)) p = producer.get(p.inputs[0]!);
    return !!p && LINEAR_OPS.has(p.opType);
  };
  const out = new Set<string>();
  for (const [name, t] of g.initializers) {
    if (!isFloat(t.dtype) || t.dims.length === 0) continue;
    // Follow the initializer through pass-through ops to the nodes that use it.
    const uses: { node: Node; slot: number }[] = [];
    const stack = [name];
    const seen = new Set<string>();
    while (stack.length) {
      const v = stack.pop()!;
      if (seen.has(v)) continue;
      seen.add(v);
      for (const c of consumers.get(v) ?? []) {
        const slot = c.inputs.indexOf(v);
        if (PASS_THROUGH.has(c.opType) && slot === 0) stack.push(c.outputs[0]!);
        else uses.push({ node: c, slot });
      }
    }
    const isWeight = uses.some(({ node: n, slot }) => {
      if (n.domain !== '' && n.domain !== 'ai.onnx') return false;
      if (n.opType === 'MatMul') return t.dims.length >= 2 || slot === 1;
      if (n.opType === 'Gemm') return true;
      if (n.opType === 'Conv' || n.opType === 'ConvTranspose') return slot === 1 || slot === 2;
      if (n.opType === 'Gather') return slot === 0 && t.dims.length === 2 && !!n.inputs[1] && fed.has(n.inputs[1]);
      if (NORM_OPS.has(n.opType)) return slot === 1 || slot === 2;
      if (n.opType === 'Add' && t.dims.length === 1) return n.inputs.some((i, k) => k !== slot && !!i && linearOut(i));
      return false;
    });
    if (isWeight) out.add(name);
  }
  return out;
}

/** Compiles a `--trainable` / `--freeze` pattern; a bad one is a one-line error naming the flag. */
export function compilePattern(flag: string, pattern: string): RegExp {
  try {
    return new RegExp(pattern);
  } catch (err) {
    throw new TrainferError(`${flag} '${pattern}': not a valid regular expression (${(err as Error).message.replace(/^Invalid regular expression: /, '')})`);
  }
}
