/**
 * The learning-rate range test (Smith 2017, "Cyclical Learning Rates"; fastai's lr_find): train from the
 * model's current weights for a few hundred steps while the learning rate grows exponentially from
 * `minLr` to `maxLr`, record the loss (and its bias-corrected exponential moving average), stop once the
 * smoothed loss exceeds 4× its minimum, put the original weights back, and suggest a rate: a tenth of
 * the rate at the smoothed minimum (the steepest-descent rate is reported beside it).
 */
import type { Tensor } from '../onnx/tensor.js';
import { TrainferError } from '../util/errors.js';
import type { TrainingExtension } from './extension.js';
import { type FitOptions, fit } from './fit.js';

/** Options for `findLr`: `fit`'s (data, model, batch size, optimizer…) plus the ramp. */
export interface FindLrOptions extends Omit<FitOptions, 'lr' | 'schedule' | 'epochs' | 'validation' | 'earlyStopping' | 'checkpointDir' | 'resume' | 'overwrite' | 'maxSteps' | 'keepBest' | 'saveTopK' | 'checkpointEverySteps'> {
  /** First learning rate (default 1e-6). */
  minLr?: number;
  /** Last learning rate (default 1). */
  maxLr?: number;
  /** Steps of the ramp (default 100; fewer when the loss diverges first). */
  steps?: number;
  /** Smoothing of the recorded loss, as fastai's (default 0.98; 0 = raw losses). */
  beta?: number;
}

/** One point of the curve. */
export interface LrPoint {
  step: number;
  lr: number;
  loss: number;
  /** Bias-corrected exponential moving average of the loss. */
  smoothed: number;
}

/** What `findLr` returns (and `trainfer train --find-lr --json` prints). */
export interface FindLrResult {
  points: LrPoint[];
  /** Rate at the lowest smoothed loss. */
  minLossLr: number;
  /** Rate where the smoothed loss falls fastest per decade of rate (before the minimum). */
  steepestLr: number;
  /** The suggestion: `minLossLr / 10`. */
  suggestedLr: number;
  /** True when the ramp stopped because the loss blew up (4× its minimum, or non-finite). */
  diverged: boolean;
}

/**
 * Runs the LR range test on `o.model` (whose weights are left as they were).
 *
 * @example
 * const r = await findLr({ model: net, train, batchSize: 128, optimizer: { type: 'adamw' } });
 * console.log(r.suggestedLr);
 */
export async function findLr(o: FindLrOptions): Promise<FindLrResult> {
  const minLr = o.minLr ?? 1e-6;
  const maxLr = o.maxLr ?? 1;
  const steps = o.steps ?? 100;
  const beta = o.beta ?? 0.98;
  if (!(minLr > 0 && maxLr > minLr)) throw new TrainferError(`--find-lr: needs 0 < min lr < max lr, got ${minLr} and ${maxLr}`);
  if (!(Number.isInteger(steps) && steps >= 5)) throw new TrainferError(`--find-lr: steps must be an integer ≥ 5, got ${steps}`);
  if (!(beta >= 0 && beta < 1)) throw new TrainferError(`--find-lr: beta must be in [0, 1), got ${beta}`);
  const batch = (o.batchSize ?? 128) * (o.accumulate ?? 1);
  const perEpoch = Math.floor(o.train.count / batch) * (o.accumulate ?? 1);
  if (perEpoch === 0) throw new TrainferError(`${o.train.source}: ${o.train.count} training samples are fewer than one batch of ${batch}`);
  const microSteps = steps * (o.accumulate ?? 1);
  const points: LrPoint[] = [];
  let saved: Map<string, Tensor> | undefined;
  let avg = 0;
  let best = Infinity;
  let diverged = false;
  const recorder: TrainingExtension = {
    name: 'lr-finder',
    prepareGraph: (ctx) => {
      saved = new Map(ctx.graph.initializers);
    },
    afterStep: ({ step, lr, loss }) => {
      avg = beta * avg + (1 - beta) * loss;
      const smoothed = avg / (1 - beta ** step);
      points.push({ step, lr, loss, smoothed });
      if (smoothed < best) best = smoothed;
      if (step > 5 && smoothed > 4 * best) {
        diverged = true;
        return 'stop';
      }
      return undefined;
    },
  };
  try {
    await fit({ ...o, lr: maxLr, schedule: { type: 'range', startFactor: minLr / maxLr }, epochs: Math.ceil(microSteps / perEpoch), maxSteps: microSteps, extensions: [...(o.extensions ?? []), recorder] });
  } catch (err) {
    // A non-finite loss ends the ramp like a blow-up does; anything else is a real error.
    if (!(err instanceof TrainferError && /^loss became/.test(err.message))) throw err;
    diverged = true;
  } finally {
    if (saved) o.model.setWeights(saved);
  }
  if (points.length < 2) throw new TrainferError(`--find-lr: the loss diverged within ${points.length} step(s) at lr ${minLr}; lower the minimum rate`);
  let iMin = 0;
  points.forEach((p, i) => { if (p.smoothed < points[iMin]!.smoothed) iMin = i; });
  // Steepest descent per decade of rate over the points before the minimum (5-point spacing against noise).
  let steepest = points[0]!.lr;
  let slope = Infinity;
  for (let i = 5; i <= iMin; i++) {
    const a = points[i - 5]!;
    const b = points[i]!;
    const s = (b.smoothed - a.smoothed) / Math.log10(b.lr / a.lr);
    if (s < slope) {
      slope = s;
      steepest = b.lr;
    }
  }
  const minLossLr = points[iMin]!.lr;
  return { points, minLossLr, steepestLr: steepest, suggestedLr: minLossLr / 10, diverged };
}
