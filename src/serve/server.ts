/**
 * `InferenceServer`: the Open Inference Protocol (KServe v2) server over a `ModelRepository` — the REST
 * app (src/serve/app.ts) and, with `grpcPort`, the gRPC `inference.GRPCInferenceService`. With
 * `httpWorkers` N ≥ 1 (the default), N worker threads share the listening sockets and do the transport
 * work (HTTP parsing, decoding, encoding) while the main thread keeps the repository, one dynamic
 * batcher per model version and its session pools, and aggregates every thread's metrics into one
 * `/metrics`; with 0, the main thread serves alone. Every 5xx and every worker fault is logged with the
 * request id; `close` drains with a deadline.
 */
import { availableParallelism } from 'node:os';
import { pino, type Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { RestartPolicy } from '../runtime/pool.js';
import { buildApp } from './app.js';
import type { BatchRequest, BatchResult } from './batcher.js';
import type { ModelConfig } from './config.js';
import { answerControl } from './control.js';
import { HttpFrontends } from './frontend/frontends.js';
import { type GrpcFrontend, startGrpc } from './grpc/service.js';
import { ServeMetrics } from './metrics.js';
import { ModelRepository, type ModelVersion, type RepositoryHooks } from './repository.js';
import type { ControlAnswer, ControlRequest, ServeBackend, ServedModel } from './served-model.js';

export { EXTENSIONS, SERVER_NAME } from './app.js';

/** Options for `InferenceServer.start`. */
export interface ServeOptions {
  /** The model repository directory. */
  repository: string;
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /** TCP port (default 8000; 0 picks a free one). */
  port?: number;
  /** gRPC port (`inference.GRPCInferenceService`; 0 picks a free one). Default: no gRPC. */
  grpcPort?: number;
  /** Largest gRPC message in bytes, received or sent (default: `bodyLimitBytes`). */
  grpcMaxMessageBytes?: number;
  /**
   * Worker threads doing the HTTP and gRPC transport work, sharing the listening sockets (default:
   * `defaultHttpWorkers`); 0 serves from the main thread alone.
   */
  httpWorkers?: number;
  /** Log level for the JSON request log (default `info`: one line per request); `silent` for none. */
  logLevel?: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  /** Where log lines go (default stdout). */
  logDestination?: { write(line: string): void };
  /** Largest request body in bytes (default 64 MiB); bigger bodies get 413. */
  bodyLimitBytes?: number;
  /** Defaults for config fields a model's config.json leaves out. */
  modelDefaults?: Partial<ModelConfig>;
  /** Batch limit of models whose maxBatchSize is `auto` and that declare themselves batch-first (default 32; 0 = never batch automatically). */
  autoMaxBatchSize?: number;
  /** Include Node process metrics (CPU, memory, event loop lag) in /metrics (default true). */
  processMetrics?: boolean;
  /** Longest time to receive one whole request, headers and body, in ms (default 30000; 0 = no limit). Slower clients get 408 and are disconnected. */
  requestTimeoutMs?: number;
  /**
   * Request bodies of more than 64 KiB (or of unknown length) that may be arriving at once, over every
   * front-end thread together (default 256); more get 503 at once. Memory held by uploads stays under
   * this × `bodyLimitBytes`, plus 64 KiB per connection for small bodies (which are not counted: they cost nothing to
   * hold and are most requests).
   */
  maxConcurrentUploads?: number;
  /** Start with an empty repository (default false: a one-line error showing the expected layout). */
  allowEmpty?: boolean;
  /** How crashed or hung workers are replaced (default: 100 ms backoff doubling to 10 s, 5 attempts, then the version answers 503). */
  restart?: RestartPolicy;
}

/** What `InferenceServer.close` left behind. */
export interface ServerCloseResult {
  /** Requests still queued or running at the deadline, answered 503. */
  abandoned: number;
  /** Runs still inside onnxruntime at the deadline (their threads keep the process alive until they return). */
  stuck: number;
}

/**
 * The HTTP worker threads `trainfer serve` starts by default: the cores the session instances leave free,
 * at least 2 and at most one per core; 0 (the main thread serves) on a single core. Measured on 2 cores
 * with 2 single-thread instances (docs/serving.md, "Multi-core front end"): 2 threads beat both 0 and 1
 * with batching off and match 0 with batching on, where 1 thread lost to 0.
 */
export function defaultHttpWorkers(o: { cores?: number; instanceThreads: number }): number {
  const cores = o.cores ?? availableParallelism();
  if (cores < 2) return 0;
  return Math.max(2, Math.min(cores, cores - o.instanceThreads));
}

/** A running inference server. */
export class InferenceServer {
  private closing?: Promise<ServerCloseResult>;
  private fatalListeners: ((reason: string) => void)[] = [];
  private constructor(
    /** The REST app on the main thread: it listens when `httpWorkers` is 0; `inject` reaches it either way. */
    readonly app: FastifyInstance,
    readonly repository: ModelRepository,
    readonly metrics: ServeMetrics,
    /** The base URL it listens on, e.g. `http://127.0.0.1:8000`. */
    readonly url: string,
    /** `host:port` of the gRPC service, when it has one. */
    readonly grpcAddress: string | undefined,
    private readonly state: { closing: boolean; frontends?: HttpFrontends; grpc?: GrpcFrontend },
  ) {}

  /** Loads every model in the repository, then listens. A model that fails to load fails the start. */
  static async start(o: ServeOptions): Promise<InferenceServer> {
    const metrics = new ServeMetrics({ processMetrics: o.processMetrics, thread: 'main' });
    const log = pino({ level: o.logLevel ?? 'info' }, o.logDestination ?? process.stdout);
    const state: { closing: boolean; frontends?: HttpFrontends; grpc?: GrpcFrontend } = { closing: false };
    const repository = new ModelRepository({ root: o.repository, defaults: o.modelDefaults, autoMaxBatchSize: o.autoMaxBatchSize, restart: o.restart, hooks: repositoryHooks(metrics, log, () => state.frontends?.catalogChanged()) });
    metrics.pendingSource = () => repository.loaded().map((mv) => ({ model: mv.name, version: mv.version, queued: mv.batcher.queued }));
    metrics.hungSource = () => repository.loaded().map((mv) => ({ model: mv.name, version: mv.version, hung: mv.pool.hung }));
    metrics.annSource = () => repository.loaded().flatMap((mv) => {
      const r = mv.retrieval?.annReport;
      return r ? [{ model: mv.name, version: mv.version, recall: r.recall?.recall, buildSeconds: r.buildSeconds }] : [];
    });
    let server: InferenceServer | undefined;
    try {
      await repository.loadAll({ allowEmpty: o.allowEmpty });
      const backend = new LocalBackend(repository, state, metrics);
      const logLevel = o.logLevel ?? 'info';
      const bodyLimit = o.bodyLimitBytes ?? 64 * 1024 * 1024;
      const requestTimeoutMs = o.requestTimeoutMs ?? 30_000;
      const maxUploads = o.maxConcurrentUploads ?? 256;
      const grpcMaxMessageBytes = o.grpcMaxMessageBytes ?? bodyLimit;
      const uploads = new Int32Array(new SharedArrayBuffer(4));
      const app = buildApp({ backend, metrics, log, logLevel, bodyLimit, requestTimeoutMs, maxUploads, uploads });
      const host = o.host ?? '127.0.0.1';
      const instanceThreads = repository.loaded().reduce((n, v) => n + v.config.instances * v.config.threadsPerInstance, 0);
      const workers = o.httpWorkers ?? defaultHttpWorkers({ instanceThreads });
      let url: string;
      let grpcAddress: string | undefined;
      if (workers === 0) {
        url = await app.listen({ host, port: o.port ?? 8000 });
        if (o.grpcPort !== undefined) {
          state.grpc = await startGrpc({ backend, metrics, log, listen: { host, port: o.grpcPort }, maxMessageBytes: grpcMaxMessageBytes });
          grpcAddress = state.grpc.url;
        }
      } else {
        await app.ready();
        state.frontends = await HttpFrontends.start({
          workers, host, port: o.port ?? 8000, grpcPort: o.grpcPort, repository, control: (req) => answerControl(repository, state.closing, req),
          mainMetrics: () => metrics.registry.getMetricsAsJSON(), logLevel, logLine: o.logDestination ? (line) => o.logDestination!.write(line) : undefined,
          bodyLimit, requestTimeoutMs, maxUploads, uploads, grpcMaxMessageBytes,
          onFatal: (reason) => {
            log.fatal({ reason }, 'an HTTP worker thread died; the shared listener is gone: shutting down');
            for (const l of server?.fatalListeners ?? []) l(reason);
          },
        });
        url = state.frontends.url;
        grpcAddress = state.frontends.grpcUrl;
      }
      server = new InferenceServer(app, repository, metrics, url, grpcAddress, state);
      return server;
    } catch (err) {
      await state.frontends?.stop().stopped;
      await state.grpc?.close();
      await repository.close();
      throw err;
    }
  }

  /** HTTP worker threads serving (0: the main thread serves). */
  get httpWorkers(): number {
    return this.state.frontends?.size ?? 0;
  }

  /** Calls `listener` if a front-end thread dies (the listener is gone; the server should be closed). */
  onFatal(listener: (reason: string) => void): void {
    this.fatalListeners.push(listener);
  }

  /**
   * Stops accepting connections and drains: requests in flight finish, up to `deadlineMs` (default: no
   * limit), after which those still queued or running get 503; then every model is unloaded and every
   * connection closed. Workers still inside onnxruntime are counted in `stuck` (their runs cannot be
   * interrupted; `trainfer serve` then exits with SIGKILL, as process.exit would abort).
   */
  close(options: { deadlineMs?: number } = {}): Promise<ServerCloseResult> {
    this.closing ??= (async () => {
      const t0 = performance.now();
      const { state } = this;
      state.closing = true;
      state.frontends?.markClosing();
      // Keep-alive connections that were busy when close began would otherwise linger until their
      // idle timeout: responses now carry `Connection: close`, and idle sockets are swept.
      const sweep = setInterval(() => this.app.server.closeIdleConnections(), 50);
      try {
        const fronts = state.frontends?.stop();
        const closed = Promise.all([this.app.close(), fronts?.stopped, state.grpc?.close()]);
        const result = await this.repository.close(options);
        const left = options.deadlineMs === undefined ? undefined : Math.max(0, options.deadlineMs - (performance.now() - t0)) + 100;
        if (left === undefined) await closed;
        else {
          let timer: NodeJS.Timeout | undefined;
          const done = await Promise.race([closed.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), left)))]);
          clearTimeout(timer);
          if (!done) {
            this.app.server.closeAllConnections();
            fronts?.forceClose();
            state.grpc?.forceClose();
            await closed;
          }
        }
        return result;
      } finally {
        clearInterval(sweep);
      }
    })();
    return this.closing;
  }
}

