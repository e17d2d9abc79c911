// Tests for `trainfer ui` as a real process: it serves the page, the manifest and the models with
// COOP/COEP, prints what it runs and what it does not, stops on SIGTERM; bad flags are one-line errors.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeModel } from '../onnx/model-io.js';
import { mnistMlp } from '../serve/example-models.js';
import type { ModelManifest } from '../web/manifest.js';

const self = fileURLToPath(import.meta.url);
const isTs = self.endsWith('.ts');
const mainFile = join(self, '..', isTs ? 'main.ts' : 'main.js');
const nodeArgs = (args: string[]) => [...(isTs ? ['--import', 'tsx'] : []), mainFile, ...args];

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'trainfer-cli-ui-'));
  writeModel(join(dir, 'mlp.onnx'), mnistMlp());
  writeFileSync(join(dir, 'junk.onnx'), 'junk');
});
after(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => execFile(process.execPath, nodeArgs(args), (error, _stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stderr })));
}

test('trainfer ui serves the page and the models cross-origin isolated, and stops on SIGTERM', async () => {
  const child = spawn(process.execPath, nodeArgs(['ui', '--models', dir, '--port', '0']), { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (b: Buffer) => {
      err += b.toString();
      const m = /trainfer ui: (http:\/\/\S+)/.exec(err);
      if (m && err.includes('not run: junk')) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`ui exited with ${code}: ${err}`)));
  });
  assert.match(err, /1 model\(s\) the page runs: mlp \(digits, fp32\)/);
  assert.match(err, /not run: junk: not a loadable ONNX model/);
  const page = await fetch(url);
  assert.equal(page.status, 200);
  assert.equal(page.headers.get('cross-origin-embedder-policy'), 'require-corp');
  const manifest = (await (await fetch(new URL('models/index.json', url))).json()) as ModelManifest;
  assert.deepEqual(manifest.models.map((m) => [m.name, m.kind]), [['junk', 'other'], ['mlp', 'digits']]);
  const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  assert.equal(await exit, 0);
  assert.match(err, /SIGTERM: stopped/);
});

test('trainfer ui: bad flags are one-line errors', async () => {
  for (const [args, msg] of [
    [['ui', '--models', join(dir, 'missing')], /^trainfer: --models .*missing: not a directory\n$/],
    [['ui', '--models', dir, '--lab', join(dir, 'mlp.onnx')], /^trainfer: --lab .*: not an \.html report\n$/],
  ] as const) {
    const r = await run([...args]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, msg);
  }
});
