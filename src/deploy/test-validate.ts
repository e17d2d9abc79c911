/**
 * Test helper: validates a generated manifest the way a cluster would before admitting it.
 * - Kubernetes kinds: the official OpenAPI schemas through `kubernetes-models` (types, required fields,
 *   formats such as quantities and int-or-string); the Prometheus Operator's PodMonitor through
 *   `@kubernetes-models/prometheus-operator`.
 * - KServe kinds: the OpenAPI v3 schemas of KServe's CRDs (vendored in testdata/, see
 *   scripts/vendor-kserve-crds.mjs) through ajv, strict as the API server's `fieldValidation=Strict`:
 *   a field the schema does not declare is an error unless the schema preserves unknown fields.
 * - For every object: metadata names and labels as the API server checks them, and every container
 *   having an image (the OpenAPI schema leaves `image` optional for templates; no pod starts without one).
 * Returns the problems, empty when valid.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { Ajv, type ValidateFunction } from 'ajv';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Job } from 'kubernetes-models/batch/v1';
import { Service } from 'kubernetes-models/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';

type ModelClass = new (data: never) => { validate(): void };
const KUBERNETES: Record<string, ModelClass> = {
  'apps/v1/Deployment': Deployment as unknown as ModelClass,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler as unknown as ModelClass,
  'batch/v1/Job': Job as unknown as ModelClass,
  'v1/Service': Service as unknown as ModelClass,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget as unknown as ModelClass,
  // the Prometheus Operator's CRD schema, as @kubernetes-models/prometheus-operator ships it
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor as unknown as ModelClass,
};

const CRD_SCHEMAS: Record<string, string> = {
  'serving.kserve.io/v1alpha1/ServingRuntime': 'kserve-servingruntimes-v1alpha1.schema.json.gz',
  'serving.kserve.io/v1beta1/InferenceService': 'kserve-inferenceservices-v1beta1.schema.json.gz',
};

function testdata(name: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!readdirHasPackageJson(dir)) dir = dirname(dir);
  return join(dir, 'src', 'deploy', 'testdata', name);
}

function readdirHasPackageJson(dir: string): boolean {
  try {
    readFileSync(join(dir, 'package.json'));
    return true;
  } catch {
    return dir === dirname(dir);
  }
}

/** Where a vendored CRD schema came from (its `source` line). */
export function crdSource(key: keyof typeof CRD_SCHEMAS | string): string {
  return loadCrd(key).source;
}

const crdCache = new Map<string, { source: string; validate: ValidateFunction }>();
function loadCrd(key: string): { source: string; validate: ValidateFunction } {
  let c = crdCache.get(key);
  if (c) return c;
  const file = CRD_SCHEMAS[key];
  if (!file) throw new Error(`no vendored CRD schema for ${key}`);
  const doc = JSON.parse(gunzipSync(readFileSync(testdata(file))).toString('utf8')) as { source: string; schema: object };
  // code.optimize off and repeated sub-schemas shared (`shareRepeated`): the InferenceService schema
  // (640 KB, the pod spec repeated for every predictor kind) compiles in ~0.4 s instead of 2.5–5 s
  const ajv = new Ajv({ allErrors: true, strict: false, code: { optimize: false } });
  ajv.addKeyword({
    keyword: 'x-kubernetes-int-or-string',
    validate: (on: boolean, data: unknown) => !on || typeof data === 'string' || Number.isInteger(data),
    errors: false,
  });
  for (const k of ['x-kubernetes-list-type', 'x-kubernetes-list-map-keys', 'x-kubernetes-map-type', 'x-kubernetes-preserve-unknown-fields', 'x-kubernetes-embedded-resource']) ajv.addKeyword({ keyword: k });
  ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isSafeInteger(n) });
  ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
  c = { source: doc.source, validate: ajv.compile(shareRepeated(strictStructural(doc.schema) as Schema)) };
  crdCache.set(key, c);
  return c;
}

/**
 * A copy of a structural schema in which every object with declared `properties` refuses other fields,
 * unless it says `x-kubernetes-preserve-unknown-fields` or has its own `additionalProperties`.
 */
function strictStructural(schema: unknown): unknown {
  if (!schema || typeof schema !== 'object' || Array.isArray(schema)) return schema;
  const s = { ...(schema as Record<string, unknown>) };
  if (s.properties) s.properties = Object.fromEntries(Object.entries(s.properties as Record<string, unknown>).map(([k, v]) => [k, strictStructural(v)]));
  if (s.items) s.items = strictStructural(s.items);
  if (s.additionalProperties && typeof s.additionalProperties === 'object') s.additionalProperties = strictStructural(s.additionalProperties);
  for (const k of ['anyOf', 'oneOf', 'allOf'] as const) if (Array.isArray(s[k])) s[k] = (s[k] as unknown[]).map(strictStructural);
  if (s.not) s.not = strictStructural(s.not);
  if (s.properties && s.additionalProperties === undefined && s['x-kubernetes-preserve-unknown-fields'] !== true) s.additionalProperties = false;
  return s;
}

type Schema = Record<string, unknown>;

