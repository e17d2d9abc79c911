/**
 * `trainfer demo`: the shortest job on built-in data (`npm start` runs `trainfer lab --quick` instead) — train an `mlp:256` on the
 * real MNIST for a short run, export it as a self-contained .onnx, evaluate the exported file on the
 * 10k test images, and print accuracy and throughput. Without `--out` the model goes to a temporary
 * directory that is removed before the command returns.
 */
import type { Command } from 'commander';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTrainJob } from '../train/job.js';
import { parsePositiveInt, type CliCommand } from './command.js';

interface DemoFlags {
  epochs: number;
  out?: string;
}

/** `trainfer demo` */
export const demoCommand: CliCommand = {
  name: 'demo',
  define(program: Command) {
    program
      .command('demo')
      .description('train mlp:256 on MNIST for a short run, export it to .onnx, evaluate it, print accuracy and throughput')
      .option('--epochs <n>', 'epochs (default 3)', parsePositiveInt('--epochs'), 3)
      .option('--out <file.onnx>', 'where to write the model (default: a temporary directory, removed afterwards)')
      .action(async (flags: DemoFlags) => {
        await runDemo(flags);
      });
  },
};

async function runDemo(f: DemoFlags): Promise<void> {
  const tmp = f.out ? undefined : mkdtempSync(join(tmpdir(), 'trainfer-demo-'));
  try {
    const out = f.out ?? join(tmp!, 'mlp_256.onnx');
    console.log(`Training mlp:256 (784-256-10, ReLU) on MNIST (60k images) for ${f.epochs} epochs on ${availableParallelism()} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'})`);
    const t0 = performance.now();
    const r = await runTrainJob({ model: 'mlp:256', data: 'mnist', epochs: f.epochs, out, progress: 'auto' });
    const total = (performance.now() - t0) / 1000;
    console.log(`\nexported ${tmp ? 'the model' : r.out} (${(statSync(r.out).size / 1024).toFixed(0)} KB, ${r.parameters.toLocaleString('en-US')} parameters; input pixels [batch, 1, 28, 28] in [0, 1], outputs logits and probabilities)`);
    console.log(`test accuracy of the exported model: ${(r.testAccuracy * 100).toFixed(2)}% on 10,000 MNIST test images`);
    console.log(`training: ${r.steps} steps of batch ${r.batchSize}, ${Math.round(r.samplesPerSecond).toLocaleString('en-US')} samples/s, ${r.trainSeconds.toFixed(1)} s (whole job ${total.toFixed(1)} s)`);
    if (tmp) console.log('the model was written to a temporary directory, now removed: keep it with trainfer demo --out mlp.onnx');
    console.log(`next: trainfer eval ${tmp ? 'mlp.onnx' : r.out} --data mnist   |   trainfer train --model cnn --data mnist --out cnn.onnx   |   trainfer train --model mlp:64,64 --data friedman1`);
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}
