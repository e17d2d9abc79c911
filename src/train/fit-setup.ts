/**
 * What `fit` settles before its first step: the feed plan for the training graph (columns and providers
 * for every input and target, symbolic dims solved and written into the graph), the checks that must
 * fail before any step (class targets out of range, a fixed batch dimension, too few samples), the
 * monitored metric, the run's fingerprint (every setting that changes the run, and the data's identity)
 * and where a run's epochs come from (an in-memory table shuffled per epoch, or a stream).
 */
import { existsSync, rmSync, statSync } from 'node:fs';
import { TrainferError } from '../util/errors.js';
import type { Rng, RngState } from '../util/rng.js';
import { type PackedTable, packTable } from '../data/batcher.js';
import { type FeedBinding, type FeedPlan, planFeeds } from '../data/feed-plan.js';
import type { TableStream } from '../data/stream.js';
import { type Table, tableHash } from '../data/table.js';
import type { Graph } from '../onnx/ir.js';
import type { TrainingGraph } from '../nn/network.js';
import { type Checkpoint, loadCheckpoint } from './checkpoint.js';
import { type TargetColumns, bindTargets, checkPlanTargets } from './evaluate.js';
import { MONITOR_METRICS, metricDirection } from './metrics.js';
import type { Trainable } from './trainable.js';

/** A monitored metric: its key in epoch metrics, where it comes from and which way is better. */
export interface Monitor {
  /** As given: `val_loss`, `val_f1`, `loss`, … */
  name: string;
  /** `val` (validation metrics) or `train`. */
  split: 'val' | 'train';
  /** Metric key without the prefix: `loss`, `f1`, `rmse`, … */
  key: string;
  direction: 'min' | 'max';
}

/** Parses `--monitor` (default `val_loss`; training `loss` when there is no validation data). */
export function parseMonitor(name: string | undefined, hasValidation: boolean): Monitor {
  const n = name ?? (hasValidation ? 'val_loss' : 'loss');
  const val = n.startsWith('val_');
  const key = val ? n.slice(4) : n;
  if (!(MONITOR_METRICS as readonly string[]).includes(key) || (!val && key !== 'loss' && key !== 'accuracy')) {
    throw new TrainferError(`--monitor ${n}: expected val_loss, ${MONITOR_METRICS.filter((m) => m !== 'loss').map((m) => `val_${m}`).join(', ')}, loss or accuracy`);
  }
  if (val && !hasValidation) throw new TrainferError(`--monitor ${n} needs validation data (a --validation-split above 0)`);
  return { name: n, split: val ? 'val' : 'train', key, direction: metricDirection(key) };
}

/** The training graph's feed plan: bindings from the options, targets checked, dims written into the graph. */
export function planTraining(o: { model: Trainable; tg: TrainingGraph; schema: Pick<Table, 'source' | 'columns'>; feeds?: Readonly<Record<string, FeedBinding>>; batchSize: number } & TargetColumns): FeedPlan {
  const bindings = bindTargets(o.tg.feeds, o.model.heads, o.schema, o);
  const plan = planFeeds({ specs: o.tg.feeds, table: o.schema, bindings, model: o.model.name });
  const targetHead = new Map(o.tg.feeds.filter((f) => f.head).map((f) => [f.name, f.head!]));
  checkPlanTargets(plan, o.tg.heads, targetHead, o.schema);
  for (const inp of o.model.inputs) {
    if (inp.batchDim !== undefined && inp.batchDim !== o.batchSize) {
      throw new TrainferError(`${o.model.name}: input '${inp.name}' has a fixed batch dimension of ${inp.batchDim}; re-export it with a dynamic batch (torch.onnx.export(..., dynamic_axes={'${inp.name}': {0: 'batch'}})) or train with --batch-size ${inp.batchDim}`);
    }
  }
  setFeedShapes(o.tg.graph, plan);
  return plan;
}

/** Writes the plan's static per-sample shapes into the graph's inputs (`['batch', …]`), for autodiff's shape rules. */
function setFeedShapes(g: Graph, plan: FeedPlan): void {
  const shapes = new Map(plan.feeds.map((f) => [f.spec.name, f.shape]));
  g.inputs = g.inputs.map((v) => {
    const s = shapes.get(v.name);
    return s && v.type ? { ...v, type: { ...v.type, shape: ['batch', ...s] } } : v;
  });
}

/** A short identity of a data source for fingerprints: a content hash (tables) or path, size and mtime (streams). */
export function dataIdentity(d: Table | TableStream): string {
  if ('kind' in d) {
    const st = statSync(d.source.replace(/ \(.*\)$/, ''));
    return `${d.source}:${st.size}:${Math.round(st.mtimeMs)}:${d.count}`;
  }
  return `${d.count}:${tableHash(d)}`;
}

