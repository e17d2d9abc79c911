/**
 * `trainfer score <model.onnx> --input <data> --out <dir> [--shard i/N] [--batch-size B]`: batch scoring
 * of a dataset, or of one shard of it, into `<dir>/shard-<i>-of-<N>.jsonl` in row order — resumable
 * (kill it and rerun: identical bytes) and idempotent (a finished shard is left as it is). `trainfer
 * score --merge <dir> --shards N` checks every shard is complete and joins them into
 * `<dir>/predictions.jsonl`. `trainfer deploy job` runs these as a Kubernetes Indexed Job.
 */
import type { Command } from 'commander';
import { parseFeedMapping } from '../data/feed-plan.js';
import { TrainferError } from '../util/errors.js';
import { mergeShards } from '../serve/score/merge.js';
import { readScoreInput } from '../serve/score/input.js';
import { parseShard, scoreShard } from '../serve/score/shard.js';
import { parsePositiveInt, type CliCommand } from './command.js';

interface ScoreFlags {
  input?: string;
  out?: string;
  shard?: string;
  batchSize?: number;
  instances?: number;
  inputs?: string;
  merge?: string;
  shards?: number;
  quiet?: boolean;
}

/** `trainfer score` */
export const scoreCommand: CliCommand = {
  name: 'score',
  define(program: Command) {
    program
      .command('score')
      .description('score a dataset (or shard i/N of it) with a model: predictions in row order, resumable after a crash; --merge joins the shards')
      .argument('[model.onnx]', 'the model (any ONNX model whose inputs have a batch dimension)')
      .option('--input <data>', 'the rows to score: a .csv/.tsv/.jsonl file or an IDX array file')
      .option('--out <dir>', 'directory for shard-<i>-of-<N>.jsonl and its state file')
      .option('--shard <i/N>', 'score only shard i of N (contiguous rows; default 0/1: everything)')
      .option('--batch-size <n>', 'rows per onnxruntime run (default 64)', parsePositiveInt('--batch-size'))
      .option('--instances <n>', 'worker threads, one single-thread session each (default: every core)', parsePositiveInt('--instances'))
      .option('--inputs <mapping>', "columns per model input, e.g. ids=c1..c16 (default: the model's, else by name, else every non-target column)")
      .option('--merge <dir>', 'instead of scoring: check that every shard in <dir> is complete and join them into <dir>/predictions.jsonl')
      .option('--shards <n>', 'with --merge: the number of shards N', parsePositiveInt('--shards'))
      .option('--quiet', 'no progress lines')
      .action(async (model: string | undefined, flags: ScoreFlags) => {
        await runScore(model, flags);
      });
  },
};

async function runScore(model: string | undefined, f: ScoreFlags): Promise<void> {
  if (f.merge !== undefined) {
    if (model || f.input || f.shard) throw new TrainferError('--merge takes only the directory and --shards N (no model, --input or --shard)');
    if (f.shards === undefined) throw new TrainferError('--merge needs --shards N');
    const r = mergeShards({ out: f.merge, shards: f.shards });
    process.stderr.write(`trainfer score: merged ${f.shards} shard(s), ${r.rows} rows, into ${r.file}\n`);
    return;
  }
  if (!model) throw new TrainferError('give a model file (or --merge <dir> --shards N)');
  if (!f.input) throw new TrainferError('--input <data> is required');
  if (!f.out) throw new TrainferError('--out <dir> is required');
  if (f.shards !== undefined) throw new TrainferError('--shards goes with --merge; to score one shard use --shard i/N');
  const shard = f.shard === undefined ? undefined : parseShard(f.shard);
  let inputs;
  if (f.inputs) {
    const columns = readScoreInput({ model, input: f.input }).table.columns.map((c) => c.name);
    inputs = Object.fromEntries(Object.entries(parseFeedMapping(f.inputs, columns)).map(([k, v]) => [k, { columns: v }]));
  }
  const label = shard ? `shard ${shard.index}/${shard.count}` : 'all rows';
  const r = await scoreShard({
    model, input: f.input, out: f.out, shard, batchSize: f.batchSize, instances: f.instances, inputs,
    onProgress: f.quiet ? undefined : (done, total) => process.stderr.write(`trainfer score: ${label}: ${done}/${total} rows\n`),
  });
  if (r.scored === 0 && r.rows > 0) process.stderr.write(`trainfer score: ${label} is already complete in ${r.file} (${r.rows} rows); nothing to do\n`);
  else process.stderr.write(`trainfer score: ${label}: ${r.scored} rows${r.resumedAt > 0 ? ` (resumed at row ${r.resumedAt} of the shard)` : ''} in ${(r.ms / 1000).toFixed(2)} s, ${Math.round(r.rowsPerSecond).toLocaleString('en-US')} rows/s → ${r.file}\n`);
}
