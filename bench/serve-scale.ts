/**
 * Multi-core front end and gRPC benchmark (loopback only, about 3–4 minutes with the defaults): the MNIST
 * CNN served by `trainfer serve` in a child process, with the FastAPI peer in the same run.
 *   (a) REST throughput at 64 connections (autocannon, one image per JSON request), batching off and on,
 *       for each `--http-workers` value, and FastAPI + uvicorn (uvloop, httptools, orjson) + onnxruntime
 *       with 2 workers on the same model file;
 *   (b) CPU per request of each stage, from the server's own `trainfer_thread_cpu_seconds_total` (main
 *       thread, each HTTP thread) and /proc (the session threads: the rest of the process), and the
 *       throughput they project for more cores;
 *   (c) gRPC vs REST on one server: throughput with 64 calls in flight (both from Node clients in this
 *       process: grpc-js for gRPC, http keep-alive for REST) and sequential latency.
 * Usage: flock -x /tmp/trainfer-cpu.lock npx tsx bench/serve-scale.ts [--workers 0,1,2] [--seconds 5]
 *        [--rounds 3] [--connections 64] [--no-peer] [--out results.json]
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Tensor } from '../src/onnx/tensor.js';
import { buildRequest } from '../src/serve/client.js';
import { addToRepository, mnistCnn } from '../src/serve/example-models.js';
import { GrpcInferenceClient } from '../src/serve/grpc/client.js';

interface CannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  errors: number;
  timeouts: number;
  non2xx: number;
}
const autocannon = createRequire(import.meta.url)('autocannon') as (o: Record<string, unknown>) => Promise<CannonResult>;

const { values: flags } = parseArgs({
  options: {
    workers: { type: 'string', default: '0,1,2' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '64' },
    'no-peer': { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const SECONDS = Number(flags.seconds);
const ROUNDS = Number(flags.rounds);
const CONNECTIONS = Number(flags.connections);
const PYTHON = '/tmp/peers/bin/python';

const image = Tensor.f32([1, 1, 28, 28], Array.from({ length: 784 }, (_, i) => Math.round(Math.abs(Math.sin(i * 0.37 + 1)) * 1000) / 1000));
const jsonBody = Buffer.from(buildRequest({ inputs: { pixels: image } }).body as string);

function machine(): string {
  const model = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? 'unknown';
  return `${cpus().length} cores, ${model}, node ${process.version}`;
}

/** CPU ms of every thread of a process (and of the given tids), from /proc. */
function processCpuMs(pid: number): number {
  let ms = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ms += (Number(f[11]) + Number(f[12])) * 10;
    } catch {
      // the thread exited
    }
  }
  return ms;
}

/** A process tree's CPU ms (the FastAPI peer's workers are child processes). */
function treeCpuMs(pid: number): number {
  const kids = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number);
  return (existsSync(`/proc/${pid}`) ? processCpuMs(pid) : 0) + kids.reduce((n, k) => n + treeCpuMs(k), 0);
}

/** `trainfer_thread_cpu_seconds_total` per thread, in ms. */
async function threadCpu(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^trainfer_thread_cpu_seconds_total\{thread="([^"]+)"\} ([0-9.e+-]+)$/gm)) out[m[1]!] = Number(m[2]) * 1000;
  return out;
}

interface Run { rps: number; p50: number; p99: number; failed: number; cpuUs: { total: number; main?: number; http?: number; sessions?: number } }

async function cannon(url: string, model: string, seconds: number): Promise<CannonResult> {
  return autocannon({ url: `${url}/v2/models/${model}/infer`, method: 'POST', headers: { 'content-type': 'application/json' }, body: jsonBody, connections: CONNECTIONS, duration: seconds, timeout: 10 });
}

async function measured(pid: number, url: string, model: string, threads: boolean): Promise<Run> {
  const t0 = threads ? await threadCpu(url) : {};
  const c0 = treeCpuMs(pid);
  const r = await cannon(url, model, SECONDS);
  const c1 = treeCpuMs(pid);
  const t1 = threads ? await threadCpu(url) : {};
  const n = Math.max(1, r.requests.total);
  const per = (ms: number) => (ms * 1000) / n;
  const cpuUs: Run['cpuUs'] = { total: per(c1 - c0) };
  if (threads) {
    cpuUs.main = per((t1.main ?? 0) - (t0.main ?? 0));
    cpuUs.http = per(Object.keys(t1).filter((k) => k.startsWith('http-')).reduce((s, k) => s + t1[k]! - (t0[k] ?? 0), 0));
    cpuUs.sessions = cpuUs.total - cpuUs.main - cpuUs.http;
  }
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, failed: r.errors + r.timeouts + r.non2xx, cpuUs };
}

function waitFor(child: ChildProcess, re: RegExp): Promise<RegExpExecArray> {
  let err = '';
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = re.exec(err);
      if (m) resolve(m);
    });
    child.once('exit', (code) => reject(new Error(`server exited (${code}): ${err}`)));
  });
}

