/**
 * Metrics as streaming accumulators, one per head: feed batches of raw outputs (logits / predictions)
 * and targets with `update`, read everything with `result`. Multi-class: accuracy, top-5, confusion
 * matrix, precision/recall/F1 per class and macro (over the classes present in targets or predictions),
 * and ROC-AUC / PR-AUC when there are two classes. Binary (one logit): accuracy, precision, recall, F1,
 * ROC-AUC, PR-AUC (average precision), log loss, confusion matrix. Multi-label: element accuracy, exact-match
 * accuracy, micro and macro F1, per-label precision/recall/F1. Regression: MAE, MSE, RMSE, R² (averaged
 * over outputs, as scikit-learn's `uniform_average`). The same numbers reach `eval --json`, the metrics
 * log, the progress line and `--monitor`.
 */
import type { TypedArray } from '../onnx/dtype.js';
import { TrainferError } from '../util/errors.js';
import type { Task } from '../nn/loss.js';

/** Scalars by name (`accuracy`, `f1`, `auc`, `rmse`, …), plus per-class detail for classifiers. */
export interface MetricsResult {
  task: Task;
  /** Samples seen. */
  count: number;
  scalars: Record<string, number>;
  /** Per class (multi-class, binary) or per label (multi-label). */
  perClass?: { precision: number[]; recall: number[]; f1: number[]; support: number[] };
  /** confusion[target][predicted] counts (multi-class, binary). */
  confusion?: number[][];
}

/** A streaming metrics accumulator. */
export interface MetricAccumulator {
  /** Adds `n` rows: `outputs` holds `n × size` raw head values, `targets` the batch's target buffer. */
  update(outputs: ArrayLike<number>, targets: TypedArray, n: number): void;
  result(): MetricsResult;
}

/** Options for `createMetrics`. */
export interface MetricsOptions {
  task: Task;
  /** Per-sample shape of the head. */
  shape: readonly number[];
  /** Keep scores for ROC-AUC / PR-AUC (default true; off for cheap per-step training metrics). */
  ranking?: boolean;
  /** Count samples only (a head whose shape is not known). */
  lossOnly?: boolean;
}

/** Which way a monitored metric improves. */
export function metricDirection(name: string): 'min' | 'max' {
  return /(^|_)(loss|mae|mse|rmse)$/.test(name) ? 'min' : 'max';
}

/** Metric names `--monitor` accepts (with `val_`; `loss` and `accuracy` also on training data). */
export const MONITOR_METRICS = ['loss', 'accuracy', 'top5', 'precision', 'recall', 'f1', 'auc', 'pr_auc', 'exact_match', 'micro_f1', 'mae', 'mse', 'rmse', 'r2', 'log_loss'] as const;

/** The scalar metrics a head of this task and per-sample shape reports (besides the loss). */
export function availableMetrics(task: Task, shape: readonly number[]): string[] {
  const size = shape.reduce((a, b) => a * b, 1);
  if (task === 'regression') return ['mae', 'mse', 'rmse', 'r2'];
  if (task === 'multilabel' || (task === 'binary' && size !== 1)) return ['accuracy', 'exact_match', 'f1', 'micro_f1', 'precision', 'recall'];
  if (task === 'binary') return ['accuracy', 'precision', 'recall', 'f1', 'auc', 'pr_auc'];
  if (shape.length !== 1) return [];
  return ['accuracy', 'precision', 'recall', 'f1', ...(size > 5 ? ['top5'] : []), ...(size === 2 ? ['auc', 'pr_auc'] : [])];
}

/** Creates the accumulator for a head. */
export function createMetrics(o: MetricsOptions): MetricAccumulator {
  const size = o.shape.reduce((a, b) => a * b, 1);
  if (o.lossOnly) return new LossOnly(o.task);
  switch (o.task) {
    case 'classification':
      if (o.shape.length !== 1) return new LossOnly(o.task);
      return new MultiClass(size, o.ranking ?? true);
    case 'binary':
      if (size !== 1) return new MultiLabel(size);
      return new Binary(o.ranking ?? true);
    case 'multilabel':
      return new MultiLabel(size);
    case 'regression':
      return new Regression(size);
  }
}

