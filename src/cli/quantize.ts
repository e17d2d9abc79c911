/**
 * `trainfer quantize <in.onnx> --out <out.onnx> --mode dynamic|static|fp16|int4|qat`: quantize a model,
 * write it only once onnxruntime has loaded and run it, then print a before/after table (size, latency,
 * throughput, accuracy, output agreement) or `--json`. `--embeddings int8|fp16` quantizes only the
 * embedding tables instead (quantize-embeddings.ts).
 */
import type { Command } from 'commander';
import { TrainferError } from '../util/errors.js';
import { formatResult, resultJson } from '../compress/quantize/format.js';
import { quantizeFile } from '../compress/quantize/pipeline.js';
import { runQatFile } from '../compress/quantize/qat-file.js';
import type { QuantizeMode } from '../compress/quantize/quantize.js';
import type { CalibrationMethod } from '../compress/quantize/calib-stats.js';
import { type CliCommand, collect, parseDims, parseNumber, parsePositiveInt, parsePositiveNumber } from './command.js';
import { runQuantizeEmbeddings } from './quantize-embeddings.js';

interface QuantizeFlags {
  out: string;
  mode: string;
  calib?: string;
  calibSize?: number;
  method: string;
  percentile?: number;
  perChannel: boolean;
  activations: string;
  symmetric?: boolean;
  reduceRange?: boolean;
  blockSize?: number;
  int4Asymmetric?: boolean;
  data?: string;
  evalSize?: number;
  steps?: number;
  lr?: number;
  measure: boolean;
  budgetMs?: number;
  threads?: number;
  exclude?: string;
  dim: string[];
  plan?: string;
  embeddings?: string;
  scale?: string;
  json?: boolean;
}

const MODES = ['dynamic', 'static', 'fp16', 'int4', 'qat'] as const;
const METHODS = ['minmax', 'percentile', 'entropy'] as const;

