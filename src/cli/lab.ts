/**
 * `trainfer lab` (what `npm start` runs with `--quick`): train the built-in workloads, build every
 * variant, benchmark them all with the same four scenarios, run the cost model, write the report —
 * progress on stderr, then the summary table and the report's path.
 */
import type { Command } from 'commander';
import { join } from 'node:path';
import { runLab } from '../bench/lab/run-lab.js';
import { WORKLOADS } from '../bench/lab/workloads.js';
import { summaryTable, trainingTable } from '../bench/report/markdown.js';
import { TrainferError } from '../util/errors.js';
import { type CliCommand, parseNumber, parsePositiveInt } from './command.js';

interface LabFlags {
  quick?: boolean;
  out: string;
  reuse?: boolean;
  workload?: string[];
  profiles?: string;
  predictionsPerDay?: number;
  seed?: number;
  threads?: number;
  progress?: string;
  json?: boolean;
}

/** `trainfer lab` */
export const labCommand: CliCommand = {
  name: 'lab',
  define(program: Command) {
    program
      .command('lab')
      .description('train, compress, benchmark (four MLPerf scenarios) and cost every built-in workload and variant; write an HTML report')
      .option('--quick', 'the ≤ 2-minute tour (what npm start runs): short training, the quick variants, short scenarios')
      .option('--out <dir>', 'results root; each run gets a new directory inside (latest → the newest)', 'lab-results')
      .option('--reuse', 'reuse trained models from <out>/cache when their recipe hash matches')
      .option('--workload <id...>', `only these workloads (${WORKLOADS.map((w) => w.id).join(', ')})`)
      .option('--profiles <file.json>', 'hardware profiles for the cost model (default: the built-in examples)')
      .option('--predictions-per-day <n>', 'daily volume for the cost model (default 1000000)', parseNumber('--predictions-per-day'))
      .option('--seed <n>', 'seed for training and the load generator (default 0)', parseNumber('--seed'))
      .option('--threads <n>', 'onnxruntime threads for training (default: every core)', parsePositiveInt('--threads'))
      .option('--progress <mode>', 'auto (bars on a terminal, lines otherwise), bar, lines, none')
      .option('--json', 'print lab.json on stdout')
      .action(async (flags: LabFlags) => {
        if (flags.progress && !['auto', 'bar', 'lines', 'none'].includes(flags.progress)) throw new TrainferError(`--progress must be auto, bar, lines or none, got '${flags.progress}'`);
        if (flags.predictionsPerDay !== undefined && !(flags.predictionsPerDay > 0)) throw new TrainferError(`--predictions-per-day must be positive, got ${flags.predictionsPerDay}`);
        const { dir, run, cost } = await runLab({
          out: flags.out, quick: flags.quick, reuse: flags.reuse, workloads: flags.workload, profiles: flags.profiles, predictionsPerDay: flags.predictionsPerDay,
          seed: flags.seed, threads: flags.threads, progress: flags.json ? 'none' : ((flags.progress as 'auto') ?? 'auto'),
        });
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(run)}\n`);
          return;
        }
        console.log(`\n${summaryTable(run, cost)}\n\n${trainingTable(run, cost)}\n`);
        console.log(`Costs use ${cost.rows[0]?.example ? 'EXAMPLE' : 'your'} hardware profiles as of ${cost.asOf} (not live prices): edit ${join(dir, 'hardware-profiles.json')} and run trainfer cost ${dir} --profiles <file>.`);
        console.log(`lab finished in ${run.seconds.toFixed(0)} s; report: ${join(dir, 'report.html')} (summary: ${join(dir, 'summary.md')})`);
      });
  },
};
