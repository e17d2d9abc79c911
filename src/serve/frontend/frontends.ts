/**
 * The main thread's side of the multi-core front end: starts N HTTP worker threads sharing one listening
 * socket (worker 0 creates it, the others listen on its file descriptor), and serves what they forward —
 * inference requests onto the one batcher of each model version (the same session pools for every
 * thread), control operations from the repository, `/metrics` as one view aggregated over every thread's
 * registry. Closing stops every listener, drains, and closes the connections left at the deadline.
 *
 * The threads share the listening descriptor itself (Node 20 has no SO_REUSEPORT and cannot duplicate a
 * descriptor), so it is closed once per thread when the front end stops; those closes happen together at
 * shutdown, after which nothing in the process opens descriptors. A worker that dies takes the shared
 * listener with it: the server then reports it through `onFatal` (`trainfer serve` shuts down and exits 1).
 */
import { Worker } from 'node:worker_threads';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { TrainferError, oneLine } from '../../util/errors.js';
import { Cancellation } from '../batcher.js';
import { InferenceError } from '../errors.js';
import { recheckFeeds } from '../infer.js';
import type { ModelRepository } from '../repository.js';
import type { ControlAnswer, ControlRequest } from '../served-model.js';
import { type FrontendInit, type FromFrontend, type ListenSpec, type ToFrontend, type WireError, tensorsFromWire, tensorsToWire } from './protocol.js';

/** Options for `HttpFrontends.start`. */
export interface FrontendsOptions {
  workers: number;
  host: string;
  port: number;
  /** gRPC port (absent: no gRPC). */
  grpcPort?: number;
  repository: ModelRepository;
  /** Answers control operations (the server's control plane, metrics excluded). */
  control: (req: Exclude<ControlRequest, { op: 'metrics' }>) => Promise<ControlAnswer>;
  /** The main thread's own metric values (exec counts, batch sizes, faults, process metrics). */
  mainMetrics: () => Promise<MetricObjectWithValues<MetricValue<string>>[]>;
  logLevel: string;
  /** Log lines from the workers are handed here (else the workers write fd 1 themselves). */
  logLine?: (line: string) => void;
  bodyLimit: number;
  requestTimeoutMs: number;
  maxUploads: number;
  /** The server-wide count of large bodies arriving (shared with the main thread's app). */
  uploads: Int32Array;
  grpcMaxMessageBytes: number;
  /** A worker died: the listener is gone. */
  onFatal: (reason: string) => void;
}

/** Prometheus text exposition format. */
const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

interface Front {
  worker: Worker;
  /** The message listener used until the worker listens. */
  early?: (m: FromFrontend) => void;
  /** Inference requests from this worker in flight here, by its message id. */
  pending: Map<number, Cancellation>;
  stopped?: () => void;
}

