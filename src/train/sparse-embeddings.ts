/**
 * Sparse embedding updates as a training extension. Embedding tables (a parameter [V, D] read only by
 * `Gather`s whose indices are model inputs) leave the step graph: each step the host finds the batch's
 * unique ids, gathers only those rows into a fixed-size `rows` input [R, D] (R = batch × lookups per
 * sample; unused slots zero), feeds remapped indices, fetches dLoss/drows (autodiff's `gradOutputs`)
 * and applies a row-wise optimizer (sparse-optimizers.ts) to the touched rows of the table it holds.
 * A step's cost depends on the batch, not on V; the tables and their optimizer state are checkpointed
 * and restored exactly; the trained tables are part of the weights evaluation and export use.
 * The table tensors are updated in place (they are the model's own, as `fit` returns them set).
 */
import { type Graph, attrInt } from '../onnx/ir.js';
import { Tensor } from '../onnx/tensor.js';
import { TrainferError } from '../util/errors.js';
import type { ExtensionFeed, ExtensionState, PrepareContext, PrepareResult, StepContext, TrainingExtension } from './extension.js';
import { type SparseOptimizerConfig, SparseRowOptimizer, checkSparseOptimizer } from './sparse-optimizers.js';

/** Options for `SparseEmbeddings`. */
export interface SparseEmbeddingsOptions {
  /** Row-wise optimizer (default `rowwise-adagrad`). */
  optimizer?: SparseOptimizerConfig;
  /** Fixed learning rate for the tables (default: the step's learning rate, schedule included). */
  lr?: number;
  /** Tables to make sparse (default: every eligible table with at least `minRows` rows). Naming an ineligible one is an error. */
  tables?: readonly string[];
  /** Default 1: every eligible table. */
  minRows?: number;
  /**
   * L2 on the rows a step touches (default 0): their gradient gains wd·w before the optimizer's update,
   * as FBGEMM/TorchRec's `weight_decay` (L2 mode) on sparse tables — untouched rows are not decayed.
   */
  weightDecay?: number;
}

interface Lookup {
  /** The batch feed holding the ids. */
  feed: string;
  /** The step input carrying the remapped ids. */
  local: string;
  /** Ids per sample. */
  perSample: number;
}

interface SparseTable {
  name: string;
  tensor: Tensor;
  data: Float32Array;
  rows: number;
  dim: number;
  lookups: Lookup[];
  /** Rows input [R, dim] and its gradient output. */
  rowsInput: string;
  gradOutput: string;
  capacity: number;
  opt: SparseRowOptimizer;
  // Per-step scratch, allocated once. `slot[2r]` is the generation that last saw row r and
  // `slot[2r + 1]` its index among the step's rows: one cache line per id lookup, not two.
  slot: Int32Array;
  uniq: Int32Array;
  n: number;
  prevN: number;
}

/**
 * The extension. Pass it to `fit({ extensions: [new SparseEmbeddings({ optimizer: { type: 'sparse-adam' } })] })`.
 *
 * @example
 * const sparse = new SparseEmbeddings({ optimizer: { type: 'rowwise-adagrad' }, lr: 0.05 });
 * await fit({ model, train, extensions: [sparse], … });
 * sparse.describe(); // "user_embedding [100000, 64], item_embedding [50000, 64]: rowwise-adagrad"
 */
export class SparseEmbeddings implements TrainingExtension {
  readonly name = 'sparse-embeddings';
  private readonly optimizer: SparseOptimizerConfig;
  private tables: SparseTable[] = [];
  private gen = 0;

  constructor(readonly options: SparseEmbeddingsOptions = {}) {
    this.optimizer = options.optimizer ?? { type: 'rowwise-adagrad' };
    checkSparseOptimizer(this.optimizer);
    if (options.lr !== undefined && !(options.lr > 0)) throw new TrainferError(`sparse embeddings: lr must be > 0, got ${options.lr}`);
    if (options.weightDecay !== undefined && !(options.weightDecay >= 0)) throw new TrainferError(`sparse embeddings: weightDecay must be ≥ 0, got ${options.weightDecay}`);
  }

  /** The tables taken over (after `prepareGraph`). */
  get tableNames(): string[] {
    return this.tables.map((t) => t.name);
  }

