/**
 * `trainfer decompress <m.tfz> --out <m.onnx> [--keep-shared]`: restore a runnable ONNX model from a .tfz
 * (dense weights, or `--keep-shared`: uint8 indices + codebook through Gather); written only once
 * onnxruntime has loaded and run it. A truncated, corrupt or other-version file is a one-line error.
 */
import type { Command } from 'commander';
import { unpackModel } from '../compress/pack/pack-model.js';
import type { CliCommand } from './command.js';

/** `trainfer decompress` */
export const decompressCommand: CliCommand = {
  name: 'decompress',
  define(program: Command) {
    program
      .command('decompress')
      .description('restore a runnable ONNX model from a .tfz written by trainfer compress')
      .argument('<m.tfz>', 'the compressed model')
      .requiredOption('--out <m.onnx>', 'the ONNX model to write')
      .option('--keep-shared', 'keep weights as uint8 index tensors + codebooks through Gather (a small file)')
      .option('--json', 'print one JSON object')
      .action(async (input: string, f: { out: string; keepShared?: boolean; json?: boolean }) => {
        const r = await unpackModel({ input, out: f.out, keepShared: f.keepShared });
        const kb = (b: number) => `${(b / 1024).toFixed(1)} KiB`;
        process.stdout.write(f.json ? `${JSON.stringify(r)}\n` : `decompressed ${r.input} (${kb(r.sizes.tfz)}) → ${r.out} (${kb(r.sizes.onnx)}${r.keepShared ? ', weights kept as indices + codebooks' : ''}); ${r.tensors} shared tensors\n`);
      });
  },
};
