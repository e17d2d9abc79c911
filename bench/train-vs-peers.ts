/**
 * Training throughput, same models, same run: Trainfer (one ONNX step graph on onnxruntime-node) vs
 * PyTorch CPU (bench/peers/torch_train.py, if /tmp/peers has torch) vs @tensorflow/tfjs on the wasm
 * backend (bench/peers/tfjs-train.ts, if installed). Also achieved GFLOP/s against this machine's fp32
 * matmul peak measured through onnxruntime-node. Peers that are not installed are skipped with a reason.
 *
 * Every framework reports its best of WINDOWS timed windows (after a warm-up): on a shared machine the
 * best window is the least disturbed one, which makes the ratios far more stable than one long run.
 *
 * Run: flock /tmp/trainfer-bench.lock npx tsx bench/train-vs-peers.ts [--quick]
 * Models: 784-256-10 MLP, batch 128, plain SGD; LeNet-like CNN conv(1→32,5×5,pad 2)-ReLU-maxpool-
 * conv(32→64,5×5,pad 2)-ReLU-maxpool-FC(3136→128)-ReLU-FC(128→10), batch 64, SGD momentum 0.9;
 * and our `cnn` preset, batch 128, SGD Nesterov (what `trainfer train --model cnn` runs).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { buildTrainStep } from '../src/autodiff/index.js';
import type { OptimizerConfig } from '../src/autodiff/types.js';
import { GraphBuilder } from '../src/onnx/builder.js';
import { Session } from '../src/runtime/session.js';
import { Batcher, packTable } from '../src/data/batcher.js';
import { loadTable } from '../src/data/load.js';
import { planFeeds } from '../src/data/feed-plan.js';
import { Rng } from '../src/util/rng.js';
import { Conv2d, MaxPool2d } from '../src/nn/layers-conv.js';
import { Flatten, Linear, ReLU } from '../src/nn/layers-dense.js';
import { Network } from '../src/nn/network.js';
import { buildPreset } from '../src/nn/presets.js';
import { StepRunner } from '../src/train/step-runner.js';

const quick = process.argv.includes('--quick');
const threads = availableParallelism();
const WINDOWS = quick ? 3 : 5;
const here = fileURLToPath(new URL('.', import.meta.url));

interface Case {
  id: string;
  label: string;
  batch: number;
  steps: number;
  optimizer: OptimizerConfig;
  /** Training FLOPs per sample: forward + weight grads + input grads (none for the first layer), 2 per MAC. */
  flopsPerSample: number;
  net: () => Network;
  torch?: 'mlp' | 'lenet';
  tfjs?: 'mlp' | 'lenet';
}

const trainFlops = (macs: number, firstLayerMacs: number) => 2 * (3 * macs - firstLayerMacs);
const mlpFlops = trainFlops(784 * 256 + 256 * 10, 784 * 256);
const lenetFlops = trainFlops(28 * 28 * 32 * 25 + 14 * 14 * 64 * 32 * 25 + 3136 * 128 + 128 * 10, 28 * 28 * 32 * 25);
const cnnFlops = trainFlops(28 * 28 * 16 * 9 + 14 * 14 * 32 * 16 * 9 + 1568 * 128 + 128 * 10, 28 * 28 * 16 * 9);
const CASES: Case[] = [
  { id: 'mlp', label: 'MLP 784-256-10, batch 128, SGD', batch: 128, steps: quick ? 200 : 600, optimizer: { type: 'sgd' }, flopsPerSample: mlpFlops, torch: 'mlp', tfjs: 'mlp', net: () => new Network({ inputShape: [1, 28, 28], layers: [new Flatten(), new Linear({ outFeatures: 256 }), new ReLU(), new Linear({ outFeatures: 10 })] }) },
  { id: 'lenet', label: 'LeNet-like CNN 32/64 ch 5×5, FC 128, batch 64, SGD momentum', batch: 64, steps: quick ? 30 : 100, optimizer: { type: 'sgd', momentum: 0.9 }, flopsPerSample: lenetFlops, torch: 'lenet', tfjs: 'lenet', net: () => new Network({ inputShape: [1, 28, 28], layers: [new Conv2d({ outChannels: 32, kernelSize: 5, padding: 2 }), new ReLU(), new MaxPool2d({ kernelSize: 2 }), new Conv2d({ outChannels: 64, kernelSize: 5, padding: 2 }), new ReLU(), new MaxPool2d({ kernelSize: 2 }), new Flatten(), new Linear({ outFeatures: 128 }), new ReLU(), new Linear({ outFeatures: 10 })] }) },
  { id: 'cnn', label: "Trainfer's `cnn` preset (16/32 ch 3×3 + BN, FC 128), batch 128, SGD Nesterov", batch: 128, steps: quick ? 40 : 120, optimizer: { type: 'sgd', momentum: 0.9, nesterov: true }, flopsPerSample: cnnFlops, net: () => buildPreset({ spec: 'cnn', inputShape: [1, 28, 28], numClasses: 10, normalize: { mean: [0.1307], std: [0.3081] } }) },
];