  /** One line: which tables, which optimizer. */
  describe(): string {
    return `${this.tables.map((t) => `${t.name} [${t.rows}, ${t.dim}]`).join(', ') || 'no tables'}: ${this.optimizer.type}${this.options.lr ? ` lr ${this.options.lr}` : ''}${this.options.weightDecay ? ` weight decay ${this.options.weightDecay}` : ''}`;
  }

  prepareGraph(ctx: PrepareContext): PrepareResult {
    const g = ctx.graph;
    const feedShapes = new Map(ctx.feeds.filter((f) => f.role === 'input').map((f) => [f.name, f.shape]));
    const eligible = eligibleTables(g, ctx.params, feedShapes);
    const wanted = this.options.tables ?? [...eligible.keys()].filter((n) => g.initializers.get(n)!.dims[0]! >= (this.options.minRows ?? 1));
    for (const n of this.options.tables ?? []) {
      if (!eligible.has(n)) throw new TrainferError(`sparse embeddings: '${n}' is not a table only read by Gathers of model inputs (eligible: ${[...eligible.keys()].join(', ') || 'none'})`);
    }
    const feeds: ExtensionFeed[] = [];
    const fetch: { name: string; dims: number[] }[] = [];
    this.tables = wanted.map((name) => {
      const tensor = g.initializers.get(name)!;
      const [rows, dim] = tensor.dims as [number, number];
      const lookups: Lookup[] = [];
      const gathers = eligible.get(name)!;
      const rowsInput = `sparse/${name}/rows`;
      gathers.forEach((node, k) => {
        const feed = node.inputs[1]!;
        const shape = feedShapes.get(feed)!;
        const perSample = shape.reduce<number>((a, d) => a * (d as number), 1);
        const local = `sparse/${name}/idx${k}`;
        node.inputs = [rowsInput, local];
        g.inputs.push({ name: local, type: { dtype: 'int64', shape: ['batch', ...shape] } });
        feeds.push({ name: local, dtype: 'int64', dims: [ctx.batchSize, ...(shape as number[])] });
        lookups.push({ feed, local, perSample });
      });
      const capacity = ctx.batchSize * lookups.reduce((s, l) => s + l.perSample, 0);
      g.initializers.delete(name);
      g.inputs.push({ name: rowsInput, type: { dtype: 'float32', shape: [capacity, dim] } });
      feeds.push({ name: rowsInput, dtype: 'float32', dims: [capacity, dim] });
      fetch.push({ name: `${rowsInput}/grad`, dims: [capacity, dim] });
      return {
        name, tensor, data: tensor.data as Float32Array, rows, dim, lookups, rowsInput, gradOutput: `${rowsInput}/grad`, capacity,
        opt: new SparseRowOptimizer(this.optimizer, rows, dim),
        slot: new Int32Array(2 * rows).fill(-1), uniq: new Int32Array(capacity), n: 0, prevN: capacity,
      };
    });
    return { removeParams: wanted, feeds, fetch };
  }

  stepOptions(): { gradOutputs: string[] } {
    return { gradOutputs: this.tables.map((t) => t.rowsInput) };
  }

  beforeStep(ctx: StepContext): void {
    for (const t of this.tables) {
      const gen = ++this.gen;
      let n = 0;
      for (const l of t.lookups) {
        const ids = ctx.feeds.get(l.feed) as BigInt64Array;
        const words = new Int32Array(ids.buffer, ids.byteOffset, ids.length * 2);
        const out = ctx.feeds.get(l.local) as BigInt64Array;
        const outWords = new Int32Array(out.buffer, out.byteOffset, out.length * 2);
        const count = Math.min(ids.length, outWords.length / 2);
        for (let e = 0; e < count; e++) {
          const lo = words[2 * e]!;
          const hi = words[2 * e + 1]!;
          if (hi !== 0 || lo < 0 || lo >= t.rows) {
            const id = ids[e]!;
            throw new TrainferError(`input '${l.feed}' holds id ${id} (row ${Math.floor(e / l.perSample) + 1} of batch ${ctx.step}) but embedding table '${t.name}' has ${t.rows} rows (ids 0..${t.rows - 1})`);
          }
          const at = 2 * lo;
          if (t.slot[at] !== gen) {
            t.slot[at] = gen;
            t.slot[at + 1] = n;
            t.uniq[n++] = lo;
          }
          outWords[2 * e] = t.slot[at + 1]!;
          outWords[2 * e + 1] = 0;
        }
      }
      const rows = ctx.feeds.get(t.rowsInput) as Float32Array;
      const D = t.dim;
      const data = t.data;
      for (let j = 0; j < n; j++) {
        // A plain loop, not rows.set(subarray): no view object per row (2 × batch of them per step).
        const r = t.uniq[j]! * D;
        const o = j * D;
        for (let d = 0; d < D; d++) rows[o + d] = data[r + d]!;
      }
      if (t.prevN > n) rows.fill(0, n * D, t.prevN * D);
      t.prevN = n;
      t.n = n;
    }
    // Generations only need to differ between consecutive uses of a slot array.
    if (this.gen > 0x3fffffff) {
      this.gen = 0;
      for (const t of this.tables) t.slot.fill(-1);
    }
  }

