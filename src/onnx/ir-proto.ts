/**
 * IR ⇄ protobuf conversion. Fields the IR does not model (doc strings, metadata, sparse initializers,
 * quantization annotations, training info, unknown fields) ride along on each object's `proto` and are
 * written back, so proto → IR → proto loses nothing the IR did not change.
 */
import { clone, create } from '@bufbuild/protobuf';
import {
  type AttributeProto,
  AttributeProtoSchema,
  AttributeProto_AttributeType as AT,
  type GraphProto,
  GraphProtoSchema,
  type ModelProto,
  ModelProtoSchema,
  type NodeProto,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  StringStringEntryProtoSchema,
  TensorProtoSchema,
  TensorShapeProtoSchema,
  TensorShapeProto_DimensionSchema,
  type TypeProto,
  TypeProtoSchema,
  TypeProto_TensorSchema,
  type ValueInfoProto,
  ValueInfoProtoSchema,
} from './gen/onnx_pb.js';
import { dtypeFromOnnx, dtypeToOnnx } from './dtype.js';
import { type Attribute, type Dim, Graph, Model, type Node, type ValueInfo, type ValueType } from './ir.js';
import { type ExternalDataLoader, tensorFromProto, tensorToProto } from './tensor.js';

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

/** Converts an int64 to a JS number (values beyond ±2^53 keep their sign and magnitude approximately). */
export function int64ToNumber(v: bigint): number {
  return Number(v);
}

/** Converts a JS number to int64, clamping to the int64 range (INT64_MAX survives a round trip as Slice "end"). */
export function numberToInt64(v: number): bigint {
  if (!Number.isFinite(v)) return v > 0 ? INT64_MAX : INT64_MIN;
  const b = BigInt(Math.trunc(v));
  return b > INT64_MAX ? INT64_MAX : b < INT64_MIN ? INT64_MIN : b;
}

/** Options for reading a model into the IR. */
export interface FromProtoOptions {
  /** Loads external tensor data; required when the model stores weights outside the .onnx file. */
  loadExternal?: ExternalDataLoader;
}

/** Converts a decoded `ModelProto` into a `Model`. Throws `Error` with a path-like context on bad content. */
export function modelFromProto(p: ModelProto, options: FromProtoOptions = {}): Model {
  const m = new Model(p.graph ? graphFromProto(p.graph, options, 'graph') : new Graph());
  m.irVersion = Number(p.irVersion);
  m.opsets = new Map(p.opsetImport.map((o) => [o.domain === 'ai.onnx' ? '' : o.domain, Number(o.version)]));
  m.producerName = p.producerName;
  m.producerVersion = p.producerVersion;
  m.domain = p.domain;
  m.modelVersion = Number(p.modelVersion);
  m.docString = p.docString;
  m.metadata = new Map(p.metadataProps.map((e) => [e.key, e.value]));
  m.functions = p.functions;
  m.proto = p;
  return m;
}

/** Converts a `Model` to a `ModelProto` (initializers as raw_data). */
export function modelToProto(m: Model): ModelProto {
  const p = m.proto ? clone(ModelProtoSchema, m.proto) : create(ModelProtoSchema);
  p.irVersion = BigInt(m.irVersion);
  p.opsetImport = [...m.opsets].map(([domain, version]) => create(OperatorSetIdProtoSchema, { domain, version: BigInt(version) }));
  setIf(p, 'producerName', m.producerName);
  setIf(p, 'producerVersion', m.producerVersion);
  setIf(p, 'domain', m.domain);
  setIf(p, 'modelVersion', BigInt(m.modelVersion));
  setIf(p, 'docString', m.docString);
  p.metadataProps = [...m.metadata].map(([key, value]) => create(StringStringEntryProtoSchema, { key, value }));
  p.functions = m.functions;
  p.graph = graphToProto(m.graph);
  return p;
}

