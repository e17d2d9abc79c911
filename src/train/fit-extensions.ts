/**
 * How `fit` runs its extensions (extension.ts): the graph rewrite before autodiff, the extra step
 * inputs and fetches, the per-step hooks, the checkpointed state and the weights they contribute.
 * Kept beside fit.ts so the loop itself only calls these.
 */
import { allocate, type TypedArray } from '../onnx/dtype.js';
import type { Tensor } from '../onnx/tensor.js';
import type { TrainStep, TrainStepOptions } from '../autodiff/types.js';
import type { FeedPlan } from '../data/feed-plan.js';
import type { TrainingGraph } from '../nn/network.js';
import type { EpochContext, StepContext, TrainingExtension } from './extension.js';
import type { StepFeed, StepFetch } from './step-runner.js';

/** Extensions after `prepareGraph`: what the step builder and runner need, and the per-step hooks. */
export class ExtensionSet {
  /** Trainable parameters left to the step graph. */
  readonly params: string[];
  /** Extra step inputs (buffers allocated once). */
  readonly feeds: StepFeed[] = [];
  /** Extra float32 outputs fetched every step. */
  readonly fetch: StepFetch[] = [];
  /** Options merged into `buildTrainStep`'s. */
  readonly stepOptions: Partial<TrainStepOptions>;

  private constructor(readonly list: readonly TrainingExtension[], params: string[], stepOptions: Partial<TrainStepOptions>) {
    this.params = params;
    this.stepOptions = stepOptions;
  }

  /** Runs every extension's `prepareGraph` on the training graph (in order) and collects what they declare. */
  static prepare(list: readonly TrainingExtension[], tg: TrainingGraph, plan: FeedPlan, batchSize: number): ExtensionSet {
    let params = [...tg.params];
    const feeds: StepFeed[] = [];
    const fetch: StepFetch[] = [];
    const feedSpecs = plan.feeds.map((f) => ({ ...f.spec, shape: [...f.shape] }));
    for (const e of list) {
      const r = e.prepareGraph?.({ graph: tg.graph, params, feeds: feedSpecs, batchSize });
      if (!r) continue;
      const removed = new Set(r.removeParams ?? []);
      params = params.filter((p) => !removed.has(p));
      for (const f of r.feeds ?? []) feeds.push({ name: f.name, dtype: f.dtype, dims: [...f.dims], data: allocate(f.dtype, f.dims.reduce((a, b) => a * b, 1)) as TypedArray });
      for (const f of r.fetch ?? []) fetch.push({ name: f.name, dims: [...f.dims] });
    }
    const options = list.map((e) => e.stepOptions?.() ?? {});
    const merged: Partial<TrainStepOptions> = Object.assign({}, ...options);
    // List-valued options are concatenated across extensions, not overwritten.
    const gradOutputs = options.flatMap((x) => x.gradOutputs ?? []);
    const paramMasks = options.flatMap((x) => x.paramMasks ?? []);
    if (gradOutputs.length) merged.gradOutputs = gradOutputs;
    if (paramMasks.length) merged.paramMasks = paramMasks;
    const set = new ExtensionSet(list, params, merged);
    set.feeds.push(...feeds);
    set.fetch.push(...fetch);
    return set;
  }

  /** The feeds extensions declare once the step is built (`stepFeeds`, e.g. pruning masks). */
  stepFeeds(step: TrainStep, batchSize: number): StepFeed[] {
    return this.list.flatMap((e) => e.stepFeeds?.({ step, batchSize }) ?? []);
  }

  /** Fingerprint entries (none without extensions, so existing runs keep their fingerprints). */
  fingerprint(): Record<string, unknown> {
    return this.list.length ? { extensions: this.list.map((e) => ({ name: e.name, settings: e.fingerprint?.() ?? null })) } : {};
  }

  async before(ctx: StepContext): Promise<void> {
    for (const e of this.list) {
      const r = e.beforeStep?.(ctx);
      if (r) await r;
    }
  }

  /** Runs `afterStep` hooks; true when one asks to stop. */
  async after(ctx: StepContext, fetched: ReadonlyMap<string, Float32Array>, loss: number): Promise<boolean> {
    let stop = false;
    for (const e of this.list) if (e.afterStep && (await e.afterStep({ ...ctx, fetched, loss })) === 'stop') stop = true;
    return stop;
  }

  /** Runs `onValidationEnd` hooks; true when one asks to stop. */
  async validationEnd(ctx: EpochContext): Promise<boolean> {
    let stop = false;
    for (const e of this.list) if (e.onValidationEnd && (await e.onValidationEnd(ctx)) === 'stop') stop = true;
    return stop;
  }

  /** Runs `onEpochEnd` hooks; true when one asks to stop. */
  async epochEnd(ctx: EpochContext): Promise<boolean> {
    let stop = false;
    for (const e of this.list) if (e.onEpochEnd && (await e.onEpochEnd(ctx)) === 'stop') stop = true;
    return stop;
  }

  /** `weights` with every extension's contribution. */
  finalize(weights: Map<string, Tensor>): Map<string, Tensor> {
    return this.list.reduce((w, e) => e.finalizeWeights?.(w) ?? w, weights);
  }

  /** A copy of the weights that does not change as training goes on (for keep-best). */
  snapshot(weights: Map<string, Tensor>): Map<string, Tensor> {
    const own = this.finalize(new Map());
    const out = this.finalize(weights);
    for (const k of own.keys()) out.set(k, out.get(k)!.clone());
    return out;
  }

  /** State for the checkpoint: tensors under `ext/<name>/…`, metas in order. */
  save(tensors: Map<string, Tensor>): unknown[] {
    return this.list.map((e) => {
      const s = e.state?.();
      for (const [k, t] of s?.tensors ?? []) tensors.set(`ext/${e.name}/${k}`, t);
      return s?.meta ?? null;
    });
  }

  /** Restores what `save` wrote. */
  restore(tensors: ReadonlyMap<string, Tensor>, metas: readonly unknown[] | undefined): void {
    this.list.forEach((e, i) => {
      const prefix = `ext/${e.name}/`;
      const own = new Map([...tensors].filter(([k]) => k.startsWith(prefix)).map(([k, t]) => [k.slice(prefix.length), t]));
      e.restore?.({ meta: metas?.[i] ?? undefined, tensors: own });
    });
  }
}