async function startTrainfer(repo: string, workers: number): Promise<{ child: ChildProcess; url: string; grpc: string }> {
  const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', main, 'serve', repo, '--port', '0', '--grpc-port', '0', '--quiet', '--http-workers', String(workers)], { stdio: ['ignore', 'inherit', 'pipe'] });
  const m = await waitFor(child, /listening on (http:\/\/\S+), gRPC on (\S+) /);
  return { child, url: m[1]!, grpc: m[2]! };
}

async function startPeer(file: string, port: number): Promise<{ child: ChildProcess; url: string }> {
  const script = fileURLToPath(new URL('./peers/fastapi_serve.py', import.meta.url));
  const child = spawn(PYTHON, [script, file, String(port), '2'], { stdio: ['ignore', 'inherit', 'pipe'], detached: false });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    await new Promise((r) => setTimeout(r, 100));
    try {
      if ((await fetch(`${url}/v2/health/ready`)).ok) return { child, url };
    } catch {
      // not up yet
    }
  }
  child.kill('SIGTERM');
  throw new Error('the FastAPI peer did not start');
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

const median = (xs: Run[]): Run => [...xs].sort((a, b) => a.rps - b.rps)[Math.floor(xs.length / 2)]!;

/** `inflight` concurrent loops of `call` for `seconds`: requests/s and latency percentiles. */
async function closedLoop(call: () => Promise<void>, inflight: number, seconds: number): Promise<{ rps: number; p50: number; p99: number; failed: number }> {
  const end = performance.now() + seconds * 1000;
  const lat: number[] = [];
  let failed = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inflight }, async () => {
    while (performance.now() < end) {
      const s = performance.now();
      try {
        await call();
        lat.push(performance.now() - s);
      } catch {
        failed++;
      }
    }
  }));
  const wall = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
  return { rps: lat.length / wall, p50: pct(0.5), p99: pct(0.99), failed };
}

function restCall(url: string, model: string, agent: http.Agent): () => Promise<void> {
  const target = new URL(`${url}/v2/models/${model}/infer`);
  return () => new Promise<void>((resolve, reject) => {
    const req = http.request(target, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': String(jsonBody.length) } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`status ${res.statusCode}`));
        JSON.parse(Buffer.concat(parts).toString('utf8'));
        resolve();
      });
    });
    req.on('error', reject);
    req.end(jsonBody);
  });
}

