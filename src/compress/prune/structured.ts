/**
 * Structured pruning on the dependency graph: in every group, rank the removable atoms by importance and
 * remove the least important — the same fraction of each group (`layer`, Torch-Pruning's default) or by a
 * normalised ranking over all groups (`global`) — then rewrite the model into smaller layers. A group whose
 * removal cannot be expressed (a reshape into ragged heads) is kept whole and the plan retried.
 */
import type { Model } from '../../onnx/ir.js';
import type { Tensor } from '../../onnx/tensor.js';
import { TrainferError } from '../../util/errors.js';
import { type DependencyGraph, type PruningGroup, RewriteConflict, analyzeDependencies } from './depgraph.js';
import { type Importance, atomImportance } from './importance.js';
import { rewriteChannels } from './rewrite.js';
import { checkSparsity } from './schedule.js';

/** Options for `structuredPrune`. */
export interface StructuredPruneOptions {
  model: Model;
  /** Fraction of each group's channels to remove, in [0, 1). */
  sparsity: number;
  /** Default `l1`. */
  importance?: Importance;
  /** ∂L/∂w by initializer name, for `taylor`. */
  gradients?: ReadonlyMap<string, Tensor>;
  /** `layer` (default): every group loses the same fraction; `global`: one ranking of normalised scores. */
  scope?: 'layer' | 'global';
  /** Kept channel counts are rounded up to a multiple of this (e.g. 8 for int8 kernels; default 1). */
  channelMultiple?: number;
  /** Also prune channels whose removal changes the function even when zero (LayerNorm over them). Default false. */
  allowLossy?: boolean;
  /** Sizes of symbolic input dims for the analysis (e.g. `{ seq: 16 }`). */
  dims?: Readonly<Record<string, number>>;
  /** Name for messages (the file). */
  name?: string;
}

/** What happened to one group. */
export interface GroupOutcome {
  description: string;
  before: number;
  after: number;
  /** Why channels of this group stayed, when some had to. */
  note?: string;
}

/** The pruned model and a summary per group. */
export interface StructuredPruneResult {
  model: Model;
  groups: GroupOutcome[];
  /** The analysis the removal was planned on. */
  dependencies: DependencyGraph;
  /** Atom ids removed. */
  removed: ReadonlySet<number>;
}

function candidates(g: PruningGroup, allowLossy: boolean): number[] {
  return g.atoms.filter((a) => !a.fixed && (allowLossy || !a.lossy)).map((a) => a.id);
}

/** How many atoms of a group of `n` to keep when `remove` are wanted out (≥ 1, rounded up to a multiple). */
function keepCount(n: number, remove: number, multiple: number): number {
  let keep = Math.max(1, n - remove);
  if (multiple > 1) keep = Math.min(n, Math.ceil(keep / multiple) * multiple);
  return keep;
}

/** Plans which atoms to remove. */
function plan(dg: DependencyGraph, o: StructuredPruneOptions, frozen: ReadonlySet<number>): Set<number> {
  const allowLossy = o.allowLossy ?? false;
  const multiple = Math.max(1, Math.round(o.channelMultiple ?? 1));
  const removed = new Set<number>();
  const groups = dg.groups.filter((g) => !frozen.has(g.index));
  const scoreOf = new Map<PruningGroup, Map<number, number>>();
  for (const g of groups) scoreOf.set(g, atomImportance(dg, g, { criterion: o.importance ?? 'l1', gradients: o.gradients }));
  const take = (g: PruningGroup, ids: number[], count: number) => {
    const s = scoreOf.get(g)!;
    const keep = keepCount(g.atoms.length, count, multiple);
    const n = Math.min(ids.length, g.atoms.length - keep);
    [...ids].sort((a, b) => s.get(a)! - s.get(b)! || a - b).slice(0, n).forEach((id) => removed.add(id));
  };
  if ((o.scope ?? 'layer') === 'layer') {
    for (const g of groups) {
      const ids = candidates(g, allowLossy);
      if (ids.length) take(g, ids, Math.round(o.sparsity * g.atoms.length));
    }
    return removed;
  }
  // Global: scores normalised by their group's mean, one ranking over every removable atom.
  const all: { g: PruningGroup; id: number; score: number }[] = [];
  let total = 0;
  for (const g of groups) {
    const ids = candidates(g, allowLossy);
    if (!ids.length) continue;
    total += g.atoms.length;
    const s = scoreOf.get(g)!;
    const mean = ids.reduce((a, id) => a + s.get(id)!, 0) / ids.length || 1;
    for (const id of ids) all.push({ g, id, score: s.get(id)! / mean });
  }
  all.sort((a, b) => a.score - b.score || a.id - b.id);
  const want = Math.round(o.sparsity * total);
  const perGroup = new Map<PruningGroup, number[]>();
  for (const x of all.slice(0, want)) {
    let l = perGroup.get(x.g);
    if (!l) perGroup.set(x.g, (l = []));
    l.push(x.id);
  }
  for (const [g, ids] of perGroup) take(g, ids, ids.length);
  return removed;
}

/**
 * Removes whole channels (conv filters, neurons, attention heads, FFN units) and rewrites the model into
 * smaller layers. Throws a one-line `TrainferError` when nothing in the model can be pruned.
 *
 * @example
 * const { model: small, groups } = structuredPrune({ model: readModel('cnn.onnx'), sparsity: 0.5 });
 */
export function structuredPrune(o: StructuredPruneOptions): StructuredPruneResult {
  checkSparsity(o.sparsity);
  const name = o.name ?? 'model';
  const dg = analyzeDependencies(o.model, { dims: o.dims });
  const allowLossy = o.allowLossy ?? false;
  const removable = dg.groups.filter((g) => candidates(g, allowLossy).length > 0 && g.atoms.length > 1);
  if (!removable.length) {
    const reasons = new Map<string, number>();
    for (const g of dg.groups) for (const a of g.atoms) {
      const why = a.fixed ?? (a.lossy ? `${a.lossy} (pass allowLossy / --allow-lossy to prune them anyway)` : undefined);
      if (why) reasons.set(why, (reasons.get(why) ?? 0) + 1);
    }
    const top = [...reasons].sort((a, b) => b[1] - a[1])[0]?.[0];
    throw new TrainferError(`${name}: nothing to prune structurally: ${dg.groups.length ? `every channel group must stay (${top ?? 'single channels'})` : 'no Conv, Gemm or MatMul layer with constant weights'}`);
  }
  const frozen = new Set<number>();
  const notes = new Map<number, string>();
  for (let attempt = 0; ; attempt++) {
    const removed = plan(dg, o, frozen);
    try {
      const model = rewriteChannels(dg, removed);
      const groups: GroupOutcome[] = dg.groups.map((g) => {
        const after = g.atoms.filter((a) => !removed.has(a.id)).length;
        const stay = g.atoms.find((a) => a.fixed || (!allowLossy && a.lossy));
        const note = notes.get(g.index) ?? (stay ? (stay.fixed ?? stay.lossy) : undefined);
        return { description: g.description, before: g.atoms.length, after, ...(note ? { note } : {}) };
      });
      return { model, groups, dependencies: dg, removed };
    } catch (err) {
      if (!(err instanceof RewriteConflict) || attempt > dg.groups.length) throw err;
      const root = dg.uf.find(err.ids[0]!);
      const g = dg.groups.find((x) => x.atoms.some((a) => a.id === root));
      if (!g || frozen.has(g.index)) throw new TrainferError(`${name}: cannot rewrite the pruned model: ${err.message}`);
      frozen.add(g.index);
      notes.set(g.index, err.message);
    }
  }
}
