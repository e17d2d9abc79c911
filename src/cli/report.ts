/**
 * `trainfer report <results-dir> --out <report.html>`: the lab run's self-contained HTML report
 * (charts bundled in, opens from disk) and its Markdown summary, recomputing the cost model with the
 * run's (possibly edited) hardware profiles or `--profiles`.
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { computeCosts } from '../bench/cost/model.js';
import { EXAMPLE_PROFILES, readProfiles } from '../bench/cost/profiles.js';
import { costInputs, readLabRun } from '../bench/lab/lab-run.js';
import { writeReport } from '../bench/report/write-report.js';
import { type CliCommand, parseNumber } from './command.js';

interface ReportFlags {
  out?: string;
  markdown?: string;
  profiles?: string;
  predictionsPerDay?: number;
}

/** `trainfer report` */
export const reportCommand: CliCommand = {
  name: 'report',
  define(program: Command) {
    program
      .command('report')
      .description('write the HTML report (charts bundled in, opens from disk) and a Markdown summary of a lab results directory')
      .argument('<results-dir>', 'a lab results directory (e.g. lab-results/latest)')
      .option('--out <report.html>', 'where to write the HTML (default <results-dir>/report.html)')
      .option('--markdown <summary.md>', 'where to write the Markdown summary (default beside the HTML as summary.md)')
      .option('--profiles <file.json>', 'hardware profiles for the cost sections (default: the run\'s hardware-profiles.json)')
      .option('--predictions-per-day <n>', 'daily volume for the cost sections (default: the run\'s)', parseNumber('--predictions-per-day'))
      .action(async (results: string, flags: ReportFlags) => {
        const { run, dir } = readLabRun(results);
        const own = join(dir, run.settings.profiles);
        const profiles = flags.profiles ? readProfiles(flags.profiles) : existsSync(own) ? readProfiles(own) : EXAMPLE_PROFILES;
        const cost = computeCosts({ profiles, measured: costInputs(run), predictionsPerDay: flags.predictionsPerDay ?? run.settings.predictionsPerDay });
        const html = flags.out ?? join(dir, 'report.html');
        const markdown = flags.markdown ?? join(html, '..', 'summary.md');
        await writeReport({ run, cost, dir, html, markdown });
        console.log(`wrote ${html} and ${markdown}`);
      });
  },
};
