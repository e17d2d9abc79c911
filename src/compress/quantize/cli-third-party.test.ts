import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GraphBuilder } from '../../onnx/builder.js';
import { readModel, writeModel } from '../../onnx/model-io.js';
import { parseDims } from '../../cli/command.js';
import type { Model } from '../../onnx/ir.js';
import { modelToProto } from '../../onnx/ir-proto.js';
import { encodeModelProto } from '../../onnx/model-io.js';
import { writeVerified } from './pipeline.js';
import { PLAN_METADATA_KEY, readPlan } from './plan.js';
import { quantize } from './quantize.js';
import { paddleCnn, torchConvOnly, torchTransformer } from './test-corpus.js';
import { lcg, mlp, randomTensor } from './test-models.js';

const here = fileURLToPath(import.meta.url);
const isTs = here.endsWith('.ts');
const cli = join(here, '..', '..', '..', 'cli', isTs ? 'main.ts' : 'main.js');
function run(args: string[]) {
  return spawnSync(process.execPath, [...(isTs ? ['--import', 'tsx'] : []), cli, ...args], { encoding: 'utf8' });
}

const dir = mkdtempSync(join(tmpdir(), 'trainfer-quantize-3p-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const fast = ['--budget-ms', '30', '--threads', '1'];

test('quantize --mode dynamic on a model with dynamic dims, two int64 inputs and no data: written, table on synthetic feeds, exit 0', () => {
  const input = join(dir, 'bert.onnx');
  writeModel(input, torchTransformer(14).model);
  const out = join(dir, 'bert-int8.onnx');
  const r = run(['quantize', input, '--out', out, '--mode', 'dynamic', ...fast]);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(existsSync(out));
  assert.match(r.stdout, /output agreement on \d+ synthetic samples .*assumed sequence = 1 \(default; pass --dim sequence=N\)/);
  assert.match(r.stdout, /file size/);
  const j = run(['quantize', input, '--out', out, '--mode', 'dynamic', '--dim', 'sequence=12', '--json', ...fast]);
  assert.equal(j.status, 0, j.stderr);
  const res = JSON.parse(j.stdout);
  assert.doesNotMatch(res.evalData, /assumed/);
  assert.ok(res.agreement.cosine > 0.99 && res.quantized.fileBytes < res.float.fileBytes, JSON.stringify(res.agreement));
  assert.throws(() => parseDims(['sequence']), /^TrainferError: --dim expects name=N with a positive N, got 'sequence'$/);
});

test('quantize --mode dynamic on a Conv-only model stores int8 Conv weights (subgraphs too) and points at --mode static', () => {
  const input = join(dir, 'fcn.onnx');
  writeModel(input, torchConvOnly().model);
  const out = join(dir, 'fcn-int8.onnx');
  const r = run(['quantize', input, '--out', out, '--mode', 'dynamic', '--json', ...fast]);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.ok(j.quantized.fileBytes < j.float.fileBytes * 0.4, `${j.quantized.fileBytes} vs ${j.float.fileBytes}`);
  assert.ok(j.report.notes.some((n: string) => /weight-only|DequantizeLinear/.test(n) && n.includes('--mode static')), j.report.notes.join('\n'));
  assert.ok(j.report.outcomes.some((o: { graph: string; status: string }) => o.graph !== 'main' && o.status === 'quantized'), 'If-branch Conv not quantized');
});

test('quantize: an output onnxruntime cannot run is not written (one line, exit 1, no file or temp dir left)', async () => {
  // A model with an op onnxruntime has no kernel for: quantization succeeds, the check run fails.
  const g = new GraphBuilder({ name: 'custom' });
  const h = g.matMul(g.input('x', 'float32', ['N', 8]), g.constant(randomTensor([8, 8], lcg(1))));
  g.output(g.op1('Frobnicate', [h], {}, { domain: 'com.example' }), 'y');
  const input = join(dir, 'custom.onnx');
  writeModel(input, g.toModel({ opset: 17, opsets: { 'com.example': 1 } }));
  const out = join(dir, 'custom-int8.onnx');
  const r = run(['quantize', input, '--out', out, '--mode', 'dynamic', ...fast]);
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /^trainfer: .*custom-int8\.onnx: not written: /);
  assert.ok(!existsSync(out));
  // The library path: a broken output beside a float model that runs gets onnxruntime's reason.
  const good = mlp([8, 4]);
  const bad = mlp([8, 4]);
  const w = [...bad.graph.initializers.keys()][0]!;
  bad.graph.initializers.set(w, randomTensor([5, 4], lcg(2)));
  await assert.rejects(writeVerified({ output: out, model: bad, float: good, feeds: { x: randomTensor([2, 8], lcg(3)) } }), /bad|not written: onnxruntime cannot (load|run) it/);
  assert.ok(!existsSync(out));
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('.')), []);
});

