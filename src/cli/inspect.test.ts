import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { estimateFlops, countParameters } from '../onnx/cost.js';
import { writeModel } from '../onnx/model-io.js';
import { controlFlowFixture, transformerFixture } from '../onnx/test-fixtures.js';
import { FileFormatError } from '../util/errors.js';
import { buildInspectReport, formatInspectReport, reportFor } from './inspect.js';

const here = fileURLToPath(import.meta.url);
const isTs = here.endsWith('.ts');
const cli = here.replace(/inspect\.test\.(ts|js)$/, isTs ? 'main.ts' : 'main.js');
function run(args: string[]) {
  const argv = isTs ? ['--import', 'tsx', cli, ...args] : [cli, ...args];
  return spawnSync(process.execPath, argv, { encoding: 'utf8' });
}

const dir = mkdtempSync(join(tmpdir(), 'trainfer-inspect-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

test('inspect --json: one object with versions, symbolic shapes, nested op counts, parameters and FLOPs', () => {
  const fx = controlFlowFixture();
  const file = join(dir, 'control.onnx');
  writeModel(file, fx.model);
  const r = run(['inspect', '--dim', 'unused=2', file, '--json', '--batch', '4']); // options before and after the file
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').length, 1, 'exactly one line of JSON');
  const j = JSON.parse(r.stdout);
  assert.equal(j.irVersion, 10);
  assert.deepEqual(j.opsets, { 'ai.onnx': 21 });
  assert.deepEqual(j.inputs, [
    { name: 'x', dtype: 'float32', shape: ['batch', 4] },
    { name: 'flag', dtype: 'bool', shape: [] },
  ]);
  assert.deepEqual(j.outputs.map((o: { shape: unknown }) => o.shape), [['batch', 4], [3, 'batch', 4]]);
  // Identity: one in the Loop body plus two graph-output renames; Add/Mul: one in a branch, one in the body.
  assert.deepEqual(j.ops, { Identity: 3, Add: 2, Mul: 2, If: 1, Loop: 1 });
  const p = countParameters(fx.model);
  assert.equal(j.parameters, p.parameters);
  assert.equal(j.parameterBytes, p.parameterBytes);
  assert.equal(j.flops, estimateFlops(fx.model, { batch: 4 }).total);
  assert.ok(j.assumptions.includes('batch = 4 (batch)'));
  assert.equal(j.producer.name, 'trainfer');
  assert.deepEqual(j.problems, []);
});

test('human output is an aligned report', () => {
  const fx = transformerFixture();
  const text = formatInspectReport(reportFor(fx.model, 'block.onnx', { batch: 2, dims: { seq: 16 } }));
  const lines = text.split('\n');
  assert.match(text, /^ {2}tokens {2}int64 {2}\[batch, seq\]$/m);
  assert.match(text, /^ {2}assumed {5}seq = 16 \(given\)$/m);
  // Op table columns line up: every row's count ends at the same column as the header's.
  const start = lines.findIndex((l) => l.startsWith('  op '));
  const header = lines[start]!;
  const countEnd = header.indexOf('count') + 'count'.length;
  for (const row of lines.slice(start + 1, lines.indexOf('', start))) assert.match(row.slice(countEnd - 5, countEnd), /^ *\d+$/, row);
  assert.match(text, /^Validation: ok$/m);
});

test('problems are reported, not thrown', () => {
  const fx = transformerFixture();
  fx.model.graph.nodes[3]!.inputs[0] = 'missing_value';
  const r = reportFor(fx.model, 'broken.onnx');
  assert.ok(r.problems.some((p) => p.severity === 'error' && p.input === 'missing_value' && p.message.includes("'missing_value' is not defined")));
  assert.match(formatInspectReport(r), /^Validation: \d+ errors?, 0 warnings$/m);
});

test('bad files: one line naming the file and the reason, exit code 1, no stack', () => {
  const cases: Record<string, Uint8Array | null> = {
    'missing.onnx': null,
    'empty.onnx': new Uint8Array(0),
    'truncated.onnx': readFileSync(join(dir, 'control.onnx')).subarray(0, 200),
    'notes.onnx': new TextEncoder().encode('hello, this is not a model\n'),
    'proto-not-onnx.onnx': Uint8Array.of(0x08, 0x00, 0x12, 0x01, 0x41), // decodes, but ir_version 0 and no graph
  };
  const expected: Record<string, RegExp> = {
    'missing.onnx': /no such file$/,
    'empty.onnx': /empty file, not an ONNX model$/,
    'truncated.onnx': /truncated or corrupt ONNX file/,
    'notes.onnx': /not a valid ONNX model \(protobuf decode failed: .*\)$/,
    'proto-not-onnx.onnx': /not an ONNX model \(ir_version 0 is not a known IR version\)$/,
  };
  for (const [name, bytes] of Object.entries(cases)) {
    const file = join(dir, name);
    if (bytes) writeFileSync(file, bytes);
    const r = run(['inspect', file]);
    assert.equal(r.status, 1, name);
    assert.equal(r.stdout, '', name);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `${name}: ${r.stderr}`);
    assert.ok(lines[0]!.startsWith(`trainfer: ${file}: `), lines[0]);
    assert.match(lines[0]!, expected[name]!);
  }
});

test('--debug adds the stack trace; a bad --batch is a one-line error', () => {
  const file = join(dir, 'empty.onnx');
  const r = run(['inspect', file, '--debug']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^trainfer: .*empty file/);
  assert.match(r.stderr, /\n\s+at /);
  const b = run(['inspect', join(dir, 'control.onnx'), '--batch', 'lots']);
  assert.equal(b.status, 1);
  assert.equal(b.stderr.trimEnd().split('\n').length, 1, b.stderr);
  assert.match(b.stderr, /--batch/);
});

test('external data is checked, not read; a short data file is a one-line error', () => {
  const fx = transformerFixture();
  const file = join(dir, 'ext', 'block.onnx');
  writeModel(file, fx.model, { externalDataThreshold: 256 });
  const r = buildInspectReport(file);
  assert.equal(r.parameters, countParameters(fx.model).parameters);
  assert.ok(r.fileBytes < r.parameterBytes, 'the weights live in the data file');
  truncateSync(`${file}.data`, 100);
  assert.throws(() => buildInspectReport(file), (e: unknown) => e instanceof FileFormatError && /^.*block\.onnx: .*external data 'block\.onnx\.data' is 100 bytes; .* past its end$/.test(e.message));
});

test('a PyTorch export: producer, opset, exporter-made output dims with the inferred shape beside them', () => {
  let root = dirname(here);
  while (!existsSync(join(root, 'package.json'))) root = dirname(root);
  const r = buildInspectReport(join(root, 'src', 'onnx', 'testdata', 'torch-transformer-block.onnx'), { batch: 2, dims: { seq: 7 } });
  assert.deepEqual(r.producer, { name: 'pytorch', version: '2.13.0' });
  assert.deepEqual(r.opsets, { 'ai.onnx': 17 });
  assert.deepEqual(r.inputs, [{ name: 'tokens', dtype: 'int64', shape: ['batch', 'seq'] }]);
  assert.deepEqual(r.outputs[0]!.inferredShape, ['batch', 5]);
  assert.equal(r.ops.LayerNormalization, 2);
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.uncountedOps, []);
});
