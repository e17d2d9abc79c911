/**
 * Row-wise optimizers for embedding tables held on the host: each step updates only the rows a batch
 * touched, from their (coalesced) gradient rows. Semantics follow the references users compare with:
 * `sgd` (w ← w − lr·g), `adagrad` as PyTorch's `Adagrad` on sparse gradients (per-element sum of
 * squares, eps 1e-10), `rowwise-adagrad` as FBGEMM/TorchRec's EXACT_ROWWISE_ADAGRAD (one accumulator
 * per row: the mean of g² over the row; eps 1e-8; state is one float per row instead of a table copy),
 * and `sparse-adam` as PyTorch's `SparseAdam` (lazy Adam: moments of untouched rows are not decayed;
 * step size lr·√(1−β2ᵗ)/(1−β1ᵗ) with t the global step, denominator √v + ε).
 */
import { Tensor } from '../onnx/tensor.js';
import { TrainferError } from '../util/errors.js';

/** A sparse (row-wise) optimizer's settings. */
export type SparseOptimizerConfig =
  | { type: 'sgd' }
  | { type: 'adagrad'; eps?: number; initialAccumulator?: number }
  | { type: 'rowwise-adagrad'; eps?: number; initialAccumulator?: number }
  | { type: 'sparse-adam'; beta1?: number; beta2?: number; eps?: number };

/** Sparse optimizer names for flags. */
export const SPARSE_OPTIMIZERS = ['rowwise-adagrad', 'adagrad', 'sparse-adam', 'sgd'] as const;

/** Validates settings; a one-line error names the field. */
export function checkSparseOptimizer(c: SparseOptimizerConfig): void {
  const bad = (f: string, v: unknown, want: string) => {
    throw new TrainferError(`sparse optimizer ${c.type}: ${f} must be ${want}, got ${String(v)}`);
  };
  if (!(SPARSE_OPTIMIZERS as readonly string[]).includes(c.type)) throw new TrainferError(`sparse optimizer must be ${SPARSE_OPTIMIZERS.join(', ')}, got '${(c as { type: string }).type}'`);
  if (c.type === 'adagrad' || c.type === 'rowwise-adagrad') {
    if (c.eps !== undefined && !(c.eps > 0)) bad('eps', c.eps, '> 0');
    if (c.initialAccumulator !== undefined && !(c.initialAccumulator >= 0)) bad('initialAccumulator', c.initialAccumulator, '≥ 0');
  }
  if (c.type === 'sparse-adam') {
    if (c.beta1 !== undefined && !(c.beta1 >= 0 && c.beta1 < 1)) bad('beta1', c.beta1, 'in [0, 1)');
    if (c.beta2 !== undefined && !(c.beta2 >= 0 && c.beta2 < 1)) bad('beta2', c.beta2, 'in [0, 1)');
    if (c.eps !== undefined && !(c.eps > 0)) bad('eps', c.eps, '> 0');
  }
}

/** The optimizer state of one table and its row update. */
export class SparseRowOptimizer {
  /** State tensors by role (`sum`, `exp_avg`, `exp_avg_sq`): per element [rows, dim], or per row [rows]. */
  readonly state: Map<string, Float32Array>;

  constructor(readonly config: SparseOptimizerConfig, readonly rows: number, readonly dim: number) {
    checkSparseOptimizer(config);
    this.state = new Map();
    const c = config;
    if (c.type === 'adagrad') this.state.set('sum', new Float32Array(rows * dim).fill(c.initialAccumulator ?? 0));
    if (c.type === 'rowwise-adagrad') this.state.set('sum', new Float32Array(rows).fill(c.initialAccumulator ?? 0));
    if (c.type === 'sparse-adam') {
      this.state.set('exp_avg', new Float32Array(rows * dim));
      this.state.set('exp_avg_sq', new Float32Array(rows * dim));
    }
  }

  /**
   * Updates rows `ids[0..n)` of `table` ([rows, dim]) with gradient rows `grad[j·dim …]` (one per id,
   * duplicates already summed). `step` is the 1-based global step (Adam's bias correction).
   */
  update(table: Float32Array, ids: Int32Array, n: number, grad: Float32Array, lr: number, step: number): void {
    const D = this.dim;
    const c = this.config;
    switch (c.type) {
      case 'sgd':
        for (let j = 0; j < n; j++) {
          const w = ids[j]! * D;
          const g = j * D;
          for (let d = 0; d < D; d++) table[w + d] = table[w + d]! - lr * grad[g + d]!;
        }
        return;
      case 'adagrad': {
        const eps = c.eps ?? 1e-10;
        const sum = this.state.get('sum')!;
        for (let j = 0; j < n; j++) {
          const w = ids[j]! * D;
          const g = j * D;
          for (let d = 0; d < D; d++) {
            const gd = grad[g + d]!;
            const s = (sum[w + d] = sum[w + d]! + gd * gd);
            table[w + d] = table[w + d]! - (lr * gd) / (Math.sqrt(Math.fround(s)) + eps);
          }
        }
        return;
      }
      case 'rowwise-adagrad': {
        const eps = c.eps ?? 1e-8;
        const sum = this.state.get('sum')!;
        for (let j = 0; j < n; j++) {
          const r = ids[j]!;
          const w = r * D;
          const g = j * D;
          let sq = 0;
          for (let d = 0; d < D; d++) sq += grad[g + d]! * grad[g + d]!;
          const s = (sum[r] = sum[r]! + sq / D);
          const mult = lr / (Math.sqrt(Math.fround(s)) + eps);
          for (let d = 0; d < D; d++) table[w + d] = table[w + d]! - mult * grad[g + d]!;
        }
        return;
      }
      case 'sparse-adam': {
        const b1 = c.beta1 ?? 0.9;
        const b2 = c.beta2 ?? 0.999;
        const eps = c.eps ?? 1e-8;
        const m = this.state.get('exp_avg')!;
        const v = this.state.get('exp_avg_sq')!;
        const stepSize = (lr * Math.sqrt(1 - b2 ** step)) / (1 - b1 ** step);
        for (let j = 0; j < n; j++) {
          const w = ids[j]! * D;
          const g = j * D;
          for (let d = 0; d < D; d++) {
            const gd = grad[g + d]!;
            const mi = (m[w + d] = m[w + d]! + (gd - m[w + d]!) * (1 - b1));
            const vi = (v[w + d] = v[w + d]! + (gd * gd - v[w + d]!) * (1 - b2));
            table[w + d] = table[w + d]! - (stepSize * Math.fround(mi)) / (Math.sqrt(Math.fround(vi)) + eps);
          }
        }
        return;
      }
    }
  }

  /** The state as tensors (live views: no copy), for checkpoints. */
  tensors(prefix: string): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [role, a] of this.state) out.set(`${prefix}/${role}`, new Tensor('float32', a.length === this.rows ? [this.rows] : [this.rows, this.dim], a));
    return out;
  }

  /** Restores state written by `tensors`. */
  restore(prefix: string, tensors: ReadonlyMap<string, Tensor>): void {
    for (const [role, a] of this.state) {
      const t = tensors.get(`${prefix}/${role}`);
      if (!t || t.size !== a.length) throw new TrainferError(`checkpoint: sparse optimizer state '${prefix}/${role}' is ${t ? `of size ${t.size}` : 'missing'}, expected ${a.length} values`);
      a.set(t.data as Float32Array);
    }
  }
}
