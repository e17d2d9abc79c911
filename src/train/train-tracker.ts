/**
 * The training metric the progress line and epoch records show for the first head — accuracy for
 * classifiers (element accuracy for multi-label), RMSE for regression — accumulated step by step from
 * the step graph's fetched head values, with a state that travels in checkpoints (so a resumed epoch
 * reports what an uninterrupted one would).
 */

/** Epoch-level training metrics of the first head: a cheap accumulator whose state travels in checkpoints. */
export class TrainTracker {
  private sums = { correct: 0, sq: 0, n: 0, elems: 0 };
  constructor(private readonly task: string, private readonly size: number) {}
  get metric(): string {
    return this.task === 'regression' ? 'rmse' : 'acc';
  }
  update(out: Float32Array, target: ArrayLike<number> | BigInt64Array, n: number): void {
    const s = this.size;
    if (this.task === 'classification') {
      for (let i = 0; i < n; i++) {
        let best = 0;
        for (let c = 1; c < s; c++) if (out[i * s + c]! > out[i * s + best]!) best = c;
        if (best === Number((target as BigInt64Array)[i]!)) this.sums.correct++;
      }
    } else if (this.task === 'regression') {
      for (let k = 0; k < n * s; k++) {
        const d = out[k]! - (target as Float32Array)[k]!;
        this.sums.sq += d * d;
      }
    } else {
      for (let k = 0; k < n * s; k++) if (out[k]! > 0 === (target as Float32Array)[k]! >= 0.5) this.sums.correct++;
    }
    this.sums.n += n;
    this.sums.elems += n * s;
  }
  value(): number {
    if (this.task === 'regression') return Math.sqrt(this.sums.sq / Math.max(1, this.sums.elems));
    return this.sums.correct / Math.max(1, this.task === 'classification' ? this.sums.n : this.sums.elems);
  }
  result(): Record<string, number> {
    return this.task === 'regression' ? { rmse: this.value() } : { accuracy: this.value() };
  }
  state(): unknown {
    return { ...this.sums };
  }
  restore(s: unknown): void {
    if (s) this.sums = { ...(s as typeof this.sums) };
  }
}