/**
 * The same schema with every sub-schema that occurs more than once (and is not tiny) moved to `$defs`
 * and referenced: identical sub-schemas validate identically, and ajv then compiles each once.
 */
function shareRepeated(root: Schema, minLength = 200): Schema {
  const counts = new Map<string, number>();
  const count = (s: unknown): void => {
    if (!s || typeof s !== 'object') return;
    const j = JSON.stringify(s);
    if (j.length >= minLength) counts.set(j, (counts.get(j) ?? 0) + 1);
    for (const v of Object.values(s)) count(v);
  };
  count(root);
  const defs: Record<string, Schema> = {};
  const names = new Map<string, string>();
  const sub = (s: Schema): Schema => {
    const j = JSON.stringify(s);
    if ((counts.get(j) ?? 0) < 2) return inner(s);
    let name = names.get(j);
    if (!name) {
      name = `s${names.size}`;
      names.set(j, name);
      defs[name] = inner(s);
    }
    return { $ref: `#/$defs/${name}` };
  };
  // only schema positions are shared; `enum`, `default`, `required` and the like are values
  const inner = (s: Schema): Schema => {
    const o: Schema = {};
    for (const [k, v] of Object.entries(s)) {
      if (k === 'properties') o[k] = Object.fromEntries(Object.entries(v as Record<string, Schema>).map(([p, ps]) => [p, sub(ps)]));
      else if ((k === 'items' || k === 'additionalProperties' || k === 'not') && v && typeof v === 'object') o[k] = sub(v as Schema);
      else if (k === 'anyOf' || k === 'oneOf' || k === 'allOf') o[k] = (v as Schema[]).map(sub);
      else o[k] = v;
    }
    return o;
  };
  const out = inner(root);
  return names.size > 0 ? { ...out, $defs: defs } : out;
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUALIFIED_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

function checkMetadata(doc: Record<string, unknown>, problems: string[]): void {
  const m = doc.metadata as Record<string, unknown> | undefined;
  if (!m || typeof m !== 'object') return void problems.push('metadata: required');
  const name = m.name;
  if (typeof name !== 'string' || name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) problems.push(`metadata.name: '${String(name)}' is not a DNS-1123 subdomain`);
  if (doc.kind === 'Service' && typeof name === 'string' && !/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(name)) problems.push(`metadata.name: Service name '${name}' is not a DNS-1035 label`);
  if (m.namespace !== undefined && (typeof m.namespace !== 'string' || m.namespace.length > 63 || !DNS1123_LABEL.test(m.namespace))) problems.push(`metadata.namespace: '${String(m.namespace)}' is not a DNS-1123 label`);
  for (const field of ['labels', 'annotations'] as const) {
    const map = m[field];
    if (map === undefined) continue;
    for (const [k, v] of Object.entries(map as Record<string, unknown>)) {
      if (!QUALIFIED_NAME.test(k) || k.split('/').pop()!.length > 63) problems.push(`metadata.${field}: bad key '${k}'`);
      if (typeof v !== 'string') problems.push(`metadata.${field}.${k}: must be a string, got ${typeof v}`);
      else if (field === 'labels' && (v.length > 63 || !LABEL_VALUE.test(v))) problems.push(`metadata.labels.${k}: bad value '${v}'`);
    }
  }
}

/** Every container list in the object (pod templates, ServingRuntime containers), with its path. */
function containerLists(doc: unknown, path = ''): { path: string; containers: unknown[] }[] {
  if (!doc || typeof doc !== 'object') return [];
  const out: { path: string; containers: unknown[] }[] = [];
  for (const [k, v] of Object.entries(doc)) {
    if ((k === 'containers' || k === 'initContainers') && Array.isArray(v)) out.push({ path: `${path}${k}`, containers: v });
    else if (v && typeof v === 'object') out.push(...containerLists(v, `${path}${k}.`));
  }
  return out;
}

/** Validates one manifest. Returns the problems (empty when the object would be admitted). */
export function validateManifest(doc: unknown): string[] {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return ['not an object'];
  const d = doc as Record<string, unknown>;
  const key = `${String(d.apiVersion)}/${String(d.kind)}`;
  const problems: string[] = [];
  const Model = KUBERNETES[key];
  if (Model) {
    try {
      new Model(doc as never).validate();
    } catch (err) {
      problems.push(...(err as Error).message.split(', '));
    }
  } else if (CRD_SCHEMAS[key]) {
    const { validate } = loadCrd(key);
    if (!validate(doc)) for (const e of validate.errors ?? []) problems.push(`${e.instancePath || '/'} ${e.message ?? ''}${e.keyword === 'additionalProperties' ? ` '${String(e.params.additionalProperty)}'` : ''}`);
  } else {
    return [`unknown kind ${key}`];
  }
  checkMetadata(d, problems);
  for (const list of containerLists(d.spec, 'spec.')) {
    list.containers.forEach((c, i) => {
      const image = (c as { image?: unknown }).image;
      if (typeof image !== 'string' || image.trim() === '') problems.push(`${list.path}[${i}].image: required`);
    });
  }
  return problems;
}
