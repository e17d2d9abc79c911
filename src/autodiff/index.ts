/**
 * Autodiff public API: reverse-mode gradients over ONNX graphs, losses, optimizer updates and the
 * one-graph training step.
 */
export type { OptimizerConfig, SgdConfig, AdamConfig, TrainStep, TrainStepOptions, StateSlot, Buffer, Formulations } from './types.js';
export { gradients } from './gradients.js';
export type { GradientsOptions } from './gradients.js';
export { VJP_RULES, STOP_GRADIENT_INPUTS } from './rules/index.js';
export type { DifferentiableOp } from './rules/index.js';
export type { VjpRule, VjpContext } from './rule-context.js';
export { softmaxCrossEntropy, mse, mae, huber, binaryCrossEntropy, klDivergence } from './losses.js';
export type { SoftmaxCrossEntropyOptions, KlDivergenceOptions, RegressionLossOptions, BinaryCrossEntropyOptions } from './losses.js';
export { buildTrainStep, cloneGraph } from './train-step.js';
export { inferTypes } from './shapes.js';
export type { TypeMap } from './shapes.js';
export { checkGradients } from './gradcheck.js';
export type { GradCheckOptions, GradCheckResult } from './gradcheck.js';
