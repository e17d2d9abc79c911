// Every manifest `trainfer deploy k8s` generates validates against the Kubernetes schemas
// (kubernetes-models) and KServe's CRD schemas (ajv, strict), across option variants; a broken manifest
// fails the same validator; the manifests agree with each other and with what `trainfer serve` offers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Deployment } from 'kubernetes-types/apps/v1.js';
import type { HorizontalPodAutoscaler } from 'kubernetes-types/autoscaling/v2.js';
import { parseAllDocuments } from 'yaml';
import { DEFAULT_MODEL_CONFIG } from '../serve/config.js';
import { type K8sDeployOptions } from './options.js';
import { type K8sPlan, k8sPlan } from './k8s-plan.js';
import type { InferenceService, ServingRuntime } from './kserve.js';
import { secondsQuantity } from './kubernetes.js';
import { QUEUE_METRIC, queueTimeRule } from './prometheus-adapter.js';
import { renderPlan } from './render.js';
import type { RepositoryScan } from './repository-scan.js';
import { SERVE } from './serve-contract.js';
import { crdSource, validateManifest } from './test-validate.js';

const MB = 1024 * 1024;
function scan(models: { name: string; mb: number; instances?: number; threads?: number; timeoutMs?: number; device?: 'cpu' | 'cuda'; versions?: number }[]): RepositoryScan {
  const ms = models.map((m) => ({
    name: m.name,
    config: { ...DEFAULT_MODEL_CONFIG, instances: m.instances ?? 2, threadsPerInstance: m.threads ?? 1, timeoutMs: m.timeoutMs ?? 30000, device: m.device ?? 'cpu' },
    versions: Array.from({ length: m.versions ?? 1 }, (_, i) => ({ version: String(i + 1), bytes: m.mb * MB })),
  }));
  return { root: '/repo', models: ms, totalBytes: ms.reduce((s, m) => s + m.versions.reduce((t, v) => t + v.bytes, 0), 0) };
}

const VARIANTS: Record<string, K8sDeployOptions> = {
  defaults: { scan: scan([{ name: 'mnist', mb: 1 }]) },
  'pvc sub-path, namespace, registry image with digest': {
    scan: scan([{ name: 'mnist', mb: 3 }, { name: 'ranker', mb: 80, instances: 4, threads: 2, versions: 2 }]),
    name: 'ranking',
    namespace: 'ml-prod',
    image: `registry.example.com:5000/acme/trainfer:0.1.0@sha256:${'a'.repeat(64)}`,
    replicas: 3,
    maxReplicas: 12,
    models: { kind: 'pvc', claim: 'model-store', subPath: 'repos/ranking' },
    targetQueueMs: 2.5,
  },
  'host path, no autoscaling, fixed resources': {
    scan: scan([{ name: 'mnist', mb: 1 }]),
    models: { kind: 'host', path: '/srv/models' },
    replicas: 1,
    autoscale: false,
    cpu: '500m',
    memory: '1Gi',
  },
  'models in the image, cuda model, long timeout': {
    scan: scan([{ name: 'big', mb: 600, device: 'cuda', timeoutMs: 120000 }]),
    models: { kind: 'image', path: '/srv/models' },
    port: 9000,
  },
  'host path with a storage URI for KServe': {
    scan: scan([{ name: 'mnist', mb: 1 }]),
    models: { kind: 'host', path: '/data/models' },
    storageUri: 's3://acme-models/trainfer',
  },
};

function docs(plan: K8sPlan): { path: string; doc: Record<string, unknown> }[] {
  return plan.files.flatMap((f) => f.documents.map((doc) => ({ path: f.path, doc: doc as Record<string, unknown> })));
}
const of = <T>(plan: K8sPlan, kind: string) => docs(plan).find((d) => d.doc.kind === kind)?.doc as T | undefined;

for (const [label, options] of Object.entries(VARIANTS)) {
  test(`deploy k8s (${label}): every manifest validates, in memory and after YAML rendering`, () => {
    const plan = k8sPlan(options);
    const manifests = docs(plan).filter((d) => !d.path.startsWith('prometheus-adapter/'));
    assert.ok(manifests.length >= 3);
    for (const { path, doc } of manifests) assert.deepEqual(validateManifest(doc), [], `${path} (${String(doc.kind)})`);
    // what kubectl reads: the rendered stream, parsed back, is the same objects and still valid
    const parsed = parseAllDocuments(renderPlan(plan.files)).map((d) => {
      assert.deepEqual(d.errors, []);
      return d.toJS() as Record<string, unknown>;
    });
    assert.deepEqual(parsed, docs(plan).map((d) => d.doc));
    for (const doc of parsed.filter((d) => d.apiVersion)) assert.deepEqual(validateManifest(doc), []);
  });
}

