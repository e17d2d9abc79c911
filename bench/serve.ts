/**
 * Serving benchmark (loopback only, bounded in time): an MNIST-sized CNN served by `trainfer serve`
 * in a child process, loaded with autocannon.
 *   (a) throughput at 64 concurrent clients, dynamic batching on vs off (same server, same instances), and
 *       where each request's CPU goes (server main thread, the server's other threads, the load generator);
 *   (b) the server's added latency per request vs onnxruntime in-process at the same batch size;
 *   (c) p50 / p99 latency under load;
 *   (d) a soak at 80% of the measured maximum throughput, expecting zero failed requests.
 * Usage: flock /tmp/trainfer-bench.lock npx tsx bench/serve.ts [--duration 60] [--seconds 6]
 *        [--connections 64] [--max-batch-size 32] [--delay-ms 0] [--instances 2] [--threads 1]
 *        [--model cnn|mlp] [--hidden 1024,1024] [--binary] [--quantize dynamic] [--sweep] [--out results.json]
 * `--quantize dynamic` serves the model dynamically quantized (DynamicQuantizeLinear → MatMulInteger). The
 * server never batches such a model (one activation scale per batch would make each answer depend on its
 * neighbours), so both rounds then run unbatched; what batching would have gained is measured by running
 * the same command on a tree from before that rule (see docs/serving.md, 'When requests are batched').
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Tensor } from '../src/onnx/tensor.js';
import { Session } from '../src/runtime/session.js';
import { buildRequest } from '../src/serve/client.js';
import type { ModelConfig } from '../src/serve/config.js';
import { addToRepository, mnistCnn, mnistMlp } from '../src/serve/example-models.js';
import { quantize } from '../src/compress/quantize/quantize.js';

interface CannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p90: number; p99: number; average: number; max: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
}
type Cannon = (o: Record<string, unknown>) => Promise<CannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Cannon;

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    seconds: { type: 'string', default: '6' },
    connections: { type: 'string', default: '64' },
    'max-batch-size': { type: 'string', default: '32' },
    'delay-ms': { type: 'string', default: '0' },
    instances: { type: 'string', default: '2' },
    threads: { type: 'string', default: '1' },
    binary: { type: 'boolean', default: false },
    sweep: { type: 'boolean', default: false },
    model: { type: 'string', default: 'cnn' },
    hidden: { type: 'string', default: '1024,1024' },
    quantize: { type: 'string' },
    out: { type: 'string' },
  },
});
const num = (k: keyof typeof flags) => Number(flags[k]);
const SECONDS = num('seconds');
const CONNECTIONS = num('connections');
const INSTANCES = num('instances');
const THREADS = num('threads');

function machine(): string {
  const model = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? 'unknown';
  return `${cpus().length} cores, ${model}, node ${process.version}`;
}

function images(n: number, k: number): Tensor {
  // MNIST-like values in [0, 1] with 3 decimals (what a JSON client would send)
  return Tensor.f32([n, 1, 28, 28], Array.from({ length: n * 784 }, (_, i) => Math.round(Math.abs(Math.sin(i * 0.37 + k)) * 1000) / 1000));
}

function body(batch: number): { body: Buffer; headers: Record<string, string> } {
  const r = buildRequest({ inputs: { pixels: images(batch, 1) }, binary: flags.binary });
  const b = typeof r.body === 'string' ? Buffer.from(r.body) : Buffer.from(r.body);
  return { body: b, headers: { 'content-type': 'application/json', ...r.headers } };
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** In-process onnxruntime latency (ms) at `batch`, same thread count as one server instance. */
async function inProcess(file: string, batch: number, iterations: number): Promise<{ p50: number; p99: number }> {
  const s = await Session.create({ path: file }, { intraOpThreads: THREADS });
  const x = images(batch, 1);
  for (let i = 0; i < 20; i++) await s.run({ pixels: x });
  const t: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    await s.run({ pixels: x });
    t.push(performance.now() - t0);
  }
  await s.release();
  t.sort((a, b) => a - b);
  return { p50: pct(t, 50), p99: pct(t, 99) };
}

