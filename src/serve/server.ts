/**
 * `InferenceServer`: a fastify app speaking the Open Inference Protocol (KServe v2) REST API over a
 * `ModelRepository` — health, metadata, Triton-schema model config, inference (JSON and binary),
 * repository load/unload/index, Prometheus `/metrics`; `{"error": "..."}` bodies for every failure.
 * Hostile traffic is bounded: a whole request must arrive within `requestTimeoutMs`, at most
 * `maxConcurrentUploads` bodies are received at once, bodies over `bodyLimitBytes` get 413. Every 5xx
 * and every worker fault is logged with the request id (also sent back as `x-request-id`); `close`
 * drains with a deadline.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { resolve, sep } from 'node:path';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { pino, type Logger } from 'pino';
import type { RestartPolicy } from '../runtime/pool.js';
import { oneLine } from '../util/errors.js';
import { Cancellation } from './batcher.js';
import type { ModelConfig } from './config.js';
import { InferenceError, badRequest } from './errors.js';
import { runInference } from './infer.js';
import { ServeMetrics } from './metrics.js';
import { ModelRepository, type RepositoryHooks } from './repository.js';
import { tritonModelConfig } from './triton-config.js';

/** Options for `InferenceServer.start`. */
export interface ServeOptions {
  /** The model repository directory. */
  repository: string;
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /** TCP port (default 8000; 0 picks a free one). */
  port?: number;
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
   * Request bodies of more than 64 KiB (or of unknown length) that may be arriving at once (default 256);
   * more get 503 at once. Memory held by uploads stays under this × `bodyLimitBytes`, plus 64 KiB per
   * connection for small bodies (which are not counted: they cost nothing to hold and are most requests).
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

/** The server's name and version in `GET /v2`. */
export const SERVER_NAME = 'trainfer';
const SERVER_VERSION = '0.1.0';
/** Protocol extensions this server implements (reported by `GET /v2`). */
export const EXTENSIONS = ['binary_tensor_data', 'model_repository', 'model_configuration'] as const;

/** A running inference server. */
export class InferenceServer {
  private closing?: Promise<ServerCloseResult>;
  private constructor(
    readonly app: FastifyInstance,
    readonly repository: ModelRepository,
    readonly metrics: ServeMetrics,
    /** The base URL it listens on, e.g. `http://127.0.0.1:8000`. */
    readonly url: string,
  ) {}