/** The feed plan in words (feed → columns or provider), for fingerprints. */
export function describePlan(plan: FeedPlan): Record<string, string> {
  return Object.fromEntries(plan.feeds.map((f) => [f.spec.name, f.columns ? f.columns.map((c) => c.name).join(',') : 'provider']));
}

/** Names the first setting that differs between two fingerprints. */
export function describeMismatch(saved: string, now: string): string {
  try {
    const a = JSON.parse(saved) as Record<string, unknown>;
    const b = JSON.parse(now) as Record<string, unknown>;
    for (const k of new Set([...Object.keys(b), ...Object.keys(a)])) {
      if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) {
        if (k === 'data' || k === 'validationData') return `the checkpoint was made on different ${k === 'data' ? 'training' : 'validation'} data (content differs)`;
        return `the checkpoint was made with ${k} ${JSON.stringify(a[k]) ?? 'unset'}, this run has ${JSON.stringify(b[k]) ?? 'unset'}`;
      }
    }
  } catch {
    // fall through
  }
  return 'the checkpoint was made with different settings';
}

/** Where one epoch's batches come from. */
export interface EpochSource {
  /** Samples per epoch. */
  readonly count: number;
  /** Starts an epoch from the shuffle RNG (advancing it); `resume` continues a saved position. */
  begin(shuffle: Rng, resume?: unknown): void;
  /** The batch of step `b` of the epoch: its packed rows and where they sit (for providers). */
  batch(b: number, size: number): { packed: PackedTable; table: Table; order: ArrayLike<number> | null; start: number };
  /** The position inside the epoch, for a checkpoint (undefined: the shuffle RNG state suffices). */
  position(): unknown;
}

/** Epochs over an in-memory table: a seeded permutation per epoch, packed once. */
export function tableSource(t: Table, plan: FeedPlan): EpochSource {
  // One rows object, updated in place: nothing is allocated per step.
  const rows = { packed: packTable(t, plan), table: t, order: new Uint32Array(0) as ArrayLike<number>, start: 0 };
  return {
    count: t.count,
    begin: (shuffle) => {
      rows.order = shuffle.permutation(t.count);
    },
    batch: (b, size) => {
      rows.start = b * size;
      return rows;
    },
    position: () => undefined,
  };
}

/** Epochs over a stream: sharded shuffle, position in the checkpoint. */
export function streamSource(s: TableStream, plan: FeedPlan, targets: (chunk: Table) => void): EpochSource {
  return {
    count: s.count,
    begin: (shuffle, resume) => {
      s.startEpoch(shuffle.fork().state() as RngState);
      if (resume) s.restore(resume as Parameters<TableStream['restore']>[0]);
    },
    batch: (_b, size) => {
      const chunk = s.nextBatch(size);
      if (chunk.count < size) throw new TrainferError(`${s.source}: the stream ended after fewer rows than it counted`);
      targets(chunk);
      return { packed: packTable(chunk, plan), table: chunk, order: null, start: 0 };
    },
    position: () => s.state(),
  };
}


/**
 * The checkpoint to resume from (checked against this run's fingerprint), or none for a fresh run. A
 * directory holding another run is refused unless the run resumes it or `overwrite` starts over (which
 * also clears the metrics log).
 */
export function openCheckpoint(o: { dir?: string; file?: string; resume?: boolean; overwrite?: boolean; metricsLog?: string; fingerprint: string }): Checkpoint | undefined {
  if (o.file && existsSync(o.file)) {
    if (o.resume) {
      const ckpt = loadCheckpoint(o.file);
      if (ckpt.meta.fingerprint !== o.fingerprint) throw new TrainferError(`${o.file}: ${describeMismatch(ckpt.meta.fingerprint, o.fingerprint)}; resume with the same settings`);
      return ckpt;
    }
    if (!o.overwrite) {
      let what = 'another run';
      try {
        const m = loadCheckpoint(o.file).meta;
        what = m.finished ? `a finished run (${m.step} steps)` : `an unfinished run (stopped at step ${m.step}, epoch ${m.epoch + 1})`;
      } catch {
        // unreadable: still someone else's file
      }
      throw new TrainferError(`${o.dir}: holds ${what}; continue it with --resume, or pass --overwrite to start over (or choose another --checkpoint-dir)`);
    }
    rmSync(o.file, { force: true });
    if (o.metricsLog) rmSync(o.metricsLog, { force: true });
    return undefined;
  }
  if (o.resume) throw new TrainferError(`${o.file}: no checkpoint to resume from`);
  if (o.overwrite && o.metricsLog) rmSync(o.metricsLog, { force: true });
  return undefined;
}