test('quantize is deterministic: dynamic twice, and static with --plan from the first output, give identical bytes', async () => {
  const model = paddleCnn(9).model;
  const bytes = (m: Model): Uint8Array => encodeModelProto(modelToProto(m));
  assert.deepEqual(bytes((await quantize({ model, mode: 'dynamic' })).model), bytes((await quantize({ model, mode: 'dynamic' })).model));
  const input = join(dir, 'paddle9.onnx');
  writeModel(input, model);
  const r = lcg(4);
  const csv = [Array.from({ length: 3072 }, (_, i) => `p${i}`).concat('label').join(','), ...Array.from({ length: 24 }, (_, i) => [...Array.from({ length: 3072 }, () => (r() + 0.5).toFixed(3)), i % 10].join(','))].join('\n');
  const calib = join(dir, 'images.csv');
  writeFileSync(calib, csv);
  const [s1, s2] = [join(dir, 's1.onnx'), join(dir, 's2.onnx')];
  const a = run(['quantize', input, '--out', s1, '--mode', 'static', '--calib', calib, '--no-measure', ...fast]);
  assert.equal(a.status, 0, a.stderr);
  assert.match(a.stdout, /upgraded opset 9 → 13/);
  assert.match(a.stdout, /autotune \(batch 64/);
  const plan = JSON.parse(readModel(s1).metadata.get(PLAN_METADATA_KEY)!);
  assert.equal(plan.version, 1);
  const b = run(['quantize', input, '--out', s2, '--mode', 'static', '--calib', calib, '--plan', s1, '--no-measure', ...fast]);
  assert.equal(b.status, 0, b.stderr);
  assert.match(b.stdout, /Conv plan from --plan/);
  assert.doesNotMatch(b.stdout, /autotune \(/);
  assert.deepEqual(readFileSync(s2), readFileSync(s1));
  // A JSON plan pins the decision too; a model without a plan is a one-line error naming it.
  const pj = join(dir, 'plan.json');
  writeFileSync(pj, JSON.stringify({ version: 1, conv: { plan: 'every Conv int8', minConvReduction: 0 } }));
  const x = { image: randomTensor([8, 3, 32, 32], lcg(5), 1, 0.5) };
  const c = await quantize({ model, mode: 'static', calibration: () => [x], plan: readPlan(pj) });
  assert.equal(JSON.parse(c.model.metadata.get(PLAN_METADATA_KEY)!).conv.minConvReduction, 0);
  assert.ok(c.report.outcomes.filter((o) => o.opType === 'Conv').every((o) => o.status === 'quantized'), 'a Conv stayed float under "every Conv int8"');
  writeModel(join(dir, 'noplan.onnx'), model);
  assert.throws(() => readPlan(join(dir, 'noplan.onnx')), /noplan\.onnx: has no quantization plan in its metadata/);
  assert.throws(() => readPlan(calib), /images\.csv: (not|truncated)/);
});
