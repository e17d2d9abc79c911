/**
 * `MagnitudePruning`: the training extension that prunes while fit trains. It asks autodiff for
 * `paramMasks` on the prunable weights, owns the mask buffers the step graph reads, and before each step
 * of the schedule recomputes them from the current weights by magnitude (layer-wise or global). Between
 * pruning steps the masks stay fixed, and the step graph keeps masked weights and their optimizer state
 * at exactly 0. On the first step the masks start from the weights' own zeros, so an already sparse model
 * (or a resumed run, whose pruned weights are exactly 0) keeps what it had pruned.
 */
import type { TrainStep } from '../../autodiff/types.js';
import { Tensor } from '../../onnx/tensor.js';
import { TrainferError } from '../../util/errors.js';
import type { StepContext, TrainingExtension } from '../../train/extension.js';
import type { StepFeed } from '../../train/step-runner.js';
import { magnitudeMasks } from './magnitude.js';
import { type SparsitySchedule, checkSparsity, isPruningStep, resolveSchedule, sparsityAt } from './schedule.js';

/** Options for `MagnitudePruning`. */
export interface MagnitudePruningOptions {
  /** The weights to prune (e.g. `prunableWeights(model).map((w) => w.name)`). */
  params: readonly string[];
  /** Final sparsity s_f in [0, 1). */
  sparsity: number;
  /** `gradual` (Zhu & Gupta, default) or `oneshot` (the final masks before the first step, then fixed). */
  schedule?: 'gradual' | 'oneshot';
  /** `layer` (default): every tensor reaches the sparsity; `global`: one threshold over all of them. */
  scope?: 'layer' | 'global';
  /** Gradual: s_i (default 0), t0 (default step 1), last pruning step (default 75% of the run), Δt (default: ~32 updates). */
  initialSparsity?: number;
  begin?: number;
  end?: number;
  frequency?: number;
}

/** Magnitude pruning as a fit extension: pass it in `fit({ extensions: [pruning] })`. */
export class MagnitudePruning implements TrainingExtension {
  readonly name = 'magnitude-pruning';
  private readonly o: MagnitudePruningOptions;
  private readonly buffers = new Map<string, Float32Array | Float64Array>();
  private resolved?: SparsitySchedule;
  private started = false;
  /** Sparsity targets applied so far, by step (for reports and tests). */
  readonly history: { step: number; sparsity: number }[] = [];

  constructor(o: MagnitudePruningOptions) {
    checkSparsity(o.sparsity);
    if (o.params.length === 0) throw new TrainferError('magnitude pruning: no weights to prune');
    this.o = o;
  }

  stepOptions(): { paramMasks: readonly string[] } {
    return { paramMasks: this.o.params };
  }

  stepFeeds(o: { step: TrainStep; batchSize: number }): StepFeed[] {
    const feeds: StepFeed[] = [];
    for (const m of o.step.masks ?? []) {
      if (!this.o.params.includes(m.param)) continue;
      const init = o.step.state.find((s) => s.kind === 'param' && s.input === m.param)!.initial;
      const buf = init.dtype === 'float64' ? new Float64Array(init.size).fill(1) : new Float32Array(init.size).fill(1);
      this.buffers.set(m.param, buf);
      feeds.push({ name: m.input, dtype: init.dtype, data: buf, dims: [...init.dims] });
    }
    return feeds;
  }

  beforeStep(ctx: StepContext): void {
    this.resolved ??= resolveSchedule({ kind: this.o.schedule ?? 'gradual', final: this.o.sparsity, initial: this.o.initialSparsity, begin: this.o.begin, end: this.o.end, frequency: this.o.frequency, totalSteps: ctx.totalSteps });
    const s = this.resolved;
    const prune = isPruningStep(s, ctx.step);
    if (this.started && !prune) return;
    const weights = ctx.weights();
    if (!this.started) {
      // Start from the weights' own zeros (an already sparse input, or a resumed run).
      for (const [name, buf] of this.buffers) {
        const w = weights.get(name)!.data as Float32Array;
        for (let i = 0; i < buf.length; i++) buf[i] = w[i] === 0 ? 0 : 1;
      }
      this.started = true;
      if (!prune) return;
    }
    const target = sparsityAt(s, ctx.step);
    const masks = magnitudeMasks({ weights: this.masked(weights), names: [...this.buffers.keys()], sparsity: target, scope: this.o.scope });
    for (const [name, m] of masks) {
      const buf = this.buffers.get(name)!;
      for (let i = 0; i < buf.length; i++) buf[i] = buf[i]! * m[i]!;
    }
    this.history.push({ step: ctx.step, sparsity: target });
  }

  /** The weights with the current masks applied (a newly masked weight may not be zero yet in the runner). */
  private masked(weights: Map<string, Tensor>): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [name, buf] of this.buffers) {
      const w = weights.get(name)!;
      const d = (w.data as Float32Array).slice();
      for (let i = 0; i < d.length; i++) if (buf[i] === 0) d[i] = 0;
      out.set(name, new Tensor(w.dtype, w.dims, d));
    }
    return out;
  }

  finalizeWeights(weights: Map<string, Tensor>): Map<string, Tensor> {
    return this.started ? new Map([...weights, ...this.masked(weights)]) : weights;
  }

  /** The current masks (1 = kept), by weight name. */
  masks(): ReadonlyMap<string, Float32Array | Float64Array> {
    return this.buffers;
  }

  /** The resolved schedule (after the first step). */
  schedule(): SparsitySchedule | undefined {
    return this.resolved;
  }

  fingerprint(): unknown {
    const { params, ...rest } = this.o;
    return { params: params.length, ...rest };
  }
}

/** Training with fixed 0/1 masks (e.g. a codebook's zero entry that must stay 0): `paramMasks` fed the same every step. */
export class FixedMasks implements TrainingExtension {
  readonly name = 'fixed-masks';
  constructor(private readonly masks: ReadonlyMap<string, Float32Array>) {}

  stepOptions(): { paramMasks: readonly string[] } {
    return { paramMasks: [...this.masks.keys()] };
  }

  stepFeeds(o: { step: TrainStep; batchSize: number }): StepFeed[] {
    return (o.step.masks ?? []).filter((m) => this.masks.has(m.param)).map((m) => {
      const init = o.step.state.find((s) => s.kind === 'param' && s.input === m.param)!.initial;
      return { name: m.input, dtype: init.dtype, data: this.masks.get(m.param)!.slice(), dims: [...init.dims] };
    });
  }

  fingerprint(): unknown {
    return [...this.masks].map(([k, m]) => [k, m.reduce((s, x) => s + x, 0)]);
  }
}
