/**
 * `trainfer ui`: serve the browser page (onnxruntime-web) with a models directory, cross-origin isolated
 * (COOP/COEP) so WASM threads work, and the latest lab report. `--bench` instead opens the page in
 * headless Chromium, runs the in-browser benchmark on every model and prints p50/p99/throughput
 * beside onnxruntime-node's on the same file and shapes.
 * SIGTERM/SIGINT stop the server.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { formatBrowserBench } from '../web/bench-table.js';
import { runBrowserBenchmark } from '../web/browser-bench.js';
import type { LatencySummary } from '../web/latency-stats.js';
import { nodeLatency } from '../web/node-latency.js';
import { scanModels } from '../web/catalog.js';
import { findLabReport, startUiServer } from '../web/ui-server.js';
import { type CliCommand, parsePositiveInt } from './command.js';

interface UiFlags {
  port: number;
  host: string;
  models?: string;
  lab?: string;
  isolation: boolean;
  bench?: boolean;
  iterations: number;
  warmup: number;
  threads?: number;
  backend?: 'wasm' | 'webgpu';
  node: boolean;
  json?: boolean;
}

/** `trainfer ui` */
export const uiCommand: CliCommand = {
  name: 'ui',
  define(program: Command) {
    program
      .command('ui')
      .description('serve the browser page: draw a digit, see every MNIST model (fp32, int8, …) predict it with onnxruntime-web, benchmark them in the browser')
      .option('--port <n>', 'TCP port (0 picks a free one)', parsePort, 8080)
      .option('--host <address>', 'interface to bind', '127.0.0.1')
      .option('--models <dir>', 'directory of .onnx models (any layout: flat files, <model>/<version>/model.onnx, model.onnx + tokenizer.json); default ./models, else the latest lab run\'s models (lab-results/latest/models)')
      .option('--lab <path>', 'lab report to serve under /lab/: a report.html, or a directory of lab runs (the newest is served); default ./lab-results when it exists')
      .option('--no-isolation', 'do not send COOP/COEP (the page then runs one WASM thread)')
      .option('--bench', 'run the in-browser benchmark in headless Chromium, print it and exit')
      .option('--iterations <n>', 'with --bench: timed inferences per model', parsePositiveInt('--iterations'), 200)
      .option('--warmup <n>', 'with --bench: untimed runs per model first', parsePositiveInt('--warmup'), 10)
      .option('--threads <n>', 'with --bench: WASM threads (default: up to 4)', parsePositiveInt('--threads'))
      .option('--backend <b>', 'with --bench: wasm or webgpu (default: WebGPU when the browser has it)', parseBackend)
      .option('--no-node', 'with --bench: skip timing each model in onnxruntime-node (1 thread) beside the browser')
      .option('--json', 'with --bench: print the result as one JSON object')
      .action(async (flags: UiFlags) => {
        const models = flags.models ?? defaultModelsDir();
        if (flags.bench) await runBench(models, flags);
        else await runUi(models, { ...flags, lab: flags.lab ?? defaultLab() });
      });
  },
};

/** ./models, else the models of the latest `trainfer lab` run, else ./models (whose absence is then the error). */
function defaultModelsDir(): string {
  if (existsSync('models')) return 'models';
  const lab = join('lab-results', 'latest', 'models');
  return existsSync(lab) ? lab : 'models';
}

/** ./lab-results when it holds a report. */
function defaultLab(): string | undefined {
  if (!existsSync('lab-results')) return undefined;
  try {
    return findLabReport('lab-results');
  } catch {
    return undefined;
  }
}

async function runUi(models: string, f: UiFlags): Promise<void> {
  const ui = await startUiServer({ modelsDir: models, port: f.port, host: f.host, lab: f.lab, crossOriginIsolation: f.isolation });
  const entries = scanModels({ dir: models }).models;
  const runnable = entries.filter((m) => m.kind !== 'other');
  process.stderr.write(`trainfer ui: ${ui.url} — ${runnable.length} model(s) the page runs${runnable.length ? `: ${runnable.map((m) => `${m.name} (${m.kind}, ${m.precision})`).join(', ')}` : ''}\n`);
  for (const m of entries.filter((e) => e.kind === 'other')) process.stderr.write(`trainfer ui: not run: ${m.name}: ${m.reason}\n`);
  if (!runnable.length) process.stderr.write(`trainfer ui: no digit or text models in ${models}: e.g. trainfer train --model cnn --data mnist --out ${models}/cnn.onnx\n`);
  if (ui.labReport) process.stderr.write(`trainfer ui: lab report ${ui.labReport} at ${ui.url}lab/\n`);
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  await ui.close();
  process.stderr.write(`trainfer ui: ${signal}: stopped\n`);
}

async function runBench(models: string, f: UiFlags): Promise<void> {
  const r = await runBrowserBenchmark({ modelsDir: models, iterations: f.iterations, warmup: f.warmup, threads: f.threads, backend: f.backend });
  let node: Record<string, LatencySummary> | undefined;
  if (f.node) {
    node = {};
    const files = new Map(scanModels({ dir: models }).models.map((e) => [e.name, join(models, ...e.url.slice('models/'.length).split('/').map(decodeURIComponent))]));
    for (const m of r.models) node[m.name] = await nodeLatency({ file: files.get(m.name)!, inputs: m.inputs, iterations: f.iterations, warmup: f.warmup });
  }
  process.stdout.write(f.json ? `${JSON.stringify({ ...r, node })}\n` : `${formatBrowserBench(r, node)}\n`);
}

function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--port must be an integer in [0, 65535], got '${v}'`);
  return n;
}

function parseBackend(v: string): 'wasm' | 'webgpu' {
  if (v !== 'wasm' && v !== 'webgpu') throw new Error(`--backend must be wasm or webgpu, got '${v}'`);
  return v;
}
