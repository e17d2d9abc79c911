/**
 * Prometheus metrics for the server (prom-client, one registry per server). Families follow Triton's
 * `nv_inference_*` names with a `trainfer_` prefix, plus histograms; every series is labelled with
 * `model` and `version`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { FailureReason } from './errors.js';

const LABELS = ['model', 'version'] as const;

/** The server's metric families. */
export class ServeMetrics {
  readonly registry = new Registry();
  readonly success = new Counter({ name: 'trainfer_inference_request_success', help: 'Successful inference requests', labelNames: LABELS, registers: [this.registry] });
  readonly failure = new Counter({ name: 'trainfer_inference_request_failure', help: 'Failed inference requests, by reason', labelNames: [...LABELS, 'reason'], registers: [this.registry] });
  readonly count = new Counter({ name: 'trainfer_inference_count', help: 'Inferences performed (a batch of N counts N)', labelNames: LABELS, registers: [this.registry] });
  readonly execCount = new Counter({ name: 'trainfer_inference_exec_count', help: 'Model executions (batches run)', labelNames: LABELS, registers: [this.registry] });
  readonly requestDuration = new Counter({ name: 'trainfer_inference_request_duration_us', help: 'Cumulative request handling time (arrival to response), microseconds', labelNames: LABELS, registers: [this.registry] });
  readonly queueDuration = new Counter({ name: 'trainfer_inference_queue_duration_us', help: 'Cumulative time requests waited in the batching queue, microseconds', labelNames: LABELS, registers: [this.registry] });
  readonly computeDuration = new Counter({ name: 'trainfer_inference_compute_infer_duration_us', help: 'Cumulative time in onnxruntime per request (a batch counts for each request in it), microseconds', labelNames: LABELS, registers: [this.registry] });
  readonly latency = new Histogram({
    name: 'trainfer_inference_request_duration_seconds',
    help: 'Request latency from arrival to response, seconds',
    labelNames: LABELS,
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
    registers: [this.registry],
  });
  readonly queueHistogram = new Histogram({
    name: 'trainfer_inference_queue_duration_seconds',
    help: 'Time a request waited in the batching queue, seconds',
    labelNames: LABELS,
    buckets: [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1],
    registers: [this.registry],
  });
  readonly batchSize = new Histogram({
    name: 'trainfer_inference_batch_size',
    help: 'Batch size of each model execution',
    labelNames: LABELS,
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [this.registry],
  });
  readonly workerRestarts = new Counter({ name: 'trainfer_worker_restarts_total', help: 'Session workers replaced, by cause: crash (the thread died) or hung (a run passed its deadline)', labelNames: [...LABELS, 'cause'], registers: [this.registry] });
  readonly workerStartFailures = new Counter({ name: 'trainfer_worker_start_failures_total', help: 'Failed attempts to start a replacement session worker', labelNames: LABELS, registers: [this.registry] });
  readonly batchRetries = new Counter({ name: 'trainfer_batch_retries_total', help: 'Batches that failed and whose requests were run again one by one', labelNames: LABELS, registers: [this.registry] });
  /** Reads hung-worker counts at scrape time (set by the server). */
  hungSource: () => { model: string; version: string; hung: number }[] = () => [];
  readonly hungWorkers = new Gauge({
    name: 'trainfer_worker_hung',
    help: 'Workers replaced after a run passed its deadline whose run has not returned yet (each holds a thread inside onnxruntime)',
    labelNames: LABELS,
    registers: [this.registry],
    collect: () => {
      this.hungWorkers.reset();
      for (const p of this.hungSource()) this.hungWorkers.set({ model: p.model, version: p.version }, p.hung);
    },
  });
  readonly inFlight = new Gauge({ name: 'trainfer_inference_inflight_requests', help: 'Inference requests received and not yet answered', labelNames: LABELS, registers: [this.registry] });
  /** Reads queue depths at scrape time (set by the server). */
  pendingSource: () => { model: string; version: string; queued: number }[] = () => [];
  readonly pending = new Gauge({
    name: 'trainfer_inference_pending_request_count',
    help: 'Requests waiting in the batching queue',
    labelNames: LABELS,
    registers: [this.registry],
    collect: () => {
      this.pending.reset();
      for (const p of this.pendingSource()) this.pending.set({ model: p.model, version: p.version }, p.queued);
    },
  });

