/**
 * Graph validation: every input defined before use (graph inputs, initializers, earlier outputs, outer
 * scopes for subgraphs), no value defined twice, opsets imported, input counts and required attributes
 * of known ops, and the inconsistencies shape/dtype inference finds. Each problem is a
 * `NodeValidationError` naming the graph, the node (name and op type), the value and the reason.
 *
 * @example
 * const problems = validateGraph(model);   // all of them, never throws on content
 * assertValidGraph(model);                 // throws the first, saying how many more there are
 */
import { GraphValidationError } from '../util/errors.js';
import type { Graph, Model, Node } from './ir.js';
import { schemaFor } from './op-schema.js';
import { SHAPE_FUNCTIONS, inferTypes } from './shape-infer.js';

/** How bad a problem is: errors make the model invalid; warnings are worth knowing. */
export type Severity = 'error' | 'warning';

/** One validation problem, as an error object carrying structured fields. */
export class NodeValidationError extends GraphValidationError {
  constructor(
    /** Graph name (the main graph or a subgraph). */
    readonly graph: string,
    /** Node name, '' for graph-level problems. */
    readonly node: string,
    readonly opType: string,
    /** The value involved, when one is. */
    readonly input: string | undefined,
    readonly reason: string,
    readonly severity: Severity = 'error',
  ) {
    super(formatProblem(graph, node, opType, reason));
  }
}

function formatProblem(graph: string, node: string, opType: string, reason: string): string {
  const where = opType ? `node '${node || '(unnamed)'}' (${opType})` : `graph '${graph}'`;
  return opType ? `graph '${graph}': ${where}: ${reason}` : `${where}: ${reason}`;
}

/** Options for `validateGraph`. */
export interface ValidateOptions {
  /** Skip shape/dtype inference checks (structure only). */
  structureOnly?: boolean;
  /** Include warnings (unknown ops, unused inputs). Default true. */
  warnings?: boolean;
}

/**
 * Validates a model (or a bare graph, assumed at the latest opset). Returns every problem found,
 * errors first in graph order; never throws on graph content.
 */
export function validateGraph(target: Model | Graph, options: ValidateOptions = {}): NodeValidationError[] {
  const model = 'graph' in target ? target : undefined;
  const graph = model ? model.graph : (target as Graph);
  const opset = model?.opset ?? 21;
  const out: NodeValidationError[] = [];
  const add = (g: Graph, n: Node | undefined, input: string | undefined, reason: string, severity: Severity = 'error') =>
    out.push(new NodeValidationError(g.name, n?.name ?? '', n?.opType ?? '', input, reason, severity));

  if (model) checkOpsets(model, add);
  checkScope(graph, new Set(), opset, model, add, 0);
  if (!options.structureOnly) {
    for (const p of inferTypes(target).problems) out.push(new NodeValidationError(p.graph, p.node, p.opType, p.input, p.message));
  }
  const kept = options.warnings === false ? out.filter((p) => p.severity === 'error') : out;
  return [...kept.filter((p) => p.severity === 'error'), ...kept.filter((p) => p.severity === 'warning')];
}

/** Throws the first validation error (its message says how many more there are). Warnings never throw. */
export function assertValidGraph(target: Model | Graph, options: ValidateOptions = {}): void {
  const errors = validateGraph(target, { ...options, warnings: false });
  if (!errors.length) return;
  const first = errors[0]!;
  if (errors.length === 1) throw first;
  throw new NodeValidationError(first.graph, first.node, first.opType, first.input, `${first.reason} (and ${errors.length - 1} more problem${errors.length > 2 ? 's' : ''})`);
}

/** Newest default-domain opset and IR version the schema and checks cover. */
const NEWEST_OPSET = 22;
const NEWEST_IR = 10;

type Add = (g: Graph, n: Node | undefined, input: string | undefined, reason: string, severity?: Severity) => void;

function checkOpsets(m: Model, add: Add): void {
  const opset = m.opsets.get('');
  if (opset === undefined) add(m.graph, undefined, undefined, 'the model imports no default (ai.onnx) opset');
  else if (opset > NEWEST_OPSET) add(m.graph, undefined, undefined, `ai.onnx opset ${opset} is newer than the newest trainfer knows (${NEWEST_OPSET}); checks follow opset ${NEWEST_OPSET} rules`, 'warning');
  if (m.irVersion > NEWEST_IR) add(m.graph, undefined, undefined, `IR version ${m.irVersion} is newer than the newest trainfer knows (${NEWEST_IR})`, 'warning');
  const functionDomains = new Set(m.functions.map((f) => f.domain));
  const seen = new Set<string>();
  const visit = (g: Graph): void => {
    for (const n of g.nodes) {
      const d = n.domain === 'ai.onnx' ? '' : n.domain;
      if (!m.opsets.has(d) && !functionDomains.has(d) && !seen.has(d)) {
        seen.add(d);
        add(g, n, undefined, `domain '${d || 'ai.onnx'}' has no opset_import`);
      }
      for (const a of Object.values(n.attributes)) {
        if (a.type === 'graph') visit(a.value);
        if (a.type === 'graphs') a.value.forEach(visit);
      }
    }
  };
  visit(m.graph);
}

