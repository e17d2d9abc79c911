import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GraphBuilder } from '../../onnx/builder.js';
import { writeModel } from '../../onnx/model-io.js';
import { lcg, mlp } from './test-models.js';

const here = fileURLToPath(import.meta.url);
const isTs = here.endsWith('.ts');
const cli = join(here, '..', '..', '..', 'cli', isTs ? 'main.ts' : 'main.js');
function run(args: string[]) {
  return spawnSync(process.execPath, [...(isTs ? ['--import', 'tsx'] : []), cli, ...args], { encoding: 'utf8' });
}

const dir = mkdtempSync(join(tmpdir(), 'trainfer-quantize-cli-'));
const modelPath = join(dir, 'mlp.onnx');
writeModel(modelPath, mlp([64, 64, 10]));
const csv = (features: number, rows: number): string => {
  const r = lcg(features);
  const head = [...Array.from({ length: features }, (_, i) => `f${i}`), 'label'].join(',');
  return [head, ...Array.from({ length: rows }, (_, i) => [...Array.from({ length: features }, () => r().toFixed(3)), i % 10].join(','))].join('\n');
};
const good = join(dir, 'good.csv');
writeFileSync(good, csv(64, 100));
const bad = join(dir, 'bad.csv');
writeFileSync(bad, csv(3, 100));

function assertOneLineError(r: ReturnType<typeof run>, pattern: RegExp): void {
  assert.equal(r.status, 1, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^trainfer: /);
  assert.match(lines[0]!, pattern);
}

test('quantize: a file that is not ONNX is a one-line error', () => {
  const notOnnx = join(dir, 'notes.onnx');
  writeFileSync(notOnnx, 'hello, this is not protobuf at all \u0000\u00ff');
  assertOneLineError(run(['quantize', notOnnx, '--out', join(dir, 'x.onnx'), '--mode', 'dynamic']), /notes\.onnx: .*not (a valid )?(an )?ONNX/);
  assertOneLineError(run(['quantize', join(dir, 'missing.onnx'), '--out', join(dir, 'x.onnx')]), /missing\.onnx: no such file/);
});

test('quantize: nothing to quantize, wrong calibration shape, --out = input are one-line errors', () => {
  const g = new GraphBuilder({ name: 'relu' });
  g.output(g.relu(g.input('x', 'float32', ['N', 64])), 'y');
  const reluPath = join(dir, 'relu.onnx');
  writeModel(reluPath, g.toModel());
  assertOneLineError(run(['quantize', reluPath, '--out', join(dir, 'r.onnx'), '--mode', 'dynamic']), /nothing to quantize/);
  assertOneLineError(run(['quantize', modelPath, '--out', join(dir, 's.onnx'), '--mode', 'static', '--calib', bad]), /calibration data .*\[3\].*expects \[\?, 64\]/);
  assertOneLineError(run(['quantize', modelPath, '--out', modelPath, '--mode', 'dynamic']), /--out must differ/);
  assertOneLineError(run(['quantize', modelPath, '--out', join(dir, 's.onnx'), '--mode', 'static']), /needs calibration data/);
  assertOneLineError(run(['quantize', modelPath, '--out', join(dir, 's.onnx'), '--mode', 'int3']), /--mode must be one of/);
});

test('quantize: --json holds the before/after numbers; the table shows them; the input file is unchanged', () => {
  const before = readFileSync(modelPath);
  const out = join(dir, 'q.onnx');
  const r = run(['quantize', modelPath, '--out', out, '--mode', 'static', '--calib', good, '--data', good, '--json', '--budget-ms', '30', '--threads', '1']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  for (const side of ['float', 'quantized']) {
    for (const k of ['fileBytes', 'latencyP50Ms', 'latencyP99Ms', 'throughput', 'accuracy']) assert.equal(typeof j[side][k], 'number', `${side}.${k}`);
  }
  assert.ok(j.quantized.fileBytes < j.float.fileBytes * 0.5);
  assert.ok(j.agreement.cosine > 0.99 && j.agreement.top1 > 0.9, JSON.stringify(j.agreement));
  assert.ok(Array.isArray(j.report.outcomes));
  assert.ok(existsSync(out));
  assert.deepEqual(readFileSync(modelPath), before);
  const t = run(['quantize', modelPath, '--out', join(dir, 'd.onnx'), '--mode', 'dynamic', '--data', good, '--budget-ms', '30', '--threads', '1']);
  assert.equal(t.status, 0, t.stderr);
  for (const row of ['file size', 'latency b=1 p50', 'latency b=1 p99', 'throughput b=64', 'accuracy', 'output agreement', 'cosine', 'top-1']) assert.ok(t.stdout.includes(row), `missing '${row}':\n${t.stdout}`);
  assert.deepEqual(readFileSync(modelPath), before);
});