  /** Reads the ANN indexes of retrieval models at scrape time (set by the server). */
  annSource: () => { model: string; version: string; recall?: number; buildSeconds: number }[] = () => [];
  readonly annRecall = new Gauge({
    name: 'trainfer_ann_recall',
    help: "Recall@10 of a retrieval model's ANN index against exact top-10, measured at load on a sample of users",
    labelNames: LABELS,
    registers: [this.registry],
    collect: () => {
      this.annRecall.reset();
      for (const a of this.annSource()) if (a.recall !== undefined) this.annRecall.set({ model: a.model, version: a.version }, a.recall);
    },
  });
  readonly annBuildSeconds = new Gauge({
    name: 'trainfer_ann_build_seconds',
    help: "Seconds a retrieval model's ANN index took to build at load",
    labelNames: LABELS,
    registers: [this.registry],
    collect: () => {
      this.annBuildSeconds.reset();
      for (const a of this.annSource()) this.annBuildSeconds.set({ model: a.model, version: a.version }, a.buildSeconds);
    },
  });

  /**
   * CPU time of the thread this registry lives in (Linux: /proc/thread-self), labelled by its role
   * (`main`, `http-0`, …): shows whether the front-end threads or the main thread are the limit.
   */
  readonly threadCpu?: Gauge;

  /** `thread`: this registry's thread role for `trainfer_thread_cpu_seconds_total` (absent: not reported). */
  constructor(options: { processMetrics?: boolean; thread?: string } = {}) {
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'trainfer_' });
    const thread = options.thread;
    if (thread !== undefined && existsSync('/proc/thread-self/stat')) {
      this.threadCpu = new Gauge({
        name: 'trainfer_thread_cpu_seconds_total',
        help: 'CPU seconds (user + system) used by each server thread that parses, dispatches or encodes requests',
        labelNames: ['thread'],
        registers: [this.registry],
        collect: () => this.threadCpu!.set({ thread }, threadCpuSeconds()),
      });
    }
  }

  /** Records one finished request. */
  request(model: string, version: string, r: { ok: true; ms: number; queueMs: number; computeMs: number } | { ok: false; ms: number; reason: FailureReason }): void {
    const c = this.series(model, version);
    if (r.ok) {
      c.success.inc();
      c.queueDuration.inc(Math.round(r.queueMs * 1000));
      c.computeDuration.inc(Math.round(r.computeMs * 1000));
      c.queueHistogram.observe(r.queueMs / 1000);
    } else {
      this.failure.inc({ model, version, reason: r.reason });
    }
    c.requestDuration.inc(Math.round(r.ms * 1000));
    c.latency.observe(r.ms / 1000);
  }

  /** Records one model execution of `batchSize` items. */
  exec(model: string, version: string, batchSize: number): void {
    const c = this.series(model, version);
    c.execCount.inc();
    c.count.inc(batchSize);
    c.batchSize.observe(batchSize);
  }

  /**
   * The labelled series of one model version, looked up once and cached: prom-client otherwise hashes
   * the label set on every call, eight times per request.
   */
  series(model: string, version: string): VersionSeries {
    const key = `${model}\u0000${version}`;
    let c = this.children.get(key);
    if (!c) {
      c = labelledSeries(this, model, version);
      this.children.set(key, c);
    }
    return c;
  }

  private readonly children = new Map<string, VersionSeries>();
}

/** The per-version children of the labelled families (the failure counter is also labelled by reason). */
function labelledSeries(m: ServeMetrics, model: string, version: string) {
  return {
    success: m.success.labels(model, version),
    count: m.count.labels(model, version),
    execCount: m.execCount.labels(model, version),
    requestDuration: m.requestDuration.labels(model, version),
    queueDuration: m.queueDuration.labels(model, version),
    computeDuration: m.computeDuration.labels(model, version),
    latency: m.latency.labels(model, version),
    queueHistogram: m.queueHistogram.labels(model, version),
    batchSize: m.batchSize.labels(model, version),
    inFlight: m.inFlight.labels(model, version),
  };
}

/** The labelled series of one model version. */
export type VersionSeries = ReturnType<typeof labelledSeries>;

/** CPU seconds of the calling thread, from /proc/thread-self/stat (utime + stime, in USER_HZ = 100 ticks). */
function threadCpuSeconds(): number {
  const stat = readFileSync('/proc/thread-self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}