/** Converts a `GraphProto` (and its subgraphs) into a `Graph`. */
export function graphFromProto(p: GraphProto, options: FromProtoOptions = {}, path = p.name): Graph {
  const g = new Graph(p.name);
  g.proto = p;
  for (const t of p.initializer) {
    try {
      g.initializers.set(t.name, tensorFromProto(t, options.loadExternal));
    } catch (err) {
      throw new Error(`${path}: initializer '${t.name}': ${(err as Error).message}`, { cause: err });
    }
  }
  g.inputs = p.input.map(valueInfoFromProto);
  g.outputs = p.output.map(valueInfoFromProto);
  for (const v of p.valueInfo) g.valueInfo.set(v.name, valueInfoFromProto(v));
  g.nodes = p.node.map((n, i) => nodeFromProto(n, options, `${path}: node ${i} '${n.name || n.opType}'`));
  return g;
}

/** Converts a `Graph` (and its subgraphs) to a `GraphProto`. */
export function graphToProto(g: Graph): GraphProto {
  const p = g.proto ? clone(GraphProtoSchema, g.proto) : create(GraphProtoSchema);
  setIf(p, 'name', g.name);
  p.node = g.nodes.map(nodeToProto);
  p.initializer = [...g.initializers].map(([name, t]) => tensorToProto(t, name));
  p.input = g.inputs.map(valueInfoToProto);
  p.output = g.outputs.map(valueInfoToProto);
  p.valueInfo = [...g.valueInfo.values()].map(valueInfoToProto);
  return p;
}

function nodeFromProto(p: NodeProto, options: FromProtoOptions, path: string): Node {
  const attributes: Record<string, Attribute> = {};
  for (const a of p.attribute) attributes[a.name] = attributeFromProto(a, options, `${path}: attribute '${a.name}'`);
  return { name: p.name, opType: p.opType, domain: p.domain === 'ai.onnx' ? '' : p.domain, inputs: [...p.input], outputs: [...p.output], attributes, proto: p };
}

function nodeToProto(n: Node): NodeProto {
  const p = n.proto ? clone(NodeProtoSchema, n.proto) : create(NodeProtoSchema);
  setIf(p, 'name', n.name);
  setIf(p, 'opType', n.opType);
  setIf(p, 'domain', n.domain);
  p.input = [...n.inputs];
  p.output = [...n.outputs];
  const byName = new Map((n.proto?.attribute ?? []).map((a) => [a.name, a]));
  p.attribute = Object.entries(n.attributes).map(([name, a]) => attributeToProto(name, a, byName.get(name)));
  return p;
}

function attributeFromProto(a: AttributeProto, options: FromProtoOptions, path: string): Attribute {
  if (a.refAttrName) return { type: 'raw', value: a };
  try {
    switch (a.type) {
      case AT.FLOAT: return { type: 'float', value: a.f };
      case AT.INT: return { type: 'int', value: int64ToNumber(a.i) };
      case AT.STRING: return { type: 'string', value: new TextDecoder().decode(a.s) };
      case AT.TENSOR: return { type: 'tensor', value: tensorFromProto(a.t ?? create(TensorProtoSchema), options.loadExternal) };
      case AT.GRAPH: return { type: 'graph', value: graphFromProto(a.g ?? create(GraphProtoSchema), options, `${path} (subgraph)`) };
      case AT.FLOATS: return { type: 'floats', value: [...a.floats] };
      case AT.INTS: return { type: 'ints', value: a.ints.map(int64ToNumber) };
      case AT.STRINGS: return { type: 'strings', value: a.strings.map((s) => new TextDecoder().decode(s)) };
      case AT.TENSORS: return { type: 'tensors', value: a.tensors.map((t) => tensorFromProto(t, options.loadExternal)) };
      case AT.GRAPHS: return { type: 'graphs', value: a.graphs.map((sg, i) => graphFromProto(sg, options, `${path}[${i}]`)) };
      default: return { type: 'raw', value: a };
    }
  } catch (err) {
    if ((err as Error).message.startsWith(path)) throw err;
    throw new Error(`${path}: ${(err as Error).message}`, { cause: err });
  }
}

