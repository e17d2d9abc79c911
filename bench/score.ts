/**
 * Batch scoring throughput (about 1 minute): one `trainfer score` shard process over MNIST's 60,000
 * training images against `trainfer bench --scenario offline` on the same model file in the same run
 * (both: one single-thread session per core, batch 64). Target: score ≥ 90% of offline samples/s. The
 * score figure includes reading the IDX file, JSON-encoding every prediction and writing it with its
 * checkpoints; the offline figure is pure inference on samples held in memory.
 * Usage: flock -x /tmp/trainfer-cpu.lock npx tsx bench/score.ts [--model cnn|mlp] [--rounds 3]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { mnistDir } from '../src/data/load.js';
import { writeModel } from '../src/onnx/model-io.js';
import { mnistCnn, mnistMlp } from '../src/serve/example-models.js';

const { values: flags } = parseArgs({ options: { model: { type: 'string', default: 'cnn' }, rounds: { type: 'string', default: '3' } } });
const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const cli = (args: string[]) => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', main, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`trainfer ${args[0]} failed: ${r.stderr}`);
  return r;
};

const dir = mkdtempSync(join(tmpdir(), 'trainfer-bench-score-'));
try {
  const model = join(dir, 'model.onnx');
  writeModel(model, flags.model === 'mlp' ? mnistMlp({ hidden: [256] }) : mnistCnn());
  const input = join(mnistDir(), 'train-images-idx3-ubyte');
  const offline: number[] = [];
  const score: number[] = [];
  for (let round = 0; round < Number(flags.rounds); round++) {
    const b = JSON.parse(cli(['bench', model, '--scenario', 'offline', '--duration', '5', '--data', 'mnist', '--json', '--out', join(dir, 'bench.json'), '--progress', 'none']).stdout) as { result: { metric: { value: number } } };
    offline.push(b.result.metric.value);
    const out = join(dir, `scores-${round}`);
    const s = cli(['score', model, '--input', input, '--out', out, '--quiet']);
    const m = /([0-9,]+) rows\/s/.exec(s.stderr);
    score.push(Number(m![1]!.replace(/,/g, '')));
    rmSync(out, { recursive: true, force: true });
    console.log(`round ${round + 1}: offline ${offline[round]!.toFixed(0)} samples/s, score ${score[round]} rows/s`);
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const ratio = med(score) / med(offline);
  console.log(`model ${flags.model}: trainfer score ${med(score).toFixed(0)} rows/s vs bench --scenario offline ${med(offline).toFixed(0)} samples/s (median of ${flags.rounds}): ${(ratio * 100).toFixed(1)}% (target ≥ 90%)`);
  console.log(JSON.stringify({ model: flags.model, offline, score, ratio, machine: readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1] }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