const f0 = (x: number | undefined) => (x === undefined ? '–' : x.toFixed(0));
const f1 = (x: number) => x.toFixed(1);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'trainfer-bench-scale-'));
  const repo = join(dir, 'repo');
  const base = { instances: 2, threadsPerInstance: 1, maxQueueSize: 4096, timeoutMs: 30000 };
  const model = mnistCnn();
  const file = addToRepository({ repo, name: 'unbatched', model, config: { ...base, maxBatchSize: 0 } });
  addToRepository({ repo, name: 'batched', model, config: { ...base, maxBatchSize: 32, maxQueueDelayMs: 0 } });
  console.log(`machine: ${machine()}`);
  console.log(`model: MNIST CNN, one image per JSON request, ${CONNECTIONS} connections, ${SECONDS} s × ${ROUNDS} rounds (median); instances 2 × 1 thread`);
  const workers = flags.workers.split(',').map(Number);
  const results: Record<string, { off: Run; on: Run; offRounds: number[]; onRounds: number[] }> = {};
  let grpcVsRest: Record<string, unknown> | undefined;
  try {
    for (const w of workers) {
      const s = await startTrainfer(repo, w);
      try {
        for (const m of ['unbatched', 'batched']) await cannon(s.url, m, 2);
        const off: Run[] = [];
        const on: Run[] = [];
        for (let r = 0; r < ROUNDS; r++) {
          off.push(await measured(s.child.pid!, s.url, 'unbatched', true));
          on.push(await measured(s.child.pid!, s.url, 'batched', true));
        }
        results[`trainfer --http-workers ${w}`] = { off: median(off), on: median(on), offRounds: off.map((x) => x.rps), onRounds: on.map((x) => x.rps) };
        console.log(`  --http-workers ${w}: batching off ${off.map((x) => f1(x.rps)).join(', ')} req/s; on ${on.map((x) => f1(x.rps)).join(', ')} req/s`);
        if (w === workers[workers.length - 1]) grpcVsRest = await grpcAgainstRest(s.url, s.grpc);
      } finally {
        await stop(s.child);
      }
    }
    if (!flags['no-peer'] && existsSync(PYTHON)) {
      const p = await startPeer(file, 18_000 + (process.pid % 1000));
      try {
        await cannon(p.url, 'unbatched', 2);
        const runs: Run[] = [];
        for (let r = 0; r < ROUNDS; r++) runs.push(await measured(p.child.pid!, p.url, 'unbatched', false));
        results['FastAPI + uvicorn, 2 workers'] = { off: median(runs), on: median(runs), offRounds: runs.map((x) => x.rps), onRounds: [] };
        console.log(`  FastAPI 2 workers: ${runs.map((x) => f1(x.rps)).join(', ')} req/s`);
      } finally {
        await stop(p.child);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  console.log('\n(a)+(b) REST, 64 connections — req/s, p50/p99 ms, CPU µs per request: total = main + HTTP threads + session threads');
  console.log('server                          | batching off                          | batching on');
  for (const [k, r] of Object.entries(results)) {
    const cell = (x: Run) => `${f1(x.rps).padStart(8)} ${String(x.p50).padStart(3)}/${String(x.p99).padStart(3)}  ${f0(x.cpuUs.total)} = ${f0(x.cpuUs.main)} + ${f0(x.cpuUs.http)} + ${f0(x.cpuUs.sessions)}`;
    console.log(`${k.padEnd(32)}| ${cell(r.off).padEnd(38)}| ${k.startsWith('FastAPI') ? '(no batching)' : cell(r.on)}`);
  }
  const w0 = results['trainfer --http-workers 0'];
  const best = Object.entries(results).filter(([k]) => !k.startsWith('FastAPI') && k !== 'trainfer --http-workers 0').sort((a, b) => b[1].off.rps - a[1].off.rps)[0];
  const peer = results['FastAPI + uvicorn, 2 workers'];
  if (w0 && best) console.log(`\nbatching off: ${best[0]} / --http-workers 0 = ${(best[1].off.rps / w0.off.rps).toFixed(2)}× (target ≥ 1.3×)${peer ? `; vs FastAPI 2 workers ${(best[1].off.rps / peer.off.rps).toFixed(2)}×` : ''}`);
  const projection = best ? project(best[1].off) : undefined;
  if (projection) {
    console.log('\n(b) projection from the measured per-request CPU of each stage (batching off, load generator elsewhere):');
    for (const p of projection) console.log(`  ${String(p.cores).padStart(3)} cores: ${String(p.http).padStart(2)} HTTP threads + ${String(p.instances).padStart(2)} instances → ≤ ${f0(p.rps)} req/s (limit: ${p.limit})`);
  }
  if (grpcVsRest) console.log(`\n(c) gRPC vs REST (same server, Node clients, 64 in flight): ${JSON.stringify(grpcVsRest)}`);
  const out = { machine: machine(), connections: CONNECTIONS, seconds: SECONDS, rounds: ROUNDS, results, projection, grpcVsRest };
  console.log(`\n${JSON.stringify(out)}`);
  if (flags.out) writeFileSync(flags.out, `${JSON.stringify(out, null, 2)}\n`);
}

/**
 * Throughput on C cores from per-request CPU: the main thread is one serial stage (µs per request →
 * 1e6/µs req/s at most); HTTP threads and session instances are parallel stages; all of it must fit in
 * C cores. For each C, the split of C − 1 cores between HTTP threads and instances that maximises the
 * minimum.
 */
function project(r: Run): { cores: number; http: number; instances: number; rps: number; limit: string }[] | undefined {
  const { main, http: h, sessions } = r.cpuUs;
  if (main === undefined || h === undefined || sessions === undefined || h <= 0) return undefined;
  return [2, 4, 8, 16, 32, 64].map((cores) => {
    let bestRow = { cores, http: 1, instances: 1, rps: 0, limit: '' };
    for (let n = 1; n < cores; n++) {
      const inst = Math.max(1, cores - 1 - n);
      const limits: [string, number][] = [['main thread', 1e6 / main], ['HTTP threads', (n * 1e6) / h], ['session instances', (inst * 1e6) / sessions], ['all cores', (cores * 1e6) / r.cpuUs.total]];
      const [limit, rps] = limits.reduce((a, b) => (b[1] < a[1] ? b : a));
      if (rps > bestRow.rps) bestRow = { cores, http: n, instances: inst, rps, limit };
    }
    return bestRow;
  });
}

/** gRPC vs REST on one server: throughput at 64 in flight and sequential latency, batching off and on. */
async function grpcAgainstRest(url: string, grpcAddress: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const channels = Array.from({ length: 4 }, () => new GrpcInferenceClient(grpcAddress));
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  try {
    for (const m of ['unbatched', 'batched']) {
      let i = 0;
      const grpc = async () => {
        await channels[i++ % channels.length]!.infer(m, { inputs: { pixels: image } });
      };
      const rest = restCall(url, m, agent);
      await closedLoop(grpc, CONNECTIONS, 1);
      await closedLoop(rest, CONNECTIONS, 1);
      const g = await closedLoop(grpc, CONNECTIONS, SECONDS);
      const r = await closedLoop(rest, CONNECTIONS, SECONDS);
      const gs = await closedLoop(grpc, 1, 2);
      const rs = await closedLoop(rest, 1, 2);
      out[m] = { grpc: { rps: Math.round(g.rps), p50: +g.p50.toFixed(2), p99: +g.p99.toFixed(2), failed: g.failed, seqP50: +gs.p50.toFixed(3) }, rest: { rps: Math.round(r.rps), p50: +r.p50.toFixed(2), p99: +r.p99.toFixed(2), failed: r.failed, seqP50: +rs.p50.toFixed(3) } };
    }
  } finally {
    for (const c of channels) c.close();
    agent.destroy();
  }
  return out;
}

await main();
