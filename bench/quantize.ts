/**
 * Quantization targets and the peer comparison, all measured in one process on onnxruntime-node:
 *  - trained MNIST `cnn`: static int8 accuracy (≤ 0.3 pp from fp32), file size (≤ 0.3×), throughput at batch 64 (≥ 2.5×)
 *    at 1 thread, at every core in one session, and with one single-thread session per core (how
 *    `trainfer serve` runs with `instances` = cores), with a per-op breakdown; the first `cnn` preset's narrow 16/32 layout shows
 *    why channel width matters (speed only, random weights);
 *  - `mlp:1024,1024` dynamic int8 at batch 256 (≥ 3×);
 *  - QAT on a model where static int8 loses accuracy (the cnn with one function-preserving outlier channel);
 *  - the forms ORT runs fastest (U8S8/S8S8, QDQ/QOperator, reduce_range, per-channel; dynamic fused/integer);
 *  - peer: ONNX Runtime's Python quantizer (quantize_static / quantize_dynamic) on the same calibration data,
 *    skipped cleanly when /tmp/peers (python + onnxruntime) is missing.
 * Trained models are cached in .bench-cache/quantize (delete it to retrain).
 *
 * Run: flock /tmp/trainfer-bench.lock npx tsx bench/quantize.ts [--quick] [--json out.json]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { Dataset } from '../src/data/dataset.js';
import { Network } from '../src/nn/network.js';
import { Flatten, Linear, ReLU } from '../src/nn/layers-dense.js';
import { BatchNorm, Conv2d, MaxPool2d } from '../src/nn/layers-conv.js';
import { attrInt, type Model } from '../src/onnx/ir.js';
import { modelToProto } from '../src/onnx/ir-proto.js';
import { encodeModelProto, readModel, writeModel } from '../src/onnx/model-io.js';
import { Tensor } from '../src/onnx/tensor.js';
import { runTrainJob } from '../src/train/job.js';
import { batchTensor, feedBatches, feedTarget, loadDataArg } from '../src/compress/quantize/data-feed.js';
import { type QuantizeOptions, quantize } from '../src/compress/quantize/quantize.js';
import { quantizeQat } from '../src/compress/quantize/qat-file.js';

const quick = process.argv.includes('--quick');
const jsonOut = process.argv.includes('--json') ? process.argv[process.argv.indexOf('--json') + 1] : undefined;
const CACHE = '.bench-cache/quantize';
mkdirSync(CACHE, { recursive: true });
const PY = '/tmp/peers/bin/python';
const PEER_SCRIPT = 'bench/peers/ort_quantize.py';
const cores = availableParallelism();
const flags = readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1] ?? '';
console.log(`machine: ${cores} cores, ${cpus()[0]?.model.trim()}, avx512_vnni ${/\bavx512_vnni\b/.test(flags) ? 'yes' : 'no'}, avx_vnni ${/\bavx_vnni\b/.test(flags) ? 'yes' : 'no'}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`onnxruntime-node ${ort.env.versions.common}; times are the best run of interleaved rounds (robust to other load)\n`);
const results: Record<string, unknown> = {};
const benchStart = performance.now();

// ---------- models ----------
async function trained(spec: string, file: string, epochs?: number): Promise<Model> {
  const path = join(CACHE, file);
  if (!existsSync(path)) {
    console.log(`training ${spec} (cached in ${path}) …`);
    const r = await runTrainJob({ model: spec, data: 'mnist', out: path, epochs, progress: 'none' });
    console.log(`  ${spec}: test accuracy ${(r.testAccuracy * 100).toFixed(2)}% in ${r.trainSeconds.toFixed(0)} s`);
  }
  return readModel(path);
}

/** The first `cnn` preset's layout (speed only: seeded random weights). */
function firstCnn(c1: number, c2: number): Model {
  const net = new Network({
    layers: [new Conv2d({ outChannels: c1, kernelSize: 3, padding: 'same', bias: false }), new BatchNorm(), new ReLU(), new MaxPool2d({ kernelSize: 2 }), new Conv2d({ outChannels: c2, kernelSize: 3, padding: 'same', bias: false }), new BatchNorm(), new ReLU(), new MaxPool2d({ kernelSize: 2 }), new Flatten(), new Linear({ outFeatures: 128 }), new ReLU(), new Linear({ outFeatures: 10 })],
    inputShape: [1, 28, 28], seed: 1, name: `cnn_${c1}_${c2}`,
  });
  return net.inferenceGraph({});
}

