/**
 * Rewrites attribute forms that older opsets used into the input forms of opset 18+, so a forward graph
 * exported at opset 11–17 (e.g. by PyTorch) stays valid inside an opset-21 step graph: axes of Reduce*,
 * Squeeze and Unsqueeze, Split sizes (and `num_outputs`), Clip min/max.
 */
import { attr } from '../onnx/attr.js';
import { GraphBuilder } from '../onnx/builder.js';
import { attrFloat, attrInts, type Graph } from '../onnx/ir.js';
import { Tensor } from '../onnx/tensor.js';

const REDUCE = new Set(['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare']);

/** Rewrites `g`'s nodes in place (the step graph's own copies). Returns the number of nodes changed. */
export function upgradeLegacyForms(g: Graph): number {
  const b = new GraphBuilder({ graph: g, prefix: 'legacy/' });
  let changed = 0;
  for (const n of g.nodes) {
    if (n.domain !== '' && n.domain !== 'ai.onnx') continue;
    const axes = attrInts(n, 'axes');
    if ((REDUCE.has(n.opType) || n.opType === 'Squeeze' || n.opType === 'Unsqueeze') && axes && n.inputs.length === 1) {
      n.inputs = [n.inputs[0]!, b.int64s(axes)];
      delete n.attributes.axes;
      changed++;
    } else if (n.opType === 'Split' && n.inputs.length === 1) {
      const split = attrInts(n, 'split');
      if (split) {
        n.inputs = [n.inputs[0]!, b.int64s(split)];
        delete n.attributes.split;
      } else n.attributes.num_outputs = attr.int(n.outputs.length);
      changed++;
    } else if (n.opType === 'Clip' && n.inputs.length === 1 && (n.attributes.min || n.attributes.max)) {
      const lo = n.attributes.min ? b.constant(Tensor.f32([], [attrFloat(n, 'min', -3.4e38)]), 'clip_min') : '';
      const hi = n.attributes.max ? b.constant(Tensor.f32([], [attrFloat(n, 'max', 3.4e38)]), 'clip_max') : '';
      n.inputs = hi ? [n.inputs[0]!, lo, hi] : [n.inputs[0]!, lo];
      delete n.attributes.min;
      delete n.attributes.max;
      changed++;
    }
  }
  return changed;
}