function attributeToProto(name: string, a: Attribute, orig: AttributeProto | undefined): AttributeProto {
  if (a.type === 'raw') return a.value;
  const p = create(AttributeProtoSchema, { name });
  if (orig?.docString) p.docString = orig.docString;
  switch (a.type) {
    case 'float': p.type = AT.FLOAT; p.f = a.value; break;
    case 'int': p.type = AT.INT; p.i = numberToInt64(a.value); break;
    case 'string': p.type = AT.STRING; p.s = new TextEncoder().encode(a.value); break;
    case 'tensor': p.type = AT.TENSOR; p.t = tensorToProto(a.value, orig?.t?.name ?? ''); break;
    case 'graph': p.type = AT.GRAPH; p.g = graphToProto(a.value); break;
    case 'floats': p.type = AT.FLOATS; p.floats = [...a.value]; break;
    case 'ints': p.type = AT.INTS; p.ints = a.value.map(numberToInt64); break;
    case 'strings': p.type = AT.STRINGS; p.strings = a.value.map((s) => new TextEncoder().encode(s)); break;
    case 'tensors': p.type = AT.TENSORS; p.tensors = a.value.map((t) => tensorToProto(t)); break;
    case 'graphs': p.type = AT.GRAPHS; p.graphs = a.value.map(graphToProto); break;
  }
  return p;
}

function valueInfoFromProto(p: ValueInfoProto): ValueInfo {
  return { name: p.name, type: typeFromProto(p.type), proto: p };
}

function valueInfoToProto(v: ValueInfo): ValueInfoProto {
  const p = v.proto ? clone(ValueInfoProtoSchema, v.proto) : create(ValueInfoProtoSchema);
  setIf(p, 'name', v.name);
  // Non-tensor types (sequences, maps, optionals) are not modelled: keep the original type proto.
  if (v.type) p.type = typeToProto(v.type, p.type);
  return p;
}

/** A `TypeProto` tensor type → `ValueType` (undefined for non-tensor or unknown element types). */
export function typeFromProto(t: TypeProto | undefined): ValueType | undefined {
  if (t?.value.case !== 'tensorType') return undefined;
  const dtype = dtypeFromOnnx(t.value.value.elemType);
  if (!dtype) return undefined;
  const shapeProto = t.value.value.shape;
  if (!shapeProto) return { dtype };
  const shape: Dim[] = shapeProto.dim.map((d) =>
    d.value.case === 'dimValue' ? int64ToNumber(d.value.value) : d.value.case === 'dimParam' ? d.value.value : null,
  );
  return { dtype, shape };
}

/** `ValueType` → tensor `TypeProto`, keeping denotations from `orig` when the rank matches. */
export function typeToProto(v: ValueType, orig?: TypeProto): TypeProto {
  const origDims = orig?.value.case === 'tensorType' ? orig.value.value.shape?.dim : undefined;
  const t = create(TypeProtoSchema);
  if (orig?.denotation) t.denotation = orig.denotation;
  const tensor = create(TypeProto_TensorSchema, { elemType: dtypeToOnnx(v.dtype) });
  if (v.shape) {
    const sameRank = origDims !== undefined && origDims.length === v.shape.length;
    tensor.shape = create(TensorShapeProtoSchema, {
      dim: v.shape.map((d, i) => {
        const dim = create(TensorShapeProto_DimensionSchema);
        if (typeof d === 'number') dim.value = { case: 'dimValue', value: BigInt(d) };
        else if (typeof d === 'string') dim.value = { case: 'dimParam', value: d };
        const den = sameRank ? origDims[i]?.denotation : undefined;
        if (den) dim.denotation = den;
        return dim;
      }),
    });
  }
  t.value = { case: 'tensorType', value: tensor };
  return t;
}

/** Assigns a field only when it changes, so proto2 presence (and the bytes written) stay as they were. */
function setIf<T extends object, K extends keyof T>(target: T, key: K, value: T[K]): void {
  if (target[key] !== value) target[key] = value;
}
