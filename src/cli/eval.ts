/**
 * `trainfer eval <model.onnx> --data …`: accuracy and loss of a classifier on the test split of MNIST or
 * an IDX directory, or on every row of a CSV file.
 */
import type { Command } from 'commander';
import { loadData } from '../data/load.js';
import { readCsv } from '../data/csv.js';
import { readModelProto } from '../onnx/model-io.js';
import { type Device, Session } from '../runtime/session.js';
import { evaluate } from '../train/evaluate.js';
import { parseDevice, parsePositiveInt, type CliCommand } from './command.js';

interface EvalFlags {
  data: string;
  labelColumn?: string;
  batchSize?: number;
  threads?: number;
  device?: Device;
  json?: boolean;
}

/** `trainfer eval` */
export const evalCommand: CliCommand = {
  name: 'eval',
  define(program: Command) {
    program
      .command('eval')
      .description('measure the accuracy of a classifier .onnx on a test set')
      .argument('<model.onnx>', 'model: first input takes the samples, first output gives the logits')
      .requiredOption('--data <mnist|dir|file.csv>', "'mnist' or an IDX directory (the t10k test files are used), or a CSV file (every row)")
      .option('--label-column <name>', 'CSV: the label column (default: label/class/target/y, else the last column)')
      .option('--batch-size <n>', 'inference batch size (default 1000)', parsePositiveInt('--batch-size'))
      .option('--threads <n>', 'onnxruntime threads (default: all cores)', parsePositiveInt('--threads'))
      .option('--device <cpu|cuda>', 'where onnxruntime runs (cuda needs a CUDA build, see README)', parseDevice)
      .option('--json', 'print one JSON object')
      .action(async (file: string, flags: EvalFlags) => {
        await runEval(file, flags);
      });
  },
};

async function runEval(file: string, f: EvalFlags): Promise<void> {
  // Class names stored at training time index CSV labels the same way they were indexed then.
  const names = readModelProto(file).metadataProps.find((p) => p.key === 'trainfer.class_names')?.value;
  const classNames = names ? (JSON.parse(names) as string[]) : undefined;
  const data = f.data.toLowerCase().endsWith('.csv') ? readCsv(f.data, { labelColumn: f.labelColumn, classNames }) : loadData({ source: f.data }).test;
  const session = await Session.create({ path: file }, { intraOpThreads: f.threads, device: f.device });
  try {
    const r = await evaluate({ model: session, data, batchSize: f.batchSize, modelName: file });
    if (f.json) {
      process.stdout.write(`${JSON.stringify({ model: file, data: f.data, testAccuracy: r.accuracy, testLoss: r.loss, samples: r.count, samplesPerSecond: r.samplesPerSecond })}\n`);
    } else {
      console.log(`${file} on ${f.data}: accuracy ${(r.accuracy * 100).toFixed(2)}% (loss ${r.loss.toFixed(4)}) over ${r.count} samples, ${Math.round(r.samplesPerSecond).toLocaleString('en-US')} samples/s`);
    }
  } finally {
    await session.release();
  }
}
