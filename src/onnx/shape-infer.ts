/**
 * Shape and dtype inference over a graph tree. Walks nodes in order, asks the per-op table
 * (`shape/*.ts`, one `satisfies Record<string, ShapeFn>` literal per op family) for output types, and
 * propagates the values of small integer tensors so Reshape targets built from `Shape` chains resolve.
 * Symbolic dims keep their names; unknown dims are `null`; unknown ops yield unknown outputs.
 *
 * @example
 * const { types, problems } = inferShapes(model);          // also fills model.graph.valueInfo
 * types.get('logits');                                      // { dtype: 'float32', shape: ['batch', 10] }
 */
import { create } from '@bufbuild/protobuf';
import { type FunctionProto, GraphProtoSchema, ValueInfoProtoSchema } from './gen/onnx_pb.js';
import { graphFromProto } from './ir-proto.js';
import type { Dim, Graph, Model, Node, ValueType } from './ir.js';
import { CONTROL_SHAPES } from './shape/control.js';
import { CONV_SHAPES } from './shape/conv.js';
import { ELEMENTWISE_SHAPES, ELEMENTWISE_VALUES } from './shape/elementwise.js';
import { INDEX_SHAPES } from './shape/index-ops.js';
import { LINALG_SHAPES } from './shape/linalg.js';
import { NORM_SHAPES } from './shape/norm.js';
import { SHAPE_OP_SHAPES } from './shape/shape-ops.js';
import { type KnownValue, type ShapeContext, type ShapeFn, type ValueFn, ShapeError, fmtShape } from './shape/types.js';
import { SHAPE_VALUES, knownFromTensor } from './shape/values.js';

/** Every default-domain op with an inference function. */
export const SHAPE_FUNCTIONS: Readonly<Record<string, ShapeFn>> = {
  ...ELEMENTWISE_SHAPES,
  ...LINALG_SHAPES,
  ...CONV_SHAPES,
  ...NORM_SHAPES,
  ...SHAPE_OP_SHAPES,
  ...INDEX_SHAPES,
  ...CONTROL_SHAPES,
};

/** Every default-domain op whose small integer outputs are constant-propagated. */
export const VALUE_FUNCTIONS: Readonly<Record<string, ValueFn>> = { ...ELEMENTWISE_VALUES, ...SHAPE_VALUES };

/** Options for `inferShapes` / `inferTypes`. */
export interface InferShapesOptions {
  /** Shapes to assume for graph inputs (e.g. `{ x: [8, 3, 224, 224] }`), overriding declared ones. */
  inputShapes?: Record<string, Dim[]>;
}

/** A problem inference found: a definite inconsistency at a node or graph output. */
export interface ShapeProblem {
  /** Graph name (subgraphs included). */
  graph: string;
  /** Node name ('' for graph-level problems). */
  node: string;
  opType: string;
  /** The input (or output) value involved, when one is. */
  input?: string;
  message: string;
}

/** What inference found. */
export interface ShapeInference {
  /** Types of every value in the main graph: inputs, initializers and node outputs. */
  types: Map<string, ValueType>;
  /** Statically known values of small integer tensors in the main graph. */
  values: Map<string, KnownValue>;
  /** Types found inside subgraphs, per subgraph. */
  subgraphs: Map<Graph, Map<string, ValueType>>;
  problems: ShapeProblem[];
}

interface Scope {
  types: Map<string, ValueType>;
  values: Map<string, KnownValue>;
  outer?: Scope;
}

function lookup<T>(s: Scope | undefined, f: (s: Scope) => Map<string, T>, name: string): T | undefined {
  for (let sc = s; sc; sc = sc.outer) {
    const v = f(sc).get(name);
    if (v !== undefined) return v;
  }
  return undefined;
}

/**
 * Infers types without modifying the graph. Never throws on graph content: problems are returned.
 */
