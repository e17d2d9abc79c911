/**
 * The trainer essentials `fit` applies around its loop, kept out of fit.ts: parameter groups (which
 * parameters skip weight decay), freezing by name pattern, the gradient-accumulation step plan, weight
 * EMA read back from the step's state, keep-best / top-k weight files, the plateau schedule's epoch
 * update and the warning for schedules that early stopping cuts short.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TrainStep } from '../autodiff/types.js';
import type { Graph } from '../onnx/ir.js';
import type { Tensor } from '../onnx/tensor.js';
import { TrainferError } from '../util/errors.js';
import { CHECKPOINT_VERSION, saveCheckpoint } from './checkpoint.js';
import { type PlateauState, type Schedule, assumesEnd, formatSchedule } from './schedule.js';

/** What `paramGroups` decides. */
export interface ParamGroups {
  /** Parameters the step graph trains. */
  params: string[];
  /** Parameters kept fixed by `freeze` (they stay constants of the step graph). */
  frozen: string[];
  /** Trained parameters updated without weight decay. */
  noDecay: string[];
}

/**
 * Splits the trainable parameters: `freeze` (a regular expression on the initializer name, e.g.
 * `^linear1\.` or `conv`) removes matches from training; every parameter of rank ≤ 1 (biases,
 * normalisation scales and shifts) skips weight decay unless `decayAll` is set.
 */
export function paramGroups(o: { params: readonly string[]; graph: Graph; freeze?: string | RegExp; decayAll?: boolean }): ParamGroups {
  let re: RegExp | undefined;
  if (typeof o.freeze === 'string') {
    try {
      re = new RegExp(o.freeze);
    } catch (err) {
      throw new TrainferError(`--freeze '${o.freeze}': not a valid regular expression (${(err as Error).message.replace(/^Invalid regular expression: /, '')})`);
    }
  } else re = o.freeze;
  const frozen = re ? o.params.filter((p) => re.test(p)) : [];
  if (re && frozen.length === 0) throw new TrainferError(`--freeze ${String(o.freeze)}: matches none of the ${o.params.length} trainable parameters (${o.params.slice(0, 8).join(', ')}${o.params.length > 8 ? ', …' : ''})`);
  const params = o.params.filter((p) => !frozen.includes(p));
  if (params.length === 0) throw new TrainferError(`--freeze ${String(o.freeze)}: freezes every trainable parameter; nothing would train`);
  const noDecay = o.decayAll ? [] : params.filter((p) => (o.graph.initializers.get(p)?.dims.length ?? 2) <= 1);
  return { params, frozen, noDecay };
}

/** Where a micro-batch sits in gradient accumulation over `accumulate` micro-batches per optimizer step. */
export function accumulationPoint(microStep: number, accumulate: number): { optimizerStep: number; apply: boolean } {
  return { optimizerStep: Math.floor(microStep / accumulate), apply: (microStep + 1) % accumulate === 0 };
}

/**
 * The weights evaluation and export use: with EMA, every trained parameter replaced by its moving
 * average (read from the step's carried state); buffers stay current. Frozen parameters are added.
 */
export function exportWeights(o: { step: TrainStep; current: Map<string, Tensor>; snapshot?: () => Map<string, Tensor>; frozen: readonly string[]; graph: Graph }): Map<string, Tensor> {
  const out = o.current;
  if (o.step.ema?.length && o.snapshot) {
    const state = o.snapshot();
    for (const e of o.step.ema) out.set(e.param, state.get(e.input)!);
  }
  for (const p of o.frozen) if (!out.has(p)) out.set(p, o.graph.initializers.get(p)!);
  return out;
}

/** One entry of the top-k list (kept in the trainer state, so checkpointed). */
export interface TopEntry {
  epoch: number;
  value: number;
  file: string;
}

/**
 * Keeps the `k` best epochs' weights as `<dir>/best-epoch-<n>.trainfer` (weights only, the checkpoint
 * format): adds this epoch when it ranks, deletes the file that falls out. Returns the new list, best first.
 */
export function updateTopK(o: { dir: string; k: number; list: readonly TopEntry[]; epoch: number; value: number; direction: 'min' | 'max'; weights: () => Map<string, Tensor>; monitor: string }): TopEntry[] {
  if (Number.isNaN(o.value)) return [...o.list];
  const better = (a: number, b: number): boolean => (o.direction === 'min' ? a < b : a > b);
  const ranks = o.list.length < o.k || o.list.some((e) => better(o.value, e.value));
  if (!ranks) return [...o.list];
  const file = join(o.dir, `best-epoch-${o.epoch}.trainfer`);
  saveCheckpoint(file, { meta: { version: CHECKPOINT_VERSION, fingerprint: 'weights', step: 0, epoch: o.epoch, batchInEpoch: 0, finished: true, shuffleRngAtEpochStart: [], dropoutRng: [], trainer: { monitor: o.monitor, value: o.value, weightsOnly: true } }, tensors: o.weights() });
  const list = [...o.list.filter((e) => e.epoch !== o.epoch), { epoch: o.epoch, value: o.value, file }].sort((a, b) => (better(a.value, b.value) ? -1 : better(b.value, a.value) ? 1 : a.epoch - b.epoch));
  for (const e of list.slice(o.k)) rmSync(e.file, { force: true });
  return list.slice(0, o.k);
}

/** The warning for a schedule that plans for the last epoch under early stopping (or undefined). */
export function scheduleWarning(schedule: Schedule, epochs: number, patience: number | undefined): string | undefined {
  if (patience === undefined || !assumesEnd(schedule)) return undefined;
  return `warning: --schedule ${formatSchedule(schedule)} plans its decay for all ${epochs} epochs, but early stopping (patience ${patience}) may end the run long before, with the learning rate still high; use --schedule plateau (ReduceLROnPlateau) or constant,warmup=S with early stopping`;
}

/** The initial plateau state (`scale` 1). */
export function initialPlateau(): PlateauState {
  return { scale: 1, bad: 0 };
}