/** The same function with one channel of the last conv scaled ×α (BatchNorm γ, β) and its Gemm rows ÷α: an outlier channel. */
function withOutlierChannel(m: Model, alpha: number, channel = 3): Model {
  const c = readModelCopy(m);
  const g = c.graph;
  const bn = g.nodes.filter((n) => n.opType === 'BatchNormalization').at(-1)!;
  const gemm = g.nodes.find((n) => n.opType === 'Gemm')!;
  const channels = g.initializers.get(bn.inputs[1]!)!.dims[0]!;
  for (const i of [1, 2]) {
    const t = g.initializers.get(bn.inputs[i]!)!;
    g.initializers.set(bn.inputs[i]!, new Tensor('float32', t.dims, Float32Array.from(t.data as Float32Array, (v, k) => (k === channel ? v * alpha : v))));
  }
  const w = g.initializers.get(gemm.inputs[1]!)!;
  const [r, cols] = w.dims as [number, number];
  const transB = attrInt(gemm, 'transB', 0) === 1;
  const per = (transB ? cols : r) / channels; // pooled positions per channel after Flatten
  const d = Float32Array.from(w.data as Float32Array);
  for (let p = channel * per; p < (channel + 1) * per; p++) {
    if (transB) for (let o = 0; o < r; o++) d[o * cols + p]! /= alpha;
    else for (let o = 0; o < cols; o++) d[p * cols + o]! /= alpha;
  }
  g.initializers.set(gemm.inputs[1]!, new Tensor('float32', w.dims, d));
  return c;
}

function readModelCopy(m: Model): Model {
  const path = join(CACHE, '.copy.onnx');
  writeModel(path, m);
  return readModel(path);
}

// ---------- measuring ----------
const bytesOf = (m: Model): Uint8Array => encodeModelProto(modelToProto(m));

interface Variant { name: string; bytes: Uint8Array }

/** Best ms per run of each variant at `batch`, interleaved over rounds. */
async function timeVariants(vs: Variant[], x: Tensor, threads: number, rounds = quick ? 2 : 3, budget = 200): Promise<number[]> {
  const sessions = await Promise.all(vs.map((v) => ort.InferenceSession.create(v.bytes, { intraOpNumThreads: threads, logSeverityLevel: 3 })));
  const t = new ort.Tensor('float32', x.data as Float32Array, [...x.dims]);
  const best = vs.map(() => Infinity);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < sessions.length; i++) {
      const s = sessions[i]!;
      const f = { [s.inputNames[0]!]: t };
      for (let w = 0; w < 2; w++) await s.run(f);
      const t0 = performance.now();
      while (performance.now() - t0 < budget) {
        const a = performance.now();
        await s.run(f);
        best[i] = Math.min(best[i]!, performance.now() - a);
      }
    }
  }
  for (const s of sessions) await s.release();
  return best;
}

/** A worker that loads one session and runs it back to back for the time it is given (no messages in the loop). */
const LOOP_WORKER = `const { parentPort, workerData } = require('node:worker_threads');
const ort = require(${JSON.stringify(createRequire(import.meta.url).resolve('onnxruntime-node'))});
(async () => {
  const s = await ort.InferenceSession.create(workerData.bytes, { intraOpNumThreads: 1, logSeverityLevel: 3 });
  const f = { [s.inputNames[0]]: new ort.Tensor('float32', workerData.x, workerData.dims) };
  for (let i = 0; i < 3; i++) await s.run(f);
  parentPort.postMessage('ready');
  parentPort.once('message', async (ms) => {
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < ms) { await s.run(f); n++; }
    const rate = n / ((performance.now() - t0) / 1000);
    await s.release();
    parentPort.postMessage(rate);
    parentPort.close();
  });
})();`;

/**
 * Samples/s of each variant with every core busy: one single-thread session per core, each in its own
 * worker thread running back to back (best of interleaved rounds). This is the CPU's throughput capacity
 * for the model; ORT's int8 kernels scale better this way than inside one session (see the table).
 */
