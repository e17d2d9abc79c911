/**
 * The KServe v2 gRPC service (`inference.GRPCInferenceService`) on `@grpc/grpc-js`, over the same
 * `ServeBackend` as the REST app — the same batcher, checks and metrics. It runs in whichever thread
 * runs the front end: every HTTP worker thread accepts gRPC connections from one shared listening socket
 * and hands them to its grpc-js server (`createConnectionInjector`); with no HTTP workers, the main thread
 * does. Errors are `InferenceError`s mapped onto gRPC status codes (400 → INVALID_ARGUMENT, …).
 */
import { createServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { Server, ServerCredentials, type ServerUnaryCall, type sendUnaryData, type UntypedServiceImplementation, status as GrpcStatus } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { oneLine } from '../../util/errors.js';
import { EXTENSIONS, SERVER_NAME, SERVER_VERSION, redactor } from '../app.js';
import { Cancellation } from '../batcher.js';
import { InferenceError, badRequest } from '../errors.js';
import { answeredOutputs, prepareInference } from '../infer.js';
import type { ServeMetrics } from '../metrics.js';
import type { ModelMetadataAnswer } from '../control.js';
import { scalarParameters } from '../protocol.js';
import type { IndexRow } from '../repository.js';
import type { ServeBackend } from '../served-model.js';
import { type GrpcInferRequest, type GrpcParameter, grpcCode, requestFromGrpc, responseToGrpc } from './codec.js';
import { serviceDefinition } from './proto.js';

/** A started gRPC front end. */
export interface GrpcFrontend {
  /** `host:port` it listens on. */
  url: string;
  /** The listening socket's descriptor (other threads share it). */
  fd: number;
  /** Stops accepting and waits for calls in flight. */
  close(): Promise<void>;
  /** Cancels the calls still running. */
  forceClose(): void;
}

/** Options for `startGrpc`. */
export interface GrpcOptions {
  backend: ServeBackend;
  metrics: ServeMetrics;
  log: Logger;
  listen: { host: string; port: number } | { fd: number };
  /** Largest message received or sent, in bytes. */
  maxMessageBytes: number;
}

type Call<T> = ServerUnaryCall<T, unknown>;
type Done = sendUnaryData<unknown>;

/** Starts the service on its own listening socket (or a shared one). */
export async function startGrpc(o: GrpcOptions): Promise<GrpcFrontend> {
  const server = new Server({ 'grpc.max_receive_message_length': o.maxMessageBytes, 'grpc.max_send_message_length': o.maxMessageBytes });
  server.addService(serviceDefinition(), implementation(o));
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  const sockets = new Set<Socket>();
  const net: NetServer = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    injector.injectConnection(socket);
  });
  await new Promise<void>((resolve, reject) => {
    net.once('error', reject);
    net.listen('fd' in o.listen ? { fd: o.listen.fd } : { host: o.listen.host, port: o.listen.port }, () => {
      net.off('error', reject);
      resolve();
    });
  });
  const address = net.address() as AddressInfo;
  const fd = (net as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1;
  return {
    url: `${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`,
    fd,
    close: async () => {
      const stopped = new Promise<void>((r) => net.close(() => r()));
      await new Promise<void>((r) => server.tryShutdown(() => r()));
      await stopped;
    },
    forceClose: () => {
      server.forceShutdown();
      for (const s of sockets) s.destroy();
    },
  };
}

