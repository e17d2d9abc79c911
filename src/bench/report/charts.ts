/**
 * The report's charts as Vega-Lite specs with their data inlined: training curves, throughput and
 * latency percentiles per variant, the accuracy-vs-latency and accuracy-vs-size Pareto frontiers, the
 * Server scenario's latency-vs-QPS curve, cost per 1 M predictions and the break-even chart. Pure
 * functions of a lab run and its cost report.
 */
import type { CostReport } from '../cost/model.js';
import type { LabRun } from '../lab/lab-run.js';

/** One chart: an id for its container, a title, a caption on how to read it, and the spec. */
export interface Chart {
  id: string;
  title: string;
  caption: string;
  spec: Record<string, unknown>;
}

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const WIDTH = 430;

/** The points of `pts` no other point beats on both axes (lower x and higher y are better). */
export function paretoFrontier<T>(pts: readonly T[], x: (p: T) => number, y: (p: T) => number): T[] {
  const sorted = [...pts].sort((a, b) => x(a) - x(b) || y(b) - y(a));
  const out: T[] = [];
  let best = -Infinity;
  for (const p of sorted) {
    if (y(p) > best) {
      out.push(p);
      best = y(p);
    }
  }
  return out;
}

interface VariantRow {
  workload: string;
  variant: string;
  quality: number;
  sizeKiB: number;
  p50: number;
  p90: number;
  p99: number;
  offline: number;
  server?: number;
}

function variantRows(run: LabRun): VariantRow[] {
  return run.workloads.flatMap((w) =>
    w.variants.map((v) => ({
      workload: w.title,
      variant: v.label,
      quality: v.quality * (w.quality.percent ? 100 : 1),
      sizeKiB: v.storedBytes / 1024,
      p50: v.bench.singleStream.latencyMs.p50,
      p90: v.bench.singleStream.latencyMs.p90,
      p99: v.bench.singleStream.latencyMs.p99,
      offline: v.bench.offline.samplesPerSecond,
      server: v.bench.server.bestQps,
    })),
  );
}