async function perCoreThroughput(vs: Variant[], x: Tensor, rounds = quick ? 2 : 3, budget = 1000): Promise<number[]> {
  const best = vs.map(() => 0);
  for (let r = 0; r < rounds; r++) {
    for (const [i, v] of vs.entries()) {
      const ws = Array.from({ length: cores }, () => new Worker(LOOP_WORKER, { eval: true, workerData: { bytes: v.bytes, x: x.data, dims: [...x.dims] } }));
      await Promise.all(ws.map((w) => new Promise((ok) => w.once('message', ok))));
      const exited = ws.map((w) => new Promise((ok) => w.once('exit', ok)));
      const rates = await Promise.all(ws.map((w) => new Promise<number>((ok) => { w.once('message', ok); w.postMessage(budget); })));
      await Promise.all(exited); // each worker releases its session and exits by itself (terminating mid-release aborts the process)
      best[i] = Math.max(best[i]!, rates.reduce((a, b) => a + b, 0) * x.dims[0]!);
    }
  }
  return best;
}

/** Top-1 accuracy and agreement with the fp32 outputs on the test set. */
async function evaluate(bytes: Uint8Array, ref: Float32Array[] | undefined, test: Dataset, model: Model): Promise<{ accuracy: number; cosine: number; top1: number; maxAbsDiff: number; outputs: Float32Array[] }> {
  const s = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  const target = feedTarget(model, test, 'test data');
  const outs: Float32Array[] = [];
  let ok = 0;
  let agree = 0;
  let cos = 0;
  let maxAbsDiff = 0;
  for (let i = 0, bi = 0; i < test.count; i += 1000, bi++) {
    const x = batchTensor(test, target, i, 1000);
    const r = await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', x.data as Float32Array, [...x.dims]) });
    const y = r[s.outputNames[0]!]!.data as Float32Array;
    outs.push(y);
    const n = x.dims[0]!;
    const c = y.length / n;
    for (let k = 0; k < n; k++) {
      const am = (a: Float32Array): number => { let b = 0; for (let j = 1; j < c; j++) if (a[k * c + j]! > a[k * c + b]!) b = j; return b; };
      const p = am(y);
      if (p === test.y[i + k]) ok++;
      if (ref) {
        const f = ref[bi]!;
        if (am(f) === p) agree++;
        let dot = 0, na = 0, nb = 0;
        for (let j = 0; j < c; j++) {
          const u = f[k * c + j]!, v = y[k * c + j]!;
          dot += u * v; na += u * u; nb += v * v;
          maxAbsDiff = Math.max(maxAbsDiff, Math.abs(u - v));
        }
        cos += dot / Math.sqrt(na * nb || 1);
      }
    }
  }
  await s.release();
  return { accuracy: ok / test.count, cosine: ref ? cos / test.count : 1, top1: ref ? agree / test.count : 1, maxAbsDiff, outputs: outs };
}

// ---------- the peer ----------
const havePeer = existsSync(PY) && spawnSync(PY, ['-c', 'import onnxruntime, onnx, numpy'], { encoding: 'utf8' }).status === 0;
if (!havePeer) console.log('peer: /tmp/peers python with onnxruntime not found — ORT Python quantizer rows skipped (python3 -m venv /tmp/peers && /tmp/peers/bin/pip install onnxruntime onnx numpy)\n');

function writeNpy(path: string, x: Tensor): void {
  const header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${x.dims.join(', ')}${x.dims.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  const h = `${header}${' '.repeat((64 - (total % 64)) % 64)}\n`;
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre.writeUInt16LE(h.length, 8);
  const d = x.data as Float32Array;
  writeFileSync(path, Buffer.concat([pre, Buffer.from(h, 'latin1'), Buffer.from(d.buffer, d.byteOffset, d.byteLength)]));
}

function peer(model: string, out: string, args: string[]): Uint8Array | undefined {
  if (!havePeer) return undefined;
  const r = spawnSync(PY, [PEER_SCRIPT, '--model', model, '--out', out, ...args], { encoding: 'utf8' });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    const j = JSON.parse(line) as { ok: boolean; error?: string };
    if (!j.ok) throw new Error(j.error);
  } catch (err) {
    console.log(`  peer failed (${args.join(' ')}): ${(err as Error).message || r.stderr.trim().split('\n').pop()}`);
    return undefined;
  }
  return readFileSync(out);
}

const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;
const kb = (n: number): string => `${(n / 1024).toFixed(0)} KB`;

