/**
 * `trainfer prune <in.onnx> --out <out.onnx> --sparsity S [--data D] [--structured] [--schedule gradual|oneshot]
 * [--epochs N] [--json]`: unstructured magnitude pruning (gradual while fine-tuning, or one-shot) or
 * structured pruning (whole channels, neurons and heads removed through the dependency analysis, then
 * fine-tuned); prints accuracy before/after, sizes, FLOPs and the per-layer sparsity table, or `--json`.
 */
import type { Command } from 'commander';
import { IMPORTANCES, type Importance } from '../compress/prune/importance.js';
import { type PruneResult, checkPruneOptions, pruneModel } from '../compress/prune/prune-model.js';
import { formatSparsityReport } from '../compress/prune/report.js';
import { TrainferError } from '../util/errors.js';
import { type CliCommand, parseNumber, parsePositiveInt, parsePositiveNumber } from './command.js';

interface PruneFlags {
  out: string;
  sparsity: number;
  data?: string;
  structured?: boolean;
  schedule?: string;
  scope?: string;
  importance?: string;
  channelMultiple?: number;
  allowLossy?: boolean;
  epochs?: number;
  lr?: number;
  optimizer?: string;
  batchSize?: number;
  maxSteps?: number;
  seed?: number;
  target?: string;
  threads?: number;
  json?: boolean;
}

function nonNegativeInt(flag: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!(Number.isInteger(n) && n >= 0)) throw new TrainferError(`${flag} must be a non-negative integer, got '${v}'`);
    return n;
  };
}

/** `trainfer prune` */
export const pruneCommand: CliCommand = {
  name: 'prune',
  define(program: Command) {
    program
      .command('prune')
      .description('prune an ONNX model: zero the smallest weights (gradually while fine-tuning) or remove whole channels, neurons and heads (--structured: a smaller, faster model)')
      .argument('<in.onnx>', 'model to prune (never modified)')
      .requiredOption('--out <out.onnx>', 'where to write the pruned model')
      .requiredOption('--sparsity <S>', 'fraction to remove, in [0, 1): of the weights, or of each group of coupled channels (--structured)', parseNumber('--sparsity'))
      .option('--data <source>', "data for fine-tuning and accuracy: 'mnist', an IDX directory or a .csv/.jsonl file (without it: one-shot, no fine-tuning)")
      .option('--structured', 'remove whole channels / neurons / attention heads (dependency-aware) instead of single weights')
      .option('--schedule <s>', 'unstructured: gradual (Zhu & Gupta, while fine-tuning; default with --data) or oneshot')
      .option('--scope <s>', 'layer (every tensor / group at the sparsity, default) or global (one ranking over all of them)')
      .option('--importance <c>', `structured: channel importance, ${IMPORTANCES.filter((i) => i !== 'taylor').join(', ')} (default l1)`)
      .option('--channel-multiple <n>', 'structured: round kept channel counts up to a multiple (e.g. 8)', parsePositiveInt('--channel-multiple'))
      .option('--allow-lossy', 'structured: also prune channels a LayerNorm normalises over (changes the function; fine-tuning recovers)')
      .option('--epochs <n>', 'fine-tuning epochs (0: none; default 3)', nonNegativeInt('--epochs'))
      .option('--lr <x>', 'fine-tuning learning rate (default: SGD 0.01 cosine, as trainfer train on an .onnx)', parsePositiveNumber('--lr'))
      .option('--optimizer <o>', 'sgd, adam or adamw')
      .option('--batch-size <n>', 'fine-tuning batch size (default 128)', parsePositiveInt('--batch-size'))
      .option('--max-steps <n>', 'stop fine-tuning after N steps', parsePositiveInt('--max-steps'))
      .option('--seed <n>', 'seed for the data split, shuffling and ties', nonNegativeInt('--seed'))
      .option('--target <columns>', 'target column(s) of CSV/JSONL data')
      .option('--threads <n>', 'onnxruntime threads', parsePositiveInt('--threads'))
      .option('--json', 'print one JSON object')
      .action(async (input: string, flags: PruneFlags) => {
        await runPrune(input, flags);
      });
  },
};

async function runPrune(input: string, f: PruneFlags): Promise<void> {
  if (f.importance !== undefined && !(IMPORTANCES as readonly string[]).includes(f.importance)) throw new TrainferError(`--importance must be ${IMPORTANCES.join(', ')}, got '${f.importance}'`);
  if (f.optimizer !== undefined && !['sgd', 'adam', 'adamw'].includes(f.optimizer)) throw new TrainferError(`--optimizer must be sgd, adam or adamw, got '${f.optimizer}'`);
  if (f.importance !== undefined && !f.structured) throw new TrainferError('--importance ranks channels for --structured pruning; unstructured pruning ranks weights by magnitude');
  const o = {
    input, out: f.out, sparsity: f.sparsity, data: f.data, structured: f.structured, schedule: f.schedule as 'gradual' | 'oneshot' | undefined, scope: f.scope as 'layer' | 'global' | undefined,
    importance: f.importance as Importance | undefined, channelMultiple: f.channelMultiple, allowLossy: f.allowLossy, epochs: f.epochs, lr: f.lr, optimizer: f.optimizer as 'sgd' | 'adam' | 'adamw' | undefined,
    batchSize: f.batchSize, maxSteps: f.maxSteps, seed: f.seed, target: f.target, threads: f.threads, progress: f.json ? ('none' as const) : ('auto' as const),
  };
  checkPruneOptions(o);
  const r = await pruneModel(o);
  process.stdout.write(f.json ? `${JSON.stringify(r)}\n` : formatPrune(r));
}

/** The text report. */
export function formatPrune(r: PruneResult): string {
  const kb = (b: number) => `${(b / 1024).toFixed(1)} KiB`;
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  const lines = [`${r.kind} pruning of ${r.input} → ${r.out} (sparsity ${r.sparsity}${r.schedule ? `, ${r.schedule.kind}${r.schedule.kind === 'gradual' ? ` from step ${r.schedule.begin} to ${r.schedule.end} every ${r.schedule.frequency}` : ''}` : ''})`];
  if (r.accuracy) lines.push(`test accuracy ${pct(r.accuracy.before)} → ${r.accuracy.pruned !== undefined ? `${pct(r.accuracy.pruned)} pruned → ` : ''}${pct(r.accuracy.after)}${r.fineTune ? ` after ${r.fineTune.epochs} epoch${r.fineTune.epochs === 1 ? '' : 's'} of fine-tuning (${r.fineTune.steps} steps, ${r.fineTune.seconds.toFixed(1)} s)` : ''} (${((r.accuracy.after - r.accuracy.before) * 100).toFixed(2)} pp)`);
  lines.push(`file ${kb(r.sizes.input)} → ${kb(r.sizes.output)}`);
  if (r.groups) {
    lines.push('channel groups (before → after):');
    for (const g of r.groups) lines.push(`  ${String(g.before).padStart(5)} → ${String(g.after).padEnd(5)} ${g.description}${g.note && g.after === g.before ? ` — kept: ${g.note}` : ''}`);
  }
  return `${lines.join('\n')}\n${formatSparsityReport(r.report)}`;
}
