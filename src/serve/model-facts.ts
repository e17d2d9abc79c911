/**
 * What the server needs to know about a model file beyond its inputs and outputs: its metadata
 * (`trainfer.batch_first`) and the operator types it uses, subgraphs and functions included. Read with
 * a protobuf wire scan that skips initializers and tensors without decoding them, so a large model costs
 * one file read, not a second decoded copy of its weights.
 */
import { readFileSync } from 'node:fs';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { FileFormatError } from '../util/errors.js';

/** Metadata and operator types of a model file. */
export interface ModelFacts {
  /** `metadata_props` of the model. */
  metadata: Map<string, string>;
  /** Operator types as `domain:op_type` (`:` prefix for the default domain, e.g. `:MatMul`). */
  ops: Set<string>;
}

// Field numbers of proto/onnx.proto.
const MODEL = { graph: 7, metadata: 14, functions: 25 } as const;
const GRAPH = { node: 1 } as const;
const NODE = { opType: 4, attribute: 5, domain: 7 } as const;
const ATTRIBUTE = { g: 6, graphs: 11 } as const;
const FUNCTION = { node: 7 } as const;
const ENTRY = { key: 1, value: 2 } as const;
const MAX_DEPTH = 64;

/** Reads `file` and scans it. Errors name the file. */
export function readModelFacts(file: string): ModelFacts {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new FileFormatError(file, `cannot read: ${(err as Error).message}`);
  }
  try {
    return scanModelFacts(bytes);
  } catch (err) {
    throw new FileFormatError(file, `not a valid ONNX model: ${(err as Error).message}`);
  }
}

/** Scans encoded ModelProto bytes. */
export function scanModelFacts(bytes: Uint8Array): ModelFacts {
  const facts: ModelFacts = { metadata: new Map(), ops: new Set() };
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (wire !== WireType.LengthDelimited) {
      r.skip(wire, field);
      continue;
    }
    const body = r.bytes();
    if (field === MODEL.graph) scanNodes(body, GRAPH.node, facts, 0);
    else if (field === MODEL.functions) scanNodes(body, FUNCTION.node, facts, 0);
    else if (field === MODEL.metadata) {
      const e = entry(body);
      facts.metadata.set(e.key, e.value);
    }
  }
  return facts;
}

/** Scans a GraphProto or FunctionProto for its nodes (field `nodeField`). */
function scanNodes(bytes: Uint8Array, nodeField: number, facts: ModelFacts, depth: number): void {
  if (depth > MAX_DEPTH) throw new Error(`subgraphs nest deeper than ${MAX_DEPTH} levels`);
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (field === nodeField && wire === WireType.LengthDelimited) scanNode(r.bytes(), facts, depth);
    else r.skip(wire, field);
  }
}

function scanNode(bytes: Uint8Array, facts: ModelFacts, depth: number): void {
  const r = new BinaryReader(bytes);
  let op = '';
  let domain = '';
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (wire !== WireType.LengthDelimited) {
      r.skip(wire, field);
      continue;
    }
    if (field === NODE.opType) op = r.string();
    else if (field === NODE.domain) domain = r.string();
    else if (field === NODE.attribute) scanAttribute(r.bytes(), facts, depth);
    else r.skip(wire, field);
  }
  facts.ops.add(`${domain === 'ai.onnx' ? '' : domain}:${op}`);
}

function scanAttribute(bytes: Uint8Array, facts: ModelFacts, depth: number): void {
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if ((field === ATTRIBUTE.g || field === ATTRIBUTE.graphs) && wire === WireType.LengthDelimited) scanNodes(r.bytes(), GRAPH.node, facts, depth + 1);
    else r.skip(wire, field);
  }
}

function entry(bytes: Uint8Array): { key: string; value: string } {
  const r = new BinaryReader(bytes);
  let key = '';
  let value = '';
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (field === ENTRY.key && wire === WireType.LengthDelimited) key = r.string();
    else if (field === ENTRY.value && wire === WireType.LengthDelimited) value = r.string();
    else r.skip(wire, field);
  }
  return { key, value };
}