// ---------- data ----------
const calib = loadDataArg('mnist', 'train', 512);
const test = loadDataArg('mnist', 'test', quick ? 2000 : 10000);

async function staticCase(label: string, model: Model, opts: { batch: number; accuracy: boolean; extra?: Partial<QuantizeOptions>[]; peers?: 1 | 2 }): Promise<Record<string, unknown>> {
  const path = join(CACHE, `${label}.onnx`);
  writeModel(path, model);
  const target = feedTarget(model, calib, 'calibration');
  const calibX = batchTensor(calib, target, 0, calib.count);
  writeNpy(join(CACHE, `${label}_calib.npy`), calibX);
  const variants: Variant[] = [{ name: 'fp32', bytes: readFileSync(path) }];
  const reports: Record<string, string[]> = {};
  const q = await quantize({ model, mode: 'static', calibration: () => feedBatches(calib, target, 64) });
  variants.push({ name: 'trainfer static (default)', bytes: bytesOf(q.model) });
  reports.default = q.report.notes;
  const all = await quantize({ model, mode: 'static', calibration: () => feedBatches(calib, target, 64), minConvReduction: 0, autotune: false });
  variants.push({ name: 'trainfer static, every Conv int8', bytes: bytesOf(all.model) });
  for (const e of opts.extra ?? []) {
    const v = await quantize({ model, mode: 'static', calibration: () => feedBatches(calib, target, 64), autotune: false, minConvReduction: 0, ...e });
    variants.push({ name: `trainfer static ${JSON.stringify(e)}`, bytes: bytesOf(v.model) });
  }
  const p1 = opts.peers === 1 ? undefined : peer(path, join(CACHE, `${label}_ort_default.onnx`), ['--mode', 'static', '--calib', join(CACHE, `${label}_calib.npy`)]);
  if (p1) variants.push({ name: 'ORT quantize_static (defaults: S8S8, per-tensor)', bytes: p1 });
  const p2 = peer(path, join(CACHE, `${label}_ort_pc.onnx`), ['--mode', 'static', '--calib', join(CACHE, `${label}_calib.npy`), '--per-channel', '--activation-type', 'uint8']);
  if (p2) variants.push({ name: 'ORT quantize_static (per-channel, U8S8)', bytes: p2 });
  const x = batchTensor(test, target, 0, opts.batch);
  const t1 = await timeVariants(variants, x, 1);
  const tn = cores > 1 ? await timeVariants(variants, x, cores) : t1;
  const tp = cores > 1 ? await perCoreThroughput(variants, x) : t1.map((t) => (opts.batch * 1000) / t);
  // Whole-CPU throughput: the better of one session on every core and one single-thread session per core.
  const whole = variants.map((_, i) => Math.max((opts.batch * 1000) / tn[i]!, tp[i]!));
  const rows: Record<string, unknown>[] = [];
  let ref: Float32Array[] | undefined;
  console.log(`${label} (batch ${opts.batch}; samples/s and × fp32 at 1 thread | 1 session × ${cores} threads | ${cores} sessions × 1 thread, one per core)`);
  for (const [i, v] of variants.entries()) {
    const e = await evaluate(v.bytes, ref, test, model);
    if (i === 0) ref = e.outputs;
    const row = { variant: v.name, bytes: v.bytes.byteLength, sizeRatio: v.bytes.byteLength / variants[0]!.bytes.byteLength, ms1: t1[i], msN: tn[i], perCoreSamplesPerSecond: tp[i], speedup1: t1[0]! / t1[i]!, speedupN: tn[0]! / tn[i]!, speedupPool: tp[i]! / tp[0]!, speedupWholeCpu: whole[i]! / whole[0]!, accuracy: e.accuracy, cosine: e.cosine, top1: e.top1, maxAbsDiff: e.maxAbsDiff };
    rows.push(row);
    const rate = (sps: number, x: number): string => `${Math.round(sps).toString().padStart(7)}/s ${x.toFixed(2)}×`;
    console.log(`  ${v.name.padEnd(52)} ${kb(v.bytes.byteLength).padStart(8)} (${row.sizeRatio.toFixed(2)}×)  ${rate((opts.batch * 1000) / t1[i]!, row.speedup1)} | ${rate((opts.batch * 1000) / tn[i]!, row.speedupN)} | ${rate(tp[i]!, row.speedupPool)}  ${opts.accuracy ? `acc ${pct(e.accuracy)}` : ''}  cos ${e.cosine.toFixed(5)} top-1 ${pct(e.top1)}`);
  }
  if (reports.default?.length) console.log(`  default plan: ${reports.default.filter((n) => n.startsWith('autotune')).join('; ')}`);
  console.log('');
  return { rows, notes: reports.default };
}

