/**
 * Learning-rate schedules as pure functions of the step: constant, step decay, cosine, one-cycle, each
 * with an optional linear warm-up, and `plateau` (ReduceLROnPlateau: the pure part is the warm-up; `fit`
 * multiplies by the factor it keeps from the monitored metric, see `PlateauState`). `parseSchedule` reads
 * the CLI form, e.g. `cosine,warmup=200`. `assumesEnd` tells which schedules plan for the last epoch.
 */
import { TrainferError } from '../util/errors.js';

/** A learning-rate schedule. Step decay counts epochs; warm-up counts steps. */
export type Schedule =
  | { type: 'constant'; warmup?: number }
  | { type: 'step'; everyEpochs: number; gamma: number; warmup?: number }
  | { type: 'cosine'; minFactor?: number; warmup?: number }
  | { type: 'onecycle'; pctStart?: number; divFactor?: number; finalDivFactor?: number }
  /**
   * ReduceLROnPlateau: the rate is multiplied by `factor` (default 0.5) when the monitored metric has not
   * improved for `patience` epochs (default 2), never below `minFactor`·peak (default 0.001).
   */
  | { type: 'plateau'; factor?: number; patience?: number; minFactor?: number; warmup?: number }
  /** Exponential ramp from `startFactor`·peak at the first step to the peak at the last (the LR range test's). */
  | { type: 'range'; startFactor: number };

/** True for schedules whose shape depends on the total step count (one-cycle, cosine): early stopping cuts them short. */
export function assumesEnd(s: Schedule): boolean {
  return s.type === 'onecycle' || s.type === 'cosine' || s.type === 'range';
}

/** What `fit` keeps (and checkpoints) for a `plateau` schedule. */
export interface PlateauState {
  /** Current multiplier of the peak rate. */
  scale: number;
  best?: number;
  bad: number;
}

/**
 * One epoch-end update of a plateau schedule: `value` is the monitored metric (lower is better when
 * `direction` is `min`). Returns the new state and whether the rate was reduced.
 */
export function plateauStep(s: Extract<Schedule, { type: 'plateau' }>, st: PlateauState, value: number, direction: 'min' | 'max'): { state: PlateauState; reduced: boolean } {
  if (Number.isNaN(value)) return { state: st, reduced: false };
  const better = st.best === undefined || (direction === 'min' ? value < st.best : value > st.best);
  if (better) return { state: { ...st, best: value, bad: 0 }, reduced: false };
  const bad = st.bad + 1;
  if (bad < (s.patience ?? 2)) return { state: { ...st, bad }, reduced: false };
  const scale = Math.max(s.minFactor ?? 0.001, st.scale * (s.factor ?? 0.5));
  return { state: { ...st, bad: 0, scale }, reduced: scale < st.scale };
}

/** Where training is: 0-based step, total steps, steps per epoch. */
export interface SchedulePoint {
  step: number;
  totalSteps: number;
  stepsPerEpoch: number;
}

/**
 * The learning rate at `p.step` for peak rate `baseLr`. Pure: same inputs, same output.
 *
 * @example
 * learningRate({ type: 'cosine', warmup: 100 }, 0.1, { step: 50, totalSteps: 1000, stepsPerEpoch: 100 }); // 0.0505
 */
export function learningRate(s: Schedule, baseLr: number, p: SchedulePoint): number {
  const total = Math.max(1, p.totalSteps);
  const t = Math.min(p.step, total - 1);
  if (s.type === 'onecycle') {
    // Linear up from baseLr/div to baseLr over pctStart, then cosine down to baseLr/(div·finalDiv) (as PyTorch's OneCycleLR, annealing by cosine).
    const pct = s.pctStart ?? 0.25;
    const div = s.divFactor ?? 25;
    const finalDiv = s.finalDivFactor ?? 1e4;
    const up = Math.max(1, Math.round(pct * total));
    const start = baseLr / div;
    const end = start / finalDiv;
    if (t < up) return start + (baseLr - start) * (t / up);
    const f = (t - up) / Math.max(1, total - 1 - up);
    return end + (baseLr - end) * 0.5 * (1 + Math.cos(Math.PI * f));
  }
  if (s.type === 'range') return baseLr * s.startFactor ** (1 - t / Math.max(1, total - 1));
  const warmup = s.warmup ?? 0;
  if (t < warmup) return (baseLr * (t + 1)) / (warmup + 1);
  switch (s.type) {
    case 'constant':
    case 'plateau':
      return baseLr;
    case 'step':
      return baseLr * s.gamma ** Math.floor(t / Math.max(1, p.stepsPerEpoch) / s.everyEpochs);
    case 'cosine': {
      const min = baseLr * (s.minFactor ?? 0);
      const f = (t - warmup) / Math.max(1, total - warmup);
      return min + (baseLr - min) * 0.5 * (1 + Math.cos(Math.PI * f));
    }
  }
}

