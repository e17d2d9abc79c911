/**
 * Where a training step's time and its variance go, as `fit` runs it (feed plan, batch copy from a
 * shuffled order, one onnxruntime run, the training-accuracy tracker), for onnxruntime session variants:
 * intra-op threads and whether its pool threads spin while waiting for work. Per variant: samples/s,
 * per-step wall time percentiles (p50/p90/p99), CPU seconds per wall second (what spinning burns that a
 * neighbouring process could have used), and the share of time outside `session.run` (batch copy,
 * tracker, promise/setImmediate hop). Variants run in alternating windows so machine noise hits all.
 *
 * Run: flock -x /tmp/trainfer-cpu.lock npx tsx bench/train-step-profile.ts [--model mlp|lenet] [--windows 4]
 */
import { availableParallelism, cpus, loadavg } from 'node:os';
import { buildTrainStep } from '../src/autodiff/index.js';
import { Batcher, packTable } from '../src/data/batcher.js';
import { planFeeds } from '../src/data/feed-plan.js';
import { loadTable } from '../src/data/load.js';
import { Conv2d, MaxPool2d } from '../src/nn/layers-conv.js';
import { Flatten, Linear, Normalize, ReLU } from '../src/nn/layers-dense.js';
import { Network } from '../src/nn/network.js';
import { StepRunner } from '../src/train/step-runner.js';
import { TrainTracker } from '../src/train/train-tracker.js';
import { Rng } from '../src/util/rng.js';

const args = process.argv.slice(2);
const opt = (n: string): string | undefined => (args.includes(n) ? args[args.indexOf(n) + 1] : undefined);
const model = opt('--model') ?? 'mlp';
const windows = Number(opt('--windows') ?? 4);
const batch = model === 'mlp' ? 128 : 64;
const stepsPerWindow = model === 'mlp' ? 300 : 20;
const cores = availableParallelism();
const mnist = loadTable({ source: 'mnist' }).train;

const net = (): Network => model === 'mlp'
  ? new Network({ inputShape: [1, 28, 28], layers: [new Normalize({ mean: [0.1307], std: [0.3081] }), new Flatten(), new Linear({ outFeatures: 256 }), new ReLU(), new Linear({ outFeatures: 10 })] })
  : new Network({ inputShape: [1, 28, 28], layers: [new Normalize({ mean: [0.1307], std: [0.3081] }), new Conv2d({ outChannels: 32, kernelSize: 5, padding: 2 }), new ReLU(), new MaxPool2d({ kernelSize: 2 }), new Conv2d({ outChannels: 64, kernelSize: 5, padding: 2 }), new ReLU(), new MaxPool2d({ kernelSize: 2 }), new Flatten(), new Linear({ outFeatures: 128 }), new ReLU(), new Linear({ outFeatures: 10 })] });

interface Variant { label: string; threads: number; spinning: boolean }
const VARIANTS: Variant[] = [
  { label: `${cores} threads, spinning`, threads: cores, spinning: true },
  { label: `${cores} threads, no spinning`, threads: cores, spinning: false },
  { label: '1 thread', threads: 1, spinning: false },
];

async function setup(v: Variant) {
  const tg = net().trainingGraph({ normalizeInput: 'batcher' });
  const head = tg.heads[0]!;
  const step = buildTrainStep({ graph: tg.graph, loss: tg.loss, params: tg.params, optimizer: { type: 'sgd', momentum: 0.9, nesterov: true }, gradNorm: false, buffers: tg.buffers, extraOutputs: [head.value] });
  const plan = planFeeds({ specs: tg.feeds, table: mnist, bindings: { target: { columns: ['label'] } } });
  const batcher = new Batcher({ plan, batchSize: batch });
  const packed = packTable(mnist, plan);
  const runner = await StepRunner.create({ step, threads: v.threads, spinning: v.spinning, fetch: [{ name: step.extraOutputs[0]!, dims: [batch, 10] }], feeds: batcher.buffers.map((b) => ({ name: b.name, dtype: b.dtype, data: b.data, dims: [batch, ...b.shape] })) });
  const order = Rng.fromSeed(0).permutation(mnist.count);
  const target = batcher.buffer(plan.feeds.find((f) => f.spec.role === 'target')!.spec.name).data;
  const per = Math.floor(mnist.count / batch);
  const tracker = new TrainTracker('classification', 10);
  let k = 0;
  const times: number[] = [];
  let inRun = 0;
  let wall = 0;
  let cpu = 0;
  const go = async (n: number, record: boolean): Promise<void> => {
    const c0 = process.cpuUsage();
    const w0 = performance.now();
    for (let i = 0; i < n; i++, k++) {
      const t0 = performance.now();
      batcher.fill(packed, order, (k % per) * batch);
      const r0 = performance.now();
      await runner.run(0.01, k + 1);
      const r1 = performance.now();
      tracker.update(runner.fetched[0]!, target as BigInt64Array, batch);
      if (record) {
        times.push(performance.now() - t0);
        inRun += r1 - r0;
      }
    }
    if (record) {
      wall += performance.now() - w0;
      const c = process.cpuUsage(c0);
      cpu += (c.user + c.system) / 1000;
    }
  };
  await go(Math.max(10, stepsPerWindow / 5), false);
  return { go, runner, stats: () => ({ times, inRun, wall, cpu }) };
}

const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
console.log(`machine: ${cores} cores, ${cpus()[0]?.model.trim()}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ${model}, batch ${batch}, ${windows} alternating windows of ${stepsPerWindow} steps per variant`);
const runs = await Promise.all(VARIANTS.map((v) => setup(v)));
for (let w = 0; w < windows; w++) for (const r of runs) await r.go(stepsPerWindow, true);
const rows = [];
for (let i = 0; i < VARIANTS.length; i++) {
  const s = runs[i]!.stats();
  const rate = (batch * s.times.length) / (s.wall / 1000);
  const row = { variant: VARIANTS[i]!.label, samplesPerSecond: rate, p50: pct(s.times, 0.5), p90: pct(s.times, 0.9), p99: pct(s.times, 0.99), cpuPerWall: s.cpu / s.wall, outsideRun: 1 - s.inRun / s.wall };
  rows.push(row);
  console.log(`  ${row.variant.padEnd(24)} ${Math.round(rate).toLocaleString('en-US').padStart(8)} samples/s  step p50 ${row.p50.toFixed(3)} p90 ${row.p90.toFixed(3)} p99 ${row.p99.toFixed(3)} ms  cpu/wall ${row.cpuPerWall.toFixed(2)}  outside run ${(row.outsideRun * 100).toFixed(1)}%`);
}
for (const r of runs) await r.runner.release();
console.log(JSON.stringify({ bench: 'train-step-profile', model, batch, rows }));
