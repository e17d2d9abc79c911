/**
 * `trainfer train`: train a preset (`mlp:H1,H2,…`, `lenet300`, `cnn`) or fine-tune an `.onnx` file on
 * MNIST, a generated data set, an IDX directory, or a CSV/TSV/JSONL file (streamed when large); any
 * task (classification, binary, multi-label, regression) inferred from the target; export the model;
 * report the exported file's test metrics, time and throughput, as text or one JSON object.
 */
import type { Command } from 'commander';
import { runFindLrJob, runTrainJob, type TrainJobOptions } from '../train/job.js';
import type { Device } from '../runtime/session.js';
import { COLUMN_TYPE_HINTS, type ColumnTypeHint } from '../data/sniff.js';
import { parseTextPreprocess, type TextPreprocess } from '../data/email-text.js';
import type { Task } from '../nn/loss.js';
import { parseDevice, parseFraction, parseNumber, parsePositiveInt, parsePositiveNumber, type CliCommand } from './command.js';
import { isRecommenderPreset, runRecommenderTrain, type RecsysTrainFlags } from './train-recsys.js';

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
  overwrite?: boolean;
  validationSplit?: number;
  patience?: number;
  monitor?: string;
  target?: string;
  labelColumn?: string;
  task?: string;
  loss?: string;
  labelSmoothing?: number;
  classWeights?: string;
  posWeight?: string;
  huberDelta?: number;
  clipGradNorm?: number;
  augment?: string | boolean;
  inputs?: string;
  exclude?: string;
  columnType?: Record<string, ColumnTypeHint>;
  textColumn?: string;
  tokenizer?: string;
  vocabSize?: number;
  maxLength?: number;
  textPreprocess?: TextPreprocess;
  stream?: boolean;
  testData?: string;
  limit?: number;
  trainable?: string;
  freeze?: string;
  metricsLog?: string;
  threads?: number;
  spin?: boolean;
  device?: Device;
  maxSteps?: number;
  progress?: string;
  json?: boolean;
  accumulate?: number;
  ema?: number;
  keepBest?: boolean;
  saveTopK?: number;
  decayAll?: boolean;
  findLr?: boolean;
  findLrSteps?: number;
  findLrRange?: string;
}

/** `--column-type name=type[,name=type…]`, repeatable; collects into one map. */
function collectColumnTypes(v: string, prev: Record<string, ColumnTypeHint> = {}): Record<string, ColumnTypeHint> {
  const out = { ...prev };
  for (const part of v.split(',')) {
    const [name, type] = part.split('=').map((s) => s.trim());
    if (!name || !type) throw new Error(`--column-type expects name=type (e.g. zip=categorical), got '${part}'`);
    if (!(COLUMN_TYPE_HINTS as readonly string[]).includes(type)) throw new Error(`--column-type ${name}=${type}: the type must be ${COLUMN_TYPE_HINTS.join(', ')}`);
    out[name] = type as ColumnTypeHint;
  }
  return out;
}

