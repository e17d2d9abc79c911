/**
 * Attaching a classification loss to a network's logits: adds the int64 `labels` input and the scalar
 * loss. The loss math itself comes from `src/autodiff/losses.ts`.
 */
import type { GraphBuilder } from '../onnx/builder.js';
import { softmaxCrossEntropy } from '../autodiff/index.js';

/** Which loss to attach to classifier logits. */
export type LossSpec = { type: 'cross-entropy'; labelSmoothing?: number };

/** Adds a `labels` input [batch] (int64) and the loss over `logits`; returns both names. */
export function attachLoss(g: GraphBuilder, options: { logits: string; spec: LossSpec; labels?: string }): { loss: string; labels: string } {
  const labels = g.input(options.labels ?? 'labels', 'int64', ['batch']);
  const loss = softmaxCrossEntropy(g, { logits: options.logits, labels, labelSmoothing: options.spec.labelSmoothing });
  return { loss, labels };
}
