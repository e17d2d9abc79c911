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
  type TensorProto,
  TensorProto_DataLocation,
  type TypeProto,
  TypeProtoSchema,
  TypeProto_TensorSchema,
  type ValueInfoProto,
  ValueInfoProtoSchema,
} from './gen/onnx_pb.js';
import { dtypeFromOnnx, dtypeToOnnx } from './dtype.js';
import { type Attribute, type Dim, Graph, Model, type Node, type ValueInfo, type ValueType } from './ir.js';
import { type ExternalDataLoader, type Tensor, tensorFromProto, tensorToProto } from './tensor.js';

/**
 * The `TensorProto` each decoded tensor came from. Writing reuses it while the tensor's bytes are
 * unchanged, so typed-field encodings, doc strings and unknown fields survive a round trip.
 */
const TENSOR_ORIGIN = new WeakMap<Tensor, TensorProto>();

function decodeTensor(p: TensorProto, options: FromProtoOptions): Tensor {
  const t = tensorFromProto(p, options.loadExternal);
  TENSOR_ORIGIN.set(t, p);
  return t;
}

/** Encodes a tensor, reusing its original proto when its contents and name are unchanged. */
export function encodeTensor(t: Tensor, name: string): TensorProto {
  const orig = TENSOR_ORIGIN.get(t);
  if (!orig || orig.dataLocation === TensorProto_DataLocation.EXTERNAL || !sameContents(t, orig)) return tensorToProto(t, name);
  return orig.name === name ? orig : Object.assign(create(TensorProtoSchema), orig, { name });
}

function sameContents(t: Tensor, orig: TensorProto): boolean {
  if (Array.isArray(t.data)) return false;
  const mine = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  if (orig.rawData.byteLength > 0) {
    const raw = orig.rawData;
    if (raw.buffer === mine.buffer && raw.byteOffset === mine.byteOffset && raw.byteLength === mine.byteLength) return true;
    return raw.byteLength === mine.byteLength && Buffer.compare(raw, mine) === 0;
  }
  try {
    const again = tensorFromProto(orig).data;
    if (Array.isArray(again)) return false;
    return Buffer.compare(new Uint8Array(again.buffer, again.byteOffset, again.byteLength), mine) === 0;
  } catch {
    return false;
  }
}

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
  const p = m.proto ? shallow(ModelProtoSchema, m.proto) : create(ModelProtoSchema);
  p.irVersion = BigInt(m.irVersion);
  const origOpsets = m.proto?.opsetImport.map((o) => [o.domain === 'ai.onnx' ? '' : o.domain, Number(o.version)] as const);
  const sameOpsets = origOpsets?.length === m.opsets.size && origOpsets.every(([d, v]) => m.opsets.get(d) === v);
  if (!sameOpsets) p.opsetImport = [...m.opsets].map(([domain, version]) => create(OperatorSetIdProtoSchema, { domain, version: BigInt(version) }));
  setIf(p, 'producerName', m.producerName);
  setIf(p, 'producerVersion', m.producerVersion);
  setIf(p, 'domain', m.domain);
  setIf(p, 'modelVersion', BigInt(m.modelVersion));
  setIf(p, 'docString', m.docString);
  const origMeta = m.proto?.metadataProps;
  const sameMeta = origMeta?.length === m.metadata.size && origMeta.every((e) => m.metadata.get(e.key) === e.value);
  if (!sameMeta) p.metadataProps = [...m.metadata].map(([key, value]) => create(StringStringEntryProtoSchema, { key, value }));
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
      g.initializers.set(t.name, decodeTensor(t, options));
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
  const p = g.proto ? shallow(GraphProtoSchema, g.proto) : create(GraphProtoSchema);
  setIf(p, 'name', g.name);
  p.node = g.nodes.map(nodeToProto);
  p.initializer = [...g.initializers].map(([name, t]) => encodeTensor(t, name));
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
  const p = n.proto ? shallow(NodeProtoSchema, n.proto) : create(NodeProtoSchema);
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
      case AT.TENSOR: return { type: 'tensor', value: decodeTensor(a.t ?? create(TensorProtoSchema), options) };
      case AT.GRAPH: return { type: 'graph', value: graphFromProto(a.g ?? create(GraphProtoSchema), options, `${path} (subgraph)`) };
      case AT.FLOATS: return { type: 'floats', value: [...a.floats] };
      case AT.INTS: return { type: 'ints', value: a.ints.map(int64ToNumber) };
      case AT.STRINGS: return { type: 'strings', value: a.strings.map((s) => new TextDecoder().decode(s)) };
      case AT.TENSORS: return { type: 'tensors', value: a.tensors.map((t) => decodeTensor(t, options)) };
      case AT.GRAPHS: return { type: 'graphs', value: a.graphs.map((sg, i) => graphFromProto(sg, options, `${path}[${i}]`)) };
      default: return { type: 'raw', value: a };
    }
  } catch (err) {
    if ((err as Error).message.startsWith(path)) throw err;
    throw new Error(`${path}: ${(err as Error).message}`, { cause: err });
  }
}

