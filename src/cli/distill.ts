/**
 * `trainfer distill --teacher <t.onnx> --student <preset|file.onnx> --data <data> --out <out.onnx>
 * [--temperature T] [--alpha A] [--epochs N] [--json]`: train a student on α·T²·KL(teacher ‖ student) +
 * (1−α)·cross-entropy, the teacher's logits computed by onnxruntime; print teacher and student accuracy
 * and size, or `--json`.
 */
import type { Command } from 'commander';
import { type DistillResult, checkDistillOptions, distillModel } from '../compress/distill/distill.js';
import { TrainferError } from '../util/errors.js';
import { type CliCommand, parseNumber, parsePositiveInt, parsePositiveNumber } from './command.js';

interface DistillFlags {
  teacher: string;
  student: string;
  data: string;
  out: string;
  temperature?: number;
  alpha?: number;
  teacherMode?: string;
  epochs?: number;
  batchSize?: number;
  optimizer?: string;
  lr?: number;
  schedule?: string;
  seed?: number;
  maxSteps?: number;
  target?: string;
  threads?: number;
  json?: boolean;
}

/** `trainfer distill` */
export const distillCommand: CliCommand = {
  name: 'distill',
  define(program: Command) {
    program
      .command('distill')
      .description('train a small student model on a teacher classifier\'s softened outputs (knowledge distillation)')
      .requiredOption('--teacher <t.onnx>', 'any ONNX classifier (never modified)')
      .requiredOption('--student <preset|file.onnx>', 'mlp:H1,H2,…, lenet300, cnn, or an .onnx model; any architecture with the same classes (a text teacher: transformer:L,D,H, L = 0 a bag of embeddings, with the teacher\'s tokenizer)')
      .requiredOption('--data <source>', "'mnist', an IDX directory or a .csv/.jsonl file")
      .requiredOption('--out <out.onnx>', 'where to write the student')
      .option('--temperature <T>', 'softening temperature (default 4)', parsePositiveNumber('--temperature'))
      .option('--alpha <A>', 'weight of the teacher term in [0, 1] (default 0.7); 1 − A weighs the labels', parseNumber('--alpha'))
      .option('--teacher-mode <m>', 'cache (teacher logits computed once, default) or live (every batch)')
      .option('--epochs <n>', 'epochs (default: as trainfer train for the student)', parsePositiveInt('--epochs'))
      .option('--batch-size <n>', 'batch size', parsePositiveInt('--batch-size'))
      .option('--optimizer <o>', 'sgd, adam or adamw')
      .option('--lr <x>', 'peak learning rate', parsePositiveNumber('--lr'))
      .option('--schedule <s>', 'learning-rate schedule (as trainfer train)')
      .option('--seed <n>', 'seed', parseNumber('--seed'))
      .option('--max-steps <n>', 'stop after N steps', parsePositiveInt('--max-steps'))
      .option('--target <columns>', 'label column of CSV/JSONL data')
      .option('--threads <n>', 'onnxruntime threads', parsePositiveInt('--threads'))
      .option('--json', 'print one JSON object')
      .action(async (flags: DistillFlags) => {
        await runDistill(flags);
      });
  },
};

async function runDistill(f: DistillFlags): Promise<void> {
  if (f.optimizer !== undefined && !['sgd', 'adam', 'adamw'].includes(f.optimizer)) throw new TrainferError(`--optimizer must be sgd, adam or adamw, got '${f.optimizer}'`);
  if (f.seed !== undefined && !(Number.isInteger(f.seed) && f.seed >= 0)) throw new TrainferError(`--seed must be a non-negative integer, got ${f.seed}`);
  const o = {
    teacher: f.teacher, student: f.student, data: f.data, out: f.out, temperature: f.temperature, alpha: f.alpha, teacherMode: f.teacherMode as 'cache' | 'live' | undefined,
    epochs: f.epochs, batchSize: f.batchSize, optimizer: f.optimizer as 'sgd' | 'adam' | 'adamw' | undefined, lr: f.lr, schedule: f.schedule, seed: f.seed, maxSteps: f.maxSteps,
    target: f.target, threads: f.threads, progress: f.json ? ('none' as const) : ('auto' as const),
  };
  checkDistillOptions(o);
  const r = await distillModel(o);
  process.stdout.write(f.json ? `${JSON.stringify(r)}\n` : formatDistill(r));
}

/** The text report. */
export function formatDistill(r: DistillResult): string {
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  const n = (x: number) => x.toLocaleString('en-US');
  return [
    `distilled ${r.teacher.file} into ${r.student.model} (T = ${r.temperature}, α = ${r.alpha}, teacher logits ${r.teacherMode === 'cache' ? `cached in ${r.teacherSeconds.toFixed(1)} s` : 'computed every batch'})`,
    `teacher: test accuracy ${pct(r.teacher.testAccuracy)}, ${n(r.teacher.parameters)} parameters, ${(r.teacher.bytes / 1024).toFixed(1)} KiB`,
    `student: test accuracy ${pct(r.student.testAccuracy)}, ${n(r.student.parameters)} parameters, ${(r.student.bytes / 1024).toFixed(1)} KiB`,
    `${r.epochs} epoch${r.epochs === 1 ? '' : 's'} / ${r.steps} steps in ${r.trainSeconds.toFixed(1)} s (${n(Math.round(r.samplesPerSecond))} samples/s); ${r.optimizer.type}, lr ${r.lr} ${r.schedule}, batch ${r.batchSize}`,
    `wrote ${r.out}`,
    '',
  ].join('\n');
}
