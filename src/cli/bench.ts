/**
 * `trainfer bench <model.onnx> | --url <U> --model <M> --scenario …`: one MLPerf-style scenario against
 * a model in this process (one single-thread session per core, as `serve` runs it) or any Open
 * Inference Protocol server, with a live progress line; prints the result (or `--json`) and writes a
 * result file with the settings, the model's hash and the machine.
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { defaultBatch, benchModel, type BenchTarget } from '../bench/bench-model.js';
import { libraryFromDataset, testSplit, textLibrary } from '../bench/dataset-library.js';
import { SCENARIOS, type Scenario } from '../bench/loadgen/types.js';
import { createBenchProgress } from '../bench/progress-line.js';
import { TensorSampleLibrary } from '../bench/qsl.js';
import { type BenchResultFile, writeBenchResult } from '../bench/result-file.js';
import { GraphBuilder } from '../onnx/builder.js';
import { readModel } from '../onnx/model-io.js';
import { InferenceClient } from '../serve/client.js';
import { dtypeOf } from '../serve/protocol.js';
import { TrainferError, oneLine } from '../util/errors.js';
import { formatBrowserBench } from '../web/bench-table.js';
import { benchFilesInBrowser } from '../web/browser-bench.js';
import { nodeLatency } from '../web/node-latency.js';
import { type CliCommand, parseNumber, parsePositiveInt } from './command.js';

interface BenchFlags {
  url?: string;
  model?: string;
  modelVersion?: string;
  scenario?: string;
  browser?: boolean;
  iterations?: number;
  batchSize?: number;
  duration?: number;
  warmup?: number;
  minQueries?: number;
  latencyBoundMs?: number;
  targetQps?: number;
  data?: string;
  samples?: number;
  dim?: string[];
  instances?: number;
  threads?: number;
  concurrency?: number;
  binary: boolean;
  seed?: number;
  out?: string;
  progress?: string;
  json?: boolean;
}

/** `trainfer bench` */
export const benchCommand: CliCommand = {
  name: 'bench',
  define(program: Command) {
    program
      .command('bench')
      .description('MLPerf-style load generator: single-stream, multi-stream, server (Poisson, highest QPS under a latency bound) or offline, in-process or against an OIP URL')
      .argument('[model.onnx]', 'model to run in this process (one single-thread session per core in worker threads)')
      .option('--url <url>', 'an Open Inference Protocol (KServe v2) server instead, e.g. http://127.0.0.1:8000')
      .option('--model <name>', 'with --url: the served model name')
      .option('--model-version <v>', 'with --url: the model version (default: the server\'s choice)')
      .option('--scenario <s>', `${SCENARIOS.join(' | ')} (required unless --browser)`)
      .option('--browser', 'run the model in headless Chromium with onnxruntime-web instead (one inference at a time, as single-stream), beside onnxruntime-node')
      .option('--iterations <n>', 'with --browser: timed inferences (default 200)', parsePositiveInt('--iterations'))
      .option('--batch-size <n>', 'offline: samples per run (default 64); multi-stream: samples per query (default 8); server: largest dynamic batch in-process (default 16)', parsePositiveInt('--batch-size'))
      .option('--duration <s>', 'minimum duration of the run (each server search trial), seconds (default 10)', parseNumber('--duration'))
      .option('--warmup <s>', 'warm-up before the timed run, seconds (default min(1, duration/4))', parseNumber('--warmup'))
      .option('--min-queries <n>', 'minimum query count (default: single-stream 1024, multi-stream 270, server 1024)', parsePositiveInt('--min-queries'))
      .option('--latency-bound-ms <ms>', 'server: the p99 bound the QPS search must meet (default 10)', parseNumber('--latency-bound-ms'))
      .option('--target-qps <q>', 'server: measure this one Poisson rate instead of searching', parseNumber('--target-qps'))
      .option('--data <mnist|spam|dir|file.csv>', 'samples from this data set\'s test split (default: synthetic samples from the model\'s input types; a served raw-text model takes the texts of its text column)')
      .option('--samples <n>', 'samples held in memory (default: the whole test split, or 1024 synthetic)', parsePositiveInt('--samples'))
      .option('--dim <name=N...>', 'synthetic samples: sizes of symbolic dims other than the batch (e.g. seq=128)')
      .option('--instances <n>', 'in-process: worker threads, one session each (default: every core)', parsePositiveInt('--instances'))
      .option('--threads <n>', 'in-process: onnxruntime threads per session (default 1)', parsePositiveInt('--threads'))
      .option('--concurrency <n>', '--url: requests in flight at most (default 64)', parsePositiveInt('--concurrency'))
      .option('--no-binary', '--url: JSON tensors instead of the binary tensor extension')
      .option('--seed <n>', 'seed of the arrival times and sample choice (default 0)', parseNumber('--seed'))
      .option('--out <result.json>', 'where to write the result file (default bench-<model>-<scenario>.json)')
      .option('--progress <mode>', 'auto (bar on a terminal, lines otherwise), bar, lines, none')
      .option('--json', 'print the result file on stdout')
      .action(async (modelPath: string | undefined, flags: BenchFlags) => {
        await runBench(modelPath, flags);
      });
  },
};

