/**
 * Issue 11's targets (pruning, distillation, Deep-Compression packing), every ratio measured in one run:
 *  - pack: `lenet300` trained on MNIST → `.tfz` (gradual pruning, k-means sharing, centroid fine-tuning,
 *    brotli): fp32 .onnx ÷ .tfz ≥ 40× (aim 50×), ≤ 0.2 pp accuracy loss after `decompress` (scored on the
 *    decompressed file);
 *  - structured: `cnn` pruned to half its channels + fine-tuned: ≥ 1.6× throughput at batch 64, ≤ 0.5 pp;
 *    pruned + static int8 ≥ 4× fp32 throughput at ≤ 0.5 pp;
 *  - gradual: unstructured `mlp:300,100` to 90% sparsity (Zhu & Gupta while fine-tuning) at ≤ 0.3 pp;
 *  - distill: `mlp:64` distilled from the `cnn` vs the same student from scratch (α = 0: the same job,
 *    steps and seed without the teacher term), 3 seeds each: the mean gain must exceed the seed spread;
 *  - the variant table: fp32, int8, pruned, pruned+int8, distilled, distilled+int8, packed — file size,
 *    test accuracy, throughput at batch 1 and 64 (1 thread, best of interleaved rounds);
 *  - peer: PyTorch 2.x CPU on the same `cnn` layout — torch.nn.utils.prune masks (50% channels, 90%
 *    weights) vs the physically smaller network that Torch-Pruning would output (bench/peers/torch_prune.py),
 *    skipped cleanly when /tmp/peers (python + torch) is missing.
 * Trained fp32 models are cached in .bench-cache/compress (delete it to retrain; ~3 min more).
 *
 * Run: flock -x /tmp/trainfer-cpu.lock npx tsx bench/compress-targets.ts [--only pack,structured,gradual,distill] [--json out.json]
 * Runtime on a 2-core machine: ~6 min with the cache, ~9 min without.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { readModel } from '../src/onnx/model-io.js';
import { sampleFeeds } from '../src/runtime/sample-feeds.js';
import { runTrainJob } from '../src/train/job.js';
import { quantizeFile } from '../src/compress/quantize/pipeline.js';
import { fileBytes, loadSplits, scoreModel } from '../src/compress/common/score.js';
import { pruneModel } from '../src/compress/prune/prune-model.js';
import { distillModel } from '../src/compress/distill/distill.js';
import { packModel, unpackModel } from '../src/compress/pack/pack-model.js';

const arg = (flag: string): string | undefined => (process.argv.includes(flag) ? process.argv[process.argv.indexOf(flag) + 1] : undefined);
const only = arg('--only')?.split(',');
const run = (section: string): boolean => !only || only.includes(section);
const jsonOut = arg('--json');
const CACHE = '.bench-cache/compress';
mkdirSync(CACHE, { recursive: true });
const PY = '/tmp/peers/bin/python';
const t0 = performance.now();
console.log(`machine: ${cpus().length} cores, ${cpus()[0]?.model.trim()}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}; onnxruntime-node ${ort.env.versions.common}`);
const results: Record<string, unknown> = {};
const test = loadSplits('mnist').test;
const pp = (x: number): string => `${(x * 100).toFixed(2)} pp`;
const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;
const kib = (b: number): string => `${(b / 1024).toFixed(1)} KiB`;
const verdict = (ok: boolean): string => (ok ? 'MET' : 'MISSED');

async function accuracy(path: string): Promise<number> {
  return (await scoreModel({ model: readModel(path), data: test, name: path, threads: 1 })).accuracy;
}

async function trained(spec: string, file: string): Promise<string> {
  const path = join(CACHE, file);
  if (!existsSync(path)) {
    console.log(`training ${spec} (cached in ${path}) …`);
    const r = await runTrainJob({ model: spec, data: 'mnist', out: path, progress: 'none' });
    console.log(`  ${spec}: ${pct(r.testAccuracy)} in ${r.trainSeconds.toFixed(0)} s`);
  }
  return path;
}

async function int8(input: string): Promise<string> {
  const output = input.replace(/\.onnx$/, '-int8.onnx');
  await quantizeFile({ input, output, mode: 'static', calib: 'mnist', measure: false, threads: 1 });
  return output;
}

/** Best ms per run of each model at batch 1 and 64 (1 thread), interleaved over rounds. */
async function throughput(paths: string[], rounds = 3, budget = 250): Promise<{ b1: number; b64: number }[]> {
  const out = paths.map(() => ({ b1: Infinity, b64: Infinity }));
  const sessions = await Promise.all(paths.map((p) => ort.InferenceSession.create(p, { intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3 })));
  const feeds = paths.map((p) => Object.fromEntries(([1, 64] as const).map((b) => [b, Object.fromEntries(Object.entries(sampleFeeds({ model: readModel(p), dims: { batch: b } })).map(([k, t]) => [k, new ort.Tensor(t.dtype as 'float32', t.data as Float32Array, [...t.dims])]))])));
  for (let r = 0; r < rounds; r++) {
    for (const [i, s] of sessions.entries()) {
      for (const b of [1, 64] as const) {
        const f = feeds[i]![b]!;
        for (let w = 0; w < 3; w++) await s.run(f);
        const start = performance.now();
        while (performance.now() - start < budget) {
          const a = performance.now();
          await s.run(f);
          const ms = performance.now() - a;
          if (b === 1) out[i]!.b1 = Math.min(out[i]!.b1, ms);
          else out[i]!.b64 = Math.min(out[i]!.b64, ms);
        }
      }
    }
  }
  for (const s of sessions) await s.release();
  return out;
}

