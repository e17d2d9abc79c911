/**
 * Test support (not public API): run a model on onnxruntime-node directly, optionally exposing every
 * intermediate value of the main graph as an output so inferred shapes can be compared with real ones.
 * Uses onnxruntime-node itself (not `src/runtime`) so `src/onnx` stays below the runtime layer.
 */
import * as ort from 'onnxruntime-node';
import type { DType, TypedArray } from './dtype.js';
import { modelFromProto, modelToProto } from './ir-proto.js';
import type { Model } from './ir.js';
import { encodeModelProto } from './model-io.js';
import { Tensor } from './tensor.js';

/** Runs encoded model bytes with feeds; returns every output as a `Tensor`. */
export async function runOrt(bytes: Uint8Array, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, graphOptimizationLevel: 'disabled', logSeverityLevel: 3 });
  try {
    const f: Record<string, ort.Tensor> = {};
    for (const [k, t] of Object.entries(feeds)) f[k] = new ort.Tensor(t.dtype as 'float32', t.data as Float32Array, [...t.dims]);
    const res = await s.run(f);
    const out: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(res)) out[k] = new Tensor(v.type as DType, v.dims.map(Number), v.data as TypedArray);
    return out;
  } finally {
    await s.release();
  }
}

/** Runs `model` with every main-graph node output added as a graph output (the model is not modified). */
export async function runOrtAllValues(model: Model, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const copy = modelFromProto(modelToProto(model));
  const have = new Set(copy.graph.outputs.map((o) => o.name));
  for (const n of copy.graph.nodes) {
    for (const o of n.outputs) {
      if (!o || have.has(o)) continue;
      have.add(o);
      copy.graph.outputs.push({ name: o });
    }
  }
  return runOrt(encodeModelProto(modelToProto(copy)), feeds);
}