test('deploy k8s: the set of files and kinds', () => {
  const kinds = (p: K8sPlan) => docs(p).map((d) => `${d.path}:${String(d.doc.kind ?? 'values')}`).sort();
  assert.deepEqual(kinds(k8sPlan(VARIANTS.defaults!)), [
    'kserve/inferenceservice.yaml:InferenceService',
    'kserve/servingruntime.yaml:ServingRuntime',
    'kubernetes/deployment.yaml:Deployment',
    'kubernetes/hpa.yaml:HorizontalPodAutoscaler',
    'kubernetes/pdb.yaml:PodDisruptionBudget',
    'kubernetes/service.yaml:Service',
    'monitoring/podmonitor.yaml:PodMonitor',
    'prometheus-adapter/values.yaml:values',
  ]);
  // no autoscaler, and a host path KServe cannot read: neither the HPA nor KServe objects
  const host = k8sPlan(VARIANTS['host path, no autoscaling, fixed resources']!);
  assert.deepEqual(kinds(host), ['kubernetes/deployment.yaml:Deployment', 'kubernetes/pdb.yaml:PodDisruptionBudget', 'kubernetes/service.yaml:Service', 'monitoring/podmonitor.yaml:PodMonitor']);
  assert.match(host.options.notes.join('\n'), /KServe manifests not written/);
});

test('deploy k8s: probes, drain and grace period follow trainfer serve', () => {
  const plan = k8sPlan(VARIANTS['models in the image, cuda model, long timeout']!);
  const d = of<Deployment>(plan, 'Deployment')!;
  const pod = d.spec!.template.spec!;
  const c = pod.containers[0]!;
  assert.equal(c.readinessProbe?.httpGet?.path, SERVE.readyPath);
  assert.equal(c.livenessProbe?.httpGet?.path, SERVE.livePath);
  assert.equal(c.startupProbe?.httpGet?.path, SERVE.livePath);
  // a 600 MB model loads in well under the startup budget (≥ 120 s; 600 MB / 13 MB/s ≈ 47 s)
  assert.ok(c.startupProbe!.failureThreshold! * c.startupProbe!.periodSeconds! >= 120);
  // drain covers the longest request deadline (120 s here), grace = preStop sleep + drain + margin
  assert.equal(plan.options.drainSeconds, 120);
  assert.deepEqual(c.lifecycle?.preStop?.exec?.command, ['sleep', String(plan.options.preStopSeconds)]);
  assert.equal(pod.terminationGracePeriodSeconds, plan.options.preStopSeconds + 120 + 5);
  assert.deepEqual(c.args, ['serve', '/srv/models', '--host', '0.0.0.0', '--port', '9000', '--drain-timeout-ms', '120000']);
  assert.equal(c.ports![0]!.containerPort, 9000);
  assert.equal(c.resources?.limits?.['nvidia.com/gpu'], '1');
  assert.deepEqual(pod.volumes!.map((v) => v.name), ['tmp'], 'models in the image: no models volume');
  const isvc = of<InferenceService>(plan, 'InferenceService')!;
  assert.equal(isvc.spec.predictor.terminationGracePeriodSeconds, pod.terminationGracePeriodSeconds);
  assert.equal(isvc.spec.predictor.model.storageUri, undefined);
  const rt = of<ServingRuntime>(plan, 'ServingRuntime')!;
  assert.deepEqual(rt.spec.containers[0]!.args, ['serve', '/srv/models', '--host', '0.0.0.0', '--port', '8080', '--drain-timeout-ms', '120000']);
});