interface Row { family: string; variant: string; path: string; accuracy: number }
const rows: Row[] = [];

// ---------- structured: cnn → half the channels ----------
const cnn = run('structured') || run('distill') ? await trained('cnn', 'cnn.onnx') : undefined;
if (run('structured') && cnn) {
  const cnnAcc = await accuracy(cnn);
  const half = join(CACHE, 'cnn-half.onnx');
  console.log('\nstructured: cnn, 50% of every channel group removed, 2 epochs of fine-tuning …');
  const p = await pruneModel({ input: cnn, out: half, data: 'mnist', sparsity: 0.5, structured: true, epochs: 2, threads: 1 });
  const cnn8 = await int8(cnn);
  const half8 = await int8(half);
  rows.push({ family: 'MNIST cnn', variant: 'fp32', path: cnn, accuracy: cnnAcc });
  rows.push({ family: 'MNIST cnn', variant: 'int8 static', path: cnn8, accuracy: await accuracy(cnn8) });
  rows.push({ family: 'MNIST cnn', variant: 'pruned (½ channels)', path: half, accuracy: p.accuracy!.after });
  rows.push({ family: 'MNIST cnn', variant: 'pruned + int8 static', path: half8, accuracy: await accuracy(half8) });
  const [f, h, h8] = await throughput([cnn, half, half8]);
  const speed = f!.b64 / h!.b64;
  const speed8 = f!.b64 / h8!.b64;
  const loss = cnnAcc - p.accuracy!.after;
  const loss8 = cnnAcc - rows.at(-1)!.accuracy;
  console.log(`  groups: ${p.groups!.map((g) => `${g.before}→${g.after}`).join(', ')}; FLOPs ${(p.report.flops.before / 1e6).toFixed(2)} M → ${(p.report.flops.after / 1e6).toFixed(2)} M per image; fine-tuning ${p.fineTune!.seconds.toFixed(0)} s`);
  console.log(`  accuracy ${pct(cnnAcc)} → ${pct(p.accuracy!.pruned ?? NaN)} pruned → ${pct(p.accuracy!.after)} fine-tuned (loss ${pp(loss)}; ≤ 0.5 pp: ${verdict(loss <= 0.005)})`);
  console.log(`  throughput at batch 64: ${speed.toFixed(2)}× fp32 (≥ 1.6×: ${verdict(speed >= 1.6)}); pruned + int8 ${speed8.toFixed(2)}× at ${pp(loss8)} (≥ 4× at ≤ 0.5 pp: ${verdict(speed8 >= 4 && loss8 <= 0.005)})`);
  results.structured = { accuracy: { fp32: cnnAcc, pruned: p.accuracy!.pruned, fineTuned: p.accuracy!.after, prunedInt8: rows.at(-1)!.accuracy }, groups: p.groups, flops: p.report.flops, msBatch64: { fp32: f!.b64, pruned: h!.b64, prunedInt8: h8!.b64 }, speedup: speed, speedupInt8: speed8 };
  if (existsSync(PY)) {
    const m = readModel(half);
    const convs = m.graph.nodes.filter((n) => n.opType === 'Conv').map((n) => m.graph.initializers.get(n.inputs[1]!)!.dims[0]!);
    const r = spawnSync(PY, ['bench/peers/torch_prune.py', JSON.stringify({ full: [32, 64, 128], pruned: convs, classes: 10 })], { encoding: 'utf8' });
    if (r.status === 0) {
      const peer = JSON.parse(r.stdout) as { torch: string; ms: Record<string, { b1: number; b64: number }> };
      const base = peer.ms.fp32!.b64;
      console.log(`  peer PyTorch ${peer.torch} (1 thread, same layout): ${Object.entries(peer.ms).map(([n, v]) => `${n} ${v.b64.toFixed(3)} ms/64 (${(base / v.b64).toFixed(2)}×)`).join('; ')}`);
      console.log(`  trainfer on onnxruntime: fp32 ${f!.b64.toFixed(3)} ms/64, pruned ${h!.b64.toFixed(3)}, pruned + int8 ${h8!.b64.toFixed(3)}`);
      results.peer = peer;
    } else console.log(`  peer skipped: ${r.stderr.trim().split('\n').at(-1)}`);
  } else console.log('  peer skipped: /tmp/peers/bin/python missing');
}