function implementation(o: GrpcOptions): UntypedServiceImplementation {
  const { backend, metrics, log } = o;
  const redact = redactor(backend.root);
  let nextId = 0;
  /** Runs `fn` and answers with its value, or with the error's gRPC status. */
  const unary = <T>(fn: (req: T, call: Call<T>) => Promise<unknown>) => (call: Call<T>, done: Done) => {
    fn(call.request, call).then(
      (value) => done(null, value),
      (err: unknown) => {
        const code = grpcCode(err);
        const message = redact(oneLine(err));
        if (code === GrpcStatus.INTERNAL) log.error({ err: message, rpc: call.getPath() }, 'gRPC request failed');
        done({ code, details: message });
      },
    );
  };
  const version = (v: string) => (v === '' ? undefined : v);
  const noParameters = (p: Record<string, GrpcParameter> | undefined) => {
    if (p && Object.keys(p).length > 0) throw badRequest('load parameters (config overrides, file contents) are not supported; edit config.json instead');
  };
  return {
    ServerLive: unary(async () => ({ live: true })),
    ServerReady: unary(async () => ({ ready: (await backend.control({ op: 'server-ready' })).json === true })),
    ModelReady: unary(async (r: { name: string; version: string }) => {
      try {
        await backend.control({ op: 'model-ready', name: r.name, version: version(r.version) });
        return { ready: true };
      } catch (err) {
        if (err instanceof InferenceError && err.status === 503) return { ready: false };
        throw err;
      }
    }),
    ServerMetadata: unary(async () => ({ name: SERVER_NAME, version: SERVER_VERSION, extensions: [...EXTENSIONS] })),
    ModelMetadata: unary(async (r: { name: string; version: string }) => {
      const m = (await backend.control({ op: 'model-metadata', name: r.name, version: version(r.version) })).json as ModelMetadataAnswer;
      const io = (t: { name: string; datatype: string; shape: number[] }) => ({ name: t.name, datatype: t.datatype, shape: t.shape.map(String) });
      return { name: m.name, versions: m.versions, platform: m.platform, inputs: m.inputs.map(io), outputs: m.outputs.map(io) };
    }),
    ModelInfer: unary(async (r: GrpcInferRequest, call) => {
      const t0 = performance.now();
      const mv = backend.resolve(r.model_name, version(r.model_version));
      const series = metrics.series(mv.name, mv.version);
      series.inFlight.inc();
      const cancel = new Cancellation();
      call.once('cancelled', () => cancel.abort());
      try {
        const { body, binary } = requestFromGrpc(r);
        const p = prepareInference(mv, body, binary);
        const requestId = `grpc-${(++nextId).toString(36)}`;
        const parameters = scalarParameters(p.request.parameters);
        const result = await backend.submit(mv, { feeds: p.feeds, batch: p.batch, fetches: p.request.outputs ? p.wanted.map((w) => w.name) : undefined, signal: cancel, id: requestId, ...(parameters ? { parameters } : {}) });
        const answer = responseToGrpc({ model: mv.name, version: mv.version, id: p.request.id, outputs: answeredOutputs(mv, p.wanted, result.outputs), parameters: result.parameters });
        metrics.request(mv.name, mv.version, { ok: true, ms: performance.now() - t0, queueMs: result.queueMs, computeMs: result.computeMs });
        return answer;
      } catch (err) {
        metrics.request(mv.name, mv.version, { ok: false, ms: performance.now() - t0, reason: err instanceof InferenceError ? err.reason : 'backend' });
        throw err;
      } finally {
        series.inFlight.dec();
      }
    }),
    RepositoryIndex: unary(async (r: { ready: boolean }) => {
      const rows = (await backend.control({ op: 'repository-index', readyOnly: r.ready })).json as IndexRow[];
      return { models: rows.map((x) => ({ name: x.name, version: x.version ?? '', state: x.state, reason: x.reason })) };
    }),
    RepositoryModelLoad: unary(async (r: { model_name: string; parameters?: Record<string, GrpcParameter> }) => {
      noParameters(r.parameters);
      await backend.control({ op: 'repository-load', name: r.model_name });
      return {};
    }),
    RepositoryModelUnload: unary(async (r: { model_name: string; parameters?: Record<string, GrpcParameter> }) => {
      noParameters(r.parameters);
      await backend.control({ op: 'repository-unload', name: r.model_name });
      return {};
    }),
  };
}
