/**
 * THE rule table: op type → vector-Jacobian rule. One static literal assembled from the per-family files;
 * adding an op's gradient means adding one entry in one of them (see docs/autodiff.md).
 */
import type { VjpRule } from '../rule-context.js';
import { ACTIVATION_RULES } from './activation.js';
import { CONV_RULES } from './conv.js';
import { ELEMENTWISE_RULES } from './elementwise.js';
import { LINALG_RULES } from './linalg.js';
import { LOSS_RULES } from './loss.js';
import { NORM_RULES } from './norm.js';
import { QUANT_RULES } from './quant.js';
import { REDUCE_RULES } from './reduce.js';
import { SHAPE_RULES } from './shape.js';

/** Vector-Jacobian rules by ONNX op type (default domain). */
export const VJP_RULES = {
  ...ELEMENTWISE_RULES,
  ...ACTIVATION_RULES,
  ...LINALG_RULES,
  ...SHAPE_RULES,
  ...REDUCE_RULES,
  ...CONV_RULES,
  ...NORM_RULES,
  ...LOSS_RULES,
  ...QUANT_RULES,
} satisfies Record<string, VjpRule>;

/** Op types that have a gradient rule. */
export type DifferentiableOp = keyof typeof VJP_RULES;

/**
 * Inputs a rule leaves without a gradient on purpose, by op: the straight-through estimator treats the
 * scale and zero point of QuantizeLinear/DequantizeLinear as constants (the standard QAT convention).
 * Any other needed input without a gradient is an error in `gradients`, never a silent zero.
 */
export const STOP_GRADIENT_INPUTS = {
  QuantizeLinear: [1, 2],
  DequantizeLinear: [1, 2],
} as const satisfies Partial<Record<DifferentiableOp, readonly number[]>>;