const mnist = loadTable({ source: 'mnist' }).train;

/** Steady-state samples/s of our step loop (feed plan, batch fill + one ORT run per step), as `fit` runs it. */
async function ours(c: Case): Promise<number> {
  const net = c.net();
  const tg = net.trainingGraph({ normalizeInput: 'batcher' }); // as fit() builds it
  const head = tg.heads[0]!;
  const step = buildTrainStep({ graph: tg.graph, loss: tg.loss, params: tg.params, optimizer: c.optimizer, gradNorm: false, buffers: tg.buffers, extraOutputs: [head.value] });
  const plan = planFeeds({ specs: tg.feeds, table: mnist, bindings: { target: { columns: ['label'] } } });
  const batcher = new Batcher({ plan, batchSize: c.batch });
  const packed = packTable(mnist, plan);
  const runner = await StepRunner.create({ step, threads, fetch: [{ name: step.extraOutputs[0]!, dims: [c.batch, 10] }], feeds: batcher.buffers.map((b) => ({ name: b.name, dtype: b.dtype, data: b.data, dims: [c.batch, ...b.shape] })) });
  const order = Rng.fromSeed(0).permutation(mnist.count);
  const per = Math.floor(mnist.count / c.batch);
  let k = 0;
  const go = async (n: number) => {
    for (let i = 0; i < n; i++, k++) {
      batcher.fill(packed, order, (k % per) * c.batch);
      await runner.run(0.01, k + 1);
    }
  };
  await go(Math.max(5, Math.floor(c.steps / 10)));
  let best = 0;
  const perWindow = Math.max(1, Math.floor(c.steps / WINDOWS));
  for (let w = 0; w < WINDOWS; w++) {
    const t0 = performance.now();
    await go(perWindow);
    best = Math.max(best, (c.batch * perWindow) / ((performance.now() - t0) / 1000));
  }
  await runner.release();
  return best;
}

function torchPeer(c: Case): { value?: number; reason?: string; version?: string } {
  const py = '/tmp/peers/bin/python';
  if (!c.torch) return { reason: 'not run for this model' };
  if (!existsSync(py)) return { reason: `${py} not found (python3 -m venv /tmp/peers && /tmp/peers/bin/pip install torch numpy)` };
  const r = spawnSync(py, [`${here}peers/torch_train.py`, c.torch, String(c.batch), String(Math.max(1, Math.floor(c.steps / WINDOWS))), String(threads), String(WINDOWS)], { encoding: 'utf8' });
  if (r.status !== 0) {
    const last = (r.stderr || '').trim().split('\n').pop() ?? '';
    return { reason: /No module named 'torch'/.test(r.stderr) ? 'torch is not installed in /tmp/peers' : `torch run failed: ${last}` };
  }
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!) as { samplesPerSecond: number; torch: string };
  return { value: j.samplesPerSecond, version: j.torch };
}