test('deploy k8s: the Deployment, Service, HPA and PDB select the same pods; volumes and security', () => {
  const plan = k8sPlan(VARIANTS['pvc sub-path, namespace, registry image with digest']!);
  const d = of<Deployment>(plan, 'Deployment')!;
  const selector = d.spec!.selector.matchLabels!;
  const podLabels = d.spec!.template.metadata!.labels!;
  for (const [k, v] of Object.entries(selector)) assert.equal(podLabels[k], v);
  const svc = of<{ spec: { selector: Record<string, string>; ports: { targetPort: string; port: number }[] } }>(plan, 'Service')!;
  assert.deepEqual(svc.spec.selector, selector);
  assert.equal(svc.spec.ports[0]!.targetPort, d.spec!.template.spec!.containers[0]!.ports![0]!.name);
  for (const kind of ['PodDisruptionBudget', 'PodMonitor']) {
    assert.deepEqual(of<{ spec: { selector: { matchLabels: Record<string, string> } } }>(plan, kind)!.spec.selector.matchLabels, selector, kind);
  }
  const pm = of<{ spec: { podMetricsEndpoints: { port: string; path: string }[] } }>(plan, 'PodMonitor')!;
  assert.deepEqual([pm.spec.podMetricsEndpoints[0]!.port, pm.spec.podMetricsEndpoints[0]!.path], [svc.spec.ports[0]!.targetPort, SERVE.metricsPath]);
  for (const { doc } of docs(plan).filter((x) => x.doc.metadata)) assert.equal((doc.metadata as { namespace?: string }).namespace, 'ml-prod');
  // autoscaled: replicas left to the HPA, whose minimum is --replicas
  assert.equal(d.spec!.replicas, undefined);
  const hpa = of<HorizontalPodAutoscaler>(plan, 'HorizontalPodAutoscaler')!;
  assert.equal(hpa.spec!.minReplicas, 3);
  assert.equal(hpa.spec!.maxReplicas, 12);
  assert.equal(hpa.spec!.scaleTargetRef.name, d.metadata!.name);
  const pods = hpa.spec!.metrics!.find((m) => m.type === 'Pods')!.pods!;
  assert.equal(pods.metric.name, QUEUE_METRIC);
  assert.equal(pods.target.averageValue, '2500u');
  // the models volume: the claim, read-only, at the sub-path
  const pod = d.spec!.template.spec!;
  assert.deepEqual(pod.volumes!.find((v) => v.name === 'models')!.persistentVolumeClaim, { claimName: 'model-store', readOnly: true });
  assert.deepEqual(pod.containers[0]!.volumeMounts!.find((m) => m.name === 'models'), { name: 'models', mountPath: '/models', readOnly: true, subPath: 'repos/ranking' });
  const sc = pod.containers[0]!.securityContext!;
  assert.equal(sc.runAsNonRoot, true);
  assert.equal(sc.readOnlyRootFilesystem, true);
  assert.equal(sc.allowPrivilegeEscalation, false);
  // sized from the repository: 1 HTTP thread + 2 (mnist) + 2 versions × 4 instances × 2 threads (ranker)
  assert.equal(pod.containers[0]!.resources!.requests!.cpu, '19');
  const isvc = of<InferenceService>(plan, 'InferenceService')!;
  assert.equal(isvc.spec.predictor.model.storageUri, 'pvc://model-store/repos/ranking');
  assert.equal(isvc.spec.predictor.model.runtime, of<ServingRuntime>(plan, 'ServingRuntime')!.metadata.name);
});

test('deploy k8s: KServe runtime and service use the CRD field names (v2 protocol, onnx format, kserve-container)', () => {
  const plan = k8sPlan(VARIANTS.defaults!);
  const rt = of<ServingRuntime>(plan, 'ServingRuntime')!;
  assert.deepEqual(rt.spec.protocolVersions, ['v2']);
  assert.deepEqual(rt.spec.supportedModelFormats, [{ name: 'onnx', version: '1', autoSelect: false }]);
  assert.equal(rt.spec.containers[0]!.name, 'kserve-container');
  const isvc = of<InferenceService>(plan, 'InferenceService')!;
  assert.deepEqual(isvc.spec.predictor.model.modelFormat, { name: 'onnx', version: '1' });
  assert.equal(isvc.spec.predictor.model.protocolVersion, 'v2');
  assert.match(crdSource('serving.kserve.io/v1beta1/InferenceService'), /kserve\/kserve v0\.20\.0/);
});

