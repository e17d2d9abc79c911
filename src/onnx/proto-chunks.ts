/**
 * Encodes a `ModelProto` as a list of byte chunks, byte-for-byte equal to protobuf-es's `toBinary`, but
 * without copying large `raw_data` buffers: `toBinary` copies every nested message into its parent when
 * it closes it (tensor → graph → model: three copies of every weight). Here the weight bytes are
 * referenced, not copied, and written to disk chunk by chunk.
 */
import { type DescMessage, type MessageShape, create, toBinary } from '@bufbuild/protobuf';
import { reflect } from '@bufbuild/protobuf/reflect';
import { type GraphProto, GraphProtoSchema, type ModelProto, ModelProtoSchema, type TensorProto, TensorProtoSchema } from './gen/onnx_pb.js';

/** Tensors with at least this many raw bytes are referenced instead of copied. */
const LARGE = 64 * 1024;

/** Field numbers (onnx.proto): ModelProto.graph, GraphProto.initializer, TensorProto.raw_data. */
const MODEL_GRAPH = 7;
const GRAPH_INITIALIZER = 5;
const TENSOR_RAW_DATA = 9;

/** Encodes `p` as chunks whose concatenation equals `toBinary(ModelProtoSchema, p)` (unknown fields included). */
export function encodeModelChunks(p: ModelProto): Uint8Array[] {
  if (!p.graph || !p.graph.initializer.some((t) => t.rawData.byteLength >= LARGE)) return [toBinary(ModelProtoSchema, p, { writeUnknownFields: true })];
  const graph = graphChunks(p.graph);
  return [...part(ModelProtoSchema, p, 0, MODEL_GRAPH), ...lengthDelimited(MODEL_GRAPH, graph), ...part(ModelProtoSchema, p, MODEL_GRAPH, Infinity)];
}

/** Concatenates chunks into one buffer (one copy). */
export function concatChunks(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

function graphChunks(g: GraphProto): Uint8Array[] {
  const out = [...part(GraphProtoSchema, g, 0, GRAPH_INITIALIZER)];
  for (const t of g.initializer) {
    const body = t.rawData.byteLength >= LARGE ? tensorChunks(t) : [toBinary(TensorProtoSchema, t, { writeUnknownFields: true })];
    out.push(...lengthDelimited(GRAPH_INITIALIZER, body));
  }
  out.push(...part(GraphProtoSchema, g, GRAPH_INITIALIZER, Infinity));
  return out;
}

function tensorChunks(t: TensorProto): Uint8Array[] {
  return [...part(TensorProtoSchema, t, 0, TENSOR_RAW_DATA), ...lengthDelimited(TENSOR_RAW_DATA, [t.rawData]), ...part(TensorProtoSchema, t, TENSOR_RAW_DATA, Infinity)];
}

/**
 * The encoding of the fields numbered in (after, before) exclusive — `toBinary` writes fields sorted by
 * number, then unknown fields, so the unknown fields belong to the last part.
 */
function part<D extends DescMessage>(schema: D, msg: MessageShape<D>, after: number, before: number): Uint8Array[] {
  const copy = Object.assign(create(schema), msg) as MessageShape<D>;
  const r = reflect(schema, copy);
  for (const f of r.fields) if (f.number <= after || f.number >= before) r.clear(f);
  if (before !== Infinity) delete (copy as { $unknown?: unknown }).$unknown;
  const bytes = toBinary(schema, copy, { writeUnknownFields: true });
  return bytes.byteLength ? [bytes] : [];
}

function lengthDelimited(fieldNo: number, body: readonly Uint8Array[]): Uint8Array[] {
  const len = body.reduce((n, c) => n + c.byteLength, 0);
  return [Uint8Array.from([...varint(fieldNo * 8 + 2), ...varint(len)]), ...body];
}

function varint(v: number): number[] {
  const out: number[] = [];
  while (v > 0x7f) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}