// ---------- pack: lenet300 → .tfz ----------
const lenet = run('pack') || run('gradual') ? await trained('lenet300', 'lenet300.onnx') : undefined;
if (run('pack') && lenet) {
  const acc = await accuracy(lenet);
  const tfz = join(CACHE, 'lenet300.tfz');
  const back = join(CACHE, 'lenet300-decompressed.onnx');
  const shared = join(CACHE, 'lenet300-shared.onnx');
  console.log('\npack: lenet300, 95% global pruning (8 epochs gradual, SGD lr 0.05), 5-bit k-means, 2 epochs of centroid fine-tuning …');
  const r = await packModel({ input: lenet, out: tfz, data: 'mnist', sparsity: 0.95, bits: 5, lr: 0.05, epochs: 8, centroidEpochs: 2, threads: 1 });
  await unpackModel({ input: tfz, out: back });
  await unpackModel({ input: tfz, out: shared, keepShared: true });
  const after = await accuracy(back);
  const ratio = fileBytes(lenet) / fileBytes(tfz);
  rows.push({ family: 'MNIST lenet300', variant: 'fp32', path: lenet, accuracy: acc });
  rows.push({ family: 'MNIST lenet300', variant: 'packed → decompressed', path: back, accuracy: after });
  rows.push({ family: 'MNIST lenet300', variant: 'packed → decompressed --keep-shared', path: shared, accuracy: await accuracy(shared) });
  console.log(`  .onnx ${kib(fileBytes(lenet))} → .tfz ${kib(fileBytes(tfz))}: ${ratio.toFixed(1)}× (≥ 40×: ${verdict(ratio >= 40)}, aim 50×: ${verdict(ratio >= 50)}); sparsity ${pct(r.sparsity)}; skeleton ${r.sizes.skeleton} B`);
  console.log(`  accuracy ${pct(acc)} → ${pct(r.accuracy?.pruned ?? NaN)} pruned → ${pct(after)} decompressed (loss ${pp(acc - after)}; ≤ 0.2 pp: ${verdict(acc - after <= 0.002)})`);
  for (const t of r.tensors) console.log(`    ${t.name} [${t.dims.join('×')}] ${t.nonZero}/${t.total} kept: positions ${t.positionsBytes} B (${t.positionsForm}), indices ${t.indicesBytes} B (${t.indicesForm}; order-0 bound ${t.indicesOrder0Bytes} B), codebook ${t.codebookBytes} B`);
  results.pack = { ratio, sizes: r.sizes, accuracy: { fp32: acc, pruned: r.accuracy?.pruned, decompressed: after }, sparsity: r.sparsity, tensors: r.tensors };
}

