/**
 * Upgrades an imported model's default-domain opset to 13 (per-channel QuantizeLinear/DequantizeLinear
 * need `axis`, which arrived in opset 13), rewriting the operators whose signature changed between
 * opsets 10 and 13: attributes that became inputs (Clip, Pad, Dropout, Squeeze, Unsqueeze, Split,
 * ReduceSum), Softmax-family axis semantics, Resize-10 and Upsample → Resize-11. Walks subgraphs.
 */
import { attr } from '../../onnx/attr.js';
import { type Graph, type Model, type Node, attrInt, attrInts, attrString, walkGraphs } from '../../onnx/ir.js';
import { Tensor } from '../../onnx/tensor.js';
import { GraphBuilder } from '../../onnx/builder.js';

/** Result of `upgradeOpset`. */
export interface UpgradeResult {
  from: number;
  to: number;
  /** Nodes rewritten, as `OpType 'name'`. */
  rewritten: string[];
}

/**
 * Rewrites `model` in place from its opset (≥ 10) to `target` (13). Returns undefined (and leaves the model
 * untouched) when it already is at or above `target`. Throws when an op cannot be upgraded safely.
 */
export function upgradeOpset(model: Model, target = 13): UpgradeResult | undefined {
  const from = model.opset;
  if (from >= target) return undefined;
  const rewritten: string[] = [];
  for (const g of [...walkGraphs(model.graph)]) {
    const out: Node[] = [];
    for (const n of g.nodes) {
      if (n.domain !== '') {
        out.push(n);
        continue;
      }
      const extra = rewrite(g, n, from);
      if (extra === undefined) out.push(n);
      else {
        out.push(...extra);
        rewritten.push(`${n.opType} '${n.name}'`);
      }
    }
    g.nodes = out;
  }
  model.opsets.set('', target);
  return { from, to: target, rewritten };
}

function constInput(g: Graph, base: string, t: Tensor): string {
  const b = new GraphBuilder({ graph: g });
  return b.constant(t, base);
}

/** Returns replacement nodes for `n`, or undefined when it needs no change. */
function rewrite(g: Graph, n: Node, from: number): Node[] | undefined {
  const a = n.attributes;
  const take = (k: string): void => {
    delete a[k];
  };
  switch (n.opType) {
    case 'Clip': {
      if (from >= 11) return undefined;
      const min = a.min?.type === 'float' ? a.min.value : undefined;
      const max = a.max?.type === 'float' ? a.max.value : undefined;
      take('min');
      take('max');
      n.inputs = [n.inputs[0]!, min === undefined ? '' : constInput(g, `${n.name}_min`, Tensor.f32([], [min])), max === undefined ? '' : constInput(g, `${n.name}_max`, Tensor.f32([], [max]))];
      while (n.inputs.length > 1 && n.inputs[n.inputs.length - 1] === '') n.inputs.pop();
      return [n];
    }
    case 'Pad': {
      if (from >= 11) return undefined;
      const pads = attrInts(n, 'pads') ?? [];
      const value = a.value?.type === 'float' ? a.value.value : 0;
      take('pads');
      take('value');
      n.inputs = [n.inputs[0]!, constInput(g, `${n.name}_pads`, Tensor.i64([pads.length], pads)), constInput(g, `${n.name}_value`, Tensor.f32([], [value]))];
      return [n];
    }
    case 'Dropout': {
      if (from >= 12) return undefined;
      const ratio = a.ratio?.type === 'float' ? a.ratio.value : 0.5;
      take('ratio');
      n.inputs = [n.inputs[0]!, constInput(g, `${n.name}_ratio`, Tensor.f32([], [ratio]))];
      return [n];
    }
    case 'Squeeze':
    case 'Unsqueeze':
    case 'ReduceSum': {
      const axes = attrInts(n, 'axes');
      if (axes === undefined) return undefined;
      take('axes');
      n.inputs = [n.inputs[0]!, constInput(g, `${n.name}_axes`, Tensor.i64([axes.length], axes))];
      return [n];
    }
    case 'Split': {
      const split = attrInts(n, 'split');
      if (split === undefined) return undefined;
      take('split');
      n.inputs = [n.inputs[0]!, constInput(g, `${n.name}_split`, Tensor.i64([split.length], split))];
      return [n];
    }
    case 'Softmax':
    case 'LogSoftmax':
    case 'Hardmax':
      return softmaxAxis(g, n);
    case 'Upsample':
    case 'Resize': {
      if (from >= 11 && n.opType === 'Resize') return undefined;
      n.opType = 'Resize';
      // Resize-10 (X, scales) behaves like Resize-11 with asymmetric coordinates and floor rounding.
      const mode = attrString(n, 'mode', 'nearest');
      a.coordinate_transformation_mode = attr.string('asymmetric');
      if (mode === 'nearest') a.nearest_mode = attr.string('floor');
      n.inputs = [n.inputs[0]!, '', n.inputs[1]!];
      return [n];
    }
    default:
      return undefined;
  }
}

/**
 * Before opset 13, Softmax(axis=k) flattened the input to 2-D at k. When the rank is known and k is the
 * last axis, the new single-axis form is the same; otherwise emit Flatten → Softmax(-1) → Reshape(Shape(x)).
 */
function softmaxAxis(g: Graph, n: Node): Node[] {
  const axis = attrInt(n, 'axis', 1);
  const rank = g.typeOf(n.inputs[0]!)?.shape?.length;
  if (rank !== undefined && (axis === rank - 1 || axis === -1)) {
    n.attributes.axis = attr.int(-1);
    return [n];
  }
  const b = new GraphBuilder({ graph: g, prefix: `${n.name || n.opType}/` });
  const x = n.inputs[0]!;
  const before = g.nodes.length;
  const flat = b.flatten(x, axis);
  const sm = b.op1(n.opType, [flat], { axis: attr.int(-1) });
  b.reshape(sm, b.shape(x));
  // The new nodes were appended; move them to where the old node stood and give the last its output.
  const made = g.nodes.splice(before);
  made[made.length - 1]!.outputs = [n.outputs[0]!];
  return made;
}
