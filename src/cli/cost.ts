/**
 * `trainfer cost <results>`: the cost and energy model over a lab results directory — training cost,
 * energy and CO2e, cost per 1 M predictions within the latency bound, storage, transfer, break-even and
 * savings per variant — on the hardware profiles of a JSON file the user edits.
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { computeCosts, type CostReport } from '../bench/cost/model.js';
import { EXAMPLE_PROFILES, readProfiles } from '../bench/cost/profiles.js';
import { costInputs, readLabRun } from '../bench/lab/lab-run.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { TrainferError } from '../util/errors.js';
import { type CliCommand, parseNumber } from './command.js';

interface CostFlags {
  profiles?: string;
  predictionsPerDay?: number;
  writeProfiles?: string;
  out?: string;
  json?: boolean;
}

/** `trainfer cost` */
export const costCommand: CliCommand = {
  name: 'cost',
  define(program: Command) {
    program
      .command('cost')
      .description('cost, energy and CO2e of training and inference from a lab results directory, per hardware profile; break-even and savings per variant')
      .argument('[results]', 'a lab results directory (or its lab.json)')
      .option('--profiles <file.json>', 'hardware profiles (default: the run\'s hardware-profiles.json, else the built-in examples)')
      .option('--predictions-per-day <n>', 'daily volume (default: the run\'s, 1000000)', parseNumber('--predictions-per-day'))
      .option('--write-profiles <file.json>', 'write the example profiles to this file (to edit) and exit')
      .option('--out <cost.json>', 'also write the cost report here')
      .option('--json', 'print the cost report as JSON')
      .action(async (results: string | undefined, flags: CostFlags) => {
        runCost(results, flags);
      });
  },
};

function runCost(results: string | undefined, f: CostFlags): void {
  if (f.writeProfiles) {
    if (existsSync(f.writeProfiles)) throw new TrainferError(`${f.writeProfiles}: already exists (not overwritten)`);
    writeFileAtomic(f.writeProfiles, `${JSON.stringify(EXAMPLE_PROFILES, null, 2)}\n`);
    console.log(`wrote ${f.writeProfiles}: example profiles as of ${EXAMPLE_PROFILES.asOf} — edit the prices, watts and speeds`);
    return;
  }
  if (!results) throw new TrainferError('give a lab results directory (e.g. lab-results/latest), or --write-profiles <file>');
  if (f.predictionsPerDay !== undefined && !(f.predictionsPerDay > 0)) throw new TrainferError(`--predictions-per-day must be positive, got ${f.predictionsPerDay}`);
  const { run, dir } = readLabRun(results);
  const own = join(dir, run.settings.profiles);
  const profiles = f.profiles ? readProfiles(f.profiles) : existsSync(own) ? readProfiles(own) : EXAMPLE_PROFILES;
  const measuredByProfile: Record<string, ReturnType<typeof costInputs>> = {};
  for (const p of profiles.profiles) {
    if ('measuredRun' in p.speed) {
      const where = isAbsolute(p.speed.measuredRun) ? p.speed.measuredRun : resolve(f.profiles ? join(f.profiles, '..') : dir, p.speed.measuredRun);
      measuredByProfile[p.id] = costInputs(readLabRun(where).run);
    }
  }
  const report = computeCosts({ profiles, measured: costInputs(run), measuredByProfile, predictionsPerDay: f.predictionsPerDay ?? run.settings.predictionsPerDay });
  if (f.out) writeFileAtomic(f.out, `${JSON.stringify(report, null, 2)}\n`);
  if (f.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return;
  }
  printCost(report);
}

const money = (x: number | undefined) => (x === undefined ? '—' : x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(2) : x.toPrecision(3));

function printCost(r: CostReport): void {
  console.log(`cost model — profiles as of ${r.asOf}${r.note ? `: ${r.note}` : ''}`);
  console.log(`${r.predictionsPerDay.toLocaleString('en-US')} predictions/day, grid ${r.gridGramsCo2ePerKwh} g CO2e/kWh, ${r.currency}`);
  for (const row of r.rows) {
    console.log(`\n${row.profileName}${row.example ? ' [example]' : ''} — ${row.title}: training ${money(row.training.cost)} ${r.currency}, ${(row.training.energyKwh * 1000).toFixed(2)} Wh, ${(row.training.co2eKg * 1000).toFixed(2)} g CO2e (${row.training.seconds.toFixed(1)} s)`);
    console.log(`  ${'variant'.padEnd(14)} ${'QPS in bound'.padStart(12)} ${'/1M'.padStart(9)} ${'Wh/1M'.padStart(8)} ${'gCO2e/1M'.padStart(9)} ${'storage/mo'.padStart(11)} ${'break-even'.padStart(14)} ${'saves/1M'.padStart(14)}`);
    for (const v of row.variants) {
      const be = v.breakEvenPredictions === undefined ? '—' : `${(v.breakEvenPredictions / 1e6).toFixed(2)} M`;
      const saves = v.savingsPer1M === undefined || v.variant === row.baseline ? '—' : `${money(v.savingsPer1M)} (${v.savingsPercent!.toFixed(0)}%)`;
      console.log(`  ${v.label.padEnd(14)} ${(v.qps === undefined ? '—' : Math.round(v.qps).toLocaleString('en-US')).padStart(12)} ${money(v.costPer1M).padStart(9)} ${(v.energyKwhPer1M === undefined ? '—' : (v.energyKwhPer1M * 1000).toFixed(3)).padStart(8)} ${(v.co2eKgPer1M === undefined ? '—' : (v.co2eKgPer1M * 1000).toFixed(3)).padStart(9)} ${money(v.storagePerMonth).padStart(11)} ${be.padStart(14)} ${saves.padStart(14)}`);
    }
  }
  for (const s of r.skipped) console.log(`skipped ${s}`);
}