/** Sequential requests over one keep-alive connection: per-request latency (ms). */
async function sequential(url: string, model: string, batch: number, iterations: number): Promise<{ p50: number; p99: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const { body: b, headers } = body(batch);
  const target = new URL(`${url}/v2/models/${model}/infer`);
  const once = () => new Promise<void>((resolve, reject) => {
    const req = http.request(target, { method: 'POST', agent, headers: { ...headers, 'content-length': String(b.length) } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(b);
  });
  for (let i = 0; i < 20; i++) await once();
  const t: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    await once();
    t.push(performance.now() - t0);
  }
  agent.destroy();
  t.sort((a, b) => a - b);
  return { p50: pct(t, 50), p99: pct(t, 99) };
}

/** CPU milliseconds used so far by one process: its main thread (tid = pid) and all its other threads. */
function threadCpu(pid: number): { main: number; other: number } {
  let main = 0;
  let other = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread exited
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ms = (Number(f[11]) + Number(f[12])) * 10; // utime + stime in clock ticks of 10 ms (USER_HZ 100)
    if (Number(tid) === pid) main += ms;
    else other += ms;
  }
  return { main, other };
}

/** Where each request's CPU went during one load run (µs per request), from /proc (Linux). */
interface CpuPerRequest { serverMain: number; serverOther: number; loadGenerator: number }

async function loadWithCpu(pid: number, url: string, model: string, o: { seconds: number; connections: number }): Promise<CannonResult & { cpu?: CpuPerRequest }> {
  if (!existsSync(`/proc/${pid}/task`)) return load(url, model, o);
  const s0 = threadCpu(pid);
  const g0 = threadCpu(process.pid);
  const r = await load(url, model, o);
  const s1 = threadCpu(pid);
  const g1 = threadCpu(process.pid);
  const per = (ms: number) => (ms * 1000) / Math.max(1, r.requests.total);
  return { ...r, cpu: { serverMain: per(s1.main - s0.main), serverOther: per(s1.other - s0.other), loadGenerator: per(g1.main + g1.other - g0.main - g0.other) } };
}

async function load(url: string, model: string, o: { seconds: number; connections: number; rate?: number }): Promise<CannonResult> {
  const { body: b, headers } = body(1);
  return autocannon({ url: `${url}/v2/models/${model}/infer`, method: 'POST', headers, body: b, connections: o.connections, duration: o.seconds, overallRate: o.rate, timeout: 10 });
}

function startServer(repo: string): Promise<{ child: ChildProcess; url: string }> {
  const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', main, 'serve', repo, '--port', '0', '--quiet'], { stdio: ['ignore', 'inherit', 'pipe'] });
  let err = '';
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m) resolve({ child, url: m[1]! });
    });
    child.once('exit', (code) => reject(new Error(`server exited (${code}): ${err}`)));
  });
}

