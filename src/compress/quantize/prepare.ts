/**
 * Preparing a model for quantization: a deep copy (the caller's model is never touched), `Constant`
 * nodes folded into initializers (so weights behind them quantize too), BatchNormalization folded into
 * the Conv before it, opset upgraded to 13 when per-channel QDQ needs it, nodes topologically sorted.
 */
import { encodeModelProto, loadModel } from '../../onnx/model-io.js';
import { modelToProto } from '../../onnx/ir-proto.js';
import { type Graph, type Model, attrFloat, walkGraphs } from '../../onnx/ir.js';
import { foldConstants, topoSort } from '../../onnx/passes.js';
import { Tensor } from '../../onnx/tensor.js';
import { floatData } from './qmath.js';
import { type UpgradeResult, upgradeOpset } from '../../onnx/opset-upgrade.js';

/** A deep copy of a model (via its protobuf encoding). */
export function cloneModel(model: Model): Model {
  return loadModel(encodeModelProto(modelToProto(model)));
}

/** What `prepareModel` changed. */
export interface PrepareResult {
  model: Model;
  foldedConstants: number;
  foldedBatchNorms: number;
  upgrade?: UpgradeResult;
}

/** Options for `prepareModel`. */
export interface PrepareOptions {
  /** Upgrade the default opset to at least this (default 13; 0 to keep the model's opset). */
  minOpset?: number;
  /** Fold BatchNormalization into a preceding Conv (default true). */
  foldBatchNorm?: boolean;
}

/** Copies and normalises `model` for the quantizers. */
export function prepareModel(model: Model, options: PrepareOptions = {}): PrepareResult {
  const m = cloneModel(model);
  const foldedConstants = foldConstants(m.graph);
  const minOpset = options.minOpset ?? 13;
  const upgrade = minOpset > 0 ? upgradeOpset(m, { target: minOpset }) : undefined;
  let foldedBatchNorms = 0;
  for (const g of walkGraphs(m.graph)) {
    if (options.foldBatchNorm !== false) foldedBatchNorms += foldConvBatchNorm(g);
    topoSort(g);
  }
  return { model: m, foldedConstants, foldedBatchNorms, upgrade };
}

/**
 * Conv(x, W, b) → BatchNormalization(γ, β, μ, σ²) becomes Conv(x, W', b') with
 * W'[c] = W[c]·γ[c]/√(σ²[c]+ε) and b'[c] = (b[c] − μ[c])·γ[c]/√(σ²[c]+ε) + β[c]. Only when the Conv output
 * feeds nothing else and every parameter is an initializer. Returns the number folded.
 */
export function foldConvBatchNorm(g: Graph): number {
  const idx = g.index();
  const outputs = new Set(g.outputs.map((v) => v.name));
  const removed = new Set<object>();
  let folded = 0;
  for (const bn of g.nodes) {
    if (bn.opType !== 'BatchNormalization' || bn.domain !== '' || bn.outputs.filter(Boolean).length !== 1) continue;
    const conv = idx.producer.get(bn.inputs[0]!);
    if (!conv || conv.opType !== 'Conv' || conv.domain !== '' || outputs.has(conv.outputs[0]!)) continue;
    if ((idx.consumers.get(conv.outputs[0]!) ?? []).length !== 1) continue;
    const [scale, bias, mean, variance] = bn.inputs.slice(1, 5).map((n) => g.initializers.get(n));
    const w = g.initializers.get(conv.inputs[1]!);
    const b0 = conv.inputs[2] ? g.initializers.get(conv.inputs[2]) : undefined;
    if (!scale || !bias || !mean || !variance || !w || (conv.inputs[2] && !b0)) continue;
    if ((idx.consumers.get(conv.inputs[1]!) ?? []).length !== 1) continue;
    const eps = attrFloat(bn, 'epsilon', 1e-5);
    const c = w.dims[0]!;
    const inner = w.size / c;
    const [gm, bt, mu, vr] = [scale, bias, mean, variance].map(floatData);
    const wd = floatData(w);
    const nw = new Float32Array(w.size);
    const nb = new Float32Array(c);
    const bd = b0 ? floatData(b0) : new Float32Array(c);
    for (let k = 0; k < c; k++) {
      const f = gm![k]! / Math.sqrt(vr![k]! + eps);
      for (let i = 0; i < inner; i++) nw[k * inner + i] = wd[k * inner + i]! * f;
      nb[k] = (bd[k]! - mu![k]!) * f + bt![k]!;
    }
    g.initializers.set(conv.inputs[1]!, new Tensor('float32', w.dims, nw));
    const bName = conv.inputs[2] && (idx.consumers.get(conv.inputs[2]) ?? []).length === 1 ? conv.inputs[2] : uniqueInit(g, `${conv.name || 'conv'}_bias_folded`);
    g.initializers.set(bName, Tensor.f32([c], nb));
    conv.inputs = [conv.inputs[0]!, conv.inputs[1]!, bName];
    conv.outputs = [bn.outputs[0]!];
    removed.add(bn);
    folded++;
  }
  g.nodes = g.nodes.filter((n) => !removed.has(n));
  return folded;
}

function uniqueInit(g: Graph, base: string): string {
  return g.uniqueName(base);
}