export function inferTypes(target: Model | Graph, options: InferShapesOptions = {}): ShapeInference {
  const graph = 'graph' in target ? target.graph : target;
  const opset = 'graph' in target ? target.opset : 21;
  const state: ShapeInference = { types: new Map(), values: new Map(), subgraphs: new Map(), problems: [] };
  const functions = new Map(('graph' in target ? target.functions : []).map((f) => [`${f.domain}::${f.name}`, f]));
  const scope = inferGraph(graph, undefined, undefined, { opset, state, inputShapes: options.inputShapes ?? {}, depth: 0, functions, functionGraphs: new Map() });
  state.types = scope.types;
  state.values = scope.values;
  return state;
}

/**
 * Infers types and writes them into `graph.valueInfo` (and into subgraphs' value infos, and graph
 * outputs that had no shape). With `inputShapes`, the written shapes are specialised to those inputs.
 */
export function inferShapes(target: Model | Graph, options: InferShapesOptions = {}): ShapeInference {
  const graph = 'graph' in target ? target.graph : target;
  const res = inferTypes(target, options);
  writeValueInfo(graph, res.types);
  for (const [g, types] of res.subgraphs) writeValueInfo(g, types);
  return res;
}

function writeValueInfo(g: Graph, types: Map<string, ValueType>): void {
  const outputs = new Map(g.outputs.map((o) => [o.name, o]));
  const inputs = new Set(g.inputs.map((i) => i.name));
  for (const n of g.nodes) {
    for (const name of n.outputs) {
      const t = types.get(name);
      if (!name || !t) continue;
      const out = outputs.get(name);
      if (out) {
        if (!out.type?.shape) out.type = cloneType(t);
      } else if (!inputs.has(name) && !g.initializers.has(name)) {
        const prev = g.valueInfo.get(name);
        g.valueInfo.set(name, { name, type: cloneType(t), proto: prev?.proto });
      }
    }
  }
}

const cloneType = (t: ValueType): ValueType => (t.shape ? { dtype: t.dtype, shape: [...t.shape] } : { dtype: t.dtype });

interface RunState {
  opset: number;
  state: ShapeInference;
  inputShapes: Record<string, Dim[]>;
  depth: number;
  /** Model-local function bodies by `domain::name`, converted on first use. */
  functions: Map<string, FunctionProto>;
  functionGraphs: Map<string, Graph | null>;
}

/** A model-local function's body as a graph (formal inputs/outputs untyped), or null if it cannot be read. */
function functionGraph(run: RunState, key: string): Graph | null | undefined {
  if (run.functionGraphs.has(key)) return run.functionGraphs.get(key);
  const f = run.functions.get(key);
  if (!f) return undefined;
  let g: Graph | null;
  try {
    const vi = (name: string) => create(ValueInfoProtoSchema, { name });
    g = graphFromProto(create(GraphProtoSchema, { name: `${f.domain}.${f.name}`, node: f.node, input: f.input.map(vi), output: f.output.map(vi) }));
  } catch {
    g = null;
  }
  run.functionGraphs.set(key, g);
  return g;
}

/** Subgraphs nest rarely more than a few levels; this bounds pathological files. */
const MAX_DEPTH = 64;

function inferGraph(g: Graph, outer: Scope | undefined, formal: (ValueType | undefined)[] | undefined, run: RunState): Scope {
  const scope: Scope = { types: new Map(), values: new Map(), outer };
  for (const [name, t] of g.initializers) {
    scope.types.set(name, { dtype: t.dtype, shape: [...t.dims] });
    const k = knownFromTensor(t);
    if (k) scope.values.set(name, k);
  }
  g.inputs.forEach((v, i) => {
    if (g.initializers.has(v.name)) return;
    const given = formal?.[i];
    const override = outer ? undefined : run.inputShapes[v.name];
    let t = given ?? v.type;
    if (t && override) t = { dtype: t.dtype, shape: [...override] };
    if (t) scope.types.set(v.name, t);
  });
  const problem = (n: Node | undefined, message: string, input?: string) =>
    run.state.problems.push({ graph: g.name, node: n?.name ?? '', opType: n?.opType ?? '', input, message });
  for (const n of g.nodes) inferNode(n, scope, g, run, problem);
  for (const o of g.outputs) {
    const got = scope.types.get(o.name) ?? lookup(outer, (s) => s.types, o.name);
    if (got && o.type && got.dtype !== o.type.dtype) {
      problem(undefined, `graph output '${o.name}' is declared ${o.type.dtype} but computed as ${got.dtype}`, o.name);
    }
  }
  if (outer) run.state.subgraphs.set(g, scope.types);
  return scope;
}

