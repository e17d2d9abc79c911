/**
 * The HTTP server behind `trainfer ui`: the built page (dist/web, precompressed .br/.gz served when the
 * browser accepts them), the models directory (`/models/index.json` = `scanModels`, then the `.onnx` and
 * `tokenizer.json` files themselves), and the latest lab report under `/lab/`. Every response carries
 * COOP/COEP, so the page is cross-origin isolated and onnxruntime-web may use WASM threads.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance } from 'fastify';
import { TrainferError } from '../util/errors.js';
import { scanModels } from './catalog.js';

/** Options for `startUiServer`. */
export interface UiServerOptions {
  /** Directory of models to offer (any layout; see catalog.ts). */
  modelsDir: string;
  /** Port (default 8080; 0 picks a free one). */
  port?: number;
  /** Interface (default 127.0.0.1). */
  host?: string;
  /** A lab report (`.html`) or a directory of lab runs (the newest `report.html` is served). */
  lab?: string;
  /** The built page (default: dist/web of this package). */
  pageDir?: string;
  /** Send COOP/COEP so the page may use WASM threads (default true; false to embed the page elsewhere). */
  crossOriginIsolation?: boolean;
}

/** A running UI server. */
export interface UiServer {
  /** `http://host:port/` */
  url: string;
  /** The lab report served under `/lab/`, if any. */
  labReport?: string;
  close(): Promise<void>;
}

/** Headers that make the page cross-origin isolated (SharedArrayBuffer, hence WASM threads). */
export const ISOLATION_HEADERS = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
} as const;

/**
 * Starts the server. Throws `TrainferError` when the models directory or the lab report is missing, or
 * the page was not built.
 *
 * @example
 * const ui = await startUiServer({ modelsDir: 'models', port: 0 });
 * console.log(ui.url); // open it in a browser
 */
export async function startUiServer(o: UiServerOptions): Promise<UiServer> {
  const modelsDir = resolve(o.modelsDir);
  scanModels({ dir: modelsDir }); // fails early, with the flag's name, on a bad directory
  const pageDir = o.pageDir ?? builtPageDir();
  const labReport = o.lab ? findLabReport(o.lab) : undefined;
  // forceCloseConnections: a browser's idle keep-alive connections must not hold up close().
  const app = Fastify({ logger: false, forceCloseConnections: true });
  app.addHook('onSend', async (_req, reply) => {
    if (o.crossOriginIsolation !== false) reply.headers(ISOLATION_HEADERS);
    reply.header('x-content-type-options', 'nosniff');
  });
  app.get('/models/index.json', async (_req, reply) => {
    reply.header('cache-control', 'no-store');
    return scanModels({ dir: modelsDir, urlPrefix: 'models/', labReport: labReport ? `lab/${encodeURIComponent(basename(labReport))}` : undefined });
  });
  await app.register(fastifyStatic, {
    root: pageDir,
    prefix: '/',
    preCompressed: true,
    // @fastify/static 9.0.0 answers 404 for a directory index when preCompressed is on: '/' is its own route below.
    index: false,
    cacheControl: false,
    setHeaders: (res, path) => {
      // Vite names assets by content hash: they never change under the same name.
      res.setHeader('cache-control', path.includes(join('web', 'assets')) ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
  app.get('/', (_req, reply) => reply.sendFile('index.html'));
  await app.register(fastifyStatic, {
    root: modelsDir,
    prefix: '/models/',
    decorateReply: false,
    dotfiles: 'deny',
    cacheControl: false,
    allowedPath: (path) => /\.onnx$/i.test(path) || path.endsWith('/tokenizer.json'),
    setHeaders: (res) => res.setHeader('cache-control', 'no-cache'),
  });
  if (labReport) {
    await app.register(fastifyStatic, { root: dirname(labReport), prefix: '/lab/', decorateReply: false, index: basename(labReport) });
  }
  app.setNotFoundHandler(async (req, reply) => reply.code(404).send({ error: `not found: ${req.url}` }));
  const host = o.host ?? '127.0.0.1';
  try {
    await app.listen({ port: o.port ?? 8080, host });
  } catch (err) {
    await app.close();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new TrainferError(`--port ${o.port}: already in use`, { cause: err });
    throw err;
  }
  return { url: serverUrl(app, host), labReport, close: () => app.close() };
}

function serverUrl(app: FastifyInstance, host: string): string {
  const a = app.server.address();
  const port = a && typeof a === 'object' ? a.port : 0;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
}

/** dist/web beside this module (dist/src/web → dist/web), or the repository's dist/web when run from sources. */
export function builtPageDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [resolve(here, '../../web'), resolve(here, '../../dist/web')];
  // The built page has assets/; the sources (web/ itself, when running from src/) do not.
  const found = candidates.find((d) => existsSync(join(d, 'index.html')) && existsSync(join(d, 'assets')));
  if (!found) throw new TrainferError(`the browser page is not built (no index.html in ${candidates.join(' or ')}): run npm run build`);
  return found;
}

/**
 * The lab report to serve: `path` itself when it is an `.html` file, `path/report.html`,
 * `path/latest/report.html` (`trainfer lab` points `latest` at its newest run), or the newest
 * `report.html` one level down (one directory per run).
 */
export function findLabReport(path: string): string {
  if (!existsSync(path)) throw new TrainferError(`--lab ${path}: no such file or directory`);
  if (statSync(path).isFile()) {
    if (!/\.html?$/i.test(path)) throw new TrainferError(`--lab ${path}: not an .html report`);
    return resolve(path);
  }
  // A lab results root points `latest` at its newest run.
  for (const direct of [join(path, 'report.html'), join(path, 'latest', 'report.html')]) if (existsSync(direct)) return resolve(direct);
  const runs = readdirSync(path, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(path, e.name, 'report.html')))
    .map((e) => join(path, e.name, 'report.html'))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (!runs[0]) throw new TrainferError(`--lab ${path}: no report.html in it or in its run directories`);
  return resolve(runs[0]);
}
