/**
 * Graph rewrites that every later stage leans on: topological sort, dead-node elimination and folding
 * `Constant` nodes into initializers. Each returns a new node list on the same graph object it is given
 * and never touches tensor data.
 */
import { GraphValidationError } from '../util/errors.js';
import { type Graph, type Node, attrTensor } from './ir.js';
import { Tensor } from './tensor.js';

/** Values a node reads, including outer-scope values its subgraphs capture. */
export function nodeReads(n: Node): string[] {
  const reads = n.inputs.filter((i) => i !== '');
  for (const a of Object.values(n.attributes)) {
    const subs = a.type === 'graph' ? [a.value] : a.type === 'graphs' ? a.value : [];
    for (const sg of subs) reads.push(...capturedValues(sg));
  }
  return reads;
}

/** Names a subgraph uses but does not define (its implicit inputs from enclosing scopes). */
export function capturedValues(g: Graph): string[] {
  const defined = new Set<string>([...g.inputs.map((v) => v.name), ...g.initializers.keys()]);
  const out = new Set<string>();
  for (const n of g.nodes) {
    for (const r of nodeReads(n)) if (!defined.has(r)) out.add(r);
    for (const o of n.outputs) defined.add(o);
  }
  return [...out];
}

/**
 * Sorts `g.nodes` topologically (stable: keeps the existing order where it is already valid).
 * Throws `GraphValidationError` naming a node on a cycle.
 */
export function topoSort(g: Graph): void {
  const producer = new Map<string, number>();
  g.nodes.forEach((n, i) => n.outputs.forEach((o) => o && producer.set(o, i)));
  const state = new Uint8Array(g.nodes.length); // 0 new, 1 visiting, 2 done
  const order: Node[] = [];
  const visit = (start: number): void => {
    // Iterative DFS: graphs can be deep enough to overflow recursion.
    const stack: [number, number][] = [[start, 0]];
    state[start] = 1;
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const [i, k] = top;
      const reads = nodeReads(g.nodes[i]!);
      if (k < reads.length) {
        top[1]++;
        const p = producer.get(reads[k]!);
        if (p === undefined || state[p] === 2) continue;
        if (state[p] === 1) {
          const n = g.nodes[p]!;
          throw new GraphValidationError(`graph '${g.name}': node '${n.name || n.opType}' is on a cycle (through value '${reads[k]}')`);
        }
        state[p] = 1;
        stack.push([p, 0]);
      } else {
        state[i] = 2;
        order.push(g.nodes[i]!);
        stack.pop();
      }
    }
  };
  for (let i = 0; i < g.nodes.length; i++) if (state[i] === 0) visit(i);
  g.nodes = order;
}

/**
 * Removes nodes whose outputs reach no graph output, and initializers nothing reads.
 * Nodes in subgraphs are left alone. Returns the number of nodes removed.
 */
export function eliminateDeadNodes(g: Graph, options: { keepInitializers?: boolean } = {}): number {
  const live = new Set(g.outputs.map((o) => o.name));
  const kept: Node[] = [];
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i]!;
    if (n.outputs.some((o) => o && live.has(o))) {
      kept.push(n);
      for (const r of nodeReads(n)) live.add(r);
    }
  }
  const removed = g.nodes.length - kept.length;
  g.nodes = kept.reverse();
  if (!options.keepInitializers) {
    for (const name of [...g.initializers.keys()]) if (!live.has(name)) g.initializers.delete(name);
    g.inputs = g.inputs.filter((v) => live.has(v.name) || !g.initializers.has(v.name));
  }
  return removed;
}

/**
 * Turns `Constant` nodes into initializers (value, value_float(s), value_int(s) forms), in this graph and
 * in subgraphs. Returns the number of nodes folded. Sparse and string-list constants stay as nodes.
 */
export function foldConstants(g: Graph): number {
  let folded = 0;
  const keep: Node[] = [];
  for (const n of g.nodes) {
    for (const a of Object.values(n.attributes)) {
      if (a.type === 'graph') folded += foldConstants(a.value);
      if (a.type === 'graphs') for (const sg of a.value) folded += foldConstants(sg);
    }
    const t = n.opType === 'Constant' && n.domain === '' && n.outputs.length === 1 ? constantValue(n) : undefined;
    if (t && !g.initializers.has(n.outputs[0]!)) {
      g.initializers.set(n.outputs[0]!, t);
      folded++;
    } else keep.push(n);
  }
  g.nodes = keep;
  return folded;
}

/** The tensor a `Constant` node produces, or undefined for forms not folded. */
export function constantValue(n: Node): Tensor | undefined {
  const a = n.attributes;
  const t = attrTensor(n, 'value');
  if (t) return t;
  if (a.value_float?.type === 'float') return Tensor.f32([], [a.value_float.value]);
  if (a.value_floats?.type === 'floats') return Tensor.f32([a.value_floats.value.length], a.value_floats.value);
  if (a.value_int?.type === 'int') return Tensor.i64([], [a.value_int.value]);
  if (a.value_ints?.type === 'ints') return Tensor.i64([a.value_ints.value.length], a.value_ints.value);
  if (a.value_string?.type === 'string') return new Tensor('string', [], [a.value_string.value]);
  return undefined;
}
