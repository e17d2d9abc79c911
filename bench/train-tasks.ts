/**
 * Issue 10's first two training targets, measured:
 *
 * 1. Regression to the noise floor: `trainfer train --model mlp:64,64 --data friedman1 --epochs 30
 *    --batch-size 64` (the same job the CLI runs) over several seeds — test RMSE of the exported model
 *    against the noise floor σ = 1.0 (target: within 10%, RMSE ≤ 1.10), and its RMSE against the
 *    noise-free function (the part of the error the model could still remove).
 * 2. Multi-input step throughput vs one input of the same total size: the step loop `fit` runs (feed plan,
 *    batcher fill, one onnxruntime run) for an MLP whose 64 float features arrive as one input [64], as
 *    4 inputs [16] or as 8 inputs [8] (concatenated in the graph), from a table of 64 scalar columns.
 *    Each measurement is a fresh process running one variant (one batcher, as in a real run: in one
 *    process the variants' copy loops would share the JIT's type feedback and slow each other down),
 *    the variants alternating round after round so they see the same machine load; reported: each
 *    variant's best window and the median over rounds of its ratio to the single input of the same round
 *    (target: within 10% of the single input).
 *
 * Run: flock -x /tmp/trainfer-cpu.lock npx tsx bench/train-tasks.ts [--quick] [regression] [throughput]
 * (both parts by default; ~40 s, --quick ~15 s, on an idle 2-core machine)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTrainStep } from '../src/autodiff/index.js';
import { Batcher, packTable } from '../src/data/batcher.js';
import { friedman1Function, loadBuiltin } from '../src/data/builtin.js';
import { planFeeds } from '../src/data/feed-plan.js';
import type { Column, Table } from '../src/data/table.js';
import { Linear, ReLU } from '../src/nn/layers-dense.js';
import { Network } from '../src/nn/network.js';
import { Tensor } from '../src/onnx/tensor.js';
import { Session } from '../src/runtime/session.js';
import { runTrainJob } from '../src/train/job.js';
import { StepRunner } from '../src/train/step-runner.js';
import { Rng } from '../src/util/rng.js';

const quick = process.argv.includes('--quick');
const child = process.argv.indexOf('--variant');
const parts = child >= 0 ? ['child'] : process.argv.slice(2).filter((a) => !a.startsWith('--'));
const want = (p: string) => parts.length === 0 || parts.includes(p);
const threads = availableParallelism();
const dir = child >= 0 ? '' : mkdtempSync(join(tmpdir(), 'trainfer-bench-tasks-'));
if (child < 0) console.log(`machine: ${threads} cores, ${cpus()[0]?.model.trim()}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

// 1. Regression to the noise floor.
const seeds = quick ? [0] : [0, 1, 2];
const test = loadBuiltin('friedman1').test;
const xs = test.columns.slice(0, 10).map((c) => c.data as Float32Array);
const regression: Record<string, unknown>[] = [];
for (const seed of want('regression') ? seeds : []) {
  const out = join(dir, `friedman1-${seed}.onnx`);
  const r = await runTrainJob({ model: 'mlp:64,64', data: 'friedman1', epochs: 30, batchSize: 64, seed, out, progress: 'none', threads });
  // RMSE against the noise-free function: run the exported model on the test rows.
  const s = await Session.create({ path: out }, { intraOpThreads: threads });
  const feats = new Float32Array(test.count * 10);
  for (let i = 0; i < test.count; i++) for (let k = 0; k < 10; k++) feats[i * 10 + k] = xs[k]![i]!;
  const pred = (await s.run({ features: new Tensor('float32', [test.count, 10], feats) })).predictions!.data as Float32Array;
  await s.release();
  let sq = 0;
  for (let i = 0; i < test.count; i++) sq += (pred[i]! - friedman1Function(xs.map((c) => c[i]!))) ** 2;
  const clean = Math.sqrt(sq / test.count);
  const rmse = r.testMetrics.rmse!;
  console.log(`friedman1 mlp:64,64 seed ${seed}: test RMSE ${rmse.toFixed(4)} (noise floor 1.0: ${((rmse - 1) * 100).toFixed(1)}% above; target ≤ 10%: ${rmse <= 1.1 ? 'MET' : 'MISSED'}), RMSE vs the noise-free function ${clean.toFixed(4)}, R² ${r.testMetrics.r2!.toFixed(4)}, ${r.trainSeconds.toFixed(1)} s`);
  regression.push({ seed, rmse, cleanRmse: clean, r2: r.testMetrics.r2, trainSeconds: r.trainSeconds, met: rmse <= 1.1 });
}

// 2. Multi-input vs single-input steps on the same 64 features.
const n = 8192;
const rng = Rng.fromSeed(1);
const columns: Column[] = Array.from({ length: 64 }, (_, k) => ({ name: `f${k}`, dtype: 'float32', shape: [], data: Float32Array.from({ length: n }, () => rng.normal()), kind: 'numeric' }));
columns.push({ name: 'label', dtype: 'int64', shape: [], data: BigInt64Array.from({ length: n }, () => BigInt(rng.int(10))), kind: 'numeric' });
const table: Table = { source: 'synthetic', count: n, columns };
const batch = 128;

interface Variant { runner: StepRunner; step: () => Promise<void>; fill: () => void; run: () => Promise<void> }

async function variant(parts: number): Promise<Variant> {
  const width = 64 / parts;
  const net = parts === 1
    ? new Network({ inputShape: [64], seed: 1, layers: [new Linear({ outFeatures: 256 }), new ReLU(), new Linear({ outFeatures: 10 })] })
    : new Network({ seed: 1, inputs: Array.from({ length: parts }, (_, p) => ({ name: `in${p}`, shape: [width] })), layers: [new Linear({ outFeatures: 256 }), new ReLU(), new Linear({ outFeatures: 10 })] });
  const tg = net.trainingGraph({ normalizeInput: 'batcher' });
  const bindings = Object.fromEntries(net.inputs.map((inp, p) => [inp.name, { columns: columns.slice(p * width, (p + 1) * width).map((c) => c.name) }]));
  const plan = planFeeds({ specs: tg.feeds, table, bindings: { ...bindings, target: { columns: ['label'] } } });
  const st = buildTrainStep({ graph: tg.graph, loss: tg.loss, params: tg.params, optimizer: { type: 'sgd', momentum: 0.9 }, gradNorm: false, buffers: tg.buffers, extraOutputs: [tg.heads[0]!.value] });
  const batcher = new Batcher({ plan, batchSize: batch });
  const packed = packTable(table, plan);
  const runner = await StepRunner.create({ step: st, threads, feeds: batcher.buffers.map((b) => ({ name: b.name, dtype: b.dtype, data: b.data, dims: [batch, ...b.shape] })), fetch: [{ name: st.extraOutputs[0]!, dims: [batch, 10] }] });
  const order = Rng.fromSeed(2).permutation(n);
  let k = 0;
  const fill = () => void batcher.fill(packed, order, (k % Math.floor(n / batch)) * batch);
  const run = async () => void (await runner.run(0.01, ++k));
  return {
    runner,
    fill,
    run,
    step: async () => {
      fill();
      await run();
    },
  };
}

if (child >= 0) {
  // One variant in this process: warm up, then the best of a few windows, printed as JSON.
  const v = await variant(Number(process.argv[child + 1]));
  for (let i = 0; i < 100; i++) await v.step();
  let bestSps = 0;
  let fillUs = Infinity;
  let runUs = Infinity;
  for (let w = 0; w < 5; w++) {
    let t0 = performance.now();
    for (let i = 0; i < 100; i++) await v.step();
    bestSps = Math.max(bestSps, (batch * 100) / ((performance.now() - t0) / 1000));
    // The two parts of a step on their own: the batch copy (JS) and the onnxruntime run.
    t0 = performance.now();
    for (let i = 0; i < 100; i++) v.fill();
    fillUs = Math.min(fillUs, ((performance.now() - t0) / 100) * 1000);
    t0 = performance.now();
    for (let i = 0; i < 100; i++) await v.run();
    runUs = Math.min(runUs, ((performance.now() - t0) / 100) * 1000);
  }
  await v.runner.release();
  process.stdout.write(`${JSON.stringify({ samplesPerSecond: bestSps, fillUs, runUs })}\n`);
  process.exit(0);
}
const here = fileURLToPath(import.meta.url);
const parts2 = new Map<number, { fill: number; run: number }>();
const measure = (p: number): number => {
  const r = spawnSync(process.execPath, [...process.execArgv, here, '--variant', String(p)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`variant ${p} failed: ${r.stderr.trim().split('\n').pop()}`);
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!) as { samplesPerSecond: number; fillUs: number; runUs: number };
  const prev = parts2.get(p);
  parts2.set(p, { fill: Math.min(prev?.fill ?? Infinity, j.fillUs), run: Math.min(prev?.run ?? Infinity, j.runUs) });
  return j.samplesPerSecond;
};
const layouts = want('throughput') ? [1, 4, 8] : [];
const name = (p: number) => (p === 1 ? '1 input [64]' : `${p} inputs [${64 / p}]`);
const rounds = quick ? 2 : 6;
const best = new Map(layouts.map((p) => [p, 0]));
const ratios = new Map(layouts.map((p) => [p, [] as number[]]));
for (let w = 0; w < rounds && layouts.length; w++) {
  const round = new Map<number, number>();
  for (let j = 0; j < layouts.length; j++) {
    const p = layouts[(w + j) % layouts.length]!; // rotate the order each round
    const sps = measure(p);
    round.set(p, sps);
    best.set(p, Math.max(best.get(p)!, sps));
  }
  for (const p of layouts) ratios.get(p)!.push(round.get(p)! / round.get(1)!);
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
const throughput: Record<string, unknown>[] = [];
for (const p of layouts) {
  const ratio = median(ratios.get(p)!);
  const c = parts2.get(p)!;
  const stepRatio = (parts2.get(1)!.fill + parts2.get(1)!.run) / (c.fill + c.run);
  console.log(`MLP 64-256-10, batch ${batch}, ${name(p)}: best ${Math.round(best.get(p)!).toLocaleString('en-US')} samples/s, median ratio to one input ${ratio.toFixed(3)}× (rounds: ${ratios.get(p)!.map((r) => r.toFixed(2)).join(' ')}); best batch copy ${c.fill.toFixed(1)} µs + best onnxruntime run ${c.run.toFixed(1)} µs → ${stepRatio.toFixed(3)}× one input${p > 1 ? ` (target ≥ 0.90: ${ratio >= 0.9 ? 'MET' : 'MISSED'} by the median, ${stepRatio >= 0.9 ? 'MET' : 'MISSED'} by the best parts)` : ''}`);
  throughput.push({ variant: name(p), bestSamplesPerSecond: best.get(p), medianVsSingle: ratio, rounds: ratios.get(p), fillUs: c.fill, runUs: c.run, bestPartsVsSingle: stepRatio });
}
console.log(JSON.stringify({ bench: 'train-tasks', threads, cpu: cpus()[0]?.model.trim(), load: loadavg(), regression, throughput }));