function inferNode(n: Node, scope: Scope, g: Graph, run: RunState, problem: (n: Node, m: string, input?: string) => void): void {
  const typeOf = (name: string) => (name ? lookup(scope, (s) => s.types, name) : undefined);
  const ctx: ShapeContext = {
    node: n,
    opset: run.opset,
    inputCount: n.inputs.length,
    has: (i) => (n.inputs[i] ?? '') !== '',
    input: (i) => typeOf(n.inputs[i] ?? ''),
    known: (i) => (n.inputs[i] ? lookup(scope, (s) => s.values, n.inputs[i]!) : undefined),
    ints: (i) => {
      const k = n.inputs[i] ? lookup(scope, (s) => s.values, n.inputs[i]!) : undefined;
      return k && k.values.every((v) => typeof v === 'number') ? (k.values as number[]) : undefined;
    },
    problem: (m, input) => problem(n, m, input),
    subgraph: (sg, types) => {
      if (run.depth >= MAX_DEPTH) return sg.outputs.map(() => undefined);
      const inner = inferGraph(sg, scope, types, { ...run, depth: run.depth + 1 });
      return sg.outputs.map((o) => inner.types.get(o.name) ?? lookup(scope, (s) => s.types, o.name) ?? o.type);
    },
  };
  const isDefault = n.domain === '' || n.domain === 'ai.onnx';
  const fn = isDefault ? SHAPE_FUNCTIONS[n.opType] : undefined;
  let outs: (ValueType | undefined)[] = [];
  // A call to a model-local function: infer its body with the call's input types (no outer scope).
  const body = fn ? undefined : functionGraph(run, `${n.domain}::${n.opType}`);
  if (body && run.depth < MAX_DEPTH) {
    const inner = inferGraph(body, undefined, n.inputs.map((_, i) => ctx.input(i)), { ...run, depth: run.depth + 1, inputShapes: {} });
    outs = body.outputs.map((o) => inner.types.get(o.name));
  }
  if (fn) {
    try {
      outs = fn(ctx);
    } catch (err) {
      if (err instanceof ShapeError) problem(n, err.message, err.input);
      else problem(n, `shape inference failed: ${(err as Error).message}`);
    }
  }
  const vfn = isDefault ? VALUE_FUNCTIONS[n.opType] : undefined;
  let vals: (KnownValue | undefined)[] = [];
  if (vfn) {
    try {
      vals = vfn(ctx);
    } catch {
      vals = [];
    }
  }
  n.outputs.forEach((name, i) => {
    if (!name) return;
    let t = refine(outs[i], g.valueInfo.get(name)?.type ?? g.outputs.find((o) => o.name === name)?.type);
    // A propagated value knows its own length even where the shape rule could not tell.
    const v = vals[i];
    if (v && (!t?.shape || t.shape.includes(null))) t = { dtype: t?.dtype ?? v.dtype, shape: v.rank === 0 ? [] : [v.values.length] };
    if (t) scope.types.set(name, t);
    if (v) scope.values.set(name, v);
  });
}

/** Combines an inferred type with a declared one: inferred numbers win, declared dims fill unknowns. */
function refine(inferred: ValueType | undefined, declared: ValueType | undefined): ValueType | undefined {
  if (!inferred) return declared;
  if (!declared?.shape || declared.dtype !== inferred.dtype) return inferred;
  if (!inferred.shape) return { dtype: inferred.dtype, shape: [...declared.shape] };
  if (inferred.shape.length !== declared.shape.length) return inferred;
  return { dtype: inferred.dtype, shape: inferred.shape.map((d, i) => (d === null || (typeof d === 'string' && typeof declared.shape![i] === 'number') ? declared.shape![i]! : d)) };
}

/** `float32[batch, 10]` */
export function formatType(t: ValueType | undefined): string {
  if (!t) return '?';
  return `${t.dtype}${t.shape ? fmtShape(t.shape) : '[…]'}`;
}
