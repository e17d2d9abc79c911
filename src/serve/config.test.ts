// Tests for config.json validation: defaults, every field, and one-line errors naming file and field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_MODEL_CONFIG, parseModelConfig, readModelConfig } from './config.js';

test('config fields override defaults; a missing file gives the defaults', () => {
  const c = parseModelConfig({ maxBatchSize: 0, maxQueueDelayMs: 0.5, instances: 2, threadsPerInstance: 1, maxQueueSize: 10, timeoutMs: 0, allowNonFinite: true, allowSpinning: true, device: 'cuda' }, 'c.json');
  assert.deepEqual(c, { ...DEFAULT_MODEL_CONFIG, maxBatchSize: 0, maxQueueDelayMs: 0.5, instances: 2, threadsPerInstance: 1, maxQueueSize: 10, timeoutMs: 0, allowNonFinite: true, allowSpinning: true, device: 'cuda' });
  const ann = parseModelConfig({ ann: 'hnswlib', annConnectivity: 32, annExpansionAdd: 200, annExpansionSearch: 96, annQuantization: 'f16', annRecallSample: 0 }, 'c.json');
  assert.deepEqual([ann.ann, ann.annConnectivity, ann.annExpansionAdd, ann.annExpansionSearch, ann.annQuantization, ann.annRecallSample], ['hnswlib', 32, 200, 96, 'f16', 0]);
  assert.deepEqual([DEFAULT_MODEL_CONFIG.ann, DEFAULT_MODEL_CONFIG.annConnectivity], ['off', 16]);
  assert.deepEqual(readModelConfig('/nonexistent/config.json'), DEFAULT_MODEL_CONFIG);
  assert.equal(DEFAULT_MODEL_CONFIG.maxBatchSize, 'auto');
  assert.equal(parseModelConfig({ maxBatchSize: 'auto' }, 'c.json').maxBatchSize, 'auto');
  assert.equal(parseModelConfig({}, 'c.json', { ...DEFAULT_MODEL_CONFIG, instances: 3 }).instances, 3);
});

test('bad configs are one-line errors naming the file and the field', () => {
  const bad: [unknown, RegExp][] = [
    [[], /^c\.json: config must be a JSON object$/],
    [{ maxBatchSize: 1.5 }, /^c\.json: field 'maxBatchSize' must be "auto" or an integer >= 0, got 1\.5$/],
    [{ maxBatchSize: 'yes' }, /^c\.json: field 'maxBatchSize' must be "auto" or an integer >= 0, got "yes"$/],
    [{ instances: 0 }, /^c\.json: field 'instances' must be an integer >= 1, got 0$/],
    [{ maxQueueDelayMs: -1 }, /field 'maxQueueDelayMs' must be a number >= 0, got -1/],
    [{ timeoutMs: '5' }, /field 'timeoutMs' must be a number >= 0, got "5"/],
    [{ allowNonFinite: 1 }, /field 'allowNonFinite' must be true or false, got 1/],
    [{ device: 'gpu' }, /^c\.json: field 'device' must be one of cpu, cuda, got "gpu"$/],
    [{ maxBatchsize: 8 }, /unknown field 'maxBatchsize' \(known: maxBatchSize,/],
    [{ ann: 'faiss' }, /^c\.json: field 'ann' must be one of off, usearch, hnswlib, got "faiss"$/],
    [{ annConnectivity: 1 }, /field 'annConnectivity' must be an integer >= 2, got 1/],
  ];
  for (const [value, re] of bad) assert.throws(() => parseModelConfig(value, 'c.json'), (e: Error) => re.test(e.message) && !e.message.includes('\n'), JSON.stringify(value));
  const dir = mkdtempSync(join(tmpdir(), 'trainfer-config-'));
  writeFileSync(join(dir, 'config.json'), '{"instances": 2,');
  assert.throws(() => readModelConfig(join(dir, 'config.json')), /config\.json: not valid JSON: /);
});
