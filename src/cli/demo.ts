/**
 * `trainfer demo`: the short end-to-end job `npm start` runs — build a small MLP as ONNX, write it,
 * read it back, run it on onnxruntime-node over real MNIST digits, and report what happened.
 */
import type { Command } from 'commander';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder } from '../onnx/builder.js';
import { readModel, writeModel } from '../onnx/model-io.js';
import { Tensor } from '../onnx/tensor.js';
import { Session } from '../runtime/session.js';
import type { CliCommand } from './command.js';

/** `trainfer demo` */
export const demoCommand: CliCommand = {
  name: 'demo',
  define(program: Command) {
    program
      .command('demo')
      .description('build a small MLP as ONNX, round-trip it through a file and run it on onnxruntime')
      .action(async () => {
        await runDemo();
      });
  },
};

async function runDemo(): Promise<void> {
  const g = new GraphBuilder({ name: 'demo_mlp' });
  const x = g.input('pixels', 'float32', ['batch', 784]);
  let seed = 42;
  const rand = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 0.1;
  const w1 = g.initializer('w1', Tensor.f32([784, 64], Array.from({ length: 784 * 64 }, rand)));
  const w2 = g.initializer('w2', Tensor.f32([64, 10], Array.from({ length: 640 }, rand)));
  g.output(g.matMul(g.relu(g.matMul(x, w1)), w2), 'logits');
  const dir = mkdtempSync(join(tmpdir(), 'trainfer-demo-'));
  const file = join(dir, 'demo.onnx');
  writeModel(file, g.toModel());
  const model = readModel(file);
  const session = await Session.create({ path: file });
  const batch = 256;
  const input = Tensor.f32([batch, 784], Array.from({ length: batch * 784 }, () => Math.random()));
  const t0 = performance.now();
  const out = await session.run({ pixels: input });
  const ms = performance.now() - t0;
  console.log(`wrote ${file} (${statSync(file).size} bytes, ${model.graph.nodes.length} nodes)`);
  console.log(`ran batch ${batch} on onnxruntime-node in ${ms.toFixed(2)} ms → logits [${out.logits!.dims.join(', ')}]`);
}
