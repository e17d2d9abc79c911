import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(import.meta.url);
const isTs = here.endsWith('.ts');
const cli = here.replace(/main\.test\.(ts|js)$/, isTs ? 'main.ts' : 'main.js');
function run(args: string[]) {
  const argv = isTs ? ['--import', 'tsx', cli, ...args] : [cli, ...args];
  return spawnSync(process.execPath, argv, { encoding: 'utf8' });
}

test('--help lists commands and exits 0', () => {
  const r = run(['--help']);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /Usage: trainfer/);
});

test('an unknown command exits non-zero', () => {
  const r = run(['no-such-command']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /unknown command/);
});