/** Reads target `i` of an int64/int32/float buffer as a number. */
function targetAt(t: TypedArray, i: number): number {
  return t instanceof BigInt64Array ? Number(t[i]!) : (t as Float32Array)[i]!;
}

class LossOnly implements MetricAccumulator {
  private n = 0;
  constructor(private readonly task: Task) {}
  update(_o: ArrayLike<number>, _t: TypedArray, n: number): void {
    this.n += n;
  }
  result(): MetricsResult {
    return { task: this.task, count: this.n, scalars: {} };
  }
}

/** A growable float32 list (scores for ranking metrics). */
class Floats {
  data = new Float32Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const d = new Float32Array(this.data.length * 2);
      d.set(this.data);
      this.data = d;
    }
    this.data[this.length++] = v;
  }
  view(): Float32Array {
    return this.data.subarray(0, this.length);
  }
}

/** Precision, recall, F1 from counts (0 where undefined, as scikit-learn's zero_division=0). */
function prf(tp: number, fp: number, fn: number): { p: number; r: number; f: number } {
  const p = tp + fp > 0 ? tp / (tp + fp) : 0;
  const r = tp + fn > 0 ? tp / (tp + fn) : 0;
  return { p, r, f: p + r > 0 ? (2 * p * r) / (p + r) : 0 };
}

function fromConfusion(cm: number[][], classes: readonly number[]): { perClass: NonNullable<MetricsResult['perClass']>; macro: { p: number; r: number; f: number } } {
  const k = cm.length;
  const perClass = { precision: [] as number[], recall: [] as number[], f1: [] as number[], support: [] as number[] };
  for (let c = 0; c < k; c++) {
    const tp = cm[c]![c]!;
    let fp = 0;
    let fn = 0;
    for (let j = 0; j < k; j++) {
      if (j === c) continue;
      fp += cm[j]![c]!;
      fn += cm[c]![j]!;
    }
    const m = prf(tp, fp, fn);
    perClass.precision.push(m.p);
    perClass.recall.push(m.r);
    perClass.f1.push(m.f);
    perClass.support.push(tp + fn);
  }
  const avg = (a: number[]) => (classes.length ? classes.reduce((s, c) => s + a[c]!, 0) / classes.length : 0);
  return { perClass, macro: { p: avg(perClass.precision), r: avg(perClass.recall), f: avg(perClass.f1) } };
}

/**
 * ROC-AUC (Mann–Whitney U with mid-ranks for ties) and average precision (PR-AUC, step-wise over the
 * distinct scores, as scikit-learn's `average_precision_score`). NaN when one class is absent.
 */
export function rankingMetrics(scores: ArrayLike<number>, positive: ArrayLike<number>): { auc: number; prAuc: number } {
  const n = scores.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  let pos = 0;
  for (let i = 0; i < n; i++) if (positive[i]) pos++;
  const neg = n - pos;
  if (pos === 0 || neg === 0) return { auc: NaN, prAuc: NaN };
  // Walk groups of equal scores from the highest: AUC from mid-ranks, AP from precision at each threshold.
  let rankSumPos = 0;
  let tp = 0;
  let seen = 0;
  let ap = 0;
  let prevRecall = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    let groupPos = 0;
    while (j < n && scores[idx[j]!] === scores[idx[i]!]) {
      if (positive[idx[j]!]) groupPos++;
      j++;
    }
    const size = j - i;
    // Ranks from the bottom: the group occupies ranks n - j + 1 … n - i; mid-rank = n - (i + j - 1) / 2.
    const midRank = n - (i + j - 1) / 2;
    rankSumPos += groupPos * midRank;
    tp += groupPos;
    seen += size;
    const recall = tp / pos;
    ap += (recall - prevRecall) * (tp / seen);
    prevRecall = recall;
    i = j;
  }
  const auc = (rankSumPos - (pos * (pos + 1)) / 2) / (pos * neg);
  return { auc, prAuc: ap };
}

