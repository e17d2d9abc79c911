/**
 * What a vector-Jacobian rule sees (`VjpContext`) and the helpers rules share: typed constants, static
 * shapes, undoing broadcasting, reshaping back to an input's shape. Rules live in `rules/*.ts`.
 */
import type { Dim, Node } from '../onnx/ir.js';
import type { GraphBuilder } from '../onnx/builder.js';
import type { DType } from '../onnx/dtype.js';
import { Tensor } from '../onnx/tensor.js';
import { TrainferError } from '../util/errors.js';
import type { Formulations } from './types.js';
import type { TypeMap } from './shapes.js';

/** Everything a rule needs to emit the gradients of one forward node. */
export interface VjpContext {
  /** The forward node (its inputs and outputs are forward values the rule may reuse). */
  node: Node;
  /** Upstream gradient per output (`undefined` when that output does not reach the loss). */
  dy: (string | undefined)[];
  /** Which inputs need a gradient (on a path from a `wrt` value). Rules may skip the others. */
  needs: boolean[];
  /** Emits backward nodes (names carry the `grad/` prefix). */
  b: GraphBuilder;
  /** Static dtype/shape of forward values. */
  types: TypeMap;
  /** Constant initializers of the forward graph (shape/axes inputs are read from here). */
  inits: ReadonlyMap<string, Tensor>;
  /** Choices between equivalent backward formulations (defaults: the fastest measured, bench/conv-step.ts). */
  formulations: Formulations;
}


/** A vector-Jacobian product: gradients per input (`undefined` = none / not differentiable). */
export type VjpRule = (ctx: VjpContext) => (string | undefined)[];

/** The dtype of a value (float32 when unknown). */
export function dtypeOf(ctx: VjpContext, name: string): DType {
  return ctx.types.get(name)?.dtype ?? 'float32';
}

/** The static shape of a value, or throws naming the node when the rank is unknown. */
export function shapeOf(ctx: VjpContext, name: string): Dim[] {
  const s = ctx.types.get(name)?.shape;
  if (!s) throw new TrainferError(`autodiff: the rank of '${name}' (input of ${ctx.node.opType} node '${ctx.node.name}') is unknown; declare its shape in value_info`);
  return s;
}

/** A scalar constant with the dtype of `like`. */
export function scalarLike(ctx: VjpContext, value: number, like: string): string {
  return ctx.b.constant(Tensor.scalar(dtypeOf(ctx, like), value), 'c');
}

/** A constant tensor with the dtype of `like`. */
export function constLike(ctx: VjpContext, dims: readonly number[], values: ArrayLike<number>, like: string): string {
  const dtype = dtypeOf(ctx, like);
  return ctx.b.constant(dtype === 'float64' ? Tensor.f64(dims, values) : Tensor.f32(dims, values), 'c');
}

/** Reshapes `value` to `target`'s static shape (one unknown dim becomes -1; otherwise Shape(target)). */
export function reshapeTo(ctx: VjpContext, value: string, target: string): string {
  const s = ctx.types.get(target)?.shape;
  if (s) {
    const unknown = s.filter((d) => typeof d !== 'number').length;
    if (unknown <= 1) return ctx.b.reshape(value, s.map((d) => (typeof d === 'number' ? d : -1)));
  }
  return ctx.b.reshape(value, ctx.b.shape(target));
}

/**
 * Sums `grad` (shaped like `out`) over the axes along which `input` was broadcast, so it has `input`'s
 * shape. grad: out-shape → input-shape.
 */
export function unbroadcast(ctx: VjpContext, grad: string, input: string, out: string): string {
  const si = ctx.types.get(input)?.shape;
  const so = ctx.types.get(out)?.shape;
  if (!si || !so) {
    if (si && so === undefined) throw new TrainferError(`autodiff: the shape of '${out}' (${ctx.node.opType} node '${ctx.node.name}') is unknown; cannot undo broadcasting`);
    throw new TrainferError(`autodiff: the shape of '${input}' (input of ${ctx.node.opType} node '${ctx.node.name}') is unknown; cannot undo broadcasting`);
  }
  const lead = so.length - si.length;
  const axes: number[] = [];
  for (let i = 0; i < so.length; i++) {
    if (i < lead) axes.push(i);
    else if (si[i - lead] === 1 && so[i] !== 1) axes.push(i);
  }
  if (axes.length === 0) return grad;
  if (axes.every((a) => a < lead)) return ctx.b.reduceSum(grad, axes, false);
  const summed = ctx.b.reduceSum(grad, axes, true);
  return lead === 0 ? summed : reshapeTo(ctx, summed, input);
}

/** Sum of gradient contributions (one value, Add for two, Sum for more). */
export function sumAll(b: GraphBuilder, parts: readonly string[]): string {
  if (parts.length === 1) return parts[0]!;
  if (parts.length === 2) return b.add(parts[0]!, parts[1]!);
  return b.op1('Sum', parts);
}
