/**
 * `trainfer prune`, `compress`, `decompress` and `distill` through the CLI entry, in process: `--json`
 * prints one parseable object with sizes and the report; bad input (sparsity, bits, a damaged .tfz, a
 * model with nothing prunable, a missing teacher) is one `trainfer: …` line naming the file, a non-zero
 * exit, no output file, and the input bytes unchanged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder } from '../onnx/builder.js';
import { writeModel } from '../onnx/model-io.js';
import { mlpNet } from '../compress/prune/test-graphs.js';
import { runCli } from './test-run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'trainfer-compress-cli-'));
const mlp = join(dir, 'mlp.onnx');
writeModel(mlp, mlpNet(21));
const relu = join(dir, 'relu.onnx');
{
  const g = new GraphBuilder({ name: 'relu' });
  g.output(g.relu(g.input('x', 'float32', ['N', 8])), 'y');
  writeModel(relu, g.toModel({ opset: 17 }));
}
const hash = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');
const inputs = [mlp, relu];
const before = new Map(inputs.map((p) => [p, hash(p)]));

async function run(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const r = await runCli(args);
  return { status: r.code, stdout: r.stdout, stderr: r.stderr };
}

function oneLine(r: { status: number; stderr: string; stdout: string }, pattern: RegExp): void {
  assert.notEqual(r.status, 0, r.stderr);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^trainfer: /);
  assert.match(lines[0]!, pattern);
  assert.equal(r.stdout, '');
}

test('--json: prune (unstructured and structured), compress and decompress each print one object with sizes and the report', async () => {
  const p = await run(['prune', mlp, '--out', join(dir, 'p.onnx'), '--sparsity', '0.75', '--json']);
  assert.equal(p.status, 0, p.stderr);
  const pj = JSON.parse(p.stdout) as { kind: string; sizes: { input: number; output: number }; report: { weights: { sparsity: number }; layers: unknown[] } };
  assert.equal(pj.kind, 'unstructured');
  assert.ok(Math.abs(pj.report.weights.sparsity - 0.75) < 0.01, String(pj.report.weights.sparsity));
  assert.equal(pj.report.layers.length, 3);
  assert.equal(pj.sizes.input, readFileSync(mlp).length);

  const s = await run(['prune', mlp, '--out', join(dir, 's.onnx'), '--sparsity', '0.5', '--structured', '--json']);
  assert.equal(s.status, 0, s.stderr);
  const sj = JSON.parse(s.stdout) as { kind: string; sizes: { input: number; output: number }; groups: { before: number; after: number }[]; report: { flops: { before: number; after: number } } };
  assert.equal(sj.kind, 'structured');
  assert.deepEqual(sj.groups.map((g) => [g.before, g.after]), [[16, 8], [12, 6], [4, 4]]); // the output classes stay
  assert.ok(sj.sizes.output < sj.sizes.input && sj.report.flops.after < sj.report.flops.before);

  const c = await run(['compress', mlp, '--out', join(dir, 'm.tfz'), '--bits', '4', '--sparsity', '0.5', '--json']);
  assert.equal(c.status, 0, c.stderr);
  const cj = JSON.parse(c.stdout) as { bits: number; sizes: { onnx: number; tfz: number; ratio: number }; tensors: unknown[] };
  assert.equal(cj.bits, 4);
  assert.equal(cj.sizes.tfz, readFileSync(join(dir, 'm.tfz')).length);
  assert.ok(cj.sizes.ratio > 2, String(cj.sizes.ratio));

  const d = await run(['decompress', join(dir, 'm.tfz'), '--out', join(dir, 'd.onnx'), '--keep-shared', '--json']);
  assert.equal(d.status, 0, d.stderr);
  const dj = JSON.parse(d.stdout) as { keepShared: boolean; sizes: { tfz: number; onnx: number }; tensors: number };
  assert.equal(dj.keepShared, true);
  assert.equal(dj.tensors, 3);
  assert.equal(dj.sizes.onnx, readFileSync(join(dir, 'd.onnx')).length);
  for (const f of inputs) assert.equal(hash(f), before.get(f), `${f} unchanged`);
});

test('bad input: one line naming the file and the reason, non-zero exit, no output, inputs unchanged', async () => {
  const out = join(dir, 'never.onnx');
  const tfzOut = join(dir, 'never.tfz');
  oneLine(await run(['prune', mlp, '--out', out, '--sparsity', '1']), /--sparsity must be in \[0, 1\), got 1/);
  oneLine(await run(['prune', mlp, '--out', out, '--sparsity', '-0.2']), /--sparsity must be in \[0, 1\)/);
  oneLine(await run(['prune', relu, '--out', out, '--sparsity', '0.5']), /relu\.onnx: nothing to prune: no Conv, Gemm or MatMul weights/);
  oneLine(await run(['prune', relu, '--out', out, '--sparsity', '0.5', '--structured']), /relu\.onnx: nothing to prune structurally/);
  oneLine(await run(['prune', mlp, '--out', mlp, '--sparsity', '0.5']), /--out must differ from the input/);
  oneLine(await run(['prune', mlp, '--out', out, '--sparsity', '0.5', '--structured', '--importance', 'taylor']), /--importance taylor needs loss gradients/);
  oneLine(await run(['compress', mlp, '--out', tfzOut, '--bits', '9']), /--bits must be an integer from 1 to 8, got 9/);
  oneLine(await run(['compress', mlp, '--out', tfzOut, '--bits', '0']), /--bits must be an integer from 1 to 8/);
  oneLine(await run(['compress', mlp, '--out', tfzOut, '--sparsity', '1.5']), /--sparsity must be in \[0, 1\)/);
  oneLine(await run(['compress', relu, '--out', tfzOut]), /relu\.onnx: nothing to compress/);
  const good = readFileSync(join(dir, 'm.tfz'));
  const truncated = join(dir, 'cut.tfz');
  writeFileSync(truncated, good.subarray(0, good.length - 7));
  oneLine(await run(['decompress', truncated, '--out', out]), /cut\.tfz: truncated/);
  const flipped = join(dir, 'flip.tfz');
  writeFileSync(flipped, Uint8Array.from(good, (b, i) => (i === good.length - 20 ? b ^ 1 : b)));
  oneLine(await run(['decompress', flipped, '--out', out]), /flip\.tfz: corrupt: checksum mismatch/);
  oneLine(await run(['decompress', mlp, '--out', out]), /mlp\.onnx: not a \.tfz file/);
  oneLine(await run(['distill', '--teacher', join(dir, 'nope.onnx'), '--student', 'mlp:8', '--data', 'mnist', '--out', out]), /nope\.onnx: no such file/);
  oneLine(await run(['distill', '--teacher', mlp, '--student', 'mlp:8', '--data', 'mnist', '--out', out, '--alpha', '2']), /--alpha must be in \[0, 1\], got 2/);
  assert.ok(!existsSync(out) && !existsSync(tfzOut), 'no output file');
  for (const f of inputs) assert.equal(hash(f), before.get(f), `${f} unchanged`);
});
