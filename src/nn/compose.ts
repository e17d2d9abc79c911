/**
 * Composition: `Sequential` runs layers in order; `Residual` adds its input to the output of a body
 * (y = x + body(x)), with an optional projection when the body changes the shape.
 */
import { TrainferError } from '../util/errors.js';
import { type BuildContext, type ForwardContext, type Layer, fmtShape, layerOptions } from './layer.js';

/** Options for `Sequential`. */
export interface SequentialOptions {
  /** The layers, applied in order. */
  layers: readonly Layer[];
}

/** Layers applied one after another: `new Sequential({ layers: [...] })`. */
export class Sequential implements Layer {
  readonly type = 'Sequential';
  readonly layers: readonly Layer[];
  constructor(readonly options: SequentialOptions) {
    layerOptions('Sequential', options, 'new Sequential({ layers: [new Linear({ outFeatures: 8 }), new ReLU()] })');
    if (!Array.isArray(options.layers)) throw new TrainferError('Sequential: layers must be an array of layers');
    this.layers = [...options.layers];
  }
  build(ctx: BuildContext, inputShape: readonly number[]): number[] {
    let s = [...inputShape];
    for (const l of this.layers) s = l.build(ctx, s);
    return s;
  }
  forward(ctx: ForwardContext, x: string): string {
    let v = x;
    for (const l of this.layers) v = l.forward(ctx, v);
    return v;
  }
  describe(): string {
    return `Sequential(${this.layers.map((l) => l.describe()).join(', ')})`;
  }
}

/** Options for `Residual`. */
export interface ResidualOptions {
  /** The residual branch. */
  body: readonly Layer[];
  /** Layers on the skip path, needed when the body changes the shape (e.g. a bias-free Linear). */
  projection?: readonly Layer[];
}

/** y = x + body(x), or y = projection(x) + body(x) when a projection is given. */
export class Residual implements Layer {
  readonly type = 'Residual';
  private readonly body: Sequential;
  private readonly projection?: Sequential;
  constructor(readonly options: ResidualOptions) {
    layerOptions('Residual', options, 'new Residual({ body: [new Linear({ outFeatures: 8 })] })');
    this.body = new Sequential({ layers: options.body });
    if (options.projection) this.projection = new Sequential({ layers: options.projection });
  }
  build(ctx: BuildContext, inputShape: readonly number[]): number[] {
    const out = this.body.build(ctx, inputShape);
    const skip = this.projection ? this.projection.build(ctx, inputShape) : [...inputShape];
    if (out.join(',') !== skip.join(',')) {
      throw new TrainferError(`Residual: body maps ${fmtShape(inputShape)} to ${fmtShape(out)} but the skip path gives ${fmtShape(skip)} (add a projection)`);
    }
    return out;
  }
  forward(ctx: ForwardContext, x: string): string {
    const y = this.body.forward(ctx, x);
    const skip = this.projection ? this.projection.forward(ctx, x) : x;
    return ctx.g.add(skip, y);
  }
  describe(): string {
    return `Residual(${this.body.describe()})`;
  }
}
