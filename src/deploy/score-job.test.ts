// `trainfer deploy job`: the Indexed Job and merge Job validate against the Kubernetes schemas, pass
// each pod its shard, and run `trainfer score` as issue 16 specifies it (checked against the real
// command as soon as it exists).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Job } from 'kubernetes-types/batch/v1.js';
import { buildProgram } from '../cli/main.js';
import { SCORE, scoreJobPlan } from './score-job.js';
import { validateManifest } from './test-validate.js';

const BASE = { model: 'models/mnist/1/model.onnx', input: 'data/test.jsonl', out: 'scores/run-1', shards: 8, claim: 'scoring' };

test('deploy job: an Indexed Job of N shards and a merge Job, both valid', () => {
  const plan = scoreJobPlan({ ...BASE, parallelism: 3, batchSize: 512, namespace: 'batch', image: 'ghcr.io/acme/trainfer:0.1.0' });
  const [job, merge] = plan.files.map((f) => f.documents[0] as Job);
  for (const j of [job!, merge!]) assert.deepEqual(validateManifest(j), []);
  assert.equal(job!.spec!.completionMode, 'Indexed');
  assert.equal(job!.spec!.completions, 8);
  assert.equal(job!.spec!.parallelism, 3);
  assert.equal(job!.spec!.template.spec!.restartPolicy, 'Never', 'backoffLimitPerIndex needs restartPolicy Never');
  const c = job!.spec!.template.spec!.containers[0]!;
  assert.deepEqual(c.args, ['score', '/data/models/mnist/1/model.onnx', '--input', '/data/data/test.jsonl', '--out', '/data/scores/run-1', '--shard', '$(SHARD_INDEX)/8', '--batch-size', '512']);
  // $(SHARD_INDEX) is expanded by the kubelet from the container's env: the pod's completion index
  assert.equal(c.env!.find((e) => e.name === 'SHARD_INDEX')!.valueFrom!.fieldRef!.fieldPath, "metadata.annotations['batch.kubernetes.io/job-completion-index']");
  assert.deepEqual(merge!.spec!.template.spec!.containers[0]!.args, ['score', '--merge', '/data/scores/run-1', '--shards', '8']);
  assert.equal(merge!.metadata!.name, `${plan.jobName}-merge`);
  assert.equal(job!.metadata!.namespace, 'batch');
  const broken = structuredClone(job!);
  (broken.spec as { completions: unknown }).completions = '8';
  assert.match(validateManifest(broken).join('\n'), /completions must be integer/);
});

test('deploy job: bad input is a one-line error', () => {
  const cases: [object, RegExp][] = [
    [{ shards: 0 }, /--shards must be a positive integer, got '0'/],
    [{ parallelism: -1 }, /--parallelism must be a positive integer/],
    [{ input: '/abs/data.csv' }, /--input: '\/abs\/data\.csv' must be a path inside the data volume/],
    [{ model: '../model.onnx' }, /<model>: '\.\.\/model\.onnx' must be a path inside the data volume/],
    [{ claim: 'Bad' }, /--data pvc:<claim>: 'Bad' is not a valid name/],
    [{ image: 'a b' }, /--image: 'a b' is not a valid image reference/],
    [{ memory: 'big' }, /--memory: 'big' is not a positive Kubernetes quantity/],
  ];
  for (const [o, re] of cases) assert.throws(() => scoreJobPlan({ ...BASE, ...o }), re);
});

test('deploy job: the command lines match trainfer score once it exists', () => {
  const score = buildProgram().commands.find((c) => c.name() === 'score');
  const flags = [...SCORE.shardArgs({ model: 'm', input: 'i', out: 'o', shard: '0/1', batchSize: 1 }), ...SCORE.mergeArgs({ out: 'o', shards: 1 })].filter((a) => a.startsWith('--'));
  assert.deepEqual([...new Set(flags)].sort(), ['--batch-size', '--input', '--merge', '--out', '--shard', '--shards']);
  assert.ok(score, 'trainfer score is registered');
  const longs = new Set(score.options.map((o) => o.long));
  for (const f of flags) assert.ok(longs.has(f), `trainfer score has no ${f}: update SCORE in src/deploy/score-job.ts`);
});