/** Subgraph nesting beyond this is reported instead of followed (bounds pathological files). */
const MAX_DEPTH = 64;

function checkScope(g: Graph, outer: ReadonlySet<string>, opset: number, model: Model | undefined, add: Add, depth: number): void {
  const defined = new Set<string>();
  const isDefined = (v: string) => defined.has(v) || outer.has(v);
  const later = new Map<string, Node>();
  g.nodes.forEach((n) => n.outputs.forEach((o) => o && !later.has(o) && later.set(o, n)));
  for (const v of g.inputs) {
    if (defined.has(v.name)) add(g, undefined, v.name, `graph input '${v.name}' is declared twice`);
    defined.add(v.name);
  }
  for (const name of g.initializers.keys()) defined.add(name);
  const localFns = new Set(model?.functions.map((f) => `${f.domain}::${f.name}`) ?? []);
  for (const n of g.nodes) {
    if (!n.opType) add(g, n, undefined, 'node has no op_type');
    n.inputs.forEach((i, k) => {
      if (i === '' || isDefined(i)) return;
      const p = later.get(i);
      add(g, n, i, p ? `input ${k} '${i}' is used before node '${p.name || p.opType}' (${p.opType}) produces it (nodes are not in topological order)` : `input ${k} '${i}' is not defined (not a graph input, initializer or earlier output${depth ? ', nor in an outer scope' : ''})`);
    });
    checkSchema(g, n, opset, localFns, add);
    for (const a of Object.values(n.attributes)) {
      const subs = a.type === 'graph' ? [a.value] : a.type === 'graphs' ? a.value : [];
      for (const sg of subs) {
        if (depth >= MAX_DEPTH) add(g, n, undefined, `subgraphs nest deeper than ${MAX_DEPTH} levels`);
        else checkScope(sg, new Set([...outer, ...defined]), opset, model, add, depth + 1);
      }
    }
    for (const o of n.outputs) {
      if (!o) continue;
      if (defined.has(o)) add(g, n, o, `output '${o}' is already defined${g.initializers.has(o) ? ' as an initializer' : g.inputs.some((v) => v.name === o) ? ' as a graph input' : ' by an earlier node'}`);
      else if (outer.has(o)) add(g, n, o, `output '${o}' shadows a value of an outer scope`);
      defined.add(o);
    }
  }
  for (const o of g.outputs) if (!isDefined(o.name)) add(g, undefined, o.name, `graph output '${o.name}' is never produced`);
}

function checkSchema(g: Graph, n: Node, opset: number, localFns: Set<string>, add: Add): void {
  const domain = n.domain === 'ai.onnx' ? '' : n.domain;
  if (localFns.has(`${domain}::${n.opType}`) || domain !== '') return;
  const s = schemaFor(n.opType, opset);
  if (!s) {
    if (!SHAPE_FUNCTIONS[n.opType]) add(g, n, undefined, `operator '${n.opType}' is not known to trainfer (not checked)`, 'warning');
    return;
  }
  const count = s.emptyOk ? n.inputs.length : lastPresent(n.inputs);
  if (count < s.min) add(g, n, undefined, `needs at least ${s.min} input${s.min === 1 ? '' : 's'}, has ${count}`);
  if (n.inputs.length > s.max) add(g, n, undefined, `takes at most ${s.max} input${s.max === 1 ? '' : 's'}, has ${n.inputs.length}`);
  for (let i = 0; i < Math.min(s.emptyOk ? 0 : s.min, n.inputs.length); i++) {
    if (n.inputs[i] === '') add(g, n, undefined, `required input ${i} is empty`);
  }
  for (const r of s.required ?? []) if (!(r in n.attributes)) add(g, n, undefined, `required attribute '${r}' is missing`);
  if (s.oneOf) {
    const present = s.oneOf.filter((k) => k in n.attributes);
    if (present.length !== 1) add(g, n, undefined, present.length ? `has ${present.join(' and ')}; exactly one value attribute is allowed` : 'has no value attribute');
  }
}

function lastPresent(inputs: readonly string[]): number {
  let k = inputs.length;
  while (k > 0 && inputs[k - 1] === '') k--;
  return k;
}