/** `trainfer train` */
export const trainCommand: CliCommand = {
  name: 'train',
  define(program: Command) {
    program
      .command('train')
      .description('train a model preset or fine-tune an .onnx model on any task, export it as a self-contained .onnx, report its test metrics')
      .requiredOption('--model <preset|file.onnx>', 'mlp:H1,H2,… (ReLU hidden layers), lenet300 (= mlp:300,100), cnn, transformer[:L,D,H] (text; default 2,128,4), an .onnx file to fine-tune, or a recommender: mf, two-tower, dlrm')
      .requiredOption('--data <source>', "'mnist', 'spam' (SpamAssassin emails), 'friedman1' (regression), 'customers' (tabular classes) — built in — an IDX directory, or a .csv/.tsv/.jsonl file")
      .option('--target <columns>', 'target column(s): name, a,b,c or first..last (default: label/labels/class/target/y, else the last column)')
      .option('--label-column <name>', 'same as --target (kept for older scripts)')
      .option('--task <task>', 'classification | binary | multilabel | regression (default: inferred from the target and printed first)')
      .option('--loss <name>', 'cross-entropy | bce | mse | mae | huber (default: the task\'s)')
      .option('--inputs <mapping>', 'columns per model input, e.g. ids=c1..c16,dense=price,age (default: an input named like a column reads it; one input reads the rest)')
      .option('--exclude <columns>', 'columns to leave out of the features (comma-separated)')
      .option('--column-type <name=type>', 'CSV/JSONL: force a column type: float32, int64, bool, categorical, text (repeatable)', collectColumnTypes)
      .option('--text-column <name>', 'the text column a transformer (or an imported token model) reads (default: the only text column)')
      .option('--tokenizer <tokenizer.json>', 'a Hugging Face tokenizer.json for the text (default: a WordPiece vocabulary learned from the training split)')
      .option('--vocab-size <n>', 'vocabulary size of a learned tokenizer (default 8000)', parsePositiveInt('--vocab-size'))
      .option('--text-preprocess <how>', 'none | email: what the text column holds before tokenizing; email decodes MIME (quoted-printable, base64, HTML) and keeps Subject, From, compact headers and the body (default: email for raw emails, e.g. --data spam; else none)', (v: string) => parseTextPreprocess(v))
      .option('--max-length <n>', 'tokens per text row, [CLS] and [SEP] included; longer texts are truncated (default 128)', parsePositiveInt('--max-length'))
      .option('--stream', 'read a CSV/JSONL file in shards with a shuffle buffer instead of loading it (automatic from 512 MiB)')
      .option('--epochs <n>', 'epochs (default: mlp 6, cnn 3, .onnx 3; more for small data)', parsePositiveInt('--epochs'))
      .option('--batch-size <n>', 'batch size (default 128; smaller for small data)', parsePositiveInt('--batch-size'))
      .option('--optimizer <name>', 'sgd (Nesterov momentum 0.9, default), adam or adamw')
      .option('--lr <x>', 'peak learning rate (default: sgd 0.1 for presets, 0.01 for .onnx; adam/adamw 0.002)', parsePositiveNumber('--lr'))
      .option('--momentum <x>', 'SGD momentum (default 0.9; 0 = plain SGD)', parseNumber('--momentum'))
      .option('--weight-decay <x>', 'weight decay (L2 for sgd/adam, decoupled for adamw; adamw default 0.01)', parseNumber('--weight-decay'))
      .option('--schedule <spec>', 'constant | step,every=E,gamma=G | cosine[,warmup=S,min=F] | onecycle[,pct=P] | warmup=S (default onecycle for presets)')
      .option('--seed <n>', 'seed for initialisation, shuffling, splits and dropout (default 0)', parseNumber('--seed'))
      .option('--out <file.onnx>', 'where to write the trained model (default <model>.onnx; <file>-finetuned.onnx beside an imported model)')
      .option('--checkpoint-dir <dir>', 'write checkpoint.trainfer (and metrics.jsonl) here after every epoch')
      .option('--checkpoint-every <steps>', 'also checkpoint every N steps', parsePositiveInt('--checkpoint-every'))
      .option('--resume', 'continue exactly from the checkpoint in --checkpoint-dir')
      .option('--overwrite', 'start over in a --checkpoint-dir that holds another run')
      .option('--validation-split <f>', 'fraction of the training data held out for validation each epoch (default 0.05)', parseFraction('--validation-split'))
      .option('--patience <epochs>', 'early stopping: stop when the monitored metric has not improved for this many epochs; keep the best weights', parsePositiveInt('--patience'))
      .option('--monitor <metric>', 'what early stopping watches: val_loss (default), val_accuracy, val_f1, val_auc, val_pr_auc, val_rmse, val_mae, val_r2, …')
      .option('--label-smoothing <e>', 'label smoothing for the cross-entropy loss (default 0)', parseFraction('--label-smoothing'))
      .option('--class-weights <w>', 'cross-entropy class weights: one number per class, or balanced')
      .option('--pos-weight <w>', 'BCE weight of positives: a number, one per label, or balanced')
      .option('--huber-delta <x>', 'huber loss: where it turns linear, in standardised units (default 1)', parsePositiveNumber('--huber-delta'))
      .option('--clip-grad-norm <x>', 'clip gradients to this global L2 norm', parsePositiveNumber('--clip-grad-norm'))
      .option('--augment [spec]', 'image augmentation made on a worker thread: shift=N (pixels, pad-and-crop), rotate=DEG, flip (mirror; refused for mnist digits); alone: shift=2,rotate=10')
      .option('--test-data <file>', 'a separate test file (default: hold out 20% of --data)')
      .option('--limit <n>', 'use only the first N training samples', parsePositiveInt('--limit'))
      .option('--trainable <regex>', '.onnx: train only initializers whose name matches (default: the weights of MatMul/Gemm/Conv, embeddings, normalisation)')
      .option('--freeze <regex>', 'keep parameters whose name matches fixed (any model; e.g. ^linear1\\. or conv)')
      .option('--accumulate <n>', 'gradient accumulation: one optimizer step per N batches (exactly a batch N times larger)', parsePositiveInt('--accumulate'))
      .option('--ema <decay>', 'keep an exponential moving average of the weights (e.g. 0.999); validation and the exported model use it', parseFraction('--ema'))
      .option('--keep-best', 'export the best epoch\'s weights by --monitor (implied by --patience)')
      .option('--save-top-k <k>', 'keep the weights of the K best epochs as best-epoch-<n>.trainfer in --checkpoint-dir', parsePositiveInt('--save-top-k'))
      .option('--decay-all', 'apply --weight-decay to biases and normalisation parameters too (default: not to rank ≤ 1 parameters)')
      .option('--find-lr', 'LR range test: ramp the learning rate exponentially for --find-lr-steps steps, print the loss curve and a suggested --lr; trains nothing')
      .option('--find-lr-steps <n>', 'steps of the LR range test (default 100)', parsePositiveInt('--find-lr-steps'))
      .option('--find-lr-range <min,max>', 'learning rates the range test spans (default 1e-6,1)')
      .option('--metrics-log <file.jsonl>', 'append per-epoch (and every 100 steps) metrics as JSON lines')
      .option('--threads <n>', 'onnxruntime threads (default: all cores)', parsePositiveInt('--threads'))
      .option('--spin', "let onnxruntime's idle threads spin between operators (default off: on a shared machine spinning threads take the cores the work needs)")
      .option('--device <cpu|cuda>', 'where onnxruntime runs (cuda needs a CUDA build, see README)', parseDevice)
      .option('--max-steps <n>', 'stop after N steps in total (checkpointed; --resume continues)', parsePositiveInt('--max-steps'))
      .option('--progress <mode>', 'auto (bar on a terminal, lines otherwise), bar, lines, none')
      .option('--json', 'print one JSON object with the results on stdout')
      // Recommenders (mf, two-tower, dlrm): docs/recommenders.md
      .option('--dim <n>', 'recommenders: embedding width (mf 32, two-tower 64, dlrm 16)', parsePositiveInt('--dim'))
      .option('--hidden <sizes>', 'two-tower: hidden sizes of each tower\'s MLP (default 2·dim)')
      .option('--score <dot|cosine>', 'two-tower: dot product (default) or cosine')
      .option('--temperature <t>', 'two-tower softmax: logits divided by t (default 1; 0.05 with cosine)', parsePositiveNumber('--temperature'))
      .option('--negatives <n>', 'recommenders: sampled negatives per positive (bpr, bce, dlrm; default 4)', parsePositiveInt('--negatives'))
      .option('--negative-sampling <how>', 'recommenders: uniform (default) or popularity (count^0.75)')
      .option('--sparse-optimizer <name>', 'recommenders: embedding tables updated sparsely with rowwise-adagrad (default), adagrad, sparse-adam, sgd — or dense')
      .option('--sparse-lr <x>', 'recommenders: learning rate of the embedding tables (default 0.1; dlrm 0.05)', parsePositiveNumber('--sparse-lr'))
      .option('--sparse-weight-decay <x>', 'recommenders: L2 on the embedding rows each step touches (two-tower 1e-4, mf 0)', parseNumber('--sparse-weight-decay'))
      .option('--split <spec>', 'recommenders: leave-last-out (default) or time[,test=F,validation=F]')
      .option('--top-k <n>', 'mf, two-tower: K of the exported model\'s TopK (default 100; recommend and serving take any k ≤ K)', parsePositiveInt('--top-k'))
      .option('--eval-users <n>', 'recommenders: rank the test items of at most N users (seeded sample; default 20000)', parsePositiveInt('--eval-users'))
      .action(async (flags: TrainFlags) => {
        await runTrain(flags);
      });
  },
};

