import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-write.js';
import { FileFormatError, TrainferError, oneLine } from './errors.js';

test('writeFileAtomic replaces the file and leaves no temp files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tf-atomic-'));
  const p = join(dir, 'sub', 'a.bin');
  writeFileAtomic(p, 'first');
  writeFileAtomic(p, [new Uint8Array([1, 2]), new Uint8Array([3])]);
  assert.deepEqual([...readFileSync(p)], [1, 2, 3]);
  assert.deepEqual(readdirSync(join(dir, 'sub')), ['a.bin']);
});

test('a failed rename leaves the target untouched and no temp file behind', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tf-atomic-'));
  const target = join(dir, 'model.onnx');
  mkdirSync(target); // a non-empty directory where the file should go: rename must fail
  writeFileSync(join(target, 'keep'), 'old');
  assert.throws(() => writeFileAtomic(target, 'new'));
  assert.equal(readFileSync(join(target, 'keep'), 'utf8'), 'old');
  assert.deepEqual(readdirSync(dir), ['model.onnx']);
});

test('errors render as one line naming the file', () => {
  const e = new FileFormatError('m.onnx', 'truncated');
  assert.ok(e instanceof TrainferError);
  assert.equal(e.message, 'm.onnx: truncated');
  assert.equal(oneLine(new Error('a\nb')), 'a');
  assert.equal(oneLine(new Error('\n  \nreal reason\nmore')), 'real reason');
  assert.equal(e.exitCode, 1);
});