  afterStep(ctx: StepContext & { fetched: ReadonlyMap<string, Float32Array> }): void {
    const lr = this.options.lr ?? ctx.lr;
    for (const t of this.tables) {
      const grad = ctx.fetched.get(t.gradOutput);
      if (!grad) throw new Error(`sparse embeddings: no fetched gradient '${t.gradOutput}'`);
      const wd = this.options.weightDecay ?? 0;
      if (wd > 0) {
        // The fetched buffer is the runner's output, rewritten every step: add wd·w in place.
        const D = t.dim;
        for (let j = 0; j < t.n; j++) {
          const w = t.uniq[j]! * D;
          const g = j * D;
          for (let d = 0; d < D; d++) grad[g + d] = grad[g + d]! + wd * t.data[w + d]!;
        }
      }
      t.opt.update(t.data, t.uniq, t.n, grad, lr, ctx.step);
    }
  }

  state(): ExtensionState {
    const tensors = new Map<string, Tensor>();
    for (const t of this.tables) {
      tensors.set(`${t.name}`, t.tensor);
      for (const [k, v] of t.opt.tensors(`${t.name}/${this.optimizer.type}`)) tensors.set(k, v);
    }
    return { meta: { tables: this.tableNames, optimizer: this.optimizer.type }, tensors };
  }

  restore(s: ExtensionState): void {
    const tensors = s.tensors ?? new Map<string, Tensor>();
    for (const t of this.tables) {
      const saved = tensors.get(t.name);
      if (!saved || saved.size !== t.data.length) throw new TrainferError(`checkpoint: sparse table '${t.name}' is ${saved ? `of size ${saved.size}` : 'missing'}, expected ${t.data.length} values`);
      t.data.set(saved.data as Float32Array);
      t.opt.restore(`${t.name}/${this.optimizer.type}`, tensors);
    }
  }

  finalizeWeights(weights: Map<string, Tensor>): Map<string, Tensor> {
    for (const t of this.tables) weights.set(t.name, t.tensor);
    return weights;
  }

  fingerprint(): unknown {
    return { optimizer: this.optimizer, lr: this.options.lr ?? null, ...(this.options.weightDecay ? { weightDecay: this.options.weightDecay } : {}), tables: this.tables.map((t) => `${t.name}:${t.rows}x${t.dim}`) };
  }
}

/**
 * Parameters [V, D] (float32) read only by axis-0 `Gather`s whose indices are model inputs of static
 * per-sample shape: table name → those Gather nodes.
 */
export function eligibleTables(g: Graph, params: readonly string[], feedShapes: ReadonlyMap<string, readonly (number | string)[]>): Map<string, Graph['nodes']> {
  const out = new Map<string, Graph['nodes']>();
  for (const p of params) {
    const t = g.initializers.get(p);
    if (!t || t.dtype !== 'float32' || t.dims.length !== 2) continue;
    const users = g.nodes.filter((n) => n.inputs.includes(p));
    if (users.length === 0 || g.outputs.some((o) => o.name === p)) continue;
    const ok = users.every((n) => {
      if (n.opType !== 'Gather' || n.inputs[0] !== p || n.inputs.indexOf(p, 1) >= 0) return false;
      if (attrInt(n, 'axis', 0) !== 0) return false;
      const shape = feedShapes.get(n.inputs[1]!);
      return !!shape && shape.every((d) => typeof d === 'number');
    });
    if (ok) out.set(p, users);
  }
  return out;
}