async function runBench(modelPath: string | undefined, f: BenchFlags): Promise<void> {
  if (f.browser) return runBrowser(modelPath, f);
  if (!f.scenario) throw new TrainferError(`--scenario is required (${SCENARIOS.join(', ')}), or --browser`);
  if (!SCENARIOS.includes(f.scenario as Scenario)) throw new TrainferError(`--scenario must be one of ${SCENARIOS.join(', ')}, got '${f.scenario}'`);
  const scenario = f.scenario as Scenario;
  if (!modelPath && !f.url) throw new TrainferError('give a model file or --url <server> --model <name>');
  if (modelPath && f.url) throw new TrainferError('give either a model file or --url, not both');
  if (f.url && !f.model) throw new TrainferError('--url needs --model <name>');
  if (f.progress && !['auto', 'bar', 'lines', 'none'].includes(f.progress)) throw new TrainferError(`--progress must be auto, bar, lines or none, got '${f.progress}'`);
  for (const [flag, v] of [['--duration', f.duration], ['--warmup', f.warmup], ['--latency-bound-ms', f.latencyBoundMs], ['--target-qps', f.targetQps]] as const) {
    if (v !== undefined && !(v > 0 || (flag === '--warmup' && v === 0))) throw new TrainferError(`${flag} must be positive, got ${v}`);
  }
  const dims = parseDims(f.dim ?? []);
  const library = modelPath ? localLibrary(modelPath, f, dims) : await servedLibrary(f, dims);
  const target: BenchTarget = modelPath ? { kind: 'in-process', path: modelPath, instances: f.instances, threadsPerInstance: f.threads } : { kind: 'oip', url: f.url!, model: f.model!, version: f.modelVersion, concurrency: f.concurrency, binary: f.binary };
  const progress = createBenchProgress({ mode: f.json ? 'none' : ((f.progress as 'auto') ?? 'auto') });
  let r: BenchResultFile;
  try {
    r = await benchModel({
      target, library, scenario, batchSize: f.batchSize, durationMs: f.duration === undefined ? undefined : f.duration * 1000, warmupMs: f.warmup === undefined ? undefined : f.warmup * 1000,
      minQueryCount: f.minQueries, latencyBoundMs: f.latencyBoundMs, targetQps: f.targetQps, seed: f.seed, onProgress: (p, label) => progress.update(p, label),
    });
  } finally {
    progress.stop();
  }
  const base = (modelPath ?? f.model!).replace(/\.onnx$/i, '').split(/[\\/]/).pop();
  const out = f.out ?? `bench-${base}-${scenario}.json`;
  writeBenchResult(out, r);
  if (f.json) {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }
  printResult(r, out, f.batchSize ?? defaultBatch(scenario));
}

/** `--browser`: the page's in-browser benchmark of this one file (issue 15), beside onnxruntime-node on the same shapes. */
async function runBrowser(modelPath: string | undefined, f: BenchFlags): Promise<void> {
  if (!modelPath) throw new TrainferError('--browser needs a model file');
  if (f.url) throw new TrainferError('--browser runs a model file in the page; it cannot take --url');
  if (!existsSync(modelPath)) throw new TrainferError(`${modelPath}: no such file`);
  const r = await benchFilesInBrowser({ files: [modelPath], iterations: f.iterations, warmup: f.warmup === undefined ? undefined : Math.max(1, Math.round(f.warmup)) });
  const node: Record<string, Awaited<ReturnType<typeof nodeLatency>>> = {};
  for (const m of r.models) node[m.name] = await nodeLatency({ file: modelPath, inputs: m.inputs, iterations: f.iterations });
  process.stdout.write(f.json ? `${JSON.stringify({ ...r, node })}\n` : `${formatBrowserBench(r, node)}\n`);
}

