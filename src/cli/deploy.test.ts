// `trainfer deploy k8s` as a real process: writes manifests that validate, prints them with --out -,
// replaces its own stale files only, and answers bad input with one line and exit 1.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { validateManifest } from '../deploy/test-validate.js';
import { main } from './main.js';
import { addToRepository, mnistMlp } from '../serve/example-models.js';

const self = fileURLToPath(import.meta.url);
const isTs = self.endsWith('.ts');
const mainFile = join(self, '..', isTs ? 'main.ts' : 'main.js');
const run = (args: string[]) => spawnSync(process.execPath, [...(isTs ? ['--import', 'tsx'] : []), mainFile, ...args], { encoding: 'utf8' });

/** Runs the CLI in this process (a process start costs ~0.7 s, most of it loading onnxruntime). */
async function runHere(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const { stdout, stderr } = process;
  const w = (sink: string[]) => ((chunk: string | Uint8Array) => (sink.push(String(chunk)), true)) as typeof process.stdout.write;
  const [o, e] = [stdout.write, stderr.write];
  stdout.write = w(out);
  stderr.write = w(err);
  try {
    const status = await main(args);
    return { status, stdout: out.join(''), stderr: err.join('') };
  } finally {
    stdout.write = o;
    stderr.write = e;
  }
}

let dir: string;
let repo: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'trainfer-cli-deploy-'));
  repo = join(dir, 'models');
  addToRepository({ repo, name: 'mnist', model: mnistMlp({ seed: 1, hidden: [16] }), config: { instances: 2 } });
});
after(() => rmSync(dir, { recursive: true, force: true }));

function yamlFiles(d: string): string[] {
  return readdirSync(d, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.yaml')).sort();
}

test('deploy k8s writes the manifests; each validates; a rerun removes only its own stale files', async () => {
  const out = join(dir, 'k8s');
  const r = run(['deploy', 'k8s', repo, '--out', out, '--image', 'ghcr.io/acme/trainfer:0.1.0', '--replicas', '3', '--namespace', 'ml']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /wrote 8 files .* for mnist \(3–12 replicas; cpu 3, memory \d+Mi request/);
  assert.match(r.stderr, /kubectl apply -f .*kubernetes\//);
  assert.deepEqual(yamlFiles(out), ['kserve/inferenceservice.yaml', 'kserve/servingruntime.yaml', 'kubernetes/deployment.yaml', 'kubernetes/hpa.yaml', 'kubernetes/pdb.yaml', 'kubernetes/service.yaml', 'monitoring/podmonitor.yaml', 'prometheus-adapter/values.yaml']);
  // Kubernetes kinds validated here; KServe kinds (a 1.5 s schema compile) in src/deploy/k8s-plan.test.ts
  for (const f of yamlFiles(out).filter((x) => !x.startsWith('prometheus-adapter'))) {
    for (const d of parseAllDocuments(readFileSync(join(out, f), 'utf8'))) {
      const doc = d.toJS() as { metadata: { namespace: string } };
      if (!f.startsWith('kserve/')) assert.deepEqual(validateManifest(doc), [], f);
      assert.equal(doc.metadata.namespace, 'ml');
    }
  }
  writeFileSync(join(out, 'kubernetes', 'ingress.yaml'), 'kind: Ingress # the user\'s own\n');
  const again = await runHere(['deploy', 'k8s', repo, '--out', out, '--no-autoscale', '--models', 'host:/srv/models']);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stderr, /note: KServe manifests not written/);
  assert.deepEqual(yamlFiles(out), ['kubernetes/deployment.yaml', 'kubernetes/ingress.yaml', 'kubernetes/pdb.yaml', 'kubernetes/service.yaml', 'monitoring/podmonitor.yaml']);
  const dep = parseAllDocuments(readFileSync(join(out, 'kubernetes', 'deployment.yaml'), 'utf8'))[0]!.toJS() as { spec: { replicas: number } };
  assert.equal(dep.spec.replicas, 2, 'without an autoscaler the Deployment pins --replicas');
});

test('deploy k8s --out - prints every manifest as one YAML stream', async () => {
  const r = await runHere(['deploy', 'k8s', repo, '--out', '-']);
  assert.equal(r.status, 0, r.stderr);
  const docs = parseAllDocuments(r.stdout).map((d) => d.toJS() as { kind?: string; apiVersion?: string });
  assert.deepEqual(docs.map((d) => d.kind ?? 'values'), ['Deployment', 'Service', 'PodDisruptionBudget', 'HorizontalPodAutoscaler', 'values', 'PodMonitor', 'ServingRuntime', 'InferenceService']);
  for (const d of docs.filter((x) => x.apiVersion && !x.apiVersion.includes('kserve'))) assert.deepEqual(validateManifest(d), []);
});

test('deploy k8s: bad input is one line on stderr and exit 1, nothing written', async () => {
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  const cases: [string[], RegExp][] = [
    [['deploy', 'k8s', empty], /^trainfer: .*empty: no models in the repository; expected <repo>\/<model>\/<version>\/model\.onnx/],
    [['deploy', 'k8s', join(dir, 'nope')], /^trainfer: .*nope: model repository is not a directory/],
    [['deploy', 'k8s', repo, '--replicas', '0'], /^trainfer: --replicas must be a positive integer, got '0'/],
    [['deploy', 'k8s', repo, '--replicas', 'two'], /^trainfer: --replicas must be a number, got 'two'/],
    [['deploy', 'k8s', repo, '--image', 'Acme/Trainfer:latest'], /^trainfer: --image: 'Acme\/Trainfer:latest' is not a valid image reference: the repository name must be lower-case/],
    [['deploy', 'k8s', repo, '--image', 'trainfer:'], /^trainfer: --image: 'trainfer:' is not a valid image reference: the tag is empty/],
    [['deploy', 'k8s', repo, '--models', 'nfs:server'], /^trainfer: --models: 'nfs:server' must be pvc:<claim>/],
    [['deploy', 'k8s', repo, '--memory', '2GB'], /^trainfer: --memory: '2GB' is not a positive Kubernetes quantity/],
    [['deploy', 'k8s', repo, '--name', 'My_Server'], /^trainfer: --name: 'My_Server' is not a valid name/],
  ];
  for (const [i, [args, re]] of cases.entries()) {
    const out = join(dir, 'never');
    // the first case as a real process (exit status, stderr), the rest in this process
    const r = i === 0 ? run([...args, '--out', out]) : await runHere([...args, '--out', out]);
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.equal(existsSync(out), false);
  }
});

test('deploy job writes the score and merge Jobs; bad --data is one line', async () => {
  const out = join(dir, 'jobs');
  const r = await runHere(['deploy', 'job', 'models/mnist/1/model.onnx', '--input', 'data/test.csv', '--scores', 'scores/a', '--shards', '4', '--data', 'pvc:scoring', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(yamlFiles(out), ['job/merge.yaml', 'job/score.yaml']);
  for (const f of yamlFiles(out)) assert.deepEqual(validateManifest(parseAllDocuments(readFileSync(join(out, f), 'utf8'))[0]!.toJS()), [], f);
  assert.match(r.stderr, /kubectl wait --for=condition=complete job\/trainfer-score/);
  const bad = await runHere(['deploy', 'job', 'm.onnx', '--input', 'd.csv', '--scores', 's', '--shards', '2', '--data', 'nfs:server', '--out', join(dir, 'never')]);
  assert.equal(bad.status, 1);
  assert.equal(bad.stderr, "trainfer: --data: 'nfs:server' must be pvc:<claim>\n");
});
