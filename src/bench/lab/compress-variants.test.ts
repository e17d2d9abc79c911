/**
 * The lab's compression variants build runnable, smaller models from a trained base: pruned (fewer
 * channels), pruned + int8, distilled (the student's size), distilled + int8, packed (stored as the
 * .tfz: `storedBytes` far below the .onnx).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModel } from '../../onnx/model-io.js';
import { runTrainJob } from '../../train/job.js';
import { loadSplits, scoreModel } from '../../compress/common/score.js';
import { compressionVariants } from './compress-variants.js';
import type { LabContext } from './workload.js';

const dir = mkdtempSync(join(tmpdir(), 'trainfer-lab-compress-'));
const csv = join(dir, 'blobs.csv');
{
  let s = 7;
  const r = (): number => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  const rows = ['a,b,c,d,e,f,label'];
  for (let i = 0; i < 900; i++) {
    const k = i % 3;
    rows.push([...Array.from({ length: 6 }, (_, j) => ((j % 3 === k ? 1.5 : 0) + r() * 0.8).toFixed(4)), `c${k}`].join(','));
  }
  writeFileSync(csv, `${rows.join('\n')}\n`);
}

test('pruned, pruned + int8, distilled, distilled + int8 and packed variants: runnable, smaller, still accurate', async () => {
  const base = join(dir, 'base.onnx');
  await runTrainJob({ model: 'mlp:128,64', data: csv, out: base, epochs: 4, seed: 1, threads: 1, progress: 'none', optimizer: 'adam', lr: 0.01 });
  const ctx: LabContext = { quick: true, seed: 1, threads: 1, log: () => {}, cache: new Map() };
  const test = loadSplits(csv).test;
  const baseAcc = (await scoreModel({ model: readModel(base), data: test })).accuracy;
  const baseBytes = statSync(base).size;
  const built = new Map<string, { bytes: number; stored: number; accuracy: number }>();
  for (const v of compressionVariants(csv)) {
    const out = join(dir, `${v.id}.onnx`);
    const b = await v.build({ ctx, base, out });
    const bytes = statSync(out).size;
    built.set(v.id, { bytes, stored: b.storedBytes ?? bytes, accuracy: (await scoreModel({ model: readModel(out), data: test })).accuracy });
  }
  assert.deepEqual([...built.keys()], ['pruned', 'pruned-int8', 'distilled', 'distilled-int8', 'packed']);
  for (const [id, b] of built) assert.ok(b.accuracy >= baseAcc - 0.1, `${id}: ${b.accuracy} vs ${baseAcc}`);
  assert.ok(built.get('pruned')!.bytes < baseBytes * 0.4, 'half the neurons of each layer: about a quarter of the weights');
  assert.ok(built.get('pruned-int8')!.bytes < built.get('pruned')!.bytes);
  assert.ok(built.get('distilled')!.bytes < baseBytes, 'the mlp:64 student is smaller than the mlp:128,64 teacher');
  for (const id of ['pruned-int8', 'distilled-int8']) assert.ok(readModel(join(dir, `${id}.onnx`)).graph.nodes.some((n) => n.opType === 'QuantizeLinear'), `${id}: int8 QDQ`);
  assert.ok(built.get('packed')!.stored < baseBytes / 10, `packed: ${built.get('packed')!.stored} of ${baseBytes} bytes`);
  assert.equal(built.get('packed')!.bytes, baseBytes, 'run decompressed: the dense layout');
});