function parseDims(list: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const d of list) {
    const m = /^([^=]+)=(\d+)$/.exec(d);
    if (!m || Number(m[2]) <= 0) throw new TrainferError(`--dim must look like name=N with N ≥ 1, got '${d}'`);
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

function localLibrary(path: string, f: BenchFlags, dims: Record<string, number>): TensorSampleLibrary {
  const model = readModel(path);
  if (f.data) return libraryFromDataset({ model, dataset: testSplit(f.data), limit: f.samples, name: `${f.data}:test` });
  return TensorSampleLibrary.synthetic({ model, count: f.samples ?? 1024, dims });
}

/** Synthetic (or data-set) samples for a served model, from its metadata. */
async function servedLibrary(f: BenchFlags, dims: Record<string, number>): Promise<TensorSampleLibrary> {
  let meta;
  try {
    meta = await new InferenceClient(f.url!).modelMetadata(f.model!, f.modelVersion);
  } catch (err) {
    throw new TrainferError(`${f.url}: cannot get the metadata of model '${f.model}': ${oneLine(err)}`);
  }
  if (meta.inputs.length === 1 && meta.inputs[0]!.datatype === 'BYTES') {
    // A raw-text model (it tokenizes on the server): real texts, since empty synthetic strings measure nothing.
    if (!f.data) throw new TrainferError(`${f.url}: model '${f.model}' takes raw text ('${meta.inputs[0]!.name}', BYTES): give --data spam or a CSV/JSONL file with a text column`);
    return textLibrary({ source: f.data, input: meta.inputs[0]!.name, limit: f.samples });
  }
  const g = new GraphBuilder({ name: meta.name });
  for (const i of meta.inputs) {
    const dtype = dtypeOf(i.datatype);
    if (!dtype) throw new TrainferError(`${f.url}: model input '${i.name}' has datatype ${i.datatype}, which cannot be sampled`);
    const name = g.input(i.name, dtype, i.shape.map((d, k) => (d >= 0 ? d : k === 0 ? 'batch' : `${i.name}_${k}`)));
    g.output(g.identity(name), `${i.name}_out`);
  }
  const model = g.toModel();
  if (f.data) return libraryFromDataset({ model, dataset: testSplit(f.data), limit: f.samples, name: `${f.data}:test` });
  return TensorSampleLibrary.synthetic({ model, count: f.samples ?? 1024, dims });
}

const n = (x: number) => Math.round(x).toLocaleString('en-US');
const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(3));

function printResult(r: BenchResultFile, out: string, batch: number): void {
  const x = r.result;
  const where = r.target.kind === 'in-process' ? `in-process, ${r.target.instances} worker${r.target.instances === 1 ? '' : 's'} × ${r.target.threadsPerInstance} thread` : r.target.kind === 'oip' ? `${r.target.url} (${r.target.binary ? 'binary' : 'JSON'}, ≤ ${r.target.concurrency} in flight)` : r.target.description;
  const model = r.model.path ? `${r.model.path} (sha256 ${r.model.sha256?.slice(0, 12)}…, ${(r.model.bytes! / 1024).toFixed(0)} KB)` : `${r.model.name} at ${r.model.url}`;
  console.log(`${r.scenario} — ${model}; ${where}; samples: ${r.library.name} (${n(r.library.samples)})`);
  if (r.search) {
    console.log(`  QPS search, p${Math.round(r.search.latencyPercentile * 100)} ≤ ${r.search.latencyBoundMs} ms (dynamic batch ≤ ${r.target.kind === 'in-process' ? r.target.maxBatch : 1}):`);
    for (const t of r.search.trials) console.log(`    ${n(t.targetQps).padStart(9)} q/s  p50 ${ms(t.p50).padStart(7)}  p99 ${ms(t.p99).padStart(7)} ms  ${t.valid ? 'ok' : t.stoppedEarly ? 'over the bound (stopped early)' : `no: ${t.invalidReasons[0]}`}`);
    console.log(r.search.bestQps === undefined ? '  no rate met the bound' : `  result: ${n(r.search.bestQps)} queries/s within p${Math.round(r.search.latencyPercentile * 100)} ≤ ${r.search.latencyBoundMs} ms`);
  }
  const l = x.latencyMs;
  console.log(`  ${x.valid ? 'VALID' : 'INVALID'}: ${x.metric.name} ${x.metric.unit === 'ms' ? ms(x.metric.value) : n(x.metric.value)} ${x.metric.unit}${x.valid ? '' : ` — ${x.invalidReasons.join('; ')}`}`);
  if (r.scenario === 'offline') console.log(`  ${n(x.samples)} samples in one query, ${(x.durationMs / 1000).toFixed(1)} s, batch ${batch}`);
  else console.log(`  ${n(x.queries)} queries, ${n(x.samples)} samples in ${(x.durationMs / 1000).toFixed(1)} s: ${n(x.queriesPerSecond)} queries/s, ${n(x.samplesPerSecond)} samples/s${r.scenario === 'multi-stream' ? ` (${batch} per query)` : ''}`);
  if (r.scenario !== 'offline') console.log(`  latency ms: p50 ${ms(l.p50)}  p90 ${ms(l.p90)}  p99 ${ms(l.p99)}  max ${ms(l.max)}${r.scenario === 'server' ? ` (from scheduled arrival; from issue p99 ${ms(x.latencyFromIssueMs.p99)}; issue delay p99 ${ms(x.issueDelayMs.p99)})` : ''}`);
  console.log(`  machine: ${r.machine.cpuModel}, ${r.machine.cores} cores, Node ${r.machine.node}, onnxruntime ${r.machine.onnxruntime}, load ${r.machine.loadAverage.join(' ')}`);
  console.log(`wrote ${out}`);
}