// 1. Trained cnn: static int8 targets, and the quantized forms ORT runs fastest.
const forms: Partial<QuantizeOptions>[] = [{ activationType: 'int8' }, { perChannel: false }, { reduceRange: true }, { activationType: 'int8', activationSymmetric: true }];
const cnn = await trained('cnn', 'cnn.onnx');
results.cnn = await staticCase('cnn', cnn, { batch: 64, accuracy: true, extra: forms });

// Per-op breakdown of the cnn, fp32 vs every-Conv int8 (1 thread, batch 64).
async function breakdown(bytes: Uint8Array, x: Tensor, label: string): Promise<void> {
  const prefix = join(CACHE, `prof_${label.replace(/\W+/g, '_')}`);
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, enableProfiling: true, profileFilePrefix: prefix, logSeverityLevel: 3 });
  const f = { [s.inputNames[0]!]: new ort.Tensor('float32', x.data as Float32Array, [...x.dims]) };
  for (let i = 0; i < 30; i++) await s.run(f);
  s.endProfiling();
  await s.release();
  const name = readdirSync(CACHE).filter((f) => f.startsWith(`prof_${label.replace(/\W+/g, '_')}`) && f.endsWith('.json')).sort().pop();
  if (!name) return;
  const path = join(CACHE, name);
  const ev = JSON.parse(readFileSync(path, 'utf8')) as { cat: string; name: string; dur: number; args: { op_name: string } }[];
  const by = new Map<string, number>();
  // Per node for the convolutions (which layer pays), per op type for the rest.
  for (const e of ev) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const key = /Conv/.test(e.args.op_name) ? `${e.args.op_name}[${e.name.replace(/_kernel_time$/, '')}]` : e.args.op_name;
    by.set(key, (by.get(key) ?? 0) + e.dur / 30);
  }
  rmSync(path);
  console.log(`  ${label}: ${[...by].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${(v / 1000).toFixed(3)} ms`).join(', ')}`);
}
{
  const target = feedTarget(cnn, calib, 'c');
  const x = batchTensor(test, target, 0, 64);
  const all = await quantize({ model: cnn, mode: 'static', calibration: () => feedBatches(calib, target, 64), minConvReduction: 0, autotune: false });
  console.log('cnn per-op kernel time per batch-64 run (1 thread):');
  await breakdown(bytesOf(cnn), x, 'fp32');
  await breakdown(bytesOf(all.model), x, 'int8 (every Conv)');
  console.log('');
}

// 2. The first `cnn` preset's layout (16/32 channels, conv+pool stem): why narrow convs gain little (random weights).
results.cnn_16_32 = await staticCase('cnn_16_32', firstCnn(16, 32), { batch: 64, accuracy: false, peers: 2 });

// 3. mlp:1024,1024 dynamic int8 at batch 256.
{
  const mlp = await trained('mlp:1024,1024', 'mlp_1024_1024.onnx', 1);
  const path = join(CACHE, 'mlp_1024_1024.onnx');
  const variants: Variant[] = [{ name: 'fp32', bytes: readFileSync(path) }];
  for (const [name, o] of [['trainfer dynamic (default)', {}], ['trainfer dynamic, DynamicQuantizeMatMul', { dynamicMatMul: 'fused' }], ['trainfer dynamic, per-tensor', { perChannel: false }], ['trainfer dynamic, reduce_range', { reduceRange: true }]] as [string, Partial<QuantizeOptions>][]) {
    variants.push({ name, bytes: bytesOf((await quantize({ model: mlp, mode: 'dynamic', ...o })).model) });
  }
  const target = feedTarget(mlp, calib, 'c');
  variants.push({ name: 'trainfer static (default)', bytes: bytesOf((await quantize({ model: mlp, mode: 'static', calibration: () => feedBatches(calib, target, 64) })).model) });
  variants.push({ name: 'trainfer int4 (block 32)', bytes: bytesOf((await quantize({ model: mlp, mode: 'int4' })).model) });
  variants.push({ name: 'trainfer fp16', bytes: bytesOf((await quantize({ model: mlp, mode: 'fp16' })).model) });
  const pd = peer(path, join(CACHE, 'mlp_ort_dynamic.onnx'), ['--mode', 'dynamic']);
  if (pd) variants.push({ name: 'ORT quantize_dynamic (defaults)', bytes: pd });
  const pdc = peer(path, join(CACHE, 'mlp_ort_dynamic_pc.onnx'), ['--mode', 'dynamic', '--per-channel']);
  if (pdc) variants.push({ name: 'ORT quantize_dynamic (per-channel)', bytes: pdc });
  const x = batchTensor(test, target, 0, 256);
  const t1 = await timeVariants(variants, x, 1);
  const tn = cores > 1 ? await timeVariants(variants, x, cores) : t1;
  const tp = cores > 1 ? await perCoreThroughput(variants, x) : t1.map((t) => (256 * 1000) / t);
  const whole = variants.map((_, i) => Math.max((256 * 1000) / tn[i]!, tp[i]!));
  const rows: Record<string, unknown>[] = [];
  let ref: Float32Array[] | undefined;
  console.log(`mlp:1024,1024 (batch 256; ms per batch and × fp32 at 1 thread | 1 session × ${cores} threads | samples/s with ${cores} sessions × 1 thread)`);
  for (const [i, v] of variants.entries()) {
    const e = await evaluate(v.bytes, ref, test, mlp);
    if (i === 0) ref = e.outputs;
    rows.push({ variant: v.name, bytes: v.bytes.byteLength, ms1: t1[i], msN: tn[i], perCoreSamplesPerSecond: tp[i], speedup1: t1[0]! / t1[i]!, speedupN: tn[0]! / tn[i]!, speedupPool: tp[i]! / tp[0]!, speedupWholeCpu: whole[i]! / whole[0]!, accuracy: e.accuracy, cosine: e.cosine, top1: e.top1 });
    console.log(`  ${v.name.padEnd(44)} ${kb(v.bytes.byteLength).padStart(8)}  ${t1[i]!.toFixed(3)} ms ${(t1[0]! / t1[i]!).toFixed(2)}× | ${tn[i]!.toFixed(3)} ms ${(tn[0]! / tn[i]!).toFixed(2)}× | ${Math.round(tp[i]!)}/s ${(tp[i]! / tp[0]!).toFixed(2)}×  acc ${pct(e.accuracy)} cos ${e.cosine.toFixed(5)} top-1 ${pct(e.top1)}`);
  }
  console.log('');
  results.mlp = rows;
}

// 4. QAT where static int8 loses accuracy: the cnn with one outlier channel (×300, function-preserving).
{
  const model = withOutlierChannel(cnn, 300);
  const path = join(CACHE, 'cnn_outlier.onnx');
  writeModel(path, model);
  const target = feedTarget(model, calib, 'c');
  const st = await quantize({ model, mode: 'static', calibration: () => feedBatches(calib, target, 64), autotune: false, minConvReduction: 0 });
  const train = loadDataArg('mnist', 'train');
  const t0 = performance.now();
  const qat = await quantizeQat({ model, train, steps: quick ? 100 : 300, autotune: false, qdq: { minConvReduction: 0 } });
  const qatSeconds = (performance.now() - t0) / 1000;
  const fp = await evaluate(bytesOf(model), undefined, test, model);
  const s = await evaluate(bytesOf(st.model), fp.outputs, test, model);
  const q = await evaluate(bytesOf(qat.model), fp.outputs, test, model);
  writeNpy(join(CACHE, 'cnn_outlier_calib.npy'), batchTensor(calib, target, 0, calib.count));
  const pb = peer(path, join(CACHE, 'cnn_outlier_ort.onnx'), ['--mode', 'static', '--calib', join(CACHE, 'cnn_outlier_calib.npy'), '--per-channel', '--activation-type', 'uint8']);
  const p = pb ? await evaluate(pb, fp.outputs, test, model) : undefined;
  const lost = fp.accuracy - s.accuracy;
  const recovered = lost > 0 ? (q.accuracy - s.accuracy) / lost : NaN;
  console.log(`QAT on cnn with an outlier channel (every Conv int8): fp32 ${pct(fp.accuracy)}, static int8 ${pct(s.accuracy)}, QAT int8 ${pct(q.accuracy)} (${qatSeconds.toFixed(0)} s incl. calibration)${p ? `, ORT quantize_static ${pct(p.accuracy)}` : ''}`);
  console.log(`  static lost ${(lost * 100).toFixed(2)} pp; QAT recovered ${(recovered * 100).toFixed(0)}% of it — target ≥ 50%: ${recovered >= 0.5 ? 'MET' : 'MISSED'}\n`);
  results.qat = { fp32: fp.accuracy, static: s.accuracy, qat: q.accuracy, ort: p?.accuracy, recovered, seconds: qatSeconds };
}

// 5. QDQ vs QOperator: ORT's own optimiser output (QLinearConv etc.) saved at 'extended' level and loaded back.
{
  const model = cnn;
  const target = feedTarget(model, calib, 'c');
  const q = await quantize({ model, mode: 'static', calibration: () => feedBatches(calib, target, 64), autotune: false, minConvReduction: 0 });
  const qdq = bytesOf(q.model);
  const opPath = join(CACHE, 'cnn_qoperator.onnx');
  const s = await ort.InferenceSession.create(qdq, { graphOptimizationLevel: 'extended', optimizedModelFilePath: opPath, logSeverityLevel: 3 });
  await s.release();
  const qop = readFileSync(opPath);
  const ops = new Set(readModel(opPath).graph.nodes.map((n) => n.opType));
  const x = batchTensor(test, target, 0, 64);
  const [tq, to] = await timeVariants([{ name: 'qdq', bytes: qdq }, { name: 'qop', bytes: qop }], x, 1);
  console.log(`QDQ vs QOperator (cnn, batch 64, 1 thread): QDQ ${tq!.toFixed(3)} ms, QOperator (${[...ops].filter((o) => o.startsWith('QLinear') || o.startsWith('Q')).join(', ')}) ${to!.toFixed(3)} ms\n`);
  results.qdqVsQoperator = { qdqMs: tq, qoperatorMs: to };
}

// Summary of the targets.
const cnnRows = (results.cnn as { rows: { variant: string; sizeRatio: number; speedup1: number; speedupN: number; speedupPool: number; speedupWholeCpu: number; accuracy: number }[] }).rows;
const [f32, def] = [cnnRows[0]!, cnnRows[1]!];
const mlpRows = results.mlp as { variant: string; speedup1: number; speedupN: number; speedupPool: number; speedupWholeCpu: number }[];
console.log('targets:');
console.log(`  cnn static int8: accuracy ${pct(def.accuracy)} vs fp32 ${pct(f32.accuracy)} (Δ ${((def.accuracy - f32.accuracy) * 100).toFixed(2)} pp, target ≥ −0.3): ${def.accuracy - f32.accuracy >= -0.003 ? 'MET' : 'MISSED'}`);
console.log(`  cnn static int8: file ${def.sizeRatio.toFixed(2)}× (target ≤ 0.30): ${def.sizeRatio <= 0.3 ? 'MET' : 'MISSED'}`);
console.log(`  cnn static int8: throughput b=64 ${def.speedup1.toFixed(2)}× at 1 thread, ${def.speedupN.toFixed(2)}× in one ${cores}-thread session, ${def.speedupPool.toFixed(2)}× with ${cores} single-thread sessions; whole CPU, best form of each: ${def.speedupWholeCpu.toFixed(2)}× (target ≥ 2.5×): ${def.speedupWholeCpu >= 2.5 ? 'MET' : 'MISSED'}`);
const dyn = mlpRows[1]!;
console.log(`  mlp:1024,1024 dynamic int8: ${dyn.speedup1.toFixed(2)}× at 1 thread, ${dyn.speedupN.toFixed(2)}× in one ${cores}-thread session, ${dyn.speedupPool.toFixed(2)}× with ${cores} single-thread sessions; whole CPU, best form of each: ${dyn.speedupWholeCpu.toFixed(2)}× (target ≥ 3×): ${dyn.speedupWholeCpu >= 3 ? 'MET' : 'MISSED'}`);
console.log(`\nbench time ${((performance.now() - benchStart) / 1000).toFixed(0)} s`);
if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ bench: 'quantize', cpu: cpus()[0]?.model.trim(), cores, results }, null, 2));
