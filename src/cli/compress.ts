/**
 * `trainfer compress <in.onnx> --out <m.tfz> [--bits B] [--sparsity S] [--data D] [--json]`: Deep
 * Compression — prune, share weights by per-layer k-means (centroids fine-tuned with --data), entropy-code
 * into a checksummed .tfz; prints sizes, the ratio, accuracy before/after and per-tensor bytes.
 */
import type { Command } from 'commander';
import { type PackResult, checkPackOptions, packModel } from '../compress/pack/pack-model.js';
import { TrainferError } from '../util/errors.js';
import { type CliCommand, parseNumber, parsePositiveInt, parsePositiveNumber } from './command.js';

interface CompressFlags {
  out: string;
  bits?: number;
  sparsity?: number;
  data?: string;
  scope?: string;
  epochs?: number;
  centroidEpochs?: number;
  centroidLr?: number;
  lr?: number;
  seed?: number;
  target?: string;
  threads?: number;
  json?: boolean;
}

function int(flag: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n)) throw new TrainferError(`${flag} must be an integer, got '${v}'`);
    return n;
  };
}

/** `trainfer compress` */
export const compressCommand: CliCommand = {
  name: 'compress',
  define(program: Command) {
    program
      .command('compress')
      .description('Deep Compression: prune, share weights by k-means (2^bits centroids per layer), entropy-code into a checksummed .tfz')
      .argument('<in.onnx>', 'model to compress (never modified)')
      .requiredOption('--out <m.tfz>', 'the .tfz to write')
      .option('--bits <B>', 'bits per weight: 2^B centroids per layer, 1–8 (default 5)', int('--bits'))
      .option('--sparsity <S>', 'fraction of the weights pruned, in [0, 1) (default 0.9)', parseNumber('--sparsity'))
      .option('--data <source>', 'data to prune while fine-tuning, fine-tune the centroids and measure accuracy (mnist, IDX dir, CSV)')
      .option('--scope <s>', 'pruning scope: global (default: bigger layers pruned more) or layer')
      .option('--epochs <n>', 'epochs of gradual pruning while fine-tuning (default 3; 0: one-shot)', int('--epochs'))
      .option('--centroid-epochs <n>', 'epochs of centroid fine-tuning (default 1; 0: none)', int('--centroid-epochs'))
      .option('--centroid-lr <x>', 'Adam learning rate of the centroid fine-tuning (default 1e-4)', parsePositiveNumber('--centroid-lr'))
      .option('--lr <x>', 'learning rate while pruning', parsePositiveNumber('--lr'))
      .option('--seed <n>', 'seed', int('--seed'))
      .option('--target <columns>', 'label column of CSV/JSONL data')
      .option('--threads <n>', 'onnxruntime threads', parsePositiveInt('--threads'))
      .option('--json', 'print one JSON object')
      .action(async (input: string, f: CompressFlags) => {
        const o = { input, out: f.out, bits: f.bits, sparsity: f.sparsity, data: f.data, scope: f.scope as 'layer' | 'global' | undefined, epochs: f.epochs, centroidEpochs: f.centroidEpochs, centroidLr: f.centroidLr, lr: f.lr, seed: f.seed, target: f.target, threads: f.threads, progress: f.json ? ('none' as const) : ('auto' as const) };
        checkPackOptions(o);
        const r = await packModel(o);
        process.stdout.write(f.json ? `${JSON.stringify(r)}\n` : formatPack(r));
      });
  },
};

/** The text report. */
export function formatPack(r: PackResult): string {
  const kb = (b: number) => (b >= 10240 ? `${(b / 1024).toFixed(1)} KiB` : `${b.toLocaleString('en-US')} B`);
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  const lines = [`compressed ${r.input} → ${r.out}: ${kb(r.sizes.onnx)} → ${kb(r.sizes.tfz)} (${r.sizes.ratio.toFixed(1)}× smaller); ${(r.sparsity * 100).toFixed(1)}% of the weights pruned, ${r.bits}-bit codebooks`];
  if (r.accuracy) lines.push(`test accuracy ${pct(r.accuracy.before)} → ${r.accuracy.pruned !== undefined ? `${pct(r.accuracy.pruned)} pruned → ` : ''}${pct(r.accuracy.after)} decompressed (${((r.accuracy.after - r.accuracy.before) * 100).toFixed(2)} pp)`);
  const rows = [['tensor', 'shape', 'non-zero', 'positions', 'indices', 'order-0 bound', 'codebook']];
  for (const t of r.tensors) rows.push([t.name, t.dims.join('×'), `${t.nonZero.toLocaleString('en-US')} / ${t.total.toLocaleString('en-US')}`, `${kb(t.positionsBytes)} (${t.positionsForm})`, `${kb(t.indicesBytes)} (${t.indicesForm})`, kb(t.indicesOrder0Bytes), kb(t.codebookBytes)]);
  rows.push(['model skeleton', '', '', '', '', '', kb(r.sizes.skeleton)]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const row of rows) lines.push(row.map((c, i) => (i >= 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd());
  return `${lines.join('\n')}\n`;
}
