/**
 * Layers for recommenders. `DotInteraction` is DLRM's feature interaction (Naumov et al. 2019): the
 * per-sample input is F vectors of width D laid end to end (the bottom MLP's output first, then one
 * embedding per sparse field — what a `Network`'s branches concatenate); the output is the first
 * vector followed by the F·(F−1)/2 pairwise dot products ⟨x_i, x_j⟩, i < j.
 */
import { Tensor } from '../onnx/tensor.js';
import { TrainferError } from '../util/errors.js';
import { type BuildContext, type ForwardContext, type Layer, fmtShape } from './layer.js';

/** Options for `DotInteraction`. */
export interface DotInteractionOptions {
  /** Number of vectors F (dense bottom output + sparse fields). */
  fields: number;
  /** Width D of each vector. */
  dim: number;
}

/** DLRM's pairwise dot interaction: [F·D] → [D + F(F−1)/2]. */
export class DotInteraction implements Layer {
  readonly type = 'DotInteraction';
  constructor(readonly options: DotInteractionOptions) {
    if (!(options.fields >= 2 && options.dim >= 1)) throw new TrainferError(`DotInteraction: needs ≥ 2 fields of width ≥ 1, got ${options.fields} × ${options.dim}`);
  }
  build(_ctx: BuildContext, inputShape: readonly number[]): number[] {
    const { fields: f, dim: d } = this.options;
    if (inputShape.length !== 1 || inputShape[0] !== f * d) throw new TrainferError(`DotInteraction: expects [${f * d}] per sample (${f} fields × ${d}), got ${fmtShape(inputShape)}`);
    return [d + (f * (f - 1)) / 2];
  }
  forward(ctx: ForwardContext, x: string): string {
    const { g } = ctx;
    const { fields: f, dim: d } = this.options;
    // x [N, F·D] → [N, F, D]; Z = X·Xᵀ [N, F, F]; keep the strictly upper triangle.
    const v = g.reshape(x, [-1, f, d]);
    const z = g.matMul(v, g.transpose(v, [0, 2, 1]));
    // The upper triangle through a constant 0/1 selection matrix [F·F, P] (a MatMul: its gradient needs no
    // static batch size, unlike a Gather along axis 1).
    const p = (f * (f - 1)) / 2;
    const select = new Float32Array(f * f * p);
    let c = 0;
    for (let i = 0; i < f; i++) for (let j = i + 1; j < f; j++) select[(i * f + j) * p + c++] = 1;
    const pairs = g.matMul(g.reshape(z, [-1, f * f]), g.constant(new Tensor('float32', [f * f, p], select), 'triu_select'));
    const dense = g.slice(x, [0], [d], [1]);
    return g.concat([dense, pairs], -1);
  }
  describe(): string {
    return `DotInteraction(${this.options.fields} × ${this.options.dim} → ${this.options.dim + (this.options.fields * (this.options.fields - 1)) / 2})`;
  }
}