const ATTR_TYPE = { float: AT.FLOAT, int: AT.INT, string: AT.STRING, tensor: AT.TENSOR, graph: AT.GRAPH, floats: AT.FLOATS, ints: AT.INTS, strings: AT.STRINGS, tensors: AT.TENSORS, graphs: AT.GRAPHS } as const;

function attributeToProto(name: string, a: Attribute, orig: AttributeProto | undefined): AttributeProto {
  if (a.type === 'raw') return a.value;
  const type = ATTR_TYPE[a.type];
  // Start from the original (keeps doc strings and unknown fields); overwrite only what changed.
  const p = orig && orig.type === type && orig.name === name ? shallow(AttributeProtoSchema, orig) : create(AttributeProtoSchema, { name, type });
  if (orig?.docString && !p.docString) p.docString = orig.docString;
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  switch (a.type) {
    case 'float': setIf(p, 'f', a.value); break;
    case 'int': setIf(p, 'i', numberToInt64(a.value)); break;
    case 'string': if (dec.decode(p.s) !== a.value) p.s = enc.encode(a.value); break;
    case 'tensor': p.t = encodeTensor(a.value, orig?.t?.name ?? ''); break;
    case 'graph': p.g = graphToProto(a.value); break;
    case 'floats': if (!sameList(p.floats, a.value)) p.floats = [...a.value]; break;
    case 'ints': if (!sameList(p.ints.map(int64ToNumber), a.value)) p.ints = a.value.map(numberToInt64); break;
    case 'strings': if (!sameList(p.strings.map((b) => dec.decode(b)), a.value)) p.strings = a.value.map((x) => enc.encode(x)); break;
    case 'tensors': p.tensors = a.value.map((t, i) => encodeTensor(t, orig?.tensors[i]?.name ?? '')); break;
    case 'graphs': p.graphs = a.value.map(graphToProto); break;
  }
  return p;
}

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x, i) => Object.is(x, b[i]) || x === b[i]);
}

function valueInfoFromProto(p: ValueInfoProto): ValueInfo {
  return { name: p.name, type: typeFromProto(p.type), proto: p };
}

function valueInfoToProto(v: ValueInfo): ValueInfoProto {
  const p = v.proto ? clone(ValueInfoProtoSchema, v.proto) : create(ValueInfoProtoSchema);
  setIf(p, 'name', v.name);
  // Non-tensor types (sequences, maps, optionals) are not modelled: keep the original type proto.
  // An unchanged tensor type keeps its original proto too (denotations, unknown fields).
  if (v.type && !sameType(v.type, typeFromProto(p.type))) p.type = typeToProto(v.type, p.type);
  return p;
}

function sameType(a: ValueType, b: ValueType | undefined): boolean {
  if (!b || a.dtype !== b.dtype) return false;
  if (!a.shape || !b.shape) return !a.shape && !b.shape;
  return sameList(a.shape, b.shape);
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

/**
 * A shallow copy of a message: own properties (proto2 presence, `$unknown`) are kept; nested messages
 * and byte arrays are shared, never mutated — a deep `clone` would copy every weight on each write.
 */
function shallow<T extends object>(schema: Parameters<typeof create>[0], m: T): T {
  return Object.assign(create(schema) as object, m) as T;
}

/** Assigns a field only when it changes, so proto2 presence (and the bytes written) stay as they were. */
function setIf<T extends object, K extends keyof T>(target: T, key: K, value: T[K]): void {
  if (target[key] !== value) target[key] = value;
}