  /** Loads every model in the repository, then listens. A model that fails to load fails the start. */
  static async start(o: ServeOptions): Promise<InferenceServer> {
    const metrics = new ServeMetrics({ processMetrics: o.processMetrics });
    const log = pino({ level: o.logLevel ?? 'info' }, o.logDestination ?? process.stdout);
    const repository = new ModelRepository({ root: o.repository, defaults: o.modelDefaults, autoMaxBatchSize: o.autoMaxBatchSize, restart: o.restart, hooks: repositoryHooks(metrics, log) });
    metrics.pendingSource = () => repository.loaded().map((mv) => ({ model: mv.name, version: mv.version, queued: mv.batcher.queued }));
    metrics.hungSource = () => repository.loaded().map((mv) => ({ model: mv.name, version: mv.version, hung: mv.pool.hung }));
    let server: InferenceServer | undefined;
    try {
      await repository.loadAll({ allowEmpty: o.allowEmpty });
      const app = buildApp({
        repository, metrics, log, logLevel: o.logLevel ?? 'info', bodyLimit: o.bodyLimitBytes ?? 64 * 1024 * 1024,
        requestTimeoutMs: o.requestTimeoutMs ?? 30_000, maxUploads: o.maxConcurrentUploads ?? 256, isClosing: () => server?.closing !== undefined,
      });
      const url = await app.listen({ host: o.host ?? '127.0.0.1', port: o.port ?? 8000 });
      server = new InferenceServer(app, repository, metrics, url);
      return server;
    } catch (err) {
      await repository.close();
      throw err;
    }
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
      // Keep-alive connections that were busy when close began would otherwise linger until their
      // idle timeout: responses now carry `Connection: close`, and idle sockets are swept.
      const sweep = setInterval(() => this.app.server.closeIdleConnections(), 50);
      try {
        const httpClosed = this.app.close();
        const result = await this.repository.close(options);
        const left = options.deadlineMs === undefined ? undefined : Math.max(0, options.deadlineMs - (performance.now() - t0)) + 100;
        if (left === undefined) await httpClosed;
        else {
          let timer: NodeJS.Timeout | undefined;
          const done = await Promise.race([httpClosed.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), left)))]);
          clearTimeout(timer);
          if (!done) {
            this.app.server.closeAllConnections();
            await httpClosed;
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

/** Logs and counts every fault the repository reports. */
function repositoryHooks(metrics: ServeMetrics, log: Logger): RepositoryHooks {
  return {
    onExec: (m, v, n) => metrics.exec(m, v, n),
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

interface AppDeps {
  repository: ModelRepository;
  metrics: ServeMetrics;
  log: Logger;
  logLevel: string;
  bodyLimit: number;
  requestTimeoutMs: number;
  maxUploads: number;
  isClosing: () => boolean;
}

type Params = { name: string; version?: string };

/** Bodies up to this many bytes are not counted against `maxConcurrentUploads`. */
const SMALL_BODY = 64 * 1024;

/** A request id: the client's `x-request-id` when it is short and plain, else a counter. */
function requestIds(): (req: { headers: Record<string, string | string[] | undefined> }) => string {
  let n = 0;
  return (req) => {
    const h = req.headers['x-request-id'];
    return typeof h === 'string' && /^[\w.:@/+=-]{1,128}$/.test(h) ? h : `req-${(++n).toString(36)}`;
  };
}

/**
 * Makes a message safe to send: the repository's location removed, and control characters (which a
 * request can smuggle into names and JSON snippets) escaped, so every error stays one line.
 */
function redactor(root: string): (message: string) => string {
  const prefixes = [...new Set([resolve(root) + sep, root.endsWith(sep) ? root : root + sep])].sort((a, b) => b.length - a.length);
  // eslint-disable-next-line no-control-regex
  const control = /[\u0000-\u001f\u007f\u2028\u2029]/g;
  return (m) => prefixes.reduce((s, p) => s.split(p).join(''), m).replace(control, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function buildApp(d: AppDeps): FastifyInstance {
  const checkEvery = d.requestTimeoutMs > 0 ? Math.max(50, Math.min(1000, d.requestTimeoutMs / 4)) : 30_000;
  const app: FastifyInstance = Fastify({
    loggerInstance: d.log as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: d.bodyLimit,
    return503OnClosing: true,
    genReqId: requestIds(),
    requestTimeout: d.requestTimeoutMs,
    http: { requestTimeout: d.requestTimeoutMs, headersTimeout: d.requestTimeoutMs > 0 ? Math.min(d.requestTimeoutMs, 60_000) : 60_000, connectionsCheckingInterval: checkEvery },
    clientErrorHandler: (err: Error & { code?: string }, socket: Socket) => clientError(err, socket, d.requestTimeoutMs),
  });
  const redact = redactor(d.repository.root);
  // Every body arrives as bytes: JSON and binary-extension bodies are parsed by the protocol code.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    if (err instanceof InferenceError) {
      const message = redact(err.message);
      if (err.status === 500) req.log.error({ err: message, url: req.url }, 'request failed');
      else if (err.status === 504) req.log.warn({ err: message, url: req.url }, 'request timed out');
      return reply.code(err.status).headers(err.headers).send({ error: message });
    }
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send({ error: `request body is larger than the limit of ${d.bodyLimit} bytes` });
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return reply.code(err.statusCode).send({ error: redact(oneLine(err)) });
    req.log.error({ err, url: req.url }, 'internal error');
    return reply.code(500).send({ error: redact(oneLine(err)) });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no such endpoint: ${req.method} ${req.url.split('?')[0]!.slice(0, 200)}` }));

  // At most maxUploads large request bodies in transit at once; a body is counted until it has fully arrived.
  let uploading = 0;
  app.addHook('onRequest', (req, reply, done) => {
    const raw = req.raw;
    const length = raw.headers['content-length'];
    if (length === undefined ? raw.headers['transfer-encoding'] === undefined : length.length < 5 || Number(length) <= SMALL_BODY) return done();
    if (uploading >= d.maxUploads) {
      reply.code(503).header('Retry-After', '1').header('Connection', 'close').send({ error: `too many request bodies arriving at once (maxConcurrentUploads ${d.maxUploads}); retry later` });
      return;
    }
    uploading++;
    let counted = true;
    const end = () => {
      if (counted) {
        counted = false;
        uploading--;
      }
    };
    // 'end': the body has arrived; the response's 'close': answered early, or the connection went away.
    raw.once('end', end);
    reply.raw.once('close', end);
    done();
  });
  app.addHook('onSend', (req, reply, payload, done) => {
    // The id the logs carry: echoed when the client sent one, and on every error.
    if (reply.statusCode >= 400 || req.headers['x-request-id'] !== undefined) reply.header('x-request-id', req.id);
    if (d.isClosing()) reply.header('Connection', 'close');
    done(null, payload);
  });
  // One log line per request at info level; the hook is not installed at all when those lines are off.
  if (['trace', 'debug', 'info'].includes(d.logLevel)) {
    app.addHook('onResponse', async (req, reply) => {
      req.log.info({ method: req.method, url: req.url, status: reply.statusCode, ms: Number(reply.elapsedTime.toFixed(3)) }, 'request');
    });
  }

  const { repository: repo, metrics } = d;

  // ---- health and server metadata ----
  app.get('/v2/health/live', async (_req, reply) => reply.code(200).send());
  app.get('/v2/health/ready', async (_req, reply) => reply.code(repo.ready && !d.isClosing() ? 200 : 400).send());
  app.get('/v2', async () => ({ name: SERVER_NAME, version: SERVER_VERSION, extensions: EXTENSIONS }));
  app.get('/metrics', async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));

  // ---- model metadata, readiness, configuration ----
  const metadata = async (req: FastifyRequest<{ Params: Params }>) => {
    const mv = repo.resolve(req.params.name, req.params.version);
    const versions = repo.loaded().filter((v) => v.name === mv.name).map((v) => v.version).sort((a, b) => Number(a) - Number(b));
    const io = (s: (typeof mv.inputs)[number]) => ({ name: s.name, datatype: s.datatype, shape: s.shape });
    return { name: mv.name, versions, platform: 'onnxruntime_onnx', inputs: mv.inputs.map(io), outputs: mv.outputs.map(io) };
  };
  app.get('/v2/models/:name', metadata);
  app.get('/v2/models/:name/versions/:version', metadata);
  const ready = async (req: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => {
    const mv = repo.resolve(req.params.name, req.params.version);
    if (mv.unavailable) throw new InferenceError(`model '${mv.name}' version ${mv.version} is not ready: ${mv.unavailable}`, 503);
    return reply.code(200).send();
  };
  app.get('/v2/models/:name/ready', ready);
  app.get('/v2/models/:name/versions/:version/ready', ready);
  const config = async (req: FastifyRequest<{ Params: Params }>) => tritonModelConfig(repo.resolve(req.params.name, req.params.version));
  app.get('/v2/models/:name/config', config);
  app.get('/v2/models/:name/versions/:version/config', config);

  // ---- inference ----
  const infer = async (req: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => {
    const t0 = performance.now();
    const mv = repo.resolve(req.params.name, req.params.version);
    const inFlight = metrics.series(mv.name, mv.version).inFlight;
    inFlight.inc();
    const cancel = new Cancellation();
    const onClose = () => {
      if (!reply.raw.writableFinished) cancel.abort();
    };
    reply.raw.once('close', onClose);
    try {
      const header = req.headers['inference-header-content-length'];
      const ans = await runInference({ model: mv, body: req.body as Buffer | undefined, headerLength: Array.isArray(header) ? header[0] : header, signal: cancel, requestId: req.id });
      metrics.request(mv.name, mv.version, { ok: true, ms: performance.now() - t0, queueMs: ans.queueMs, computeMs: ans.computeMs });
      if (ans.headerLength !== undefined) {
        reply.header('Inference-Header-Content-Length', String(ans.headerLength)).type('application/octet-stream');
      } else {
        reply.type('application/json');
      }
      return reply.code(200).send(ans.body);
    } catch (err) {
      const reason = err instanceof InferenceError ? err.reason : 'backend';
      metrics.request(mv.name, mv.version, { ok: false, ms: performance.now() - t0, reason });
      throw err;
    } finally {
      inFlight.dec();
    }
  };
  app.post('/v2/models/:name/infer', infer);
  app.post('/v2/models/:name/versions/:version/infer', infer);

  // ---- model repository extension ----
  app.post('/v2/repository/index', async (req) => {
    const body = parseOptionalJson(req.body);
    if (body?.ready !== undefined && typeof body.ready !== 'boolean') throw badRequest("'ready' must be true or false");
    return repo.index({ readyOnly: body?.ready === true });
  });
  app.post('/v2/repository/models/:name/load', async (req: FastifyRequest<{ Params: Params }>, reply) => {
    const body = parseOptionalJson(req.body);
    if (body?.parameters !== undefined) throw badRequest('load parameters (config overrides, file contents) are not supported; edit config.json instead');
    await repo.load(req.params.name);
    return reply.code(200).send();
  });
  app.post('/v2/repository/models/:name/unload', async (req: FastifyRequest<{ Params: Params }>, reply) => {
    parseOptionalJson(req.body);
    await repo.unload(req.params.name);
    return reply.code(200).send();
  });
  return app;
}

/** Answers a connection-level failure (request not received in time, oversized headers, bad HTTP) with one JSON line. */
function clientError(err: Error & { code?: string }, socket: Socket, requestTimeoutMs: number): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, message] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, `the request did not arrive within ${requestTimeoutMs} ms (requestTimeoutMs)`]
      : err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'request headers are too large']
        : [400, `malformed HTTP request (${err.code ?? 'parse error'})`];
  const body = JSON.stringify({ error: message });
  if (socket.writable) socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`);
  socket.destroy();
}

function parseOptionalJson(body: unknown): Record<string, unknown> | undefined {
  if (!(body instanceof Buffer) || body.length === 0) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw badRequest(`malformed JSON: ${(err as Error).message.slice(0, 200)}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw badRequest('request body must be a JSON object');
  return v as Record<string, unknown>;
}
