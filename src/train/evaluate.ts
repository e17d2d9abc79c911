/**
 * Evaluating a model on a table or a stream: the model's graph with the same losses the trainer uses
 * attached to its heads, run in fixed-size batches fed by the same feed plan (columns or providers), with
 * every head's metrics accumulated (metrics.ts). Checks that the data fits the model's inputs and targets
 * before running anything.
 */
import * as ort from 'onnxruntime-node';
import { cloneGraph } from '../autodiff/index.js';
import { GraphBuilder } from '../onnx/builder.js';
import type { TypedArray } from '../onnx/dtype.js';
import { Model } from '../onnx/ir.js';
import { type Device, Session } from '../runtime/session.js';
import { TrainferError, oneLine } from '../util/errors.js';
import { Batcher, packTable } from '../data/batcher.js';
import { defaultTargetColumn } from '../data/dataset.js';

/** The single-tensor shape check, kept here for callers that import it from evaluate. */
export { checkInputShape } from '../data/dataset.js';
import { type FeedBinding, type FeedPlan, type FeedSpec, planFeeds } from '../data/feed-plan.js';
import type { TableStream } from '../data/stream.js';
import type { Table } from '../data/table.js';
import { type HeadLoss, type HeadValue, attachLosses } from '../nn/loss.js';
import { type ModelHead, resolveLosses } from '../nn/network.js';
import { type MetricsResult, createMetrics } from './metrics.js';
import { modelHeads } from './onnx-trainable.js';
import { checkClassTargets } from './task.js';

/** Loss and metrics over a data set. */
export interface EvalResult {
  /** Mean loss (the training objective, without dropout) over all samples. */
  loss: number;
  /** The first head's accuracy (NaN for regression). */
  accuracy: number;
  /** The first head's scalar metrics (`accuracy`, `f1`, `auc`, `rmse`, …) and `loss`. */
  metrics: Record<string, number>;
  /** Every head's metrics, with per-class detail. */
  heads: Record<string, MetricsResult>;
  count: number;
  /** Samples per second of inference. */
  samplesPerSecond: number;
}

/** Options for `evaluate`. */
export interface EvaluateOptions {
  /** An inference model (e.g. `trainable.inferenceGraph({ weights })`, or a file read with `readModel`). */
  model: Model;
  data: Table | TableStream;
  /** The heads to score (default: the first output, classification — see `modelHeads`). */
  heads?: readonly ModelHead[];
  /** Loss terms (default: each head's task default on the first head). */
  losses?: readonly HeadLoss[];
  /** Target column(s) of the first head's loss (default: label/labels/class/target/y, else the last column). */
  target?: string | readonly string[];
  /** Target column(s) of other heads, by head name. */
  targets?: Readonly<Record<string, string | readonly string[]>>;
  /** Bindings of other feeds (inputs by column list, custom-loss targets, providers). */
  feeds?: Readonly<Record<string, FeedBinding>>;
  /** Default 1000. */
  batchSize?: number;
  threads?: number;
  /** Where onnxruntime runs: `cpu` (default) or `cuda` (needs a CUDA build of onnxruntime-node). */
  device?: Device;
  /** Name for error messages (e.g. the .onnx path). */
  modelName?: string;
}

