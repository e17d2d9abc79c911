/**
 * What the trainer essentials cost per step (issue 10, item 4): the step graph of an MLP 784-256-10
 * (batch 128, SGD momentum) run by `StepRunner` as `fit` runs it, plain; with weight EMA in the step graph
 * (`ema`); with EMA done the other way an extension could (copy every weight to the host after each step
 * and average there); and with gradient accumulation (`accumulate: 4`, per micro-batch). Variants
 * alternate round after round; reported: each variant's best-of-rounds step time and its ratio to plain.
 * This is what chose EMA in the step graph over a host-side extension.
 *
 * Run: flock -x /tmp/trainfer-cpu.lock npx tsx bench/train-essentials.ts [--quick]   (~20 s; --quick ~8 s)
 */
import { availableParallelism } from 'node:os';
import { buildTrainStep } from '../src/autodiff/index.js';
import type { TrainStepOptions } from '../src/autodiff/types.js';
import { Flatten, Linear, ReLU } from '../src/nn/layers-dense.js';
import { Network } from '../src/nn/network.js';
import { StepRunner } from '../src/train/step-runner.js';
import type { Tensor } from '../src/onnx/tensor.js';

const quick = process.argv.includes('--quick');
const rounds = quick ? 3 : 6;
const steps = quick ? 60 : 150;
const batch = 128;
const net = new Network({ inputShape: [1, 28, 28], seed: 1, layers: [new Flatten(), new Linear({ outFeatures: 256 }), new ReLU(), new Linear({ outFeatures: 10 })] });
const tg = net.trainingGraph({});

type Variant = { name: string; options: Partial<TrainStepOptions>; host?: boolean; accumulate?: number };
const variants: Variant[] = [
  { name: 'plain', options: {} },
  { name: 'EMA in the step graph', options: { ema: { decay: 0.999 } } },
  { name: 'EMA on the host (weights() + average per step)', options: {}, host: true },
  { name: 'accumulate 4 (per micro-batch)', options: { accumulate: 4 }, accumulate: 4 },
];

async function runner(v: Variant): Promise<{ r: StepRunner; run: (i: number) => Promise<void> }> {
  const step = buildTrainStep({ graph: tg.graph, loss: tg.loss, params: tg.params, optimizer: { type: 'sgd', momentum: 0.9 }, buffers: tg.buffers, gradNorm: false, ...v.options });
  const feeds = tg.feeds.map((f) => {
    const dims = [batch, ...(f.shape as number[])];
    const n = dims.reduce((a, b) => a * b, 1);
    const data = f.dtype === 'int64' ? new BigInt64Array(n).map((_, i) => BigInt(i % 10)) : new Float32Array(n).map((_, i) => (i % 7) / 7);
    return { name: f.name, dtype: f.dtype, data, dims };
  });
  const r = await StepRunner.create({ step, feeds, threads: availableParallelism() });
  let ema: Map<string, Float32Array> | undefined;
  const run = async (i: number): Promise<void> => {
    await r.run(0.01, Math.floor(i / (v.accumulate ?? 1)) + 1, (i + 1) % (v.accumulate ?? 1) === 0);
    if (v.host) {
      const w: Map<string, Tensor> = r.weights();
      ema ??= new Map([...w].map(([k, t]) => [k, (t.data as Float32Array).slice()]));
      for (const [k, t] of w) {
        const e = ema.get(k)!;
        const d = t.data as Float32Array;
        for (let j = 0; j < e.length; j++) e[j] = 0.999 * e[j]! + 0.001 * d[j]!;
      }
    }
  };
  return { r, run };
}

const best = new Map<string, number>();
const made = await Promise.all(variants.map(runner));
for (const m of made) for (let i = 0; i < 20; i++) await m.run(i); // warm-up
for (let round = 0; round < rounds; round++) {
  for (let k = 0; k < variants.length; k++) {
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) await made[k]!.run(i);
    const ms = (performance.now() - t0) / steps;
    best.set(variants[k]!.name, Math.min(best.get(variants[k]!.name) ?? Infinity, ms));
  }
}
const plain = best.get('plain')!;
console.log(`MLP 784-256-10, batch ${batch}, SGD momentum, ${availableParallelism()} threads; best of ${rounds} rounds × ${steps} steps`);
for (const v of variants) console.log(`${v.name.padEnd(50)} ${best.get(v.name)!.toFixed(3)} ms/step  ×${(best.get(v.name)! / plain).toFixed(3)}`);
for (const m of made) await m.r.release();