class MultiClass implements MetricAccumulator {
  private readonly cm: number[][];
  private n = 0;
  private correct = 0;
  private top5 = 0;
  private readonly scores = new Floats();
  private readonly positives = new Floats();
  constructor(private readonly k: number, private readonly ranking: boolean) {
    this.cm = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  }
  update(out: ArrayLike<number>, t: TypedArray, n: number): void {
    const k = this.k;
    for (let i = 0; i < n; i++) {
      const o = i * k;
      let best = 0;
      for (let c = 1; c < k; c++) if (out[o + c]! > out[o + best]!) best = c;
      const y = targetAt(t, i);
      if (y < 0 || y >= k || !Number.isInteger(y)) throw new TrainferError(`target ${y} is not a class index in 0..${k - 1}`);
      this.cm[y]![best]!++;
      if (best === y) this.correct++;
      if (k > 5) {
        let above = 0;
        for (let c = 0; c < k; c++) if (out[o + c]! > out[o + y]!) above++;
        if (above < 5) this.top5++;
      }
      if (k === 2 && this.ranking) {
        this.scores.push(out[o + 1]! - out[o]!); // logit of class 1 vs 0: monotone in p(class 1)
        this.positives.push(y === 1 ? 1 : 0);
      }
    }
    this.n += n;
  }
  result(): MetricsResult {
    const present = Array.from({ length: this.k }, (_, c) => c).filter((c) => this.cm[c]!.some((v) => v > 0) || this.cm.some((row) => row[c]! > 0));
    const { perClass, macro } = fromConfusion(this.cm, present);
    const scalars: Record<string, number> = { accuracy: this.correct / Math.max(1, this.n), precision: macro.p, recall: macro.r, f1: macro.f };
    if (this.k > 5) scalars.top5 = this.top5 / Math.max(1, this.n);
    if (this.k === 2 && this.ranking) {
      const r = rankingMetrics(this.scores.view(), this.positives.view());
      scalars.auc = r.auc;
      scalars.pr_auc = r.prAuc;
    }
    return { task: 'classification', count: this.n, scalars, perClass, confusion: this.cm.map((r) => [...r]) };
  }
}

class Binary implements MetricAccumulator {
  private readonly cm = [[0, 0], [0, 0]];
  private n = 0;
  private logLoss = 0;
  private readonly scores = new Floats();
  private readonly positives = new Floats();
  constructor(private readonly ranking: boolean) {}
  update(out: ArrayLike<number>, t: TypedArray, n: number): void {
    for (let i = 0; i < n; i++) {
      const y = targetAt(t, i) >= 0.5 ? 1 : 0;
      const x = out[i]!;
      const p = x > 0 ? 1 : 0;
      this.cm[y]![p]!++;
      // −log σ(x) for positives, −log(1 − σ(x)) for negatives, stable: softplus(∓x).
      const z = y === 1 ? -x : x;
      this.logLoss += Math.log1p(Math.exp(-Math.abs(z))) + Math.max(z, 0);
      if (this.ranking) {
        this.scores.push(out[i]!);
        this.positives.push(y);
      }
    }
    this.n += n;
  }
  result(): MetricsResult {
    const [[tn, fp], [fn, tp]] = this.cm as [[number, number], [number, number]];
    const m = prf(tp, fp, fn);
    const { perClass } = fromConfusion(this.cm, [0, 1]);
    const scalars: Record<string, number> = { accuracy: (tp + tn) / Math.max(1, this.n), precision: m.p, recall: m.r, f1: m.f, log_loss: this.logLoss / Math.max(1, this.n) };
    if (this.ranking) {
      const r = rankingMetrics(this.scores.view(), this.positives.view());
      scalars.auc = r.auc;
      scalars.pr_auc = r.prAuc;
    }
    return { task: 'binary', count: this.n, scalars, perClass, confusion: this.cm.map((r) => [...r]) };
  }
}

