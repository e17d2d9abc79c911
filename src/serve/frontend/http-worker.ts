/**
 * The body of one HTTP front-end worker thread: the REST app (and the gRPC service, when asked) over a
 * `RemoteBackend`, listening on a socket it creates (worker 0) or on the one worker 0 created (the others
 * share its file descriptor, so the kernel spreads connections over the threads). Request metrics are
 * kept here and pulled by the main thread for `/metrics`; log lines go to fd 1 or to the main thread.
 */
import type { AddressInfo } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { oneLine } from '../../util/errors.js';
import { buildApp } from '../app.js';
import { startGrpc, type GrpcFrontend } from '../grpc/service.js';
import { ServeMetrics } from '../metrics.js';
import type { FrontendInit, FromFrontend, ListenSpec, ToFrontend } from './protocol.js';
import { RemoteBackend } from './remote-backend.js';

if (!parentPort) throw new Error('http-worker must run inside a worker thread');
const port = parentPort;
const init = workerData as FrontendInit;
const post = (m: FromFrontend) => port.postMessage(m);

const destination = init.forwardLogs ? { write: (line: string) => post({ t: 'log', line }) } : pino.destination({ dest: 1, sync: false });
const log = pino({ level: init.logLevel }, destination);
const backend = new RemoteBackend(port, init.repositoryRoot, init.catalog);
const metrics = new ServeMetrics({ processMetrics: false, thread: `http-${init.index}` });
const app = buildApp({ backend, metrics, log, logLevel: init.logLevel, bodyLimit: init.bodyLimit, requestTimeoutMs: init.requestTimeoutMs, maxUploads: init.maxUploads, uploads: init.uploads, frontend: { index: init.index, count: init.count } });
let grpc: GrpcFrontend | undefined;
let sweep: NodeJS.Timeout | undefined;

function listenOptions(spec: ListenSpec) {
  return 'fd' in spec ? { fd: spec.fd } : { host: spec.host, port: spec.port };
}

function urlOf(address: AddressInfo | string | null, scheme: string): string {
  if (!address || typeof address === 'string') return `${scheme}://${address ?? ''}`;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${scheme}://${host}:${address.port}`;
}

/** The listening socket's file descriptor (Linux and macOS: libuv exposes it on the handle). */
function fdOf(server: { _handle?: { fd?: number } }): number {
  const fd = server._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('the listening socket has no file descriptor to share (HTTP workers need Linux or macOS)');
  return fd;
}

async function start(): Promise<void> {
  await app.ready();
  const server = app.server;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenOptions(init.http), () => {
      server.off('error', reject);
      resolve();
    });
  });
  const listening: Extract<FromFrontend, { t: 'listening' }> = { t: 'listening', httpFd: fdOf(server as never), httpUrl: urlOf(server.address(), 'http') };
  if (init.grpc) {
    grpc = await startGrpc({ backend, metrics, log, listen: init.grpc, maxMessageBytes: init.grpcMaxMessageBytes });
    listening.grpcFd = grpc.fd;
    listening.grpcUrl = grpc.url;
  }
  post(listening);
}

async function stop(): Promise<void> {
  // Keep-alive connections that were busy when the stop began would otherwise linger until their idle
  // timeout: responses now carry `Connection: close`, and idle sockets are swept.
  sweep = setInterval(() => app.server.closeIdleConnections(), 50);
  await Promise.all([app.close(), grpc?.close()]);
  clearInterval(sweep);
  if ('flushSync' in destination) destination.flushSync();
  post({ t: 'stopped' });
}

port.on('message', (m: ToFrontend) => {
  if (backend.receive(m)) return;
  switch (m.t) {
    case 'pull-metrics':
      void metrics.registry.getMetricsAsJSON().then((json) => post({ t: 'metrics', id: m.id, json }));
      break;
    case 'stop':
      void stop();
      break;
    case 'force-close':
      app.server.closeAllConnections();
      grpc?.forceClose();
      break;
    default:
      break;
  }
});

start().catch((err: unknown) => post({ t: 'start-error', message: oneLine(err) }));