/** The model with losses attached: outputs `[loss, …head values]`, and the feed specs it takes. */
export function evalGraph(model: Model, heads: readonly ModelHead[], losses: readonly HeadLoss[]): { model: Model; feeds: FeedSpec[]; loss: string; heads: HeadValue[]; targetHead: Map<string, string> } {
  const g = cloneGraph(model.graph);
  g.outputs = [];
  const b = new GraphBuilder({ graph: g });
  const hv: HeadValue[] = heads.map((h) => ({ name: h.name, value: h.output, task: h.task, shape: h.shape }));
  const { loss, targets } = attachLosses(b, { heads: hv, losses });
  g.outputs = [{ name: loss, type: { dtype: 'float32', shape: [] } }];
  const seen = new Set([loss]);
  for (const h of hv) if (!seen.has(h.value)) {
    seen.add(h.value);
    g.outputs.push({ name: h.value, type: { dtype: 'float32', shape: ['batch', ...h.shape] } });
  }
  const inputs: FeedSpec[] = model.graph.feedInputs().map((v) => ({ name: v.name, dtype: v.type?.dtype ?? 'float32', shape: (v.type?.shape ?? []).slice(1).map((d, k) => (typeof d === 'number' && d >= 0 ? d : (d ?? `${v.name}_dim${k + 1}`))), role: 'input' }));
  const m = new Model(g);
  m.opsets = new Map(model.opsets);
  if ((m.opsets.get('') ?? 0) < 13) m.opsets.set('', 13); // SoftmaxCrossEntropyLoss
  const targetHead = new Map(targets.filter((t) => t.head).map((t) => [t.name, t.head!]));
  return { model: m, feeds: [...inputs, ...targets.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, role: 'target' as const, ...(t.head ? { head: t.head } : {}) }))], loss, heads: hv, targetHead };
}

/** Target columns per head: `target` for the first head, `targets[head]` for any. */
export interface TargetColumns {
  target?: string | readonly string[];
  targets?: Readonly<Record<string, string | readonly string[]>>;
}

/**
 * The bindings of a graph's feeds: `feeds`, plus each built-in loss target bound to its head's target
 * columns (the first head defaults to the label/labels/class/target/y column, else the last column).
 */
export function bindTargets(specs: readonly FeedSpec[], heads: readonly { name: string }[], data: Pick<Table, 'columns' | 'source'>, o: TargetColumns & { feeds?: Readonly<Record<string, FeedBinding>> }): Record<string, FeedBinding> {
  const out: Record<string, FeedBinding> = { ...o.feeds };
  const list = (v: string | readonly string[]) => (typeof v === 'string' ? [v] : [...v]);
  for (const s of specs) {
    if (s.role !== 'target' || !s.head || out[s.name]) continue;
    const first = s.head === heads[0]?.name;
    const cols = o.targets?.[s.head] ?? (first ? (o.target ?? defaultTargetColumn(data)) : undefined);
    if (cols === undefined) throw new TrainferError(`head '${s.head}' has a loss but no target column: name it (targets: { ${s.head}: … })`);
    out[s.name] = { columns: list(cols) };
  }
  return out;
}

/** Throws when a classification head's target column holds ids outside its classes. */
export function checkPlanTargets(plan: FeedPlan, heads: readonly HeadValue[], targetHead: ReadonlyMap<string, string>, table: Pick<Table, 'source' | 'columns'>): void {
  for (const f of plan.feeds) {
    if (f.spec.role !== 'target' || !f.columns || f.columns.length !== 1) continue;
    const head = heads.find((h) => h.name === targetHead.get(f.spec.name));
    if (head?.task !== 'classification' || typeof head.shape[0] !== 'number') continue;
    checkClassTargets(table, f.columns[0]!.name, head.shape[0]);
  }
}

/**
 * Runs the model over `data` and scores every head. Throws a one-line error when the data does not fit
 * the model (missing column, shape, dtype, class out of range) before running anything.
 *
 * @example
 * const r = await evaluate({ model: readModel('house.onnx'), data: test, heads: modelHeads(model, { task: 'regression' }), target: 'price' });
 * console.log(r.metrics.rmse);
 */