/**
 * Parses `name[,key=value…]`: `constant`, `step,every=2,gamma=0.5`, `cosine,warmup=200,min=0.01`,
 * `warmup=300` alone (constant after warm-up), `onecycle,pct=0.25,div=25,final=1e4`,
 * `plateau,factor=0.5,patience=2,min=0.001,warmup=100`.
 */
export function parseSchedule(text: string): Schedule {
  const [head = '', ...rest] = text.split(',').map((s) => s.trim());
  const kv = new Map<string, number>();
  const parts = head.includes('=') ? [head, ...rest] : rest;
  for (const part of parts) {
    const [k, v] = part.split('=');
    const n = Number(v);
    if (!k || v === undefined || !Number.isFinite(n) || n < 0) throw new TrainferError(`--schedule '${text}': '${part}' must be key=non-negative number`);
    kv.set(k, n);
  }
  const name = head.includes('=') ? 'constant' : head;
  const allow = (keys: string[]): void => {
    for (const k of kv.keys()) if (!keys.includes(k)) throw new TrainferError(`--schedule '${text}': unknown key '${k}' for ${name} (allowed: ${keys.join(', ')})`);
  };
  const warmup = kv.get('warmup');
  switch (name) {
    case 'constant':
      allow(['warmup']);
      return { type: 'constant', warmup };
    case 'step':
      allow(['every', 'gamma', 'warmup']);
      return { type: 'step', everyEpochs: kv.get('every') || 1, gamma: kv.get('gamma') ?? 0.5, warmup };
    case 'cosine':
      allow(['min', 'warmup']);
      return { type: 'cosine', minFactor: kv.get('min'), warmup };
    case 'onecycle':
      allow(['pct', 'div', 'final']);
      return { type: 'onecycle', pctStart: kv.get('pct'), divFactor: kv.get('div'), finalDivFactor: kv.get('final') };
    case 'plateau': {
      allow(['factor', 'patience', 'min', 'warmup']);
      const factor = kv.get('factor');
      if (factor !== undefined && !(factor > 0 && factor < 1)) throw new TrainferError(`--schedule '${text}': factor must be in (0, 1), got ${factor}`);
      const patience = kv.get('patience');
      if (patience !== undefined && !(Number.isInteger(patience) && patience >= 1)) throw new TrainferError(`--schedule '${text}': patience must be a positive integer, got ${patience}`);
      return { type: 'plateau', factor, patience, minFactor: kv.get('min'), warmup };
    }
    case 'range': {
      allow(['start']);
      const start = kv.get('start') ?? 1e-6;
      if (!(start > 0 && start < 1)) throw new TrainferError(`--schedule '${text}': start must be in (0, 1), got ${start}`);
      return { type: 'range', startFactor: start };
    }
    default:
      throw new TrainferError(`--schedule '${text}': unknown schedule '${name}' (expected constant, step, cosine, onecycle, plateau, range; e.g. cosine,warmup=200)`);
  }
}

/** The CLI form of a schedule (inverse of `parseSchedule`, for logs and checkpoints). */
export function formatSchedule(s: Schedule): string {
  const kv = (o: Record<string, number | undefined>): string => Object.entries(o).filter(([, v]) => v !== undefined).map(([k, v]) => `,${k}=${v}`).join('');
  switch (s.type) {
    case 'constant': return `constant${kv({ warmup: s.warmup })}`;
    case 'step': return `step${kv({ every: s.everyEpochs, gamma: s.gamma, warmup: s.warmup })}`;
    case 'cosine': return `cosine${kv({ min: s.minFactor, warmup: s.warmup })}`;
    case 'onecycle': return `onecycle${kv({ pct: s.pctStart, div: s.divFactor, final: s.finalDivFactor })}`;
    case 'plateau': return `plateau${kv({ factor: s.factor, patience: s.patience, min: s.minFactor, warmup: s.warmup })}`;
    case 'range': return `range${kv({ start: s.startFactor })}`;
  }
}