async function runTrain(f: TrainFlags): Promise<void> {
  if (isRecommenderPreset(f.model)) return withInterrupt((signal) => runRecommenderTrain(f as unknown as RecsysTrainFlags, signal));
  if (f.progress && !['auto', 'bar', 'lines', 'none'].includes(f.progress)) throw new Error(`--progress must be auto, bar, lines or none, got '${f.progress}'`);
  if (f.target && f.labelColumn && f.target !== f.labelColumn) throw new Error('--target and --label-column name the same thing; give one');
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
    overwrite: f.overwrite,
    validationSplit: f.validationSplit,
    patience: f.patience,
    monitor: f.monitor,
    target: f.target ?? f.labelColumn,
    task: f.task as Task | undefined,
    loss: f.loss,
    labelSmoothing: f.labelSmoothing,
    classWeights: f.classWeights,
    posWeight: f.posWeight,
    huberDelta: f.huberDelta,
    clipGradNorm: f.clipGradNorm,
    augment: f.augment === undefined || f.augment === false ? undefined : f.augment === true ? 'default' : f.augment,
    inputs: f.inputs,
    exclude: f.exclude?.split(',').map((s) => s.trim()).filter((s) => s),
    columnTypes: f.columnType,
    textColumn: f.textColumn,
    tokenizer: f.tokenizer,
    vocabSize: f.vocabSize,
    maxLength: f.maxLength,
    textPreprocess: f.textPreprocess,
    stream: f.stream,
    testData: f.testData,
    trainLimit: f.limit,
    trainable: f.trainable,
    ...(f.model.toLowerCase().endsWith('.onnx') ? { freeze: f.freeze } : { freezeLayers: f.freeze }),
    accumulate: f.accumulate,
    ema: f.ema,
    keepBest: f.keepBest,
    saveTopK: f.saveTopK,
    weightDecayAll: f.decayAll,
    metricsLog: f.metricsLog,
    threads: f.threads,
    spinning: f.spin,
    device: f.device,
    maxSteps: f.maxSteps,
    progress: (f.progress as TrainJobOptions['progress']) ?? 'auto',
  };
  if (f.findLr) return printFindLr(f, opts);
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
  const m = r.testMetrics;
  const score = r.task === 'regression'
    ? `test RMSE ${m.rmse!.toPrecision(4)}, MAE ${m.mae!.toPrecision(4)}, R² ${m.r2!.toFixed(4)}`
    : `test accuracy ${pct(r.testAccuracy)}${m.auc !== undefined ? `, ROC-AUC ${m.auc.toFixed(4)}` : ''}${r.task !== 'binary' && m.f1 !== undefined ? `, macro F1 ${pct(m.f1)}` : r.task === 'binary' ? `, F1 ${pct(m.f1!)}` : ''}`;
  console.log(`${r.model} on ${r.data} (${r.task}): ${score} (loss ${r.testLoss.toFixed(4)}) after ${r.epochs} epoch${r.epochs === 1 ? '' : 's'} / ${r.steps} steps${r.bestEpoch !== r.epochs ? `; weights of epoch ${r.bestEpoch}` : ''}`);
  console.log(`trained in ${r.trainSeconds.toFixed(1)} s at ${Math.round(r.samplesPerSecond).toLocaleString('en-US')} samples/s; ${r.parameters.toLocaleString('en-US')} parameters`);
  console.log(`wrote ${r.out}${r.stopReason === 'completed' ? '' : ` (stopped: ${r.stopReason})`}`);
}

