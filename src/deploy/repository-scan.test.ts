// scanRepository: finds what `trainfer serve` would serve, sizes it, reads configs; bad layouts are
// one-line errors that show the expected layout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addToRepository, mnistMlp } from '../serve/example-models.js';
import { FileFormatError, TrainferError } from '../util/errors.js';
import { scanRepository } from './repository-scan.js';
import { fitResources } from './resources.js';

test('scanRepository: models, versions, sizes (external data included) and configs', (t) => {
  const repo = mkdtempSync(join(tmpdir(), 'trainfer-scan-'));
  t.after(() => rmSync(repo, { recursive: true, force: true }));
  const a1 = addToRepository({ repo, name: 'alpha', model: mnistMlp({ seed: 1 }), config: { instances: 3, threadsPerInstance: 2 } });
  const a2 = addToRepository({ repo, name: 'alpha', version: 2, model: mnistMlp({ seed: 2 }) });
  writeFileSync(join(repo, 'alpha', '2', 'model.onnx.data'), Buffer.alloc(1000));
  addToRepository({ repo, name: 'beta', model: mnistMlp({ seed: 3, hidden: [32] }) });
  mkdirSync(join(repo, '.hidden', '1'), { recursive: true }); // not a plain name: not a model (as in serve)
  writeFileSync(join(repo, 'README.md'), 'not a model');
  const s = scanRepository({ root: repo });
  assert.deepEqual(s.models.map((m) => [m.name, m.versions.map((v) => v.version)]), [['alpha', ['1', '2']], ['beta', ['1']]]);
  assert.equal(s.models[0]!.versions[0]!.bytes, statSync(a1).size);
  assert.equal(s.models[0]!.versions[1]!.bytes, statSync(a2).size + 1000);
  assert.equal(s.models[0]!.config.instances, 3);
  assert.equal(s.models[1]!.config.instances, 2, 'defaults filled in');
  assert.equal(s.totalBytes, s.models.flatMap((m) => m.versions).reduce((x, v) => x + v.bytes, 0));
  const r = fitResources(s);
  // 1 HTTP thread + alpha 2 versions × 3 instances × 2 threads + beta 2 instances × 1
  assert.equal(r.cpuRequest, '15');
  assert.equal(r.workerThreads, 8);
  assert.match(r.memoryRequest, /^\d+Mi$/);
  assert.ok(parseInt(r.memoryLimit) > parseInt(r.memoryRequest));
  assert.equal(r.gpus, 0);
});

test('scanRepository: bad repositories are one-line errors', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'trainfer-scan-bad-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const expectOneLine = (root: string, re: RegExp, type: abstract new (...a: never[]) => Error = TrainferError) =>
    assert.throws(() => scanRepository({ root }), (e: Error) => e instanceof type && re.test(e.message) && !e.message.includes('\n'));
  expectOneLine(join(dir, 'missing'), /model repository is not a directory/);
  mkdirSync(join(dir, 'empty'));
  expectOneLine(join(dir, 'empty'), /no models in the repository; expected <repo>\/<model>\/<version>\/model\.onnx/);
  mkdirSync(join(dir, 'flat'));
  writeFileSync(join(dir, 'flat', 'model.onnx'), 'x');
  expectOneLine(join(dir, 'flat'), /model\.onnx sits at the top level: move it to <model>\/1\/model\.onnx/);
  addToRepository({ repo: join(dir, 'noversion'), name: 'good', model: mnistMlp({ seed: 1 }) });
  mkdirSync(join(dir, 'noversion', 'bad', 'v1'), { recursive: true }); // serve refuses this model, so deploy does
  expectOneLine(join(dir, 'noversion'), /bad: no version directory holds a model\.onnx; expected .*bad\/1\/model\.onnx \(versions are positive integers\)/);
  addToRepository({ repo: join(dir, 'badcfg'), name: 'm', model: mnistMlp({ seed: 1 }) });
  writeFileSync(join(dir, 'badcfg', 'm', 'config.json'), '{"instances": 0}');
  expectOneLine(join(dir, 'badcfg'), /config\.json: field 'instances' must be an integer >= 1/, FileFormatError);
});