/** `trainfer quantize` */
export const quantizeCommand: CliCommand = {
  name: 'quantize',
  define(program: Command) {
    program
      .command('quantize')
      .description('quantize an ONNX model (int8 static/dynamic, fp16, int4, QAT) and compare it with the original')
      .argument('<in.onnx>', 'model to quantize (never modified)')
      .requiredOption('--out <out.onnx>', 'where to write the quantized model')
      .option('--mode <mode>', `one of ${MODES.join(', ')}`, 'static')
      .option('--calib <data>', 'calibration data: mnist, a directory of IDX files, or a .csv (its training split)')
      .option('--calib-size <n>', 'calibration samples (default 512; any number)', parsePositiveInt('--calib-size'))
      .option('--method <m>', `calibration method: ${METHODS.join(', ')}`, 'minmax')
      .option('--percentile <p>', 'percentile kept by --method percentile (default 99.999)', parseNumber('--percentile'))
      .option('--per-channel', 'per-channel weight scales', true)
      .option('--no-per-channel', 'one scale per weight tensor')
      .option('--activations <type>', 'static: activation type, uint8 (U8S8) or int8 (S8S8)', 'uint8')
      .option('--symmetric', 'static: symmetric activations (default asymmetric)')
      .option('--reduce-range', '7-bit weights, for x86 CPUs without VNNI')
      .option('--block-size <n>', 'int4: block size along K (default 32)', parsePositiveInt('--block-size'))
      .option('--int4-asymmetric', 'int4: a 4-bit zero point per block (default symmetric)')
      .option('--data <data>', 'labelled data for accuracy (its test split); qat: the training data')
      .option('--eval-size <n>', 'samples for accuracy and agreement (default 10000)', parsePositiveInt('--eval-size'))
      .option('--steps <n>', 'qat: fine-tuning steps (default 300)', parsePositiveInt('--steps'))
      .option('--lr <x>', 'qat: Adam learning rate (default 1e-4)', parsePositiveNumber('--lr'))
      .option('--no-measure', 'skip the before/after measurements')
      .option('--budget-ms <ms>', 'time spent per speed measurement (default 1500); static/qat time each Conv plan for a sixth of it (at most 250)', parsePositiveInt('--budget-ms'))
      .option('--threads <n>', 'onnxruntime intra-op threads per session for calibration, Conv-plan timing and the table (default 1: one session per core, as serve runs models)', parsePositiveInt('--threads'))
      .option('--exclude <nodes>', 'comma-separated node names to keep float')
      .option('--dim <name=N>', 'size of a named symbolic input dim for the check run and synthetic measurements (repeatable); a dynamic leading dim is the batch, other unnamed ones 1', collect, [] as string[])
      .option('--plan <file>', 'static/qat: reuse the Conv decisions recorded in an earlier output (or a JSON plan) instead of timing them: same input and flags, same output bytes')
      .option('--embeddings <type>', 'quantize only the embedding tables (and a retrieval catalog): int8 (row-wise, one scale per row) or fp16; --data (a recommender\'s interactions) reports recall@10 / AUC before and after')
      .option('--scale <type>', '--embeddings int8: the per-row scale, fp16 (default) or fp32')
      .option('--json', 'print the numbers as one JSON object')
      .action(async (input: string, flags: QuantizeFlags, cmd: Command) => {
        if (flags.embeddings !== undefined) {
          const clash = ['mode', 'calib', 'method', 'steps', 'plan', 'blockSize'].find((k) => cmd.getOptionValueSource(k) === 'cli');
          if (clash) throw new TrainferError(`--embeddings quantizes the embedding tables only; drop --${clash.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
          await runQuantizeEmbeddings(input, { ...flags, embeddings: flags.embeddings });
          return;
        }
        if (flags.scale !== undefined) throw new TrainferError('--scale applies to --embeddings int8 only');
        await runQuantize(input, flags);
      });
  },
};

async function runQuantize(input: string, f: QuantizeFlags): Promise<void> {
  if (!(MODES as readonly string[]).includes(f.mode)) throw new TrainferError(`--mode must be one of ${MODES.join(', ')}, got '${f.mode}'`);
  if (!(METHODS as readonly string[]).includes(f.method)) throw new TrainferError(`--method must be one of ${METHODS.join(', ')}, got '${f.method}'`);
  if (f.activations !== 'uint8' && f.activations !== 'int8') throw new TrainferError(`--activations must be uint8 or int8, got '${f.activations}'`);
  if (f.percentile !== undefined && !(f.percentile > 50 && f.percentile <= 100)) throw new TrainferError(`--percentile must be in (50, 100], got ${f.percentile}`);
  if (f.blockSize !== undefined && !(f.blockSize >= 16 && (f.blockSize & (f.blockSize - 1)) === 0)) throw new TrainferError(`--block-size must be a power of two ≥ 16, got ${f.blockSize}`);
  const common = {
    input,
    dims: parseDims(f.dim),
    plan: f.plan,
    output: f.out,
    calib: f.calib,
    calibSize: f.calibSize,
    method: f.method as CalibrationMethod,
    perChannel: f.perChannel,
    data: f.data,
    evalSize: f.evalSize,
    measure: f.measure,
    budgetMs: f.budgetMs,
    threads: f.threads ?? 1,
    extra: {
      activationType: f.activations as 'uint8' | 'int8',
      activationSymmetric: f.symmetric ?? false,
      reduceRange: f.reduceRange ?? false,
      blockSize: f.blockSize,
      int4Symmetric: f.int4Asymmetric ? false : undefined,
      percentile: f.percentile,
      exclude: f.exclude ? f.exclude.split(',').map((s) => s.trim()).filter(Boolean) : undefined,
    },
  };
  const result = f.mode === 'qat' ? await runQatFile({ ...common, steps: f.steps, lr: f.lr }) : await quantizeFile({ ...common, mode: f.mode as QuantizeMode });
  process.stdout.write(f.json ? `${JSON.stringify(resultJson(result), null, 2)}\n` : formatResult(result));
}
