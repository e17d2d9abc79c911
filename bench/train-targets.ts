/**
 * The training targets with default settings, exactly as `trainfer train --model <m> --data mnist` runs
 * them: final test accuracy of the exported .onnx on the 10k MNIST test images and the wall-clock
 * training time (validation included). Targets: mlp:256 ≥ 98.0% in ≤ 30 s; cnn ≥ 99.0% in ≤ 180 s.
 *
 * Run: flock /tmp/trainfer-bench.lock npx tsx bench/train-targets.ts [mlp:256] [cnn] [lenet300 …]
 */
import { mkdtempSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTrainJob } from '../src/train/job.js';

const TARGETS: Record<string, { accuracy: number; seconds: number }> = {
  'mlp:256': { accuracy: 0.98, seconds: 30 },
  cnn: { accuracy: 0.99, seconds: 180 },
};
const models = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const list = models.length ? models : Object.keys(TARGETS);
const dir = mkdtempSync(join(tmpdir(), 'trainfer-targets-'));
console.log(`machine: ${availableParallelism()} cores, ${cpus()[0]?.model.trim()}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
const rows: Record<string, unknown>[] = [];
for (const model of list) {
  const before = loadavg()[0]!;
  const r = await runTrainJob({ model, data: 'mnist', out: join(dir, `${model.replace(/[^a-z0-9]/gi, '_')}.onnx`), progress: 'lines' });
  const t = TARGETS[model];
  const ok = t ? r.testAccuracy >= t.accuracy && r.trainSeconds <= t.seconds : undefined;
  console.log(`${model}: test accuracy ${(r.testAccuracy * 100).toFixed(2)}% in ${r.trainSeconds.toFixed(1)} s (${r.epochs} epochs, ${Math.round(r.samplesPerSecond).toLocaleString('en-US')} samples/s, load ${before.toFixed(1)}→${loadavg()[0]!.toFixed(1)})${t ? ` — target ≥ ${(t.accuracy * 100).toFixed(1)}% in ≤ ${t.seconds} s: ${ok ? 'MET' : 'MISSED'}` : ''}`);
  rows.push({ model, testAccuracy: r.testAccuracy, trainSeconds: r.trainSeconds, epochs: r.epochs, samplesPerSecond: r.samplesPerSecond, parameters: r.parameters, target: t, met: ok });
}
console.log(JSON.stringify({ bench: 'train-targets', threads: availableParallelism(), cpu: cpus()[0]?.model.trim(), rows }));
