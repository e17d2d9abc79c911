/**
 * `trainfer deploy k8s`: which files it writes and what goes in each. The plain-Kubernetes set and the
 * KServe set are alternatives (apply one directory or the other), sharing the prometheus-adapter rule.
 */
import { PORT_NAME, hpaManifest, deploymentManifest, podDisruptionBudgetManifest, serviceManifest } from './kubernetes.js';
import { podMonitorManifest } from './monitoring.js';
import { inferenceServiceManifest, servingRuntimeManifest } from './kserve.js';
import { type K8sDeployOptions, type ResolvedK8sOptions, resolveK8sOptions } from './options.js';
import { QUEUE_METRIC, adapterHelmValues } from './prometheus-adapter.js';
import type { PlannedFile } from './render.js';

/** The files to write, the options they were made from, and notes for the user. */
export interface K8sPlan {
  options: ResolvedK8sOptions;
  files: PlannedFile[];
}

/**
 * Builds every manifest for serving a repository on Kubernetes. Pure: reads nothing but its options.
 *
 * @example
 * const plan = k8sPlan({ scan: scanRepository({ root: 'models' }), image: 'ghcr.io/acme/trainfer:0.1.0', replicas: 3 });
 * writePlan({ files: plan.files, outDir: 'k8s' });
 */
export function k8sPlan(o: K8sDeployOptions): K8sPlan {
  const r = resolveK8sOptions(o);
  const models = r.modelNames.join(', ');
  const files: PlannedFile[] = [
    { path: 'kubernetes/deployment.yaml', comment: `trainfer serve for models ${models}.`, documents: [deploymentManifest(r)] },
    { path: 'kubernetes/service.yaml', comment: `ClusterIP Service: v2 REST, health and /metrics on port ${r.port}.`, documents: [serviceManifest(r)] },
    { path: 'kubernetes/pdb.yaml', comment: 'At most one pod down during node drains and upgrades.', documents: [podDisruptionBudgetManifest(r)] },
  ];
  if (r.autoscale) {
    files.push({
      path: 'kubernetes/hpa.yaml',
      comment: `Scales on mean queue time per request (custom metric ${QUEUE_METRIC}, needs prometheus-adapter with ../prometheus-adapter/values.yaml) and CPU.`,
      documents: [hpaManifest(r)],
    });
    files.push({
      path: 'prometheus-adapter/values.yaml',
      comment: `Helm values for prometheus-community/prometheus-adapter: serves ${QUEUE_METRIC} to the HPA.\nhelm upgrade --install prometheus-adapter prometheus-community/prometheus-adapter -f values.yaml --set prometheus.url=http://<prometheus>`,
      documents: [adapterHelmValues()],
    });
  }
  files.push({
    path: 'monitoring/podmonitor.yaml',
    comment: 'Prometheus Operator PodMonitor for the pods\' /metrics (apply where the operator runs; otherwise Prometheus finds the pods by their prometheus.io/* annotations).',
    documents: [podMonitorManifest(r, PORT_NAME)],
  });
  if (r.kserve) {
    files.push({ path: 'kserve/servingruntime.yaml', comment: 'KServe custom runtime: trainfer serve speaks the Open Inference Protocol (v2).', documents: [servingRuntimeManifest(r)] });
    files.push({ path: 'kserve/inferenceservice.yaml', comment: `KServe InferenceService for the repository at ${r.storageUri ?? 'the image'} (models ${models}).`, documents: [inferenceServiceManifest(r)] });
  }
  return { options: r, files };
}
