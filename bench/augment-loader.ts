/**
 * Augmentation is never the bottleneck (issue 10, items 5 and 8): `fit`'s step rate with `--augment`
 * (shift=2,rotate=10 made on the worker thread, read ahead 4 batches) against the same fit fed from
 * preloaded tensors (the batcher's copy of the packed table, no augmentation), in alternating rounds so
 * both see the same machine load. Also the cost of augmenting one batch in the calling thread, beside
 * the step time (how much headroom the worker has). Target: the augmented step rate within 5% of the
 * preloaded one (median over rounds of the per-round ratio).
 *
 * Models: mlp:256 (batch 128; the cheapest step, the hardest case for a loader) and the LeNet-like CNN
 * (batch 64). Run (~2 minutes): flock -x /tmp/trainfer-cpu.lock npx tsx bench/augment-loader.ts [--rounds 5]
 */
import { availableParallelism, cpus, loadavg } from 'node:os';
import { type AugmentSpec, augmentBatch, transformSlots } from '../src/data/augment.js';
import { loadTable } from '../src/data/load.js';
import { Conv2d, MaxPool2d } from '../src/nn/layers-conv.js';
import { Flatten, Linear, Normalize, ReLU } from '../src/nn/layers-dense.js';
import { Network } from '../src/nn/network.js';
import { fit } from '../src/train/fit.js';
import { Rng } from '../src/util/rng.js';
import type { Table } from '../src/data/table.js';

const args = process.argv.slice(2);
const rounds = Number(args.includes('--rounds') ? args[args.indexOf('--rounds') + 1] : 5);
const spec: AugmentSpec = { shift: 2, rotate: 10 };
const mnist = loadTable({ source: 'mnist' }).train;
const subset = (n: number): Table => ({ ...mnist, count: n, columns: mnist.columns.map((c) => ({ ...c, data: (c.data as Uint8Array).subarray(0, n * c.shape.reduce((a, b) => a * b, 1)) as never })) });

const norm = () => new Normalize({ mean: [0.1307], std: [0.3081] });
const CASES = [
  { id: 'mlp:256', batch: 128, train: subset(25600), epochs: 2, net: () => new Network({ inputShape: [1, 28, 28], seed: 1, layers: [norm(), new Flatten(), new Linear({ outFeatures: 256 }), new ReLU(), new Linear({ outFeatures: 10 })] }) },
  { id: 'lenet', batch: 64, train: subset(3200), epochs: 1, net: () => new Network({ inputShape: [1, 28, 28], seed: 1, layers: [norm(), new Conv2d({ outChannels: 32, kernelSize: 5, padding: 2 }), new ReLU(), new MaxPool2d({ kernelSize: 2 }), new Conv2d({ outChannels: 64, kernelSize: 5, padding: 2 }), new ReLU(), new MaxPool2d({ kernelSize: 2 }), new Flatten(), new Linear({ outFeatures: 128 }), new ReLU(), new Linear({ outFeatures: 10 })] }) },
];

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

console.log(`machine: ${availableParallelism()} cores, ${cpus()[0]?.model.trim()}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; augment ${JSON.stringify(spec)}, ${rounds} alternating rounds`);
const rows = [];
for (const c of CASES) {
  const run = async (augment?: AugmentSpec) => (await fit({ model: c.net(), train: c.train, epochs: c.epochs, batchSize: c.batch, lr: 0.05, seed: 1, progress: 'none', augment })).samplesPerSecond;
  const pre: number[] = [];
  const aug: number[] = [];
  const ratios: number[] = [];
  await run(); // warm-up (JIT, onnxruntime's first session)
  for (let r = 0; r < rounds; r++) {
    let p: number;
    let q: number;
    if (r % 2 === 0) {
      p = await run();
      q = await run(spec);
    } else {
      q = await run(spec);
      p = await run();
    }
    pre.push(p);
    aug.push(q);
    ratios.push(q / p);
  }
  // One batch augmented in this thread, for scale.
  const size = 784;
  const dst = new Float32Array(c.batch * size);
  const order = Rng.fromSeed(0).permutation(c.train.count);
  const images = c.train.columns[0]!.data as Uint8Array;
  const layout = { channels: 1, height: 28, width: 28, mul: Float32Array.of(1 / 255 / 0.3081), add: Float32Array.of(-0.1307 / 0.3081) };
  const scratch = transformSlots(c.batch);
  let best = Infinity;
  for (let i = 0; i < 30; i++) {
    const t0 = performance.now();
    augmentBatch({ src: images, dst, order, start: (i % 20) * c.batch, n: c.batch, b: i, key: 1, spec, layout, scratch });
    best = Math.min(best, performance.now() - t0);
  }
  const stepMs = (c.batch / median(pre)) * 1000;
  console.log(`${c.id} (batch ${c.batch}): preloaded median ${Math.round(median(pre)).toLocaleString('en-US')} samples/s, augmented (worker) ${Math.round(median(aug)).toLocaleString('en-US')}; ratio median ${median(ratios).toFixed(3)} (rounds ${ratios.map((x) => x.toFixed(3)).join(', ')}); target ≥ 0.95: ${median(ratios) >= 0.95 ? 'MET' : 'MISSED'}`);
  console.log(`  one batch augmented in one thread: ${best.toFixed(2)} ms vs a ${stepMs.toFixed(2)} ms step`);
  rows.push({ model: c.id, batch: c.batch, preloaded: pre, augmented: aug, ratios, medianRatio: median(ratios), augmentBatchMs: best, stepMs });
}
console.log(JSON.stringify({ bench: 'augment-loader', spec, rows }));