function tfjsPeer(c: Case): { value?: number; reason?: string; version?: string } {
  if (!c.tfjs) return { reason: 'not run for this model' };
  const steps = c.tfjs === 'mlp' ? (quick ? 10 : 20) : 3;
  const r = spawnSync(process.execPath, [...process.execArgv, `${here}peers/tfjs-train.ts`, c.tfjs, String(c.batch), String(steps), String(WINDOWS)], { encoding: 'utf8' });
  if (r.status !== 0) {
    const last = (r.stderr || '').trim().split('\n').pop() ?? '';
    return { reason: /Cannot find (module|package)/.test(r.stderr) ? '@tensorflow/tfjs or tfjs-backend-wasm is not installed' : `tfjs run failed: ${last}` };
  }
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!) as { samplesPerSecond?: number; version: string; error?: string };
  if (j.error) return { reason: `tfjs ${j.version} cannot train it: ${j.error}` };
  return { value: j.samplesPerSecond, version: j.version };
}

/** fp32 MatMul peak through onnxruntime-node: [n, n] × [n, n], best of several runs. */
async function matmulPeak(n = 1536): Promise<number> {
  const g = new GraphBuilder();
  const a = g.input('a', 'float32', [n, n]);
  const b = g.input('b', 'float32', [n, n]);
  g.output(g.matMul(a, b), 'c');
  const s = await Session.create({ model: g.toModel() }, { intraOpThreads: threads });
  const rng = Rng.fromSeed(1);
  const fill = () => { const t = new Float32Array(n * n); rng.fillUniform(t); return t; };
  const feeds = { a: new ort.Tensor('float32', fill(), [n, n]), b: new ort.Tensor('float32', fill(), [n, n]) };
  const out = { c: new ort.Tensor('float32', new Float32Array(n * n), [n, n]) };
  let best = Infinity;
  for (let i = 0; i < (quick ? 4 : 10); i++) {
    const t0 = performance.now();
    await s.ort.run(feeds, out);
    best = Math.min(best, performance.now() - t0);
  }
  await s.release();
  return (2 * n ** 3) / (best / 1000) / 1e9;
}

const fmt = (x: number | undefined) => (x === undefined ? '—' : Math.round(x).toLocaleString('en-US'));
console.log(`machine: ${threads} cores, ${cpus()[0]?.model.trim()}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} (numbers are noisy while other jobs run; ratios are from the same run)`);
const peak = await matmulPeak();
console.log(`fp32 MatMul peak via onnxruntime-node (1536³, ${threads} threads): ${peak.toFixed(1)} GFLOP/s\n`);
const rows: Record<string, unknown>[] = [];
for (const c of CASES) {
  const us = await ours(c);
  const t = torchPeer(c);
  const tf = tfjsPeer(c);
  const gflops = (us * c.flopsPerSample) / 1e9;
  console.log(`${c.label}`);
  console.log(`  trainfer     ${fmt(us).padStart(8)} samples/s   ${gflops.toFixed(1)} GFLOP/s (${((gflops / peak) * 100).toFixed(0)}% of matmul peak)`);
  console.log(`  pytorch      ${t.value === undefined ? `skipped: ${t.reason}` : `${fmt(t.value).padStart(8)} samples/s   ${((t.value * c.flopsPerSample) / 1e9).toFixed(1)} GFLOP/s   trainfer = ${(us / t.value).toFixed(2)}× (torch ${t.version})`}`);
  console.log(`  tfjs-wasm    ${tf.value === undefined ? `skipped: ${tf.reason}` : `${fmt(tf.value).padStart(8)} samples/s   trainfer = ${(us / tf.value).toFixed(1)}× (tfjs ${tf.version})`}`);
  rows.push({ model: c.id, trainfer: us, pytorch: t.value, tfjs: tf.value, vsPytorch: t.value ? us / t.value : undefined, vsTfjs: tf.value ? us / tf.value : undefined, gflops, peakGflops: peak });
}
console.log(`\n${JSON.stringify({ bench: 'train-vs-peers', threads, cpu: cpus()[0]?.model.trim(), rows })}`);
