// Image references, object names, quantities and --models sources: accepted forms and one-line errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_MODEL_CONFIG } from '../serve/config.js';
import { TrainferError } from '../util/errors.js';
import { checkDns1035Label, checkQuantity, parseImageReference } from './names.js';
import { parseRepositorySource, resolveK8sOptions } from './options.js';

const DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;

test('image references: the forms registries accept', () => {
  assert.deepEqual(parseImageReference('trainfer'), { name: 'trainfer' });
  assert.deepEqual(parseImageReference('trainfer:0.1.0'), { name: 'trainfer', tag: '0.1.0' });
  assert.deepEqual(parseImageReference('ghcr.io/acme/ml/trainfer:v1_2-rc.3'), { name: 'ghcr.io/acme/ml/trainfer', tag: 'v1_2-rc.3' });
  assert.deepEqual(parseImageReference('localhost:5000/trainfer'), { name: 'localhost:5000/trainfer' });
  assert.deepEqual(parseImageReference(`registry.example.com:443/a__b/c-d--e@${DIGEST}`), { name: 'registry.example.com:443/a__b/c-d--e', digest: DIGEST });
  assert.deepEqual(parseImageReference(`trainfer:0.1.0@${DIGEST}`), { name: 'trainfer', tag: '0.1.0', digest: DIGEST });
  assert.deepEqual(parseImageReference('[::1]:5000/trainfer:1'), { name: '[::1]:5000/trainfer', tag: '1' });
});

test('image references: bad ones are one-line errors naming the flag and the reason', () => {
  const cases: [string, RegExp][] = [
    ['', /is empty/],
    ['Trainfer:1', /must be lower-case/],
    ['ghcr.io/Acme/trainfer', /must be lower-case/],
    ['trainfer:', /tag is empty/],
    ['trainfer 1', /white space/],
    ['https://ghcr.io/acme/trainfer', /drop the scheme/],
    ['trainfer:bad/tag', /expected \[registry\/\]repository/],
    ['trainfer@sha256:abc', /expected/],
    ['-trainfer', /expected/],
    ['trainfer:' + 'x'.repeat(129), /expected/],
  ];
  for (const [ref, why] of cases) {
    assert.throws(() => parseImageReference(ref), (e: Error) => {
      assert.ok(e instanceof TrainferError, ref);
      assert.match(e.message, /^--image: '.*' is not a valid image reference: /);
      assert.match(e.message, why, ref);
      assert.doesNotMatch(e.message, /\n/);
      return true;
    });
  }
});

test('names and quantities', () => {
  assert.equal(checkDns1035Label('trainfer-mnist', '--name'), 'trainfer-mnist');
  for (const bad of ['Trainfer', '1abc', 'a_b', 'abc-', '', 'a'.repeat(64)]) assert.throws(() => checkDns1035Label(bad, '--name'), /--name: .* is not a valid name/);
  for (const ok of ['500m', '2', '1.5', '512Mi', '2Gi', '1e3', '.5']) assert.equal(checkQuantity(ok, '--cpu'), ok);
  for (const bad of ['0', 'lots', '2 Gi', '-1', '1GB', '']) assert.throws(() => checkQuantity(bad, '--memory'), /--memory: .* is not a positive Kubernetes quantity/);
});

test('--models sources', () => {
  assert.deepEqual(parseRepositorySource('pvc:models'), { kind: 'pvc', claim: 'models' });
  assert.deepEqual(parseRepositorySource('pvc:store/a/b'), { kind: 'pvc', claim: 'store', subPath: 'a/b' });
  assert.deepEqual(parseRepositorySource('host:/srv/models'), { kind: 'host', path: '/srv/models' });
  assert.deepEqual(parseRepositorySource('image'), { kind: 'image', path: '/srv/models' });
  assert.deepEqual(parseRepositorySource('image:/opt/models'), { kind: 'image', path: '/opt/models' });
  assert.throws(() => parseRepositorySource('s3://bucket'), /--models: 's3:\/\/bucket' must be pvc:<claim>/);
  assert.throws(() => parseRepositorySource('pvc:Bad_Claim'), /pvc:<claim>: 'Bad_Claim' is not a valid name/);
  assert.throws(() => parseRepositorySource('pvc:store/../etc'), /must stay inside the claim/);
  assert.throws(() => parseRepositorySource('host:relative/dir'), /host: needs an absolute path/);
});

test('resolveK8sOptions: bad numbers and URIs are one-line errors', () => {
  const scan = { root: '/r', totalBytes: 1, models: [{ name: 'm', config: { ...DEFAULT_MODEL_CONFIG }, versions: [{ version: '1', bytes: 1 }] }] };
  const cases: [object, RegExp][] = [
    [{ replicas: 0 }, /--replicas must be a positive integer, got '0'/],
    [{ replicas: 1.5 }, /--replicas must be a positive integer/],
    [{ replicas: 3, maxReplicas: 2 }, /--max-replicas must be an integer >= --replicas \(3\)/],
    [{ port: 70000 }, /--port must be an integer in 1\.\.65535/],
    [{ targetQueueMs: 0 }, /--target-queue-ms must be a number > 0/],
    [{ targetCpuPercent: 150 }, /--target-cpu-percent must be an integer in 1\.\.100/],
    [{ drainSeconds: 0 }, /--drain-seconds must be a positive integer/],
    [{ storageUri: 'ftp://x' }, /--storage-uri: 'ftp:\/\/x' must be a URI/],
    [{ namespace: 'Prod' }, /--namespace: 'Prod' is not a valid name/],
    [{ name: 'a'.repeat(46) }, /at most 45 characters/],
    [{ image: 'UPPER' }, /--image: 'UPPER' is not a valid image reference: the repository name must be lower-case/],
  ];
  for (const [o, why] of cases) assert.throws(() => resolveK8sOptions({ scan, ...o }), why);
  const r = resolveK8sOptions({ scan, drainSeconds: 10, models: { kind: 'pvc', claim: 'c' } });
  assert.match(r.notes.join('\n'), /shorter than the longest model timeoutMs \(30 s\)/);
  assert.match(r.notes.join('\n'), /PersistentVolumeClaim 'c' must exist/);
});
