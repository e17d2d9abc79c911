/**
 * `InferenceServer`: a fastify app speaking the Open Inference Protocol (KServe v2) REST API over a
 * `ModelRepository` — health, metadata, inference (JSON and binary), repository load/unload/index,
 * Prometheus `/metrics`; `{"error": "..."}` bodies for every failure; graceful close.
 */
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { oneLine } from '../util/errors.js';
import { Cancellation } from './batcher.js';
import type { ModelConfig } from './config.js';
import { InferenceError, badRequest } from './errors.js';
import { runInference } from './infer.js';
import { ServeMetrics } from './metrics.js';
import { ModelRepository } from './repository.js';

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
  /** Largest request body in bytes (default 64 MiB); bigger bodies get 413. */
  bodyLimitBytes?: number;
  /** Defaults for config fields a model's config.json leaves out. */
  modelDefaults?: Partial<ModelConfig>;
  /** Include Node process metrics (CPU, memory, event loop lag) in /metrics (default true). */
  processMetrics?: boolean;
}

/** The server's name and version in `GET /v2`. */
export const SERVER_NAME = 'trainfer';
const SERVER_VERSION = '0.1.0';
/** Protocol extensions this server implements (reported by `GET /v2`). */
export const EXTENSIONS = ['binary_tensor_data', 'model_repository', 'model_configuration'] as const;

/** A running inference server. */
export class InferenceServer {
  private closing?: Promise<void>;
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
    const repository = new ModelRepository({ root: o.repository, defaults: o.modelDefaults, onExec: (m, v, n) => metrics.exec(m, v, n) });
    metrics.pendingSource = () => repository.loaded().map((mv) => ({ model: mv.name, version: mv.version, queued: mv.batcher.queued }));
    try {
      await repository.loadAll();
    } catch (err) {
      await repository.close();
      throw err;
    }
    const app = buildApp({ repository, metrics, logLevel: o.logLevel ?? 'info', bodyLimit: o.bodyLimitBytes ?? 64 * 1024 * 1024, isClosing: () => server.closing !== undefined });
    let url: string;
    try {
      url = await app.listen({ host: o.host ?? '127.0.0.1', port: o.port ?? 8000 });
    } catch (err) {
      await repository.close();
      throw err;
    }
    const server: InferenceServer = new InferenceServer(app, repository, metrics, url);
    return server;
  }

  /** Stops accepting connections, finishes requests in flight, then unloads every model. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      // Keep-alive connections that were busy when close began would otherwise linger until their
      // idle timeout: responses now carry `Connection: close`, and idle sockets are swept.
      const sweep = setInterval(() => this.app.server.closeIdleConnections(), 50);
      try {
        await this.app.close();
      } finally {
        clearInterval(sweep);
      }
      await this.repository.close();
    })();
    return this.closing;
  }
}

interface AppDeps {
  repository: ModelRepository;
  metrics: ServeMetrics;
  logLevel: string;
  bodyLimit: number;
  isClosing: () => boolean;
}

type Params = { name: string; version?: string };

function buildApp(d: AppDeps): FastifyInstance {
  const app = Fastify({ logger: { level: d.logLevel }, logController: new LogController({ disableRequestLogging: true }), bodyLimit: d.bodyLimit, return503OnClosing: true });
  // Every body arrives as bytes: JSON and binary-extension bodies are parsed by the protocol code.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    if (err instanceof InferenceError) return reply.code(err.status).headers(err.headers).send({ error: err.message });
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send({ error: `request body is larger than the limit of ${d.bodyLimit} bytes` });
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return reply.code(err.statusCode).send({ error: oneLine(err) });
    req.log.error({ err }, 'internal error');
    return reply.code(500).send({ error: oneLine(err) });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no such endpoint: ${req.method} ${req.url.split('?')[0]}` }));
  app.addHook('onSend', async (_req, reply, payload) => {
    if (d.isClosing()) reply.header('Connection', 'close');
    return payload;
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
    repo.resolve(req.params.name, req.params.version);
    return reply.code(200).send();
  };
  app.get('/v2/models/:name/ready', ready);
  app.get('/v2/models/:name/versions/:version/ready', ready);
  const config = async (req: FastifyRequest<{ Params: Params }>) => {
    const mv = repo.resolve(req.params.name, req.params.version);
    return { name: mv.name, version: mv.version, ...mv.config, batching: mv.batching };
  };
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
      const ans = await runInference({ model: mv, body: req.body as Buffer | undefined, headerLength: Array.isArray(header) ? header[0] : header, signal: cancel });
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
    const readyOnly = body?.ready === true;
    return repo.index({ readyOnly });
  });
  app.post('/v2/repository/models/:name/load', async (req: FastifyRequest<{ Params: Params }>, reply) => {
    const body = parseOptionalJson(req.body);
    if (body?.parameters !== undefined) throw badRequest('load parameters (config overrides, file contents) are not supported; edit config.json instead');
    await repo.load(req.params.name);
    return reply.code(200).send();
  });
  app.post('/v2/repository/models/:name/unload', async (req: FastifyRequest<{ Params: Params }>, reply) => {
    await repo.unload(req.params.name);
    return reply.code(200).send();
  });
  return app;
}

function parseOptionalJson(body: unknown): Record<string, unknown> | undefined {
  if (!(body instanceof Buffer) || body.length === 0) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw badRequest(`malformed JSON: ${(err as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw badRequest('request body must be a JSON object');
  return v as Record<string, unknown>;
}