export async function evaluate(o: EvaluateOptions): Promise<EvalResult> {
  const name = o.modelName ?? 'model';
  const heads = o.heads ?? modelHeads(o.model, { name });
  const losses = o.losses ?? resolveLosses(heads, {});
  const eg = evalGraph(o.model, heads, losses);
  const stream = 'kind' in o.data ? o.data : undefined;
  const schema = stream ? stream.schemaTable() : (o.data as Table);
  const plan = planFeeds({ specs: eg.feeds, table: schema, bindings: bindTargets(eg.feeds, heads, schema, o), model: name });
  const targetHead = eg.targetHead;
  checkPlanTargets(plan, eg.heads, targetHead, schema);
  const fixed = o.model.graph.feedInputs().map((v) => v.type?.shape?.[0]).find((d): d is number => typeof d === 'number' && d > 0);
  // A model with a fixed batch dimension runs whole batches of that size (a shorter tail is left out).
  const count = fixed ? o.data.count - (o.data.count % fixed) : o.data.count;
  if (count === 0) throw new TrainferError(`${name} takes batches of exactly ${fixed} but ${o.data.source} has only ${o.data.count} rows`);
  const bs = fixed ?? Math.max(1, Math.min(o.batchSize ?? 1000, count));
  const batcher = new Batcher({ plan, batchSize: bs });
  // A head whose per-sample dims are symbolic gets its loss only (its class count is unknown here).
  const metrics = eg.heads.map((h) => {
    const known = h.shape.every((d) => typeof d === 'number');
    return createMetrics({ task: h.task, shape: known ? (h.shape as number[]) : [], lossOnly: !known });
  });
  const headTargets = eg.heads.map((h) => plan.feeds.find((f) => f.spec.role === 'target' && targetHead.get(f.spec.name) === h.name));
  let session: Session;
  try {
    session = await Session.create({ model: eg.model }, { intraOpThreads: o.threads, device: o.device });
  } catch (err) {
    throw new TrainferError(`${name}: onnxruntime cannot load the model with its loss attached: ${oneLine(err)}`, { cause: err });
  }
  try {
    const full: Record<string, ort.Tensor> = {};
    for (const b of batcher.buffers) full[b.name] = new ort.Tensor(b.dtype as 'float32', b.data as Float32Array, [bs, ...b.shape]);
    const outNames = [eg.loss, ...eg.heads.map((h) => h.value)];
    let lossSum = 0;
    let seen = 0;
    const t0 = performance.now();
    const runBatch = async (n: number, rows: { table: Table; start: number }): Promise<void> => {
      const p = batcher.provide({ size: n, phase: 'eval', step: 0, rows: { ...rows, order: null } });
      if (p) await p;
      const feeds: Record<string, ort.Tensor> = {};
      for (const b of batcher.buffers) {
        feeds[b.name] = n === bs ? full[b.name]! : new ort.Tensor(b.dtype as 'float32', (b.data as Float32Array).subarray(0, n * b.shape.reduce((x, y) => x * y, 1)), [n, ...b.shape]);
      }
      let out: ort.InferenceSession.OnnxValueMapType;
      try {
        out = await session.ort.run(feeds, outNames);
      } catch (err) {
        throw new TrainferError(`${name}: evaluation failed in onnxruntime: ${oneLine(err)}`, { cause: err });
      }
      lossSum += (out[eg.loss]!.data as Float32Array)[0]! * n;
      eg.heads.forEach((h, i) => {
        const t = headTargets[i];
        if (!t) return;
        metrics[i]!.update(out[h.value]!.data as Float32Array, batcher.buffer(t.spec.name).data as TypedArray, n);
      });
      seen += n;
    };
    if (stream) {
      for (const chunk of stream.batches(bs)) {
        if (fixed && chunk.count < bs) break;
        checkPlanTargets(plan, eg.heads, targetHead, chunk);
        batcher.fill(packTable(chunk, plan), null, 0, chunk.count);
        await runBatch(chunk.count, { table: chunk, start: 0 });
      }
    } else {
      const packed = packTable(o.data as Table, plan);
      for (let start = 0; start < count; start += bs) await runBatch(batcher.fill(packed, null, start, bs), { table: o.data as Table, start });
    }
    const secs = (performance.now() - t0) / 1000;
    const byHead: Record<string, MetricsResult> = {};
    eg.heads.forEach((h, i) => (byHead[h.name] = metrics[i]!.result()));
    const first = byHead[eg.heads[0]!.name]!;
    const loss = lossSum / Math.max(1, seen);
    return { loss, accuracy: first.scalars.accuracy ?? NaN, metrics: { loss, ...first.scalars }, heads: byHead, count: seen, samplesPerSecond: seen / Math.max(secs, 1e-9) };
  } finally {
    await session.release();
  }
}