test('the validator fails broken manifests (Kubernetes schema, KServe CRD schema, admission checks)', () => {
  const plan = k8sPlan(VARIANTS.defaults!);
  const d = structuredClone(of<Record<string, unknown>>(plan, 'Deployment')!) as unknown as Deployment;
  const broken = (edit: (x: Deployment) => void) => {
    const x = structuredClone(d);
    edit(x);
    return validateManifest(x);
  };
  assert.match(broken((x) => delete (x.spec!.template.spec!.containers[0] as { image?: string }).image).join('\n'), /containers\[0\]\.image: required/);
  assert.match(broken((x) => delete (x.spec!.template.spec!.containers[0] as { name?: string }).name).join('\n'), /must have required property 'name'|required property name/);
  assert.match(broken((x) => ((x.spec as { replicas?: unknown }).replicas = 'two')).join('\n'), /replicas must be integer/);
  assert.match(broken((x) => (x.spec!.template.spec!.containers[0]!.resources!.requests!.memory = 'lots')).join('\n'), /memory/);
  assert.match(broken((x) => (x.metadata!.name = 'Trainfer_Server')).join('\n'), /DNS-1123/);
  assert.match(broken((x) => delete (x.spec as { selector?: unknown }).selector).join('\n'), /selector/);

  const hpa = structuredClone(of<HorizontalPodAutoscaler>(plan, 'HorizontalPodAutoscaler')!);
  delete (hpa.spec as { maxReplicas?: number }).maxReplicas;
  assert.match(validateManifest(hpa).join('\n'), /maxReplicas/);

  const pm = structuredClone(of<{ spec: Record<string, unknown> }>(plan, 'PodMonitor')!);
  pm.spec.podMetricsEndpoints = { port: 'http' };
  assert.match(validateManifest(pm).join('\n'), /podMetricsEndpoints must be array/);

  const rt = structuredClone(of<ServingRuntime>(plan, 'ServingRuntime')!);
  (rt.spec as unknown as Record<string, unknown>).protocolVersion = ['v2']; // typo: the field is protocolVersions
  assert.match(validateManifest(rt).join('\n'), /additional properties 'protocolVersion'/);
  const rt2 = structuredClone(of<ServingRuntime>(plan, 'ServingRuntime')!);
  delete (rt2.spec as { containers?: unknown }).containers;
  assert.match(validateManifest(rt2).join('\n'), /required property 'containers'/);
  const rt3 = structuredClone(of<ServingRuntime>(plan, 'ServingRuntime')!);
  delete (rt3.spec.containers[0] as { image?: string }).image;
  assert.match(validateManifest(rt3).join('\n'), /containers\[0\]\.image: required/);
  const isvc = structuredClone(of<InferenceService>(plan, 'InferenceService')!);
  (isvc.spec.predictor.model as Record<string, unknown>).modelFormat = { version: '1' };
  (isvc.spec.predictor as Record<string, unknown>).scaleMetric = 'queue';
  const errs = validateManifest(isvc).join('\n');
  assert.match(errs, /modelFormat must have required property 'name'/);
  assert.match(errs, /scaleMetric must be equal to one of the allowed values/);
  assert.deepEqual(validateManifest({ apiVersion: 'v1', kind: 'Nonsense', metadata: { name: 'x' } }), ['unknown kind v1/Nonsense']);
});

test('the prometheus-adapter rule reads the histogram trainfer serve exports, as valid PromQL', async () => {
  const { parser } = await import('@prometheus-io/lezer-promql');
  const rule = queueTimeRule();
  assert.equal(rule.name.as, QUEUE_METRIC);
  assert.match(rule.seriesQuery, new RegExp(`^${SERVE.queueHistogram}_count\\{`));
  // the adapter fills its templates with label matchers and the group-by labels before querying
  const query = rule.metricsQuery.replaceAll('<<.LabelMatchers>>', 'namespace="ml",pod=~"a|b"').replaceAll('<<.GroupBy>>', 'pod');
  for (const q of [query, rule.seriesQuery]) {
    let errors = 0;
    parser.parse(q).iterate({ enter: (n) => void (n.type.isError && errors++) });
    assert.equal(errors, 0, q);
  }
  let broken = 0;
  parser.parse(query.slice(0, -3)).iterate({ enter: (n) => void (n.type.isError && broken++) });
  assert.ok(broken > 0, 'the PromQL check can fail');
  assert.equal(secondsQuantity(0.01), '10m');
  assert.equal(secondsQuantity(0.0025), '2500u');
});
