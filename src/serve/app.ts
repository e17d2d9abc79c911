/**
 * The Open Inference Protocol (KServe v2) REST app: fastify routes for health, metadata, Triton-schema
 * model config, inference (JSON and binary), the repository extension and `/metrics`, with
 * `{"error": "..."}` bodies for every failure. Transport work only — parsing, the upload cap, the receive
 * timeout, decoding and encoding — over a `ServeBackend`, so the same app runs in the main thread (the
 * backend is the repository) and in every HTTP worker thread (the backend forwards to the main thread).
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { resolve, sep } from 'node:path';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { oneLine } from '../util/errors.js';
import { Cancellation } from './batcher.js';
import { InferenceError, badRequest } from './errors.js';
import { runInference } from './infer.js';
import type { ServeMetrics } from './metrics.js';
import type { ServeBackend } from './served-model.js';

/** The server's name and version in `GET /v2`. */
export const SERVER_NAME = 'trainfer';
/** The server's version in `GET /v2`. */
export const SERVER_VERSION = '0.1.0';
/** Protocol extensions this server implements (reported by `GET /v2`). */
export const EXTENSIONS = ['binary_tensor_data', 'model_repository', 'model_configuration'] as const;

/** What `buildApp` needs. */
export interface AppDeps {
  backend: ServeBackend;
  /** Where this thread records request metrics (the server aggregates every thread's for `/metrics`). */
  metrics: ServeMetrics;
  log: Logger;
  logLevel: string;
  bodyLimit: number;
  requestTimeoutMs: number;
  maxUploads: number;
  /**
   * The count of large bodies arriving, shared by every front-end thread (one Int32 in a
   * SharedArrayBuffer) so `maxUploads` bounds the server, not each thread. Default: this app's own.
   */
  uploads?: Int32Array;
  /** This front end's index and how many there are (request ids stay unique across threads). */
  frontend?: { index: number; count: number };
}

type Params = { name: string; version?: string };

/** Bodies up to this many bytes are not counted against `maxConcurrentUploads`. */
const SMALL_BODY = 64 * 1024;

/** A request id: the client's `x-request-id` when it is short and plain, else a counter unique across front ends. */
function requestIds(frontend: { index: number; count: number }): (req: { headers: Record<string, string | string[] | undefined> }) => string {
  let n = 0;
  return (req) => {
    const h = req.headers['x-request-id'];
    return typeof h === 'string' && /^[\w.:@/+=-]{1,128}$/.test(h) ? h : `req-${(++n * frontend.count + frontend.index).toString(36)}`;
  };
}

/**
 * Makes a message safe to send: the repository's location removed, and control characters (which a
 * request can smuggle into names and JSON snippets) escaped, so every error stays one line.
 */
