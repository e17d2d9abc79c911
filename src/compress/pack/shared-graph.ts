/**
 * Shared weights as graph nodes: a weight W becomes `Gather(codebook, indices)` — codebook [K + 1] with
 * entry 0 the pruned weights' zero, indices of W's shape. In the training graph (int32 indices) the
 * Gather's gradient is a scatter-add, so the weights that share a centroid sum their gradients into it
 * (Han et al.'s centroid fine-tuning falls out of the VJP table); in a `--keep-shared` model the indices
 * are stored as uint8 (uint16 past 255 centroids) and cast to int32 at run time.
 */
import { attr } from '../../onnx/attr.js';
import { dtypeToOnnx } from '../../onnx/dtype.js';
import { Graph, Model, type Node } from '../../onnx/ir.js';
import { Tensor } from '../../onnx/tensor.js';

/** One shared tensor: its codebook (entry 0 = 0) and per-element indices into it. */
export interface SharedWeight {
  codebook: Float32Array;
  indices: Uint16Array;
  dims: readonly number[];
}

/** Names of the codebook and index initializers of weight `w`. */
export function sharedNames(w: string): { codebook: string; indices: string } {
  return { codebook: `${w}.codebook`, indices: `${w}.indices` };
}

/**
 * A copy of `model` where every weight in `shared` is computed by Gather from its codebook: `form`
 * `train` (int32 indices) or `compact` (uint8/uint16 indices + Cast).
 */
export function sharedModel(model: Model, shared: ReadonlyMap<string, SharedWeight>, form: 'train' | 'compact'): Model {
  const src = model.graph;
  const g = new Graph(src.name);
  g.proto = src.proto;
  g.initializers = new Map(src.initializers);
  g.inputs = src.inputs.filter((v) => !shared.has(v.name)).map((v) => ({ ...v }));
  g.outputs = src.outputs.map((v) => ({ ...v }));
  g.valueInfo = new Map(src.valueInfo);
  const pre: Node[] = [];
  for (const [w, s] of shared) {
    g.initializers.delete(w);
    const n = sharedNames(w);
    g.initializers.set(n.codebook, new Tensor('float32', [s.codebook.length], s.codebook.slice()));
    if (form === 'train') {
      g.initializers.set(n.indices, new Tensor('int32', s.dims, Int32Array.from(s.indices)));
      pre.push({ name: `${w}/gather`, opType: 'Gather', domain: '', inputs: [n.codebook, n.indices], outputs: [w], attributes: { axis: attr.int(0) } });
    } else {
      const small = s.codebook.length <= 256;
      g.initializers.set(n.indices, small ? new Tensor('uint8', s.dims, Uint8Array.from(s.indices)) : new Tensor('uint16', s.dims, s.indices.slice()));
      pre.push({ name: `${w}/cast`, opType: 'Cast', domain: '', inputs: [n.indices], outputs: [`${w}/indices_i32`], attributes: { to: attr.int(dtypeToOnnx('int32')) } });
      pre.push({ name: `${w}/gather`, opType: 'Gather', domain: '', inputs: [n.codebook, `${w}/indices_i32`], outputs: [w], attributes: { axis: attr.int(0) } });
    }
  }
  g.nodes = [...pre, ...src.nodes.map((x) => ({ ...x }))];
  const m = model.withGraph(g);
  return m;
}

/** The dense weight a shared tensor stands for: codebook[index] per element. */
export function denseWeight(s: SharedWeight): Tensor {
  const d = new Float32Array(s.indices.length);
  for (let i = 0; i < d.length; i++) d[i] = s.codebook[s.indices[i]!]!;
  return new Tensor('float32', s.dims, d);
}
