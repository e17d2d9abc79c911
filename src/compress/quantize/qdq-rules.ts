/**
 * Which operators static QDQ quantization covers, and how: which inputs are activations, which is a
 * weight (and its per-channel axis), which is a bias (int32), and what happens to the output. One
 * static table; `qdq.ts` walks the graph with it.
 */
import { type Node, attrInt } from '../../onnx/ir.js';
import type { Tensor } from '../../onnx/tensor.js';

/**
 * Output handling:
 * - `quantize`: the output gets its own calibrated Q/DQ (needed for ORT's QLinear* fusions, e.g. QLinearConv);
 * - `optional`: quantized only when a quantized op consumes it (MatMul/Gemm fuse with float outputs too);
 * - `share`: the output reuses the input's scale/zero point (pass-through ops: MaxPool, Reshape, …);
 * - `softmax`: fixed range [0, 1].
 */
export type OutputRule = 'quantize' | 'optional' | 'share' | 'softmax';

/** How one op type is quantized. */
export interface QdqRule {
  /** Input slots that carry float activations (quantized per tensor with calibrated ranges). */
  acts: (n: Node) => number[];
  /** Input slot holding a weight initializer and the channel axis for per-channel scales. */
  weight?: { index: number; axis: (n: Node, w: Tensor) => number | undefined };
  /** Input slot holding a bias initializer, quantized to int32 with scale = x_scale · w_scale. */
  bias?: number;
  output: OutputRule;
  /**
   * Light ops (everything but Conv/ConvTranspose/MatMul/Gemm) are quantized only when an input already is:
   * int8 elementwise/pooling pays off only inside an int8 region, never as a float → int8 → float detour.
   */
  light?: boolean;
}

const first = (): number[] => [0];
const all = (n: Node): number[] => n.inputs.map((_, i) => i).filter((i) => n.inputs[i] !== '');

/** The ops static quantization covers. */
export const QDQ_RULES = {
  Conv: { acts: first, weight: { index: 1, axis: () => 0 }, bias: 2, output: 'quantize' },
  // ConvTranspose weights are [C_in, C_out/group, k…]: per output channel is axis 1 (only with group 1).
  ConvTranspose: { acts: first, weight: { index: 1, axis: (n) => (attrInt(n, 'group', 1) === 1 ? 1 : undefined) }, bias: 2, output: 'quantize' },
  MatMul: { acts: all, weight: { index: 1, axis: (_n, w) => (w.dims.length === 2 ? 1 : undefined) }, output: 'optional' },
  Gemm: { acts: first, weight: { index: 1, axis: (n) => (attrInt(n, 'transB', 0) ? 0 : 1) }, bias: 2, output: 'optional' },
  Add: { acts: all, output: 'quantize', light: true },
  Mul: { acts: all, output: 'quantize', light: true },
  Relu: { acts: first, output: 'quantize', light: true },
  Clip: { acts: first, output: 'quantize', light: true },
  MaxPool: { acts: first, output: 'share', light: true },
  AveragePool: { acts: first, output: 'quantize', light: true },
  GlobalAveragePool: { acts: first, output: 'quantize', light: true },
  Concat: { acts: all, output: 'quantize', light: true },
  Reshape: { acts: first, output: 'share', light: true },
  Transpose: { acts: first, output: 'share', light: true },
  Flatten: { acts: first, output: 'share', light: true },
  Squeeze: { acts: first, output: 'share', light: true },
  Unsqueeze: { acts: first, output: 'share', light: true },
  Resize: { acts: first, output: 'share', light: true },
  Softmax: { acts: first, output: 'softmax', light: true },
  Gather: { acts: first, output: 'share' },
} as const satisfies Record<string, QdqRule>;

/** An op type static quantization covers. */
export type QdqOp = keyof typeof QDQ_RULES;

/** The rule for a node, if its op is covered (default domain only). */
export function ruleFor(n: Node): QdqRule | undefined {
  if (n.domain !== '' || !Object.prototype.hasOwnProperty.call(QDQ_RULES, n.opType)) return undefined;
  return QDQ_RULES[n.opType as QdqOp];
}

/** Ops after which a Relu (or Clip with min 0) can be folded into the output quantization. */
export const RELU_FOLD_PRODUCERS = new Set(['Conv', 'ConvTranspose', 'MatMul', 'Gemm', 'Add', 'Mul', 'AveragePool', 'GlobalAveragePool', 'Concat']);
