/**
 * KServe objects that run `trainfer serve` as a custom Open Inference Protocol (v2) runtime: a
 * `ServingRuntime` (serving.kserve.io/v1alpha1) for the `onnx` model format and an `InferenceService`
 * (serving.kserve.io/v1beta1) that selects it. The types cover the fields used here, named as in
 * KServe's CRDs (v0.20.0; the tests validate against those CRDs' OpenAPI schemas).
 */
import type { Container, Volume } from 'kubernetes-types/core/v1.js';
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import type { ResolvedK8sOptions } from './options.js';
import { objectLabels, servingContainer } from './pod.js';
import { SERVE } from './serve-contract.js';

/** A model format a runtime declares it serves. */
export interface SupportedModelFormat {
  name: string;
  version?: string;
  autoSelect?: boolean;
  priority?: number;
}

/** serving.kserve.io/v1alpha1 ServingRuntime (the fields Trainfer sets). */
export interface ServingRuntime {
  apiVersion: 'serving.kserve.io/v1alpha1';
  kind: 'ServingRuntime';
  metadata: ObjectMeta;
  spec: {
    supportedModelFormats: SupportedModelFormat[];
    protocolVersions: string[];
    multiModel?: boolean;
    annotations?: Record<string, string>;
    containers: Container[];
    volumes?: Volume[];
  };
}

/** serving.kserve.io/v1beta1 InferenceService (the fields Trainfer sets). */
export interface InferenceService {
  apiVersion: 'serving.kserve.io/v1beta1';
  kind: 'InferenceService';
  metadata: ObjectMeta;
  spec: {
    predictor: {
      minReplicas?: number;
      maxReplicas?: number;
      scaleMetric?: 'cpu' | 'memory' | 'concurrency' | 'rps';
      scaleTarget?: number;
      terminationGracePeriodSeconds?: number;
      model: {
        modelFormat: { name: string; version?: string };
        runtime?: string;
        protocolVersion?: string;
        storageUri?: string;
      };
    };
  };
}

/** Where KServe's storage initializer puts the model (`storageUri` contents). */
export const KSERVE_MODEL_DIR = '/mnt/models';
/** KServe's default HTTP port for a runtime's container (and the name Knative expects on it). */
const KSERVE_PORT = 8080;
const KSERVE_PORT_NAME = 'http1';

function meta(r: ResolvedK8sOptions, extra: Partial<ObjectMeta> = {}): ObjectMeta {
  return { name: r.name, ...(r.namespace === undefined ? {} : { namespace: r.namespace }), labels: objectLabels(r.name), ...extra };
}

/**
 * The runtime. `autoSelect: false`: an `onnx` InferenceService uses it only when it names it (KServe's
 * Triton runtime also claims `onnx`). The container is `kserve-container`, as KServe requires, serving
 * the repository that the storage initializer put in /mnt/models (or the one baked into the image).
 */
export function servingRuntimeManifest(r: ResolvedK8sOptions): ServingRuntime {
  const repositoryPath = r.models.kind === 'image' && r.storageUri === undefined ? r.models.path : KSERVE_MODEL_DIR;
  const container = servingContainer({ ...r, port: KSERVE_PORT }, { containerName: 'kserve-container', repositoryPath, portName: KSERVE_PORT_NAME });
  // KServe mounts /mnt/models itself; /tmp stays writable through an emptyDir of the runtime.
  return {
    apiVersion: 'serving.kserve.io/v1alpha1',
    kind: 'ServingRuntime',
    metadata: meta(r, { annotations: { 'serving.kserve.io/server-type': 'trainfer' } }),
    spec: {
      supportedModelFormats: [{ name: 'onnx', version: '1', autoSelect: false }],
      protocolVersions: ['v2'],
      multiModel: false,
      annotations: { 'prometheus.kserve.io/port': String(KSERVE_PORT), 'prometheus.kserve.io/path': SERVE.metricsPath },
      containers: [container],
      volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }],
    },
  };
}

/**
 * The InferenceService: the repository at `storageUri` served by the runtime above, in KServe's
 * raw-deployment mode (a Deployment + HPA, no Knative; `RawDeployment`, which KServe ≥ 0.20 reads as
 * `Standard`). KServe's HPA there scales on CPU only; queue-time scaling is the plain manifests' job.
 */
export function inferenceServiceManifest(r: ResolvedK8sOptions): InferenceService {
  return {
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: meta(r, { annotations: { 'serving.kserve.io/deploymentMode': 'RawDeployment', 'serving.kserve.io/enable-prometheus-scraping': 'true' } }),
    spec: {
      predictor: {
        minReplicas: r.replicas,
        maxReplicas: r.maxReplicas,
        scaleMetric: 'cpu',
        scaleTarget: r.targetCpuPercent,
        terminationGracePeriodSeconds: r.terminationGracePeriodSeconds,
        model: {
          modelFormat: { name: 'onnx', version: '1' },
          runtime: r.name,
          protocolVersion: 'v2',
          ...(r.storageUri === undefined ? {} : { storageUri: r.storageUri }),
        },
      },
    },
  };
}