/** `--find-lr`: the range test's curve (a table or JSON) and the suggested rate. */
async function printFindLr(f: TrainFlags, opts: TrainJobOptions): Promise<void> {
  let range: { minLr?: number; maxLr?: number } = {};
  if (f.findLrRange !== undefined) {
    const [a, b, ...rest] = f.findLrRange.split(',').map((x) => Number(x.trim()));
    if (rest.length || !(a! > 0 && b! > a!)) throw new Error(`--find-lr-range expects min,max with 0 < min < max (e.g. 1e-6,1), got '${f.findLrRange}'`);
    range = { minLr: a, maxLr: b };
  }
  const r = await runFindLrJob({ ...opts, findLr: { ...range, steps: f.findLrSteps } });
  if (f.json) {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }
  const every = Math.max(1, Math.ceil(r.points.length / 25));
  console.log('step  lr          loss      smoothed');
  for (const p of r.points.filter((_, i) => i % every === 0 || i === r.points.length - 1)) console.log(`${String(p.step).padEnd(5)} ${p.lr.toExponential(2).padEnd(11)} ${p.loss.toFixed(4).padEnd(9)} ${p.smoothed.toFixed(4)}`);
  console.log(`lowest smoothed loss at lr ${r.minLossLr.toPrecision(3)}; steepest descent at lr ${r.steepestLr.toPrecision(3)}${r.diverged ? '; the loss diverged after' : ''}`);
  console.log(`suggested --lr ${r.suggestedLr.toPrecision(2)} (a tenth of the rate at the lowest loss)`);
}

/** Runs `job` with Ctrl-C finishing the step, writing a checkpoint and exiting 130 (a second Ctrl-C kills as usual). */
async function withInterrupt(job: (signal: AbortSignal) => Promise<void>): Promise<void> {
  const abort = new AbortController();
  const onInt = () => {
    process.off('SIGINT', onInt);
    abort.abort();
  };
  process.on('SIGINT', onInt);
  try {
    await job(abort.signal);
  } finally {
    process.off('SIGINT', onInt);
  }
}
