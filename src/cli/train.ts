/**
 * `trainfer train`: train a preset (`mlp:H1,H2,…`, `lenet300`, `cnn`) or fine-tune an `.onnx` file on
 * MNIST, an IDX directory or a CSV file; export the inference model; report test accuracy (of the
 * exported file), time and throughput, as text or one JSON object.
 */
import type { Command } from 'commander';
import { runTrainJob, type TrainJobOptions } from '../train/job.js';
import type { Device } from '../runtime/session.js';
import { parseDevice, parseFraction, parseNumber, parsePositiveInt, type CliCommand } from './command.js';

interface TrainFlags {
  model: string;
  data: string;
  epochs?: number;
  batchSize?: number;
  optimizer?: string;
  lr?: number;
  momentum?: number;
  weightDecay?: number;
  schedule?: string;
  seed?: number;
  out?: string;
  checkpointDir?: string;
  checkpointEvery?: number;
  resume?: boolean;
  validationSplit?: number;
  patience?: number;
  labelSmoothing?: number;
  clipGradNorm?: number;
  labelColumn?: string;
  testData?: string;
  limit?: number;
  trainable?: string;
  metricsLog?: string;
  threads?: number;
  device?: Device;
  maxSteps?: number;
  progress?: string;
  json?: boolean;
}


/** `trainfer train` */
export const trainCommand: CliCommand = {
  name: 'train',
  define(program: Command) {
    program
      .command('train')
      .description('train a model preset or fine-tune an .onnx model, export it as a self-contained .onnx, report test accuracy')
      .requiredOption('--model <preset|file.onnx>', 'mlp:H1,H2,… (ReLU hidden layers), lenet300 (= mlp:300,100), cnn, or an .onnx file to fine-tune')
      .requiredOption('--data <mnist|dir|file.csv>', "'mnist' (built in), a directory with the four IDX files, or a CSV file with a header and a label column")
      .option('--epochs <n>', 'epochs (default: mlp 6, cnn 3, .onnx 3; more for small data)', parsePositiveInt('--epochs'))
      .option('--batch-size <n>', 'batch size (default 128; smaller for small data)', parsePositiveInt('--batch-size'))
      .option('--optimizer <name>', 'sgd (Nesterov momentum 0.9, default), adam or adamw')
      .option('--lr <x>', 'peak learning rate (default: sgd 0.1 for presets, 0.01 for .onnx; adam/adamw 0.002)', parseNumber('--lr'))
      .option('--momentum <x>', 'SGD momentum (default 0.9; 0 = plain SGD)', parseNumber('--momentum'))
      .option('--weight-decay <x>', 'weight decay (L2 for sgd/adam, decoupled for adamw; adamw default 0.01)', parseNumber('--weight-decay'))
      .option('--schedule <spec>', 'constant | step,every=E,gamma=G | cosine[,warmup=S,min=F] | onecycle[,pct=P] | warmup=S (default onecycle for presets)')
      .option('--seed <n>', 'seed for initialisation, shuffling, splits and dropout (default 0)', parseNumber('--seed'))
      .option('--out <file.onnx>', 'where to write the trained model (default <model>.onnx)')
      .option('--checkpoint-dir <dir>', 'write checkpoint.trainfer (and metrics.jsonl) here after every epoch')
      .option('--checkpoint-every <steps>', 'also checkpoint every N steps', parsePositiveInt('--checkpoint-every'))
      .option('--resume', 'continue exactly from the checkpoint in --checkpoint-dir')
      .option('--validation-split <f>', 'fraction of the training data held out for validation each epoch (default 0.05)', parseFraction('--validation-split'))
      .option('--patience <epochs>', 'early stopping: stop when validation loss has not improved for this many epochs', parsePositiveInt('--patience'))
      .option('--label-smoothing <e>', 'label smoothing for the cross-entropy loss (default 0)', parseFraction('--label-smoothing'))
      .option('--clip-grad-norm <x>', 'clip gradients to this global L2 norm', parseNumber('--clip-grad-norm'))
      .option('--label-column <name>', 'CSV: the label column (default: label/class/target/y, else the last column)')
      .option('--test-data <file.csv>', 'CSV: a separate test file (default: hold out 20% of --data)')
      .option('--limit <n>', 'use only the first N training samples', parsePositiveInt('--limit'))
      .option('--trainable <regex>', '.onnx: train only initializers whose name matches (default: every float initializer)')
      .option('--metrics-log <file.jsonl>', 'append per-epoch (and every 100 steps) metrics as JSON lines')
      .option('--threads <n>', 'onnxruntime threads (default: all cores)', parsePositiveInt('--threads'))
      .option('--device <cpu|cuda>', 'where onnxruntime runs (cuda needs a CUDA build, see README)', parseDevice)
      .option('--max-steps <n>', 'stop after N steps in total (checkpointed; --resume continues)', parsePositiveInt('--max-steps'))
      .option('--progress <mode>', 'auto (bar on a terminal, lines otherwise), bar, lines, none')
      .option('--json', 'print one JSON object with the results on stdout')
      .action(async (flags: TrainFlags) => {
        await runTrain(flags);
      });
  },
};

async function runTrain(f: TrainFlags): Promise<void> {
  if (f.optimizer && !['sgd', 'adam', 'adamw'].includes(f.optimizer)) throw new Error(`--optimizer must be sgd, adam or adamw, got '${f.optimizer}'`);
  if (f.progress && !['auto', 'bar', 'lines', 'none'].includes(f.progress)) throw new Error(`--progress must be auto, bar, lines or none, got '${f.progress}'`);
  const opts: TrainJobOptions = {
    model: f.model,
    data: f.data,
    epochs: f.epochs,
    batchSize: f.batchSize,
    optimizer: f.optimizer as TrainJobOptions['optimizer'],
    lr: f.lr,
    momentum: f.momentum,
    weightDecay: f.weightDecay,
    schedule: f.schedule,
    seed: f.seed,
    out: f.out,
    checkpointDir: f.checkpointDir,
    checkpointEverySteps: f.checkpointEvery,
    resume: f.resume,
    validationSplit: f.validationSplit,
    patience: f.patience,
    labelSmoothing: f.labelSmoothing,
    clipGradNorm: f.clipGradNorm,
    labelColumn: f.labelColumn,
    testData: f.testData,
    trainLimit: f.limit,
    trainable: f.trainable,
    metricsLog: f.metricsLog,
    threads: f.threads,
    device: f.device,
    maxSteps: f.maxSteps,
    progress: (f.progress as TrainJobOptions['progress']) ?? 'auto',
  };
  // Ctrl-C: finish the step, write a checkpoint, exit 130 (a second Ctrl-C kills as usual).
  const abort = new AbortController();
  const onInt = () => {
    process.off('SIGINT', onInt);
    abort.abort();
  };
  process.on('SIGINT', onInt);
  let r;
  try {
    r = await runTrainJob({ ...opts, signal: abort.signal });
  } finally {
    process.off('SIGINT', onInt);
  }
  if (f.json) {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  console.log(`${r.model} on ${r.data}: test accuracy ${pct(r.testAccuracy)} (loss ${r.testLoss.toFixed(4)}) after ${r.epochs} epoch${r.epochs === 1 ? '' : 's'} / ${r.steps} steps`);
  console.log(`trained in ${r.trainSeconds.toFixed(1)} s at ${Math.round(r.samplesPerSecond).toLocaleString('en-US')} samples/s; ${r.parameters.toLocaleString('en-US')} parameters`);
  console.log(`wrote ${r.out}${r.stopReason === 'completed' ? '' : ` (stopped: ${r.stopReason})`}`);
}