export function redactor(root: string): (message: string) => string {
  const prefixes = [...new Set([resolve(root) + sep, root.endsWith(sep) ? root : root + sep])].sort((a, b) => b.length - a.length);
  // eslint-disable-next-line no-control-regex
  const control = /[\u0000-\u001f\u007f\u2028\u2029]/g;
  return (m) => prefixes.reduce((s, p) => s.split(p).join(''), m).replace(control, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Builds the REST app (not listening). */
export function buildApp(d: AppDeps): FastifyInstance {
  const checkEvery = d.requestTimeoutMs > 0 ? Math.max(50, Math.min(1000, d.requestTimeoutMs / 4)) : 30_000;
  const app: FastifyInstance = Fastify({
    loggerInstance: d.log as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: d.bodyLimit,
    return503OnClosing: true,
    genReqId: requestIds(d.frontend ?? { index: 0, count: 1 }),
    requestTimeout: d.requestTimeoutMs,
    http: { requestTimeout: d.requestTimeoutMs, headersTimeout: d.requestTimeoutMs > 0 ? Math.min(d.requestTimeoutMs, 60_000) : 60_000, connectionsCheckingInterval: checkEvery },
    clientErrorHandler: (err: Error & { code?: string }, socket: Socket) => clientError(err, socket, d.requestTimeoutMs),
  });
  const { backend, metrics } = d;
  const redact = redactor(backend.root);
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
  const uploads = d.uploads ?? new Int32Array(new SharedArrayBuffer(4));
  app.addHook('onRequest', (req, reply, done) => {
    const raw = req.raw;
    const length = raw.headers['content-length'];
    if (length === undefined ? raw.headers['transfer-encoding'] === undefined : length.length < 5 || Number(length) <= SMALL_BODY) return done();
    if (Atomics.add(uploads, 0, 1) >= d.maxUploads) {
      Atomics.sub(uploads, 0, 1);
      reply.code(503).header('Retry-After', '1').header('Connection', 'close').send({ error: `too many request bodies arriving at once (maxConcurrentUploads ${d.maxUploads}); retry later` });
      return;
    }
    let counted = true;
    const end = () => {
      if (counted) {
        counted = false;
        Atomics.sub(uploads, 0, 1);
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
    if (backend.closing()) reply.header('Connection', 'close');
    done(null, payload);
  });
  // One log line per request at info level; the hook is not installed at all when those lines are off.
  if (['trace', 'debug', 'info'].includes(d.logLevel)) {
    app.addHook('onResponse', async (req, reply) => {
      req.log.info({ method: req.method, url: req.url, status: reply.statusCode, ms: Number(reply.elapsedTime.toFixed(3)) }, 'request');
    });
  }

  // ---- health and server metadata ----
  app.get('/v2/health/live', async (_req, reply) => reply.code(200).send());
  app.get('/v2/health/ready', async (_req, reply) => {
    const { json } = await backend.control({ op: 'server-ready' });
    return reply.code(json === true ? 200 : 400).send();
  });
  app.get('/v2', async () => ({ name: SERVER_NAME, version: SERVER_VERSION, extensions: EXTENSIONS }));
  app.get('/metrics', async (_req, reply) => {
    const a = await backend.control({ op: 'metrics' });
    return reply.type(a.contentType ?? 'text/plain').send(a.text);
  });

  // ---- model metadata, readiness, configuration ----
  const modelOp = (op: 'model-metadata' | 'model-config') => async (req: FastifyRequest<{ Params: Params }>) => (await backend.control({ op, name: req.params.name, version: req.params.version })).json;
  app.get('/v2/models/:name', modelOp('model-metadata'));
  app.get('/v2/models/:name/versions/:version', modelOp('model-metadata'));
  const ready = async (req: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => {
    await backend.control({ op: 'model-ready', name: req.params.name, version: req.params.version });
    return reply.code(200).send();
  };
  app.get('/v2/models/:name/ready', ready);
  app.get('/v2/models/:name/versions/:version/ready', ready);
  app.get('/v2/models/:name/config', modelOp('model-config'));
  app.get('/v2/models/:name/versions/:version/config', modelOp('model-config'));

  // ---- inference ----
  const infer = async (req: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => {
    const t0 = performance.now();
    const mv = backend.resolve(req.params.name, req.params.version);
    const series = metrics.series(mv.name, mv.version);
    series.inFlight.inc();
    const cancel = new Cancellation();
    const onClose = () => {
      if (!reply.raw.writableFinished) cancel.abort();
    };
    reply.raw.once('close', onClose);
    try {
      const header = req.headers['inference-header-content-length'];
      const ans = await runInference({
        model: mv, submit: (r) => backend.submit(mv, r), body: req.body as Buffer | undefined,
        headerLength: Array.isArray(header) ? header[0] : header, signal: cancel, requestId: req.id,
      });
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
      series.inFlight.dec();
    }
  };
  app.post('/v2/models/:name/infer', infer);
  app.post('/v2/models/:name/versions/:version/infer', infer);

  // ---- model repository extension ----
  app.post('/v2/repository/index', async (req) => {
    const body = parseOptionalJson(req.body);
    if (body?.ready !== undefined && typeof body.ready !== 'boolean') throw badRequest("'ready' must be true or false");
    return (await backend.control({ op: 'repository-index', readyOnly: body?.ready === true })).json;
  });
  app.post('/v2/repository/models/:name/load', async (req: FastifyRequest<{ Params: Params }>, reply) => {
    const body = parseOptionalJson(req.body);
    if (body?.parameters !== undefined) throw badRequest('load parameters (config overrides, file contents) are not supported; edit config.json instead');
    await backend.control({ op: 'repository-load', name: req.params.name });
    return reply.code(200).send();
  });
  app.post('/v2/repository/models/:name/unload', async (req: FastifyRequest<{ Params: Params }>, reply) => {
    parseOptionalJson(req.body);
    await backend.control({ op: 'repository-unload', name: req.params.name });
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
