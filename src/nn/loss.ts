/**
 * Tasks, loss specs and attaching losses to a model's heads. A head (named output) has a task —
 * multi-class classification, binary, multi-label or regression — which decides its default loss, its
 * target's dtype and shape, and what the exported model adds after it (softmax, sigmoid or nothing).
 * `attachLosses` adds one target input per head (or the targets a custom loss declares) and the weighted
 * sum of the head losses; the loss math comes from `src/autodiff/losses.ts`.
 */
import type { GraphBuilder } from '../onnx/builder.js';
import type { DType } from '../onnx/dtype.js';
import { Tensor } from '../onnx/tensor.js';
import { TrainferError } from '../util/errors.js';
import { binaryCrossEntropy, huber, mae, mse, softmaxCrossEntropy } from '../autodiff/index.js';

/** What a head predicts. */
export type Task = 'classification' | 'binary' | 'multilabel' | 'regression';

/** Task names, for flags and messages. */
export const TASKS: readonly Task[] = ['classification', 'binary', 'multilabel', 'regression'];

/** A target a custom loss takes (a graph input fed per batch from columns or a provider). */
export interface TargetSpec {
  name: string;
  dtype: DType;
  /** Per-sample dims; strings are symbolic. */
  shape: readonly (number | string)[];
}

/**
 * A custom loss as a graph function: given the heads' values and the declared targets (graph value
 * names), emit nodes with `g` and return the name of a float scalar.
 *
 * @example
 * const distill: CustomLoss = (g, { outputs, targets }) =>
 *   klDivergence(g, { studentLogits: outputs.logits!, teacherLogits: targets.teacher!, temperature: 2 });
 */
export type CustomLoss = (g: GraphBuilder, io: { outputs: Readonly<Record<string, string>>; targets: Readonly<Record<string, string>> }) => string;

/** A loss on one head (or, for `custom`, on any heads). */
export type LossSpec =
  /** Softmax cross-entropy on [classes] logits against int64 class ids. */
  | { type: 'cross-entropy'; labelSmoothing?: number; classWeights?: readonly number[] }
  /** Sigmoid binary cross-entropy on logits against 0/1 (or soft) targets of the same shape. */
  | { type: 'bce'; posWeight?: number | readonly number[] }
  /** Regression losses; residuals are divided by `scale` (e.g. the targets' std) first. */
  | { type: 'mse'; scale?: number | readonly number[] }
  | { type: 'mae'; scale?: number | readonly number[] }
  | { type: 'huber'; delta?: number; scale?: number | readonly number[] }
  /** Any loss written as graph nodes, with its own targets. */
  | { type: 'custom'; fn: CustomLoss; targets: readonly TargetSpec[]; name?: string };

/** Loss names a user can pick (`--loss`). */
export const LOSS_NAMES = ['cross-entropy', 'bce', 'mse', 'mae', 'huber'] as const;

/** One loss term of the training objective. */
export interface HeadLoss {
  /** The head it applies to (default: the model's first). Ignored by custom losses, which see every head. */
  head?: string;
  loss: LossSpec;
  /** Weight in the total loss (default 1). */
  weight?: number;
}

/** A head as the loss sees it: its value in the graph, task and per-sample shape. */
export interface HeadValue {
  name: string;
  /** Graph value holding the head's raw output (logits / predictions). */
  value: string;
  task: Task;
  shape: readonly (number | string)[];
}

/** The default loss of a task. */
export function defaultLoss(task: Task): LossSpec {
  if (task === 'classification') return { type: 'cross-entropy' };
  if (task === 'regression') return { type: 'mse' };
  return { type: 'bce' };
}

/** The name of the target input of head `i` (`target` for the first head, `<head>_target` for others). */
export function targetName(head: string, i: number): string {
  return i === 0 ? 'target' : `${head}_target`;
}

/** The dtype and per-sample shape the target of `loss` on `head` takes. */
export function targetSpecFor(head: HeadValue, loss: LossSpec): { dtype: DType; shape: (number | string)[] } {
  if (loss.type === 'cross-entropy') {
    const s = head.shape;
    if (s.length === 0) throw new TrainferError(`loss cross-entropy needs [classes] logits but head '${head.name}' gives a single value per sample (for a yes/no target use --task binary / loss bce)`);
    const classes = s[0];
    if (typeof classes === 'number' && classes < 2) throw new TrainferError(`loss cross-entropy needs ≥ 2 classes but head '${head.name}' gives [${s.join(', ')}] per sample (one logit: use --task binary / loss bce)`);
    return { dtype: 'int64', shape: s.slice(1) };
  }
  if (loss.type === 'custom') throw new Error('custom losses declare their own targets');
  return { dtype: 'float32', shape: [...head.shape] };
}

