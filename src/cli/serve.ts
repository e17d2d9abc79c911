/**
 * `trainfer serve <model-repository>`: start the Open Inference Protocol server. SIGTERM/SIGINT stop
 * accepting and drain the requests in flight for up to `--drain-timeout-ms`, then exit: 0 when every
 * request was answered, 1 when some were cut off at the deadline. A run still inside onnxruntime at the
 * deadline cannot be interrupted (and process.exit would abort the process when it returns), so then the
 * server ends itself with SIGKILL; a second signal does the same at once.
 */
import type { Command } from 'commander';
import { InferenceServer, type ServeOptions } from '../serve/server.js';
import type { ModelConfig } from '../serve/config.js';
import { parseNumber, parsePositiveInt, type CliCommand } from './command.js';

interface ServeFlags {
  port: number;
  host: string;
  quiet?: boolean;
  logLevel?: ServeOptions['logLevel'];
  bodyLimitMb: number;
  maxBatchSize?: number;
  maxQueueDelayMs?: number;
  instances?: number;
  threadsPerInstance?: number;
  timeoutMs?: number;
  requestTimeoutMs: number;
  maxUploads: number;
  drainTimeoutMs: number;
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** `trainfer serve` */
export const serveCommand: CliCommand = {
  name: 'serve',
  define(program: Command) {
    program
      .command('serve')
      .description('serve a model repository (<repo>/<model>/<version>/model.onnx) over the KServe v2 / Triton REST protocol')
      .argument('<model-repository>', 'directory of models: <model>/<version>/model.onnx and optional <model>/config.json')
      .option('--port <n>', 'TCP port, 0-65535 (0 picks a free one)', parseIntIn('--port', 0, 65535), 8000)
      .option('--host <address>', 'interface to bind', '127.0.0.1')
      .option('--quiet', 'log only warnings and errors (no per-request lines)')
      .option('--log-level <level>', `pino log level: ${LOG_LEVELS.join(', ')}`, parseLogLevel)
      .option('--body-limit-mb <n>', 'largest request body in MiB (bigger gets 413)', parsePositive('--body-limit-mb'), 64)
      .option('--max-batch-size <n>', 'batch limit of models that declare themselves batch-first (trainfer.batch_first) and leave maxBatchSize unset; 0 = never batch automatically (default 32)', parseIntIn('--max-batch-size', 0, 1 << 20))
      .option('--max-queue-delay-ms <n>', 'default maxQueueDelayMs', parseNonNegative('--max-queue-delay-ms'))
      .option('--instances <n>', 'default instances (worker threads) per model version', parsePositiveInt('--instances'))
      .option('--threads-per-instance <n>', 'default onnxruntime threads per instance', parsePositiveInt('--threads-per-instance'))
      .option('--timeout-ms <n>', 'default per-request timeout in ms (0 = none)', parseNonNegative('--timeout-ms'))
      .option('--request-timeout-ms <n>', 'longest time to receive one whole request; slower clients get 408 (0 = no limit)', parseNonNegative('--request-timeout-ms'), 30_000)
      .option('--max-uploads <n>', 'request bodies received at once; more get 503', parsePositiveInt('--max-uploads'), 256)
      .option('--drain-timeout-ms <n>', 'on SIGTERM, how long requests in flight may take before they get 503 and the server exits', parseNonNegative('--drain-timeout-ms'), 30_000)
      .action(async (repository: string, flags: ServeFlags) => {
        await runServe(repository, flags);
      });
  },
};

async function runServe(repository: string, f: ServeFlags): Promise<void> {
  const defaults: Partial<ModelConfig> = {};
  if (f.maxQueueDelayMs !== undefined) defaults.maxQueueDelayMs = f.maxQueueDelayMs;
  if (f.instances !== undefined) defaults.instances = f.instances;
  if (f.threadsPerInstance !== undefined) defaults.threadsPerInstance = f.threadsPerInstance;
  if (f.timeoutMs !== undefined) defaults.timeoutMs = f.timeoutMs;
  const server = await InferenceServer.start({
    repository, host: f.host, port: f.port, logLevel: f.logLevel ?? (f.quiet ? 'warn' : 'info'), bodyLimitBytes: Math.round(f.bodyLimitMb * 1024 * 1024),
    modelDefaults: defaults, autoMaxBatchSize: f.maxBatchSize, requestTimeoutMs: f.requestTimeoutMs, maxConcurrentUploads: f.maxUploads,
  });
  const models = server.repository.loaded().map((m) => `${m.name}/${m.version}${m.batching ? ` (batching ≤ ${m.batchingDecision.maxBatchSize})` : ''}`);
  process.stderr.write(`trainfer serve: listening on ${server.url} (${models.length} model version(s): ${models.join(', ')})\n`);
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  const now = () => {
    process.stderr.write(`trainfer serve: second signal: exiting now\n`);
    process.kill(process.pid, 'SIGKILL');
  };
  process.once('SIGTERM', now);
  process.once('SIGINT', now);
  process.stderr.write(`trainfer serve: ${signal}: finishing requests in flight (up to ${f.drainTimeoutMs} ms), then exiting\n`);
  const { abandoned, stuck } = await server.close({ deadlineMs: f.drainTimeoutMs });
  if (abandoned > 0) process.stderr.write(`trainfer serve: ${abandoned} request(s) were still in flight at the drain deadline and got 503\n`);
  if (stuck > 0) {
    process.stderr.write(`trainfer serve: ${stuck} run(s) still inside onnxruntime cannot be interrupted; exiting with SIGKILL\n`);
    process.kill(process.pid, 'SIGKILL');
  }
  process.stderr.write('trainfer serve: stopped\n');
  if (abandoned > 0) process.exitCode = 1;
}

function parseIntIn(flag: string, lo: number, hi: number): (v: string) => number {
  return (v: string) => {
    const n = /^[0-9]+$/.test(v.trim()) ? Number(v) : NaN;
    if (!(n >= lo && n <= hi)) throw new Error(`${flag} must be an integer from ${lo} to ${hi}, got '${v}'`);
    return n;
  };
}

function parseNonNegative(flag: string): (v: string) => number {
  const num = parseNumber(flag);
  return (v: string) => {
    const n = num(v);
    if (n < 0) throw new Error(`${flag} must be a number >= 0, got '${v}'`);
    return n;
  };
}

function parsePositive(flag: string): (v: string) => number {
  const num = parseNumber(flag);
  return (v: string) => {
    const n = num(v);
    if (n <= 0) throw new Error(`${flag} must be a number > 0, got '${v}'`);
    return n;
  };
}

function parseLogLevel(v: string): ServeOptions['logLevel'] {
  if (!(LOG_LEVELS as readonly string[]).includes(v)) throw new Error(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got '${v}'`);
  return v as ServeOptions['logLevel'];
}