/** The main thread's `ServeBackend`: the repository itself. */
class LocalBackend implements ServeBackend {
  readonly root: string;
  constructor(
    private readonly repo: ModelRepository,
    private readonly state: { closing: boolean; frontends?: HttpFrontends },
    private readonly metrics: ServeMetrics,
  ) {
    this.root = repo.root;
  }

  resolve(name: string, version: string | undefined): ServedModel {
    return this.repo.resolve(name, version);
  }

  submit(model: ServedModel, req: BatchRequest): Promise<BatchResult> {
    // The models this backend resolves are the repository's own versions.
    return (model as ModelVersion).submit(req);
  }

  async control(req: ControlRequest): Promise<ControlAnswer> {
    if (req.op !== 'metrics') return answerControl(this.repo, this.state.closing, req);
    const text = this.state.frontends ? await this.state.frontends.metricsText() : await this.metrics.registry.metrics();
    return { text, contentType: this.metrics.registry.contentType };
  }

  closing(): boolean {
    return this.state.closing;
  }
}

/** Logs and counts every fault the repository reports; `changed` follows loads and unloads. */
function repositoryHooks(metrics: ServeMetrics, log: Logger, changed: () => void): RepositoryHooks {
  return {
    onExec: (m, v, n) => metrics.exec(m, v, n),
    onChange: changed,
    onBatchRetry: (model, version, s) => {
      metrics.batchRetries.inc({ model, version });
      log.warn({ model, version, requests: s.requests, requestIds: s.ids, reason: s.reason }, 'a batch failed; its requests were run again one by one');
    },
    onPoolEvent: (model, version, e) => {
      switch (e.type) {
        case 'crash':
          log.error({ model, version, exitCode: e.exitCode, reason: e.reason, requestIds: e.tags }, 'session worker crashed; replacing it');
          metrics.workerRestarts.inc({ model, version, cause: 'crash' });
          break;
        case 'hung':
          log.error({ model, version, afterMs: e.afterMs, requestIds: e.tags }, 'a run passed its deadline; its worker was retired and replaced (its thread exits when the run returns)');
          metrics.workerRestarts.inc({ model, version, cause: 'hung' });
          break;
        case 'start-failed':
          log.error({ model, version, attempt: e.attempt, retryInMs: e.retryInMs, reason: e.reason }, 'a replacement session worker failed to start');
          metrics.workerStartFailures.inc({ model, version });
          break;
        case 'gave-up':
          log.fatal({ model, version, attempts: e.attempts, reason: e.reason }, 'no session worker could be restarted; the model version answers 503 until it is reloaded');
          metrics.workerStartFailures.inc({ model, version });
          break;
        case 'restarted':
          log.warn({ model, version, cause: e.cause }, 'session worker replaced');
          break;
        case 'retired-exited':
          log.warn({ model, version }, 'a retired worker returned from its run and exited');
          break;
      }
    },
  };
}