class MultiLabel implements MetricAccumulator {
  private readonly tp: Float64Array;
  private readonly fp: Float64Array;
  private readonly fn: Float64Array;
  private n = 0;
  private correct = 0;
  private exact = 0;
  constructor(private readonly k: number) {
    this.tp = new Float64Array(k);
    this.fp = new Float64Array(k);
    this.fn = new Float64Array(k);
  }
  update(out: ArrayLike<number>, t: TypedArray, n: number): void {
    const k = this.k;
    for (let i = 0; i < n; i++) {
      let all = true;
      for (let c = 0; c < k; c++) {
        const y = targetAt(t, i * k + c) >= 0.5;
        const p = out[i * k + c]! > 0;
        if (y === p) this.correct++;
        else all = false;
        if (y && p) this.tp[c]!++;
        else if (p) this.fp[c]!++;
        else if (y) this.fn[c]!++;
      }
      if (all) this.exact++;
    }
    this.n += n;
  }
  result(): MetricsResult {
    const k = this.k;
    const perClass = { precision: [] as number[], recall: [] as number[], f1: [] as number[], support: [] as number[] };
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (let c = 0; c < k; c++) {
      const m = prf(this.tp[c]!, this.fp[c]!, this.fn[c]!);
      perClass.precision.push(m.p);
      perClass.recall.push(m.r);
      perClass.f1.push(m.f);
      perClass.support.push(this.tp[c]! + this.fn[c]!);
      tp += this.tp[c]!;
      fp += this.fp[c]!;
      fn += this.fn[c]!;
    }
    const micro = prf(tp, fp, fn);
    const macroF1 = perClass.f1.reduce((s, v) => s + v, 0) / Math.max(1, k);
    return {
      task: 'multilabel',
      count: this.n,
      scalars: { accuracy: this.correct / Math.max(1, this.n * k), exact_match: this.exact / Math.max(1, this.n), f1: macroF1, micro_f1: micro.f, precision: micro.p, recall: micro.r },
      perClass,
    };
  }
}

class Regression implements MetricAccumulator {
  private n = 0;
  private readonly abs: Float64Array;
  private readonly sq: Float64Array;
  private readonly sum: Float64Array;
  private readonly sumSq: Float64Array;
  constructor(private readonly k: number) {
    this.abs = new Float64Array(k);
    this.sq = new Float64Array(k);
    this.sum = new Float64Array(k);
    this.sumSq = new Float64Array(k);
  }
  update(out: ArrayLike<number>, t: TypedArray, n: number): void {
    const k = this.k;
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < k; c++) {
        const y = targetAt(t, i * k + c);
        const d = out[i * k + c]! - y;
        this.abs[c]! += Math.abs(d);
        this.sq[c]! += d * d;
        this.sum[c]! += y;
        this.sumSq[c]! += y * y;
      }
    }
    this.n += n;
  }
  result(): MetricsResult {
    const k = this.k;
    const n = Math.max(1, this.n);
    let mae = 0;
    let mse = 0;
    let r2 = 0;
    for (let c = 0; c < k; c++) {
      mae += this.abs[c]! / n;
      mse += this.sq[c]! / n;
      const ssTot = this.sumSq[c]! - (this.sum[c]! * this.sum[c]!) / n;
      r2 += ssTot > 0 ? 1 - this.sq[c]! / ssTot : this.sq[c]! === 0 ? 1 : 0;
    }
    return { task: 'regression', count: this.n, scalars: { mae: mae / k, mse: mse / k, rmse: Math.sqrt(mse / k), r2: r2 / k } };
  }
}