/** Every chart of the report, in order. */
export function buildCharts(run: LabRun, cost: CostReport): Chart[] {
  const rows = variantRows(run);
  // Mixed workloads (accuracy, recall@10, …) share the axis as "quality"; each workload's metric is in the summary table.
  const mixed = new Set(run.workloads.map((w) => w.quality.name)).size > 1;
  const qualityName = mixed ? 'quality (each workload\'s metric)' : (run.workloads[0]?.quality.name ?? 'quality');
  const qualityTitle = `${qualityName}${run.workloads.every((w) => w.quality.percent) ? ' (%)' : ''}`;
  const charts: Chart[] = [];

  const loss = run.workloads.flatMap((w) => (w.training.lossCurve.length > 0 ? w.training.lossCurve.map((p) => ({ workload: w.title, step: p.step, loss: p.loss })) : w.training.history.map((h) => ({ workload: w.title, step: h.step, loss: h.loss }))));
  charts.push({
    id: 'training-loss', title: 'Training loss', caption: 'Mean cross-entropy of the training batches against the optimizer step (every 100 steps). It should fall steeply, then flatten; a rise means the learning rate is too high.',
    spec: { $schema: SCHEMA, width: WIDTH, height: 220, data: { values: loss }, mark: { type: 'line', point: loss.length < 40 }, encoding: { x: { field: 'step', type: 'quantitative', title: 'step' }, y: { field: 'loss', type: 'quantitative', title: 'training loss', scale: { type: 'log' } }, color: { field: 'workload', type: 'nominal', legend: { orient: 'bottom' } } } },
  });
  const acc = run.workloads.flatMap((w) => w.training.history.flatMap((h) => [{ workload: w.title, epoch: h.epoch, split: 'train', accuracy: h.accuracy * 100 }, ...(h.valAccuracy === undefined ? [] : [{ workload: w.title, epoch: h.epoch, split: 'validation', accuracy: h.valAccuracy * 100 }])]));
  charts.push({
    id: 'training-accuracy', title: 'Training and validation accuracy per epoch', caption: 'Accuracy on the training batches (as the weights changed) and on the held-out validation split after each epoch. Validation far below training means overfitting.',
    spec: { $schema: SCHEMA, width: WIDTH, height: 220, data: { values: acc }, mark: { type: 'line', point: true }, encoding: { x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1 } }, y: { field: 'accuracy', type: 'quantitative', title: 'accuracy (%)', scale: { zero: false } }, color: { field: 'workload', type: 'nominal', legend: { orient: 'bottom' } }, strokeDash: { field: 'split', type: 'nominal', legend: { orient: 'bottom' } } } },
  });

  const thr = rows.flatMap((r) => [{ workload: r.workload, variant: r.variant, measure: 'offline (samples/s)', value: r.offline }, ...(r.server === undefined ? [] : [{ workload: r.workload, variant: r.variant, measure: `server within p99 bound (queries/s)`, value: r.server }])]);
  charts.push({
    id: 'throughput', title: 'Throughput per variant', caption: 'Offline: samples per second with every sample available (batched). Server: the highest Poisson arrival rate whose p99 latency stayed under the bound — the throughput you can sell. Longer bars are better.',
    spec: { $schema: SCHEMA, data: { values: thr }, mark: 'bar', encoding: { row: { field: 'workload', type: 'nominal', title: null }, y: { field: 'variant', type: 'nominal', title: null, sort: null }, yOffset: { field: 'measure' }, x: { field: 'value', type: 'quantitative', title: 'per second' }, color: { field: 'measure', type: 'nominal', title: null, legend: { orient: 'bottom' } } }, width: WIDTH - 120, resolve: { scale: { x: 'independent' } } },
  });

  const lat = rows.flatMap((r) => (['p50', 'p90', 'p99'] as const).map((p) => ({ workload: r.workload, variant: r.variant, percentile: p, ms: r[p] })));
  charts.push({
    id: 'latency', title: 'Single-stream latency percentiles per variant', caption: 'One query of one sample at a time: the latency a single user sees. p50 is the typical request, p99 the slow tail. Shorter is better.',
    spec: { $schema: SCHEMA, data: { values: lat }, mark: 'bar', encoding: { row: { field: 'workload', type: 'nominal', title: null }, y: { field: 'variant', type: 'nominal', title: null, sort: null }, yOffset: { field: 'percentile' }, x: { field: 'ms', type: 'quantitative', title: 'latency (ms)' }, color: { field: 'percentile', type: 'ordinal', legend: { orient: 'bottom' } } }, width: WIDTH - 120, resolve: { scale: { x: 'independent' } } },
  });

  for (const [id, title, field, axis, scale, caption] of [
    ['pareto-latency', `${qualityTitle} vs latency`, 'p50', 'single-stream p50 latency (ms)', 'linear', 'Each point is a variant. The line joins the Pareto frontier: the variants no other variant beats on both latency and quality. Up and to the left is better; a variant off the line is dominated.'],
    ['pareto-size', `${qualityTitle} vs size`, 'sizeKiB', 'stored size (KiB, log scale)', 'log', 'Each point is a variant; the line is the Pareto frontier of size against quality. Up and to the left is better.'],
  ] as const) {
    const frontier = run.workloads.flatMap((w) => paretoFrontier(rows.filter((r) => r.workload === w.title), (r) => r[field], (r) => r.quality).map((r, i) => ({ ...r, order: i })));
    charts.push({
      id, title, caption,
      spec: {
        $schema: SCHEMA, width: WIDTH, height: 260,
        layer: [
          { data: { values: frontier }, mark: { type: 'line', strokeDash: [4, 3] }, encoding: { x: { field, type: 'quantitative', scale: scale === 'log' ? { type: 'log' } : { zero: false } }, y: { field: 'quality', type: 'quantitative' }, order: { field: 'order' }, color: { field: 'workload', type: 'nominal', legend: { orient: 'bottom' } } } },
          { data: { values: rows }, mark: { type: 'point', filled: true, size: 70 }, encoding: { x: { field, type: 'quantitative', title: axis, scale: scale === 'log' ? { type: 'log' } : { zero: false } }, y: { field: 'quality', type: 'quantitative', title: qualityTitle, scale: { zero: false } }, color: { field: 'workload', type: 'nominal', legend: { orient: 'bottom' } }, shape: { field: 'variant', type: 'nominal', legend: { orient: 'bottom', columns: 3 } }, tooltip: [{ field: 'workload' }, { field: 'variant' }, { field: 'quality', format: '.2f' }, { field, format: '.3f' }] } },
        ],
      },
    });
  }

  const curve = run.workloads.flatMap((w) => w.variants.flatMap((v) => v.bench.server.trials.flatMap((t) => [{ workload: w.title, variant: v.label, qps: t.targetQps, percentile: 'p99', ms: t.p99, valid: t.valid }, { workload: w.title, variant: v.label, qps: t.targetQps, percentile: 'p50', ms: t.p50, valid: t.valid }])));
  const bounds = run.workloads.map((w) => ({ workload: w.title, bound: w.bench.latencyBoundMs }));
  charts.push({
    id: 'latency-vs-qps', title: 'Server scenario: latency against offered load', caption: 'Every trial of the QPS search: Poisson arrivals at the offered rate, latency measured from each query’s scheduled arrival. Latency stays flat, then rises steeply as the system saturates; the Server result is the last rate whose p99 (solid) stays under the bound (grey rule). Trials that crossed it were stopped early, so their p99 is a lower bound.',
    spec: {
      $schema: SCHEMA,
      facet: { row: { field: 'workload', type: 'nominal', title: null } },
      data: { values: curve.map((c) => ({ ...c, bound: bounds.find((b) => b.workload === c.workload)!.bound })) },
      spec: {
        width: WIDTH - 60, height: 200,
        layer: [
          { mark: { type: 'line', point: true }, encoding: { x: { field: 'qps', type: 'quantitative', title: 'offered load (queries/s)' }, y: { field: 'ms', type: 'quantitative', title: 'latency (ms, log)', scale: { type: 'log' } }, color: { field: 'variant', type: 'nominal', legend: { orient: 'bottom', columns: 3 } }, strokeDash: { field: 'percentile', type: 'nominal', sort: ['p99', 'p50'], legend: { orient: 'bottom' } }, order: { field: 'qps' }, tooltip: [{ field: 'variant' }, { field: 'qps', format: ',.0f' }, { field: 'percentile' }, { field: 'ms', format: '.3f' }, { field: 'valid' }] } },
          { mark: { type: 'rule', color: '#888' }, encoding: { y: { field: 'bound', aggregate: 'max', type: 'quantitative' } } },
        ],
      },
      resolve: { scale: { x: 'independent' } },
    },
  });

  const ref = cost.rows.filter((r) => r.profile === cost.rows[0]?.profile);
  const costBars = cost.rows.flatMap((r) => r.variants.filter((v) => v.costPer1M !== undefined).flatMap((v) => [{ profile: r.profileName, workload: r.title, variant: v.label, part: 'compute', cost: v.computePer1M! }, { profile: r.profileName, workload: r.title, variant: v.label, part: 'transfer', cost: v.transferPer1M }]));
  charts.push({
    id: 'cost-per-million', title: `Cost per 1 M predictions (${cost.currency}, example prices as of ${cost.asOf})`, caption: 'Solid: compute at the throughput reached within the latency bound (a fully used machine); pale: response egress (and request ingress), equal for variants with the same inputs and outputs. Per variant and hardware profile; the profiles are editable examples, not live prices.',
    spec: { $schema: SCHEMA, data: { values: costBars }, mark: 'bar', encoding: { row: { field: 'workload', type: 'nominal', title: null }, y: { field: 'variant', type: 'nominal', title: null, sort: null }, yOffset: { field: 'profile' }, x: { field: 'cost', type: 'quantitative', stack: 'zero', title: `${cost.currency} per 1 M predictions` }, color: { field: 'profile', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 1, labelLimit: 400 } }, opacity: { field: 'part', type: 'ordinal', sort: ['compute', 'transfer'], scale: { domain: ['compute', 'transfer'], range: [1, 0.35] }, legend: { orient: 'bottom' } }, tooltip: [{ field: 'profile' }, { field: 'variant' }, { field: 'part' }, { field: 'cost', format: '.5f' }] }, width: WIDTH - 120, resolve: { scale: { x: 'independent' } } },
  });

  const be: Record<string, unknown>[] = [];
  for (const r of ref) {
    const maxN = Math.max(...r.variants.map((v) => v.breakEvenPredictions ?? 0)) * 1.5 || 1e6;
    for (let i = 0; i <= 40; i++) {
      const preds = (maxN * i) / 40;
      for (const v of r.variants) if (v.costPer1M !== undefined) be.push({ workload: r.title, series: `${v.label} inference`, predictions: preds, cost: (preds / 1e6) * v.costPer1M });
      be.push({ workload: r.title, series: 'training (fp32)', predictions: preds, cost: r.training.cost });
    }
  }
  charts.push({
    id: 'break-even', title: `Break-even: cumulative inference spend against training spend (${ref[0]?.profileName ?? 'no profile'})`, caption: 'The flat line is what training cost once; each rising line is the cumulative cost of serving that many predictions with a variant. Where a rising line crosses the flat one, inference has cost as much as training — after that, inference efficiency dominates the total, and a cheaper variant saves more than it cost to build.',
    spec: { $schema: SCHEMA, facet: { row: { field: 'workload', type: 'nominal', title: null } }, data: { values: be }, spec: { width: WIDTH - 60, height: 200, mark: 'line', encoding: { x: { field: 'predictions', type: 'quantitative', title: 'predictions served', axis: { format: '~s' } }, y: { field: 'cost', type: 'quantitative', title: `cumulative ${cost.currency}` }, color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 2 } } } }, resolve: { scale: { x: 'independent', y: 'independent' } } },
  });
  return charts;
}