/** Options for `attachLosses`. */
export interface AttachLossesOptions {
  heads: readonly HeadValue[];
  losses: readonly HeadLoss[];
}

/** What `attachLosses` added. */
export interface AttachedLosses {
  /** Scalar total loss. */
  loss: string;
  /** Target inputs added (in order), with the head each belongs to (custom losses: none). */
  targets: (TargetSpec & { head?: string })[];
}

/**
 * Adds target inputs [batch, …] and the weighted sum of the losses. A built-in loss gets one target
 * named by `targetName`; a custom loss declares its targets (shared by name across terms).
 */
export function attachLosses(g: GraphBuilder, o: AttachLossesOptions): AttachedLosses {
  if (o.losses.length === 0) throw new TrainferError('no loss to train: give at least one');
  const byName = new Map(o.heads.map((h) => [h.name, h]));
  const targets: AttachedLosses['targets'] = [];
  const declared = new Map<string, string>();
  const terms: string[] = [];
  o.losses.forEach((hl, i) => {
    const w = hl.weight ?? 1;
    if (!(Number.isFinite(w) && w >= 0)) throw new TrainferError(`loss weight must be a non-negative number, got ${w}`);
    let term: string;
    if (hl.loss.type === 'custom') {
      const tv: Record<string, string> = {};
      for (const t of hl.loss.targets) {
        if (!declared.has(t.name)) {
          const name = g.input(t.name, t.dtype, ['batch', ...t.shape]);
          declared.set(t.name, name);
          targets.push({ ...t, shape: [...t.shape] });
        }
        tv[t.name] = declared.get(t.name)!;
      }
      term = hl.loss.fn(g, { outputs: Object.fromEntries(o.heads.map((h) => [h.name, h.value])), targets: tv });
      if (typeof term !== 'string' || !term) throw new TrainferError(`custom loss${hl.loss.name ? ` '${hl.loss.name}'` : ''} returned no value name`);
    } else {
      const head = hl.head ? byName.get(hl.head) : o.heads[0];
      if (!head) throw new TrainferError(`loss on head '${hl.head}': the model has no head of that name (heads: ${o.heads.map((h) => h.name).join(', ')})`);
      const spec = targetSpecFor(head, hl.loss);
      const wanted = targetName(head.name, o.heads.indexOf(head));
      if (declared.has(wanted)) throw new TrainferError(`two losses on head '${head.name}': give one, or combine them in a custom loss`);
      // A model input may already be called `target`: the loss target then gets a fresh name.
      const name = g.graph.uniqueName(wanted);
      const t = g.input(name, spec.dtype, ['batch', ...spec.shape]);
      declared.set(wanted, t);
      targets.push({ name, dtype: spec.dtype, shape: spec.shape, head: head.name });
      term = builtinLoss(g, head, hl.loss, t);
    }
    terms.push(w === 1 ? term : g.mul(term, g.constant(Tensor.scalar('float32', w), `loss_weight_${i}`)));
  });
  const loss = terms.length === 1 ? terms[0]! : g.op1('Sum', terms);
  return { loss, targets };
}

function builtinLoss(g: GraphBuilder, head: HeadValue, l: Exclude<LossSpec, { type: 'custom' }>, target: string): string {
  const classes = head.shape[0];
  switch (l.type) {
    case 'cross-entropy':
      if (l.classWeights && typeof classes === 'number' && l.classWeights.length !== classes) {
        throw new TrainferError(`class weights: ${l.classWeights.length} given but head '${head.name}' has ${classes} classes`);
      }
      return softmaxCrossEntropy(g, { logits: head.value, labels: target, labelSmoothing: l.labelSmoothing, classWeights: l.classWeights });
    case 'bce':
      if (Array.isArray(l.posWeight) && typeof classes === 'number' && l.posWeight.length !== 1 && l.posWeight.length !== classes) {
        throw new TrainferError(`pos weights: ${l.posWeight.length} given but head '${head.name}' has ${classes} outputs`);
      }
      return binaryCrossEntropy(g, { logits: head.value, target, posWeight: l.posWeight });
    case 'mse':
      return mse(g, { pred: head.value, target, scale: l.scale });
    case 'mae':
      return mae(g, { pred: head.value, target, scale: l.scale });
    case 'huber':
      return huber(g, { pred: head.value, target, scale: l.scale, delta: l.delta });
  }
}

/** A JSON description of a loss (custom losses by name), for fingerprints and model metadata. */
export function describeLoss(l: LossSpec): Record<string, unknown> {
  if (l.type === 'custom') return { type: 'custom', name: l.name ?? 'custom', targets: l.targets.map((t) => ({ name: t.name, dtype: t.dtype, shape: [...t.shape] })) };
  return { ...l };
}
