/**
 * Inference at the edge, measured: the MNIST presets (`mlp:256` as `npm start` trains it, and `cnn`) in
 * fp32 and int8, run at batch 1 in headless Chromium through the page (`trainfer ui`'s in-browser
 * benchmark: onnxruntime-web WASM SIMD, 1 thread and the page's default of up to 4 threads) against
 * onnxruntime-node in a tight single-thread loop on the same files and the same input, plus the page's
 * total download (what a first visit costs).
 *
 * Models: `--models <dir>` (any .onnx files the page runs), else the presets trained briefly with
 * Adam (latency does not depend on how long the weights trained) and quantized as `trainfer quantize`
 * does (cnn static QDQ calibrated on MNIST, mlp dynamic), cached in .bench-cache/web.
 *
 * Run: flock -x /tmp/trainfer-cpu.lock npx tsx bench/web.ts [--iterations 500] [--models DIR] [--json out.json]
 * (about 40 s on two cores, 15 s more on the first run to train and quantize).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { tableFromDataset } from '../src/data/dataset.js';
import { loadData } from '../src/data/load.js';
import { writeModel } from '../src/onnx/model-io.js';
import { fit } from '../src/train/fit.js';
import { buildModel } from '../src/train/job.js';
import { quantizeFile } from '../src/compress/quantize/pipeline.js';
import { type BrowserBenchResult, runBrowserBenchmark } from '../src/web/browser-bench.js';
import { scanModels } from '../src/web/catalog.js';
import type { LatencySummary } from '../src/web/latency-stats.js';
import { nodeLatency } from '../src/web/node-latency.js';

const arg = (name: string): string | undefined => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const iterations = Number(arg('--iterations') ?? 500);
const jsonOut = arg('--json');
const CACHE = '.bench-cache/web';

/** The presets at their real sizes, briefly trained, and their int8 forms. */
async function buildModels(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const splits = loadData({ source: 'mnist' });
  for (const [spec, file, mode] of [['mlp:256', 'mlp256', 'dynamic'], ['cnn', 'cnn', 'static']] as const) {
    const fp32 = join(dir, `${file}.onnx`);
    if (!existsSync(fp32)) {
      const train = tableFromDataset(splits.train);
      const net = buildModel({ model: spec }, train, 1);
      const r = await fit({ model: net, train, epochs: 1, batchSize: 64, maxSteps: 300, optimizer: { type: 'adam' }, lr: 0.002, progress: 'none', seed: 1 });
      writeModel(fp32, net.inferenceGraph({ weights: r.weights }));
    }
    const int8 = join(dir, `${file}-int8.onnx`);
    if (!existsSync(int8)) await quantizeFile({ input: fp32, output: int8, mode, calib: 'mnist', calibSize: 512, measure: false, threads: 1 });
  }
}

const dir = arg('--models') ?? CACHE;
if (!arg('--models')) await buildModels(dir);
const manifest = scanModels({ dir });
const digits = manifest.models.filter((m) => m.kind === 'digits');
const load0 = loadavg()[0]!;

// The page benchmarks on its current input: zeros until someone draws. Node gets the same zeros.
const browser1 = await runBrowserBenchmark({ modelsDir: dir, iterations, warmup: 20, threads: 1 });
const browserN = await runBrowserBenchmark({ modelsDir: dir, iterations, warmup: 20 });
const row = (r: BrowserBenchResult, name: string) => r.models.find((m) => m.name === name)!;
const node: Record<string, LatencySummary> = {};
for (const m of digits) node[m.name] = await nodeLatency({ file: join(dir, ...m.url.slice('models/'.length).split('/').map(decodeURIComponent)), inputs: row(browser1, m.name).inputs, iterations, warmup: 20 });

const f = (v: number) => (v < 1 ? v.toFixed(3) : v.toFixed(2));
console.log(`machine: ${cpus()[0]?.model.trim()} × ${availableParallelism()}, load average ${load0.toFixed(2)} at start; Node ${process.version}; Chromium ${browser1.browserVersion}; onnxruntime-web/-node ${JSON.parse(readFileSync('node_modules/onnxruntime-web/package.json', 'utf8')).version}`);
console.log(`${iterations} inferences per model at batch 1, zeros input; times in ms\n`);
const header = ['model', 'prec', 'size KB', 'web 1T p50', 'p99', 'web ' + browserN.backend.threads + 'T p50', 'p99', 'node 1T p50', 'p99', 'web/node p50'];
const rows = digits.map((m) => {
  const a = row(browser1, m.name);
  const b = row(browserN, m.name);
  const n = node[m.name]!;
  return [m.name, m.precision, (m.bytes / 1024).toFixed(0), f(a.p50Ms), f(a.p99Ms), f(b.p50Ms), f(b.p99Ms), f(n.p50Ms), f(n.p99Ms), `${(a.p50Ms / n.p50Ms).toFixed(2)}×`];
});
const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
for (const r of [header, ...rows]) console.log(r.map((v, c) => (c === 0 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join('  '));

console.log('\nint8 vs fp32 (p50 speed-up):');
for (const base of digits.filter((m) => m.precision === 'fp32')) {
  const q = digits.find((m) => m.name === `${base.name}-int8`);
  if (!q) continue;
  const s = (r: BrowserBenchResult) => (row(r, base.name).p50Ms / row(r, q.name).p50Ms).toFixed(2);
  console.log(`  ${base.name}: web 1T ${s(browser1)}×, web ${browserN.backend.threads}T ${s(browserN)}×, node 1T ${(node[base.name]!.p50Ms / node[q.name]!.p50Ms).toFixed(2)}×; size ${(q.bytes / base.bytes).toFixed(2)}×`);
}
const d = browserN.download;
console.log(`\npage download (first visit, these ${digits.length} models): ${(d.transferredBytes / 1e6).toFixed(2)} MB transferred, ${(d.decodedBytes / 1e6).toFixed(2)} MB uncompressed (models ${(d.modelBytes / 1e6).toFixed(2)} MB) in ${d.requests} requests; requests to other hosts: ${browserN.foreignRequests.length}`);
console.log(`backend: ${browserN.backend.label}`);
if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ iterations, browser1, browserN, node, loadAverage: load0 }, null, 2));