/** The bootstrap code of a worker: the sibling `.js` under dist, or tsx's loader first under `.ts`. */
function bootstrap(): string {
  const self = new URL(import.meta.url);
  if (!self.pathname.endsWith('.ts')) return `import(${JSON.stringify(new URL('./http-worker.js', self).href)});`;
  const entry = new URL('./http-worker.ts', self).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  return `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
}

/** N HTTP front-end worker threads over one repository. */
export class HttpFrontends {
  private readonly fronts: Front[] = [];
  private nextPull = 1;
  private readonly pulls = new Map<number, (json: unknown[]) => void>();
  private stopping = false;

  private constructor(
    private readonly o: FrontendsOptions,
    /** `http://host:port` the workers listen on. */
    readonly url: string,
    /** `host:port` of the gRPC listener, when there is one. */
    readonly grpcUrl: string | undefined,
  ) {}

  /** Starts the workers; resolves once every one listens. A start failure stops those already started. */
  static async start(o: FrontendsOptions): Promise<HttpFrontends> {
    if (!Number.isInteger(o.workers) || o.workers < 1) throw new TrainferError(`http workers must be a positive integer, got ${o.workers}`);
    const fronts: Front[] = [];
    const spawn = (index: number, http: ListenSpec, grpc: ListenSpec | undefined) => {
      const init: FrontendInit = {
        index, count: o.workers, http, grpc, logLevel: o.logLevel, forwardLogs: o.logLine !== undefined, bodyLimit: o.bodyLimit,
        requestTimeoutMs: o.requestTimeoutMs, maxUploads: o.maxUploads, uploads: o.uploads, grpcMaxMessageBytes: o.grpcMaxMessageBytes,
        catalog: o.repository.catalog(), repositoryRoot: o.repository.root,
      };
      const worker = new Worker(bootstrap(), { eval: true, workerData: init });
      const front: Front = { worker, pending: new Map() };
      fronts.push(front);
      return new Promise<Extract<FromFrontend, { t: 'listening' }>>((resolve, reject) => {
        const early = (m: FromFrontend) => {
          if (m.t === 'listening') resolve(m);
          else if (m.t === 'start-error') reject(new TrainferError(m.message));
          else if (m.t === 'log') o.logLine?.(m.line);
        };
        front.early = early;
        worker.on('message', early);
        worker.once('error', (err) => reject(new TrainferError(`HTTP worker ${index} failed to start: ${oneLine(err)}`)));
        worker.once('exit', (code) => reject(new TrainferError(`HTTP worker ${index} exited during start (exit code ${code})`)));
      });
    };
    try {
      const first = await spawn(0, { host: o.host, port: o.port }, o.grpcPort === undefined ? undefined : { host: o.host, port: o.grpcPort });
      await Promise.all(Array.from({ length: o.workers - 1 }, (_, i) => spawn(i + 1, { fd: first.httpFd }, first.grpcFd === undefined ? undefined : { fd: first.grpcFd })));
      const self = new HttpFrontends(o, first.httpUrl, first.grpcUrl);
      for (const f of fronts) self.attach(f);
      return self;
    } catch (err) {
      // None of them is inside onnxruntime: terminating is safe.
      await Promise.all(fronts.map((f) => f.worker.terminate()));
      throw err;
    }
  }

  /** Number of worker threads. */
  get size(): number {
    return this.fronts.length;
  }

  /** Tells every worker the repository changed (a load or unload began or ended). */
  catalogChanged(): void {
    const msg: ToFrontend = { t: 'catalog', entries: this.o.repository.catalog() };
    for (const f of this.fronts) f.worker.postMessage(msg);
  }

  /** `/metrics` for every thread: each worker's registry and the main thread's, aggregated. */
  async metricsText(): Promise<string> {
    const views = await Promise.all([this.o.mainMetrics(), ...this.fronts.map((f) => this.pull(f))]);
    return AggregatorRegistry.aggregate(views as MetricObjectWithValues<MetricValue<string>>[][]).metrics();
  }

  /** Responses now carry `Connection: close` and readiness is false everywhere. */
  markClosing(): void {
    for (const f of this.fronts) f.worker.postMessage({ t: 'closing' } satisfies ToFrontend);
  }

  /**
   * Stops every listener at once and resolves when every worker has answered what it had in flight
   * (the repository's drain answers those still queued). `forceClose` cuts the remaining connections.
   */
  stop(): { stopped: Promise<void>; forceClose: () => void } {
    this.stopping = true;
    const stopped = Promise.all(this.fronts.map((f) => new Promise<void>((r) => {
      f.stopped = r;
      f.worker.postMessage({ t: 'stop' } satisfies ToFrontend);
    }))).then(() => Promise.all(this.fronts.map((f) => f.worker.terminate()))).then(() => undefined);
    const forceClose = () => {
      for (const f of this.fronts) f.worker.postMessage({ t: 'force-close' } satisfies ToFrontend);
    };
    return { stopped, forceClose };
  }

  private pull(f: Front): Promise<unknown[]> {
    const id = this.nextPull++;
    return new Promise((resolve) => {
      this.pulls.set(id, resolve);
      f.worker.postMessage({ t: 'pull-metrics', id } satisfies ToFrontend);
    });
  }

  private attach(f: Front): void {
    this.fronts.push(f);
    if (f.early) f.worker.off('message', f.early);
    f.worker.removeAllListeners('error');
    f.worker.removeAllListeners('exit');
    let reason = '';
    f.worker.on('error', (err) => (reason = oneLine(err)));
    f.worker.on('exit', (code) => {
      for (const c of f.pending.values()) c.abort();
      f.pending.clear();
      if (!this.stopping) this.o.onFatal(`HTTP worker exited (exit code ${code})${reason ? `: ${reason}` : ''}`);
    });
    f.worker.on('message', (m: FromFrontend) => this.receive(f, m));
  }

  private receive(f: Front, m: FromFrontend): void {
    switch (m.t) {
      case 'infer':
        this.infer(f, m);
        break;
      case 'cancel':
        f.pending.get(m.id)?.abort();
        break;
      case 'control': {
        const req = m.req;
        // /metrics is answered here rather than by the control plane: it needs every worker's registry.
        const answer = req.op === 'metrics' ? this.metricsText().then((text) => ({ text, contentType: METRICS_CONTENT_TYPE })) : this.o.control(req);
        answer.then(
          (a) => f.worker.postMessage({ t: 'control-result', id: m.id, answer: a } satisfies ToFrontend),
          (err: unknown) => f.worker.postMessage({ t: 'error', id: m.id, error: wireError(err) } satisfies ToFrontend),
        );
        break;
      }
      case 'metrics': {
        const done = this.pulls.get(m.id);
        this.pulls.delete(m.id);
        done?.(m.json);
        break;
      }
      case 'log':
        this.o.logLine?.(m.line);
        break;
      case 'stopped':
        f.stopped?.();
        break;
      default:
        break;
    }
  }

  /** One forwarded inference request onto its version's batcher; the answer (or error) goes back by id. */
  private infer(f: Front, m: Extract<FromFrontend, { t: 'infer' }>): void {
    const fail = (err: unknown) => f.worker.postMessage({ t: 'error', id: m.id, error: wireError(err) } satisfies ToFrontend);
    let mv;
    let batch = m.batch;
    const feeds = tensorsFromWire(m.feeds);
    try {
      mv = this.o.repository.resolve(m.name, m.version);
      if (mv.uid !== m.uid) batch = recheckFeeds(mv, feeds);
    } catch (err) {
      fail(err);
      return;
    }
    const cancel = new Cancellation();
    f.pending.set(m.id, cancel);
    mv.submit({ feeds, batch, fetches: m.fetches, signal: cancel, id: m.rid || undefined, ...(m.parameters ? { parameters: m.parameters } : {}) }).then(
      (r) => {
        f.pending.delete(m.id);
        const transfer: ArrayBuffer[] = [];
        const outputs = tensorsToWire(r.outputs, transfer);
        f.worker.postMessage({ t: 'result', id: m.id, outputs, queueMs: r.queueMs, computeMs: r.computeMs, batchSize: r.batchSize, ...(r.parameters ? { parameters: r.parameters } : {}) } satisfies ToFrontend, transfer);
      },
      (err: unknown) => {
        f.pending.delete(m.id);
        fail(err);
      },
    );
  }
}

/** An error as it crosses to a worker: an `InferenceError`'s status and headers, else a 500. */
function wireError(err: unknown): WireError {
  if (err instanceof InferenceError) return { message: err.message, status: err.status, headers: err.headers };
  return { message: oneLine(err), status: 500, headers: {} };
}
