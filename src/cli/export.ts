/**
 * `trainfer export <model.onnx> --out DIR [--format transformers-js]`: write a trained text classifier
 * in the directory layout `@huggingface/transformers` loads with `pipeline('text-classification', DIR)`
 * (config.json, tokenizer.json + tokenizer_config.json, onnx/model.onnx; `--quantized` adds
 * onnx/model_quantized.onnx, dynamic int8). The directory appears whole or not at all.
 */
import type { Command } from 'commander';
import { TrainferError } from '../util/errors.js';
import { quantizeDynamic } from '../compress/quantize/dynamic.js';
import { newReport } from '../compress/quantize/report.js';
import { exportTransformersJs } from '../train/export-transformers-js.js';
import type { CliCommand } from './command.js';

interface ExportFlags {
  out: string;
  format: string;
  tokenizer?: string;
  labels?: string;
  quantized?: boolean;
  json?: boolean;
}

const FORMATS = ['transformers-js'] as const;

/** `trainfer export` */
export const exportCommand: CliCommand = {
  name: 'export',
  define(program: Command) {
    program
      .command('export')
      .description('write a trained text classifier as a directory transformers.js loads with pipeline(\'text-classification\', DIR)')
      .argument('<model.onnx>', 'the trained text classifier (never modified); its tokenizer.json is read from beside it')
      .requiredOption('--out <dir>', 'directory to write (absent, empty, or an earlier export, which is replaced)')
      .option('--format <f>', `one of ${FORMATS.join(', ')}`, 'transformers-js')
      .option('--tokenizer <file>', 'the tokenizer.json the model was trained with (default: the one beside the model)')
      .option('--labels <a,b,…>', 'class names in class order (default: the model\'s class names, else LABEL_0, LABEL_1, …)')
      .option('--quantized', 'also write onnx/model_quantized.onnx (dynamic int8; what transformers.js loads by default in the browser)')
      .option('--json', 'print what was written as one JSON object')
      .action(async (model: string, flags: ExportFlags) => {
        await runExport(model, flags);
      });
  },
};

async function runExport(model: string, f: ExportFlags): Promise<void> {
  if (!(FORMATS as readonly string[]).includes(f.format)) throw new TrainferError(`--format must be one of ${FORMATS.join(', ')}, got '${f.format}'`);
  const labels = f.labels?.split(',').map((s) => s.trim());
  if (labels && (labels.some((l) => !l) || new Set(labels).size !== labels.length)) throw new TrainferError(`--labels must be distinct non-empty names separated by commas, got '${f.labels}'`);
  const r = await exportTransformersJs({
    model,
    out: f.out,
    tokenizer: f.tokenizer,
    labels,
    quantize: f.quantized
      ? (m) => {
          quantizeDynamic(m, { perChannel: true, reduceRange: false, matmulFormat: 'integer', conv: false }, newReport('dynamic'));
          return m;
        }
      : undefined,
  });
  if (f.json) {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }
  process.stdout.write(`wrote ${r.dir}: ${r.files.join(', ')}\n`);
  process.stdout.write(`  labels ${r.labels.join(', ')} (${r.problemType}); inputs ${r.inputs.join(', ')}; rows of at most ${r.maxLength} tokens${r.trailingSpecials.length ? `, a cut row ends in ${r.trailingSpecials.join(' ')}` : ''}\n`);
  process.stdout.write(`  load it: pipeline('text-classification', '${r.dir}')  (@huggingface/transformers)\n`);
  if (r.preprocess) process.stdout.write(`  note: the model was trained on '${r.preprocess}'-prepared text, which transformers.js does not do: give its pipeline prepared texts (trainfer's emailText), not raw emails\n`);
}
