/**
 * The in-memory graph IR: `Model` → `Graph` → `Node`s, with initializers as `Tensor`s and value types
 * with symbolic dims. Plain data, easy to walk and rewrite; `graph.index()` gives producers/consumers.
 * Conversion to and from protobuf lives in `ir-proto.ts`.
 */
import type { FunctionProto, GraphProto, ModelProto, NodeProto, ValueInfoProto, AttributeProto } from './gen/onnx_pb.js';
import type { DType } from './dtype.js';
import type { Tensor } from './tensor.js';

/** A dimension: a size, a symbolic name (e.g. `"batch"`), or `null` when unknown. */
export type Dim = number | string | null;

/** A tensor value's element type and shape (`shape` undefined = unknown rank). */
export interface ValueType {
  dtype: DType;
  shape?: Dim[];
}

/** A named value with an optional tensor type. `proto` keeps fields the IR does not model. */
export interface ValueInfo {
  name: string;
  type?: ValueType;
  proto?: ValueInfoProto;
}

/** A node attribute, tagged with its ONNX type. `raw` keeps kinds the IR does not model (sparse, type protos, refs). */
export type Attribute =
  | { type: 'float'; value: number }
  | { type: 'int'; value: number }
  | { type: 'string'; value: string }
  | { type: 'tensor'; value: Tensor }
  | { type: 'graph'; value: Graph }
  | { type: 'floats'; value: number[] }
  | { type: 'ints'; value: number[] }
  | { type: 'strings'; value: string[] }
  | { type: 'tensors'; value: Tensor[] }
  | { type: 'graphs'; value: Graph[] }
  | { type: 'raw'; value: AttributeProto };

/** One operator application. Omitted optional inputs are `''`. */
export interface Node {
  name: string;
  opType: string;
  /** Operator domain; `''` is the default ONNX domain. */
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: Record<string, Attribute>;
  /** The node this came from, to keep doc strings, metadata and unknown fields on write. */
  proto?: NodeProto;
}

/** Producers and consumers of each value, computed by `Graph.index()`. */
export interface GraphIndex {
  producer: Map<string, Node>;
  consumers: Map<string, Node[]>;
}

/** A computation graph. Nodes should be in topological order (see `topoSort`). */
export class Graph {
  name: string;
  nodes: Node[] = [];
  inputs: ValueInfo[] = [];
  outputs: ValueInfo[] = [];
  initializers = new Map<string, Tensor>();
  /** Types of intermediate values (and any value), by name. */
  valueInfo = new Map<string, ValueInfo>();
  /** The graph this came from: keeps sparse initializers, quantization annotations, metadata, unknown fields. */
  proto?: GraphProto;

  constructor(name = 'graph') {
    this.name = name;
  }

  /** Builds producer/consumer maps. Recompute after rewriting. Subgraph nodes are not included. */
  index(): GraphIndex {
    const producer = new Map<string, Node>();
    const consumers = new Map<string, Node[]>();
    for (const n of this.nodes) {
      for (const o of n.outputs) if (o) producer.set(o, n);
      for (const i of n.inputs) {
        if (!i) continue;
        let list = consumers.get(i);
        if (!list) consumers.set(i, (list = []));
        if (!list.includes(n)) list.push(n);
      }
    }
    return { producer, consumers };
  }

  /** The type known for a value: graph input/output, value_info, or initializer. */
  typeOf(name: string): ValueType | undefined {
    const init = this.initializers.get(name);
    if (init) return { dtype: init.dtype, shape: [...init.dims] };
    return (
      this.valueInfo.get(name)?.type ??
      this.inputs.find((v) => v.name === name)?.type ??
      this.outputs.find((v) => v.name === name)?.type
    );
  }

  /** Graph inputs that are not initializers (what a caller must feed). */
  feedInputs(): ValueInfo[] {
    return this.inputs.filter((v) => !this.initializers.has(v.name));
  }

  /** A fresh value name starting with `base` that no node, input or initializer uses. */
  uniqueName(base: string): string {
    const used = this.usedNames();
    if (!used.has(base)) return base;
    for (let i = 1; ; i++) if (!used.has(`${base}_${i}`)) return `${base}_${i}`;
  }

  private usedNames(): Set<string> {
    const s = new Set<string>(this.initializers.keys());
    for (const v of this.inputs) s.add(v.name);
    for (const n of this.nodes) {
      for (const o of n.outputs) s.add(o);
      s.add(n.name);
    }
    return s;
  }
}

/** A model: a main graph plus versions, opsets, metadata and model-local functions. */
export class Model {
  irVersion = 10;
  /** Operator set versions by domain (`''` is ai.onnx). */
  opsets = new Map<string, number>([['', 21]]);
  producerName = 'trainfer';
  producerVersion = '';
  domain = '';
  modelVersion = 0;
  docString = '';
  metadata = new Map<string, string>();
  /** Model-local functions, kept as protobuf (they are rarely rewritten). */
  functions: FunctionProto[] = [];
  graph: Graph;
  /** The model this came from: keeps training_info and unknown fields on write. */
  proto?: ModelProto;

  constructor(graph: Graph = new Graph()) {
    this.graph = graph;
  }

  /**
   * A new model around `graph` with this model's header: IR version, opsets and metadata (copied),
   * producer, domain, model version, doc string and functions (shared). Not `proto`: the graph changed.
   */
  withGraph(graph: Graph): Model {
    const m = new Model(graph);
    m.irVersion = this.irVersion;
    m.opsets = new Map(this.opsets);
    m.producerName = this.producerName;
    m.producerVersion = this.producerVersion;
    m.domain = this.domain;
    m.modelVersion = this.modelVersion;
    m.docString = this.docString;
    m.metadata = new Map(this.metadata);
    m.functions = this.functions;
    return m;
  }

  /** The default-domain opset version. */
  get opset(): number {
    return this.opsets.get('') ?? this.opsets.get('ai.onnx') ?? 1;
  }
}

/** Every graph in a graph tree: the graph itself, then nested subgraphs (If/Loop/Scan bodies), depth first. */
export function* walkGraphs(g: Graph): Generator<Graph> {
  yield g;
  for (const n of g.nodes) {
    for (const a of Object.values(n.attributes)) {
      if (a.type === 'graph') yield* walkGraphs(a.value);
      else if (a.type === 'graphs') for (const sg of a.value) yield* walkGraphs(sg);
    }
  }
}

/** Reads an int attribute with a default. */
export function attrInt(n: Node, name: string, dflt: number): number;
export function attrInt(n: Node, name: string): number | undefined;
export function attrInt(n: Node, name: string, dflt?: number): number | undefined {
  const a = n.attributes[name];
  return a?.type === 'int' ? a.value : dflt;
}
/** Reads a float attribute with a default. */
export function attrFloat(n: Node, name: string, dflt: number): number {
  const a = n.attributes[name];
  return a?.type === 'float' ? a.value : a?.type === 'int' ? a.value : dflt;
}
/** Reads an ints attribute (undefined when absent). */
export function attrInts(n: Node, name: string): number[] | undefined {
  const a = n.attributes[name];
  return a?.type === 'ints' ? a.value : undefined;
}
/** Reads a string attribute with a default. */
export function attrString(n: Node, name: string, dflt: string): string {
  const a = n.attributes[name];
  return a?.type === 'string' ? a.value : dflt;
}
/** Reads a tensor attribute. */
export function attrTensor(n: Node, name: string): Tensor | undefined {
  const a = n.attributes[name];
  return a?.type === 'tensor' ? a.value : undefined;
}
