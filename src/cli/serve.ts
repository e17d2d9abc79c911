/**
 * `trainfer serve <model-repository>`: start the Open Inference Protocol server. SIGTERM/SIGINT stop
 * accepting, finish the requests in flight and exit 0.
 */
import type { Command } from 'commander';
import { InferenceServer } from '../serve/server.js';
import type { ModelConfig } from '../serve/config.js';
import { parseNumber, parsePositiveInt, type CliCommand } from './command.js';

interface ServeFlags {
  port: number;
  host: string;
  quiet?: boolean;
  logLevel?: string;
  bodyLimitMb: number;
  maxBatchSize?: number;
  maxQueueDelayMs?: number;
  instances?: number;
  threadsPerInstance?: number;
  timeoutMs?: number;
}

/** `trainfer serve` */
export const serveCommand: CliCommand = {
  name: 'serve',
  define(program: Command) {
    program
      .command('serve')
      .description('serve a model repository (<repo>/<model>/<version>/model.onnx) over the KServe v2 / Triton REST protocol')
      .argument('<model-repository>', 'directory of models: <model>/<version>/model.onnx and optional <model>/config.json')
      .option('--port <n>', 'TCP port (0 picks a free one)', parseNonNegativeInt('--port'), 8000)
      .option('--host <address>', 'interface to bind', '127.0.0.1')
      .option('--quiet', 'log only warnings and errors (no per-request lines)')
      .option('--log-level <level>', 'pino log level: trace, debug, info, warn, error, silent')
      .option('--body-limit-mb <n>', 'largest request body in MiB (bigger gets 413)', parseNumber('--body-limit-mb'), 64)
      .option('--max-batch-size <n>', 'default maxBatchSize for models whose config.json does not set it (0 = no batching)', parseNonNegativeInt('--max-batch-size'))
      .option('--max-queue-delay-ms <n>', 'default maxQueueDelayMs', parseNumber('--max-queue-delay-ms'))
      .option('--instances <n>', 'default instances (worker threads) per model version', parsePositiveInt('--instances'))
      .option('--threads-per-instance <n>', 'default onnxruntime threads per instance', parsePositiveInt('--threads-per-instance'))
      .option('--timeout-ms <n>', 'default per-request timeout in ms (0 = none)', parseNumber('--timeout-ms'))
      .action(async (repository: string, flags: ServeFlags) => {
        await runServe(repository, flags);
      });
  },
};

async function runServe(repository: string, f: ServeFlags): Promise<void> {
  const defaults: Partial<ModelConfig> = {};
  if (f.maxBatchSize !== undefined) defaults.maxBatchSize = f.maxBatchSize;
  if (f.maxQueueDelayMs !== undefined) defaults.maxQueueDelayMs = f.maxQueueDelayMs;
  if (f.instances !== undefined) defaults.instances = f.instances;
  if (f.threadsPerInstance !== undefined) defaults.threadsPerInstance = f.threadsPerInstance;
  if (f.timeoutMs !== undefined) defaults.timeoutMs = f.timeoutMs;
  const logLevel = (f.logLevel ?? (f.quiet ? 'warn' : 'info')) as 'info';
  const server = await InferenceServer.start({ repository, host: f.host, port: f.port, logLevel, bodyLimitBytes: Math.round(f.bodyLimitMb * 1024 * 1024), modelDefaults: defaults });
  const models = server.repository.loaded().map((m) => `${m.name}/${m.version}`);
  process.stderr.write(`trainfer serve: listening on ${server.url} (${models.length} model version(s): ${models.join(', ') || 'none'})\n`);
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  process.stderr.write(`trainfer serve: ${signal}: finishing requests in flight, then exiting\n`);
  await server.close();
  process.stderr.write('trainfer serve: stopped\n');
}

function parseNonNegativeInt(flag: string): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${flag} must be a non-negative integer, got '${v}'`);
    return n;
  };
}