const cpuText = (c: CpuPerRequest | undefined): string => (c ? `${c.serverMain.toFixed(0)} / ${c.serverOther.toFixed(0)} / ${c.loadGenerator.toFixed(0)} (total ${(c.serverMain + c.serverOther + c.loadGenerator).toFixed(0)})` : 'n/a (no /proc)');
const failures = (r: CannonResult) => r.errors + r.timeouts + r.non2xx;
const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'trainfer-bench-serve-'));
  const repo = join(dir, 'repo');
  const base: Partial<ModelConfig> = { instances: INSTANCES, threadsPerInstance: THREADS, maxQueueSize: 4096, timeoutMs: 30000 };
  const hidden = flags.hidden.split(',').map(Number);
  if (flags.quantize !== undefined && flags.quantize !== 'dynamic') throw new Error(`--quantize must be dynamic, got '${flags.quantize}'`);
  const fp32 = flags.model === 'mlp' ? mnistMlp({ hidden }) : mnistCnn();
  const model = flags.quantize === 'dynamic' ? (await quantize({ model: fp32, mode: 'dynamic' })).model : fp32;
  const modelText = `${flags.model === 'mlp' ? `MNIST MLP 784-${hidden.join('-')}-10` : 'MNIST CNN (conv 1→32 5×5, pool, conv 32→64 5×5, pool, FC 3136→128→10)'}${flags.quantize ? ', dynamic int8' : ''}`;
  // A dynamically quantized model cannot be batched (an explicit maxBatchSize is refused): "auto" leaves it unbatched.
  const batched = { ...base, maxBatchSize: flags.quantize === 'dynamic' ? ('auto' as const) : num('max-batch-size'), maxQueueDelayMs: num('delay-ms') };
  const file = addToRepository({ repo, name: 'batched', model, config: batched });
  addToRepository({ repo, name: 'unbatched', model, config: { ...base, maxBatchSize: 0 } });
  const sweep: { name: string; config: Partial<ModelConfig> }[] = [];
  if (flags.sweep) {
    // instances × threads for 2 cores, batch size, queue delay; onnxruntime thread spinning on vs off
    const variants: [string, Partial<ModelConfig>][] = [
      ['i2t1', { instances: 2, threadsPerInstance: 1 }],
      ['i1t2', { instances: 1, threadsPerInstance: 2 }],
      ['i1t1', { instances: 1, threadsPerInstance: 1 }],
      ['i1t2_spin', { instances: 1, threadsPerInstance: 2, allowSpinning: true }],
    ];
    for (const [name, c] of variants) {
      for (const [mbs, d] of [[32, 0], [64, 0], [32, 2]]) sweep.push({ name: `sweep_${name}_b${mbs}_d${d}`, config: { ...base, ...c, maxBatchSize: mbs, maxQueueDelayMs: d } });
      sweep.push({ name: `sweep_${name}_nobatch`, config: { ...base, ...c, maxBatchSize: 0 } });
    }
    for (const s of sweep) addToRepository({ repo, name: s.name, model, config: s.config });
  }
  console.log(`machine: ${machine()}`);
  console.log(`model: ${modelText}, ${flags.binary ? 'binary' : 'JSON'} requests of 1 image`);
  console.log(`server: instances ${INSTANCES} × threads ${THREADS}; batching maxBatchSize ${batched.maxBatchSize}, maxQueueDelayMs ${batched.maxQueueDelayMs}`);

  const ort1 = await inProcess(file, 1, 400);
  const ort16 = await inProcess(file, 16, 100);
  const { child, url } = await startServer(repo);
  try {
    for (const m of ['batched', 'unbatched']) await load(url, m, { seconds: 2, connections: CONNECTIONS });
    // (a) throughput, batching on vs off: three alternating rounds, the median of each (the machine is shared)
    const ons: (CannonResult & { cpu?: CpuPerRequest })[] = [];
    const offs: (CannonResult & { cpu?: CpuPerRequest })[] = [];
    for (let round = 0; round < 3; round++) {
      ons.push(await loadWithCpu(child.pid!, url, 'batched', { seconds: SECONDS, connections: CONNECTIONS }));
      offs.push(await loadWithCpu(child.pid!, url, 'unbatched', { seconds: SECONDS, connections: CONNECTIONS }));
    }
    const median = <T extends CannonResult>(rs: T[]): T => [...rs].sort((a, b) => a.requests.average - b.requests.average)[1]!;
    const on = median(ons);
    const off = median(offs);
    console.log(`  rounds, batching on:  ${ons.map((r) => f1(r.requests.average)).join(', ')} req/s`);
    console.log(`  rounds, batching off: ${offs.map((r) => f1(r.requests.average)).join(', ')} req/s`);
    // (b) added latency, sequential single client
    const seq1 = await sequential(url, 'unbatched', 1, 400);
    const seq16 = await sequential(url, 'unbatched', 16, 100);
    const seqBatched = await sequential(url, 'batched', 1, 200);
    const sweepRows: { name: string; rps: number; p50: number; p99: number; failed: number }[] = [];
    // two interleaved rounds so that a burst of load from elsewhere does not favour one variant
    for (let round = 1; round <= (sweep.length ? 2 : 0); round++) {
      for (const s of sweep) {
        await load(url, s.name, { seconds: 1, connections: CONNECTIONS });
        const r = await load(url, s.name, { seconds: 3, connections: CONNECTIONS });
        sweepRows.push({ name: `${s.name}#${round}`, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, failed: failures(r) });
        console.log(`  sweep ${s.name} round ${round}: ${f1(r.requests.average)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms`);
      }
    }
    // (d) soak at 80% of the maximum
    const rate = Math.floor(on.requests.average * 0.8);
    const soak = await load(url, 'batched', { seconds: num('duration'), connections: CONNECTIONS, rate });

    const result = {
      machine: machine(),
      model: modelText,
      encoding: flags.binary ? 'binary' : 'json',
      config: { ...batched, connections: CONNECTIONS, seconds: SECONDS },
      throughput: { rounds: { on: ons.map((r) => r.requests.average), off: offs.map((r) => r.requests.average) }, batchedRps: on.requests.average, unbatchedRps: off.requests.average, ratio: on.requests.average / off.requests.average, batchedFailed: ons.reduce((n, r) => n + failures(r), 0), unbatchedFailed: offs.reduce((n, r) => n + failures(r), 0) },
      cpuPerRequestUs: { batched: on.cpu, unbatched: off.cpu },
      latencyUnderLoad: { batched: { p50: on.latency.p50, p99: on.latency.p99 }, unbatched: { p50: off.latency.p50, p99: off.latency.p99 } },
      addedLatency: {
        batch1: { inProcessP50: ort1.p50, serverP50: seq1.p50, addedP50: seq1.p50 - ort1.p50, inProcessP99: ort1.p99, serverP99: seq1.p99 },
        batch16: { inProcessP50: ort16.p50, serverP50: seq16.p50, addedP50: seq16.p50 - ort16.p50, inProcessP99: ort16.p99, serverP99: seq16.p99 },
        batch1BatchedModel: { serverP50: seqBatched.p50, serverP99: seqBatched.p99 },
      },
      soak: { seconds: num('duration'), targetRps: rate, achievedRps: soak.requests.average, requests: soak.requests.total, failed: failures(soak), p50: soak.latency.p50, p99: soak.latency.p99 },
      sweep: sweepRows,
    };
    const rows: [string, string][] = [
      ['(a) throughput, batching on (64 clients, median of 3)', `${f1(on.requests.average)} req/s`],
      ['(a) throughput, batching off (64 clients, median of 3)', `${f1(off.requests.average)} req/s`],
      ['(a) ratio on/off (target ≥ 4×)', `${f2(result.throughput.ratio)}×`],
      ['(a) CPU µs per request, batching on: server main / server other threads / load generator', cpuText(on.cpu)],
      ['(a) CPU µs per request, batching off: server main / server other threads / load generator', cpuText(off.cpu)],
      ['(b) in-process ORT p50, batch 1 / 16', `${f2(ort1.p50)} / ${f2(ort16.p50)} ms`],
      ['(b) server p50, batch 1 / 16 (no batching, 1 client)', `${f2(seq1.p50)} / ${f2(seq16.p50)} ms`],
      ['(b) added latency p50, batch 1 / 16', `${f2(seq1.p50 - ort1.p50)} / ${f2(seq16.p50 - ort16.p50)} ms`],
      ['(b) server p50, batch 1, batching model (waits delay)', `${f2(seqBatched.p50)} ms`],
      ['(c) p50 / p99 under load, batching on', `${on.latency.p50} / ${on.latency.p99} ms`],
      ['(c) p50 / p99 under load, batching off', `${off.latency.p50} / ${off.latency.p99} ms`],
      [`(d) soak ${num('duration')} s at ${rate} req/s (80%)`, `${f1(soak.requests.average)} req/s, ${soak.requests.total} requests, ${failures(soak)} failed, p50 ${soak.latency.p50} ms, p99 ${soak.latency.p99} ms`],
    ];
    const w = Math.max(...rows.map((r) => r[0].length));
    console.log('');
    for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
    console.log(`\n${JSON.stringify(result)}`);
    if (flags.out) writeFileSync(flags.out, `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
