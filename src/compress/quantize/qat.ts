/**
 * Quantization-aware training. `fakeQuantModel` turns a prepared float model into a training-ready
 * fake-quant graph: the static QDQ plan (same activation scales from calibration, same folded Relus),
 * but weights stay float initializers fed through QuantizeLinear → DequantizeLinear with per-channel
 * scales computed in the graph (max|W|/127 per channel), and biases stay float. The autodiff STE rules
 * pass gradients through Q/DQ, so `fit` fine-tunes the float weights under quantization noise; the
 * trained weights are then exported as a real int8 QDQ model with `insertQdq` and the same calibration.
 */
import { attr } from '../../onnx/attr.js';
import { GraphBuilder } from '../../onnx/builder.js';
import type { Model, Node } from '../../onnx/ir.js';
import { eliminateDeadNodes, topoSort } from '../../onnx/passes.js';
import { Tensor } from '../../onnx/tensor.js';
import type { Calibration } from './calibration.js';
import { cloneModel } from './prepare.js';
import { type QdqOptions, insertQdq } from './qdq.js';
import { newReport } from './report.js';

const WEIGHT_OPS = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul']);

/** A fake-quant training model and the float weights it trains. */
export interface FakeQuantModel {
  model: Model;
  /** Weight and bias initializer names (float) to train. */
  params: string[];
}

/**
 * Builds the fake-quant graph from a prepared float model (not modified) and its calibration.
 * Weights: W → QuantizeLinear(W, s, 0, axis) → DequantizeLinear with s = max(max|W| over the other axes, ε)/127,
 * recomputed every step from the current W. Activations: the calibrated Q/DQ pairs of static quantization.
 */
export function fakeQuantModel(prepared: Model, cal: Calibration, o: QdqOptions): FakeQuantModel {
  const floatModel = cloneModel(prepared);
  const m = cloneModel(prepared);
  const calCopy: Calibration = { ...cal, ranges: new Map(cal.ranges) };
  insertQdq(m, calCopy, o, newReport('qat'));
  const g = m.graph;
  const floatInits = floatModel.graph.initializers;
  const b = new GraphBuilder({ graph: g, prefix: 'qat/' });
  const params = new Set<string>();
  const replaced: Node[] = [];
  const extra: Node[] = [];
  const before = g.nodes.length;
  const consumers = g.index().consumers;
  for (const n of g.nodes.slice(0, before)) {
    if (n.opType !== 'DequantizeLinear') continue;
    const q = g.initializers.get(n.inputs[0]!);
    if (!q) continue;
    // insertQdq names quantized constants `<float name>_quantized`.
    const orig = n.inputs[0]!.replace(/_quantized(_\d+)?$/, '');
    const w = floatInits.get(orig);
    if (!w || w.dtype !== 'float32') continue;
    g.initializers.set(orig, w);
    params.add(orig);
    if (q.dtype === 'int32') {
      // Bias: float, trained as is.
      n.opType = 'Identity';
      n.inputs = [orig];
      n.attributes = {};
      continue;
    }
    const isWeight = (consumers.get(n.outputs[0]!) ?? []).some((c) => WEIGHT_OPS.has(c.opType) && c.inputs[1] === n.outputs[0]);
    if (!isWeight) {
      // A constant operand quantized like an activation (e.g. an Add's bias): fixed scale, trainable value.
      const qn = b.fresh(`${orig}_fq`);
      extra.push({ name: b.fresh(`${orig}_QuantizeLinear`), opType: 'QuantizeLinear', domain: '', inputs: [orig, n.inputs[1]!, n.inputs[2]!], outputs: [qn], attributes: { ...n.attributes } });
      n.inputs = [qn, n.inputs[1]!, n.inputs[2]!];
      continue;
    }
    const axisAttr = n.attributes.axis;
    const axis = axisAttr?.type === 'int' ? axisAttr.value : undefined;
    const scale = weightScale(b, orig, w, axis, o.reduceRange ? 63 : 127);
    const zp = b.constant(zeroPoint(axis === undefined ? [] : [w.dims[axis]!]), 'wzp');
    const qn = b.fresh(`${orig}_fq`);
    extra.push({ name: b.fresh(`${orig}_QuantizeLinear`), opType: 'QuantizeLinear', domain: '', inputs: [orig, scale, zp], outputs: [qn], attributes: axis === undefined ? {} : { axis: attr.int(axis) } });
    n.inputs = [qn, scale, zp];
    replaced.push(n);
  }
  g.nodes.push(...extra);
  // Weights of compute ops that stay float (e.g. a narrow first Conv) are fine-tuned too.
  for (const n of g.nodes) {
    if (n.domain !== '' || !['Conv', 'ConvTranspose', 'Gemm', 'MatMul'].includes(n.opType)) continue;
    for (const v of n.inputs.slice(1, 3)) if (v && g.initializers.get(v)?.dtype === 'float32') params.add(v);
  }
  topoSort(g);
  eliminateDeadNodes(g);
  // The trainer builds opset-21 step graphs, and ReduceMax takes axes as an input from opset 18.
  if (m.opset < 18) m.opsets.set('', 21);
  return { model: m, params: [...params] };
}

/** s = max(ReduceMax(|W|, all axes but `axis`), 1e-8) / qmax, as graph nodes. Shape: scalar or [C]. */
function weightScale(b: GraphBuilder, w: string, t: Tensor, axis: number | undefined, qmax: number): string {
  const rank = t.dims.length;
  const axes = Array.from({ length: rank }, (_, i) => i).filter((i) => i !== axis);
  const amax = b.reduceMax(b.abs(w), axes, false);
  return b.div(b.op1('Max', [amax, b.scalar(1e-8)]), b.scalar(qmax));
}

function zeroPoint(dims: number[]): Tensor {
  return new Tensor('int8', dims);
}