// ---------- gradual: mlp:300,100 to 90% ----------
if (run('gradual') && lenet) {
  const acc = await accuracy(lenet);
  const out = join(CACHE, 'lenet300-90.onnx');
  console.log('\ngradual: mlp:300,100 to 90% (layer-wise, Zhu & Gupta over 6 epochs of fine-tuning, SGD lr 0.05) …');
  const r = await pruneModel({ input: lenet, out, data: 'mnist', sparsity: 0.9, schedule: 'gradual', epochs: 6, lr: 0.05, threads: 1 });
  const loss = acc - r.accuracy!.after;
  rows.push({ family: 'MNIST lenet300', variant: 'pruned 90% (unstructured)', path: out, accuracy: r.accuracy!.after });
  console.log(`  sparsity ${pct(r.report.weights.sparsity)}; accuracy ${pct(acc)} → ${pct(r.accuracy!.after)} (loss ${pp(loss)}; ≤ 0.3 pp: ${verdict(loss <= 0.003)}); schedule steps ${r.schedule!.begin}–${r.schedule!.end} every ${r.schedule!.frequency}`);
  results.gradual = { accuracy: { fp32: acc, pruned: r.accuracy!.after }, sparsity: r.report.weights.sparsity, schedule: r.schedule, layers: r.report.layers };
}

// ---------- distill: mlp:64 from the cnn, 3 seeds ----------
if (run('distill') && cnn) {
  console.log('\ndistill: mlp:64 from the cnn (T = 4, α = 0.7) vs from scratch (α = 0), 3 epochs, seeds 1–3 …');
  const distilled: number[] = [];
  const scratch: number[] = [];
  for (const seed of [1, 2, 3]) {
    const d = await distillModel({ teacher: cnn, student: 'mlp:64', data: 'mnist', out: join(CACHE, `student-${seed}.onnx`), epochs: 3, seed, threads: 1 });
    const s = await distillModel({ teacher: cnn, student: 'mlp:64', data: 'mnist', out: join(CACHE, `scratch-${seed}.onnx`), epochs: 3, seed, alpha: 0, threads: 1 });
    if (d.steps !== s.steps) throw new Error(`steps differ: ${d.steps} vs ${s.steps}`);
    distilled.push(d.student.testAccuracy);
    scratch.push(s.student.testAccuracy);
    console.log(`  seed ${seed}: distilled ${pct(d.student.testAccuracy)}, scratch ${pct(s.student.testAccuracy)} (${d.steps} steps each)`);
  }
  const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
  const range = (v: number[]): number => Math.max(...v) - Math.min(...v);
  const gain = mean(distilled) - mean(scratch);
  const spread = Math.max(range(distilled), range(scratch));
  console.log(`  mean distilled ${pct(mean(distilled))} vs scratch ${pct(mean(scratch))}: gain ${pp(gain)}; spread (largest max − min) ${pp(spread)} (gain > spread: ${verdict(gain > spread)})`);
  const student = join(CACHE, 'student-1.onnx');
  const student8 = await int8(student);
  rows.push({ family: 'MNIST mlp:64 student', variant: 'from scratch (seed 1)', path: join(CACHE, 'scratch-1.onnx'), accuracy: scratch[0]! });
  rows.push({ family: 'MNIST mlp:64 student', variant: 'distilled from cnn (seed 1)', path: student, accuracy: distilled[0]! });
  rows.push({ family: 'MNIST mlp:64 student', variant: 'distilled + int8 static', path: student8, accuracy: await accuracy(student8) });
  results.distill = { distilled, scratch, gain, spread };
}

// ---------- the variant table ----------
const speeds = await throughput(rows.map((r) => r.path));
console.log('\n| model | variant | file | test accuracy | batch 1 (samples/s) | batch 64 (samples/s) |\n|---|---|---|---|---|---|');
for (const [i, r] of rows.entries()) {
  const s = speeds[i]!;
  console.log(`| ${r.family} | ${r.variant} | ${kib(fileBytes(r.path))} | ${pct(r.accuracy)} | ${Math.round(1000 / s.b1).toLocaleString('en-US')} | ${Math.round((64 * 1000) / s.b64).toLocaleString('en-US')} |`);
}
results.table = rows.map((r, i) => ({ ...r, bytes: fileBytes(r.path), msBatch1: speeds[i]!.b1, msBatch64: speeds[i]!.b64 }));
console.log(`\ntotal ${((performance.now() - t0) / 1000).toFixed(0)} s`);
if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify(results, null, 2)}\n`);
