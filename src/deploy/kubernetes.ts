/**
 * Plain Kubernetes objects for `trainfer serve`: a Deployment, its Service, a HorizontalPodAutoscaler on
 * the mean queue time per request (a custom metric served by prometheus-adapter, see
 * prometheus-adapter.ts) and CPU, and a PodDisruptionBudget. Pure functions of the resolved options.
 */
import type { Deployment } from 'kubernetes-types/apps/v1.js';
import type { HorizontalPodAutoscaler } from 'kubernetes-types/autoscaling/v2.js';
import type { Service, Volume } from 'kubernetes-types/core/v1.js';
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import type { PodDisruptionBudget } from 'kubernetes-types/policy/v1.js';
import { type ResolvedK8sOptions, repositoryPathInPod } from './options.js';
import { objectLabels, podSecurityContext, scrapeAnnotations, selectorLabels, servingContainer } from './pod.js';
import { QUEUE_METRIC } from './prometheus-adapter.js';
import { IMAGE } from './serve-contract.js';

/** The port name the Service and the probes use. */
export const PORT_NAME = 'http';

function meta(r: ResolvedK8sOptions, name = r.name): ObjectMeta {
  return { name, ...(r.namespace === undefined ? {} : { namespace: r.namespace }), labels: objectLabels(r.name) };
}

/** The model repository volume of the pod (none when the models are in the image). */
function modelVolumes(r: ResolvedK8sOptions): { volumes: Volume[]; mounts: { name: string; mountPath: string; readOnly: boolean; subPath?: string }[] } {
  const m = r.models;
  if (m.kind === 'image') return { volumes: [], mounts: [] };
  const mount = { name: 'models', mountPath: IMAGE.modelsPath, readOnly: true };
  if (m.kind === 'pvc') {
    return { volumes: [{ name: 'models', persistentVolumeClaim: { claimName: m.claim, readOnly: true } }], mounts: [m.subPath ? { ...mount, subPath: m.subPath } : mount] };
  }
  return { volumes: [{ name: 'models', hostPath: { path: m.path, type: 'Directory' } }], mounts: [mount] };
}

/**
 * The Deployment. With autoscaling on, `spec.replicas` is left out so that re-applying the manifest does
 * not reset what the HorizontalPodAutoscaler chose (Kubernetes' advice); the autoscaler's minimum
 * brings a new Deployment to `replicas`.
 */
export function deploymentManifest(r: ResolvedK8sOptions): Deployment {
  const container = servingContainer(r, { containerName: 'trainfer', repositoryPath: repositoryPathInPod(r.models), portName: PORT_NAME });
  const { volumes, mounts } = modelVolumes(r);
  container.volumeMounts = [...(container.volumeMounts ?? []), ...mounts];
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(r),
    spec: {
      ...(r.autoscale ? {} : { replicas: r.replicas }),
      selector: { matchLabels: selectorLabels(r.name) },
      // keep full capacity during a rollout: a new pod must be ready before an old one goes
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels: objectLabels(r.name), annotations: scrapeAnnotations(r.port) },
        spec: {
          terminationGracePeriodSeconds: r.terminationGracePeriodSeconds,
          securityContext: podSecurityContext(),
          automountServiceAccountToken: false,
          containers: [container],
          volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }, ...volumes],
          topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: selectorLabels(r.name) } }],
        },
      },
    },
  };
}

/** A ClusterIP Service in front of the pods' HTTP port (inference, health and metrics). */
export function serviceManifest(r: ResolvedK8sOptions): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(r),
    spec: { type: 'ClusterIP', selector: selectorLabels(r.name), ports: [{ name: PORT_NAME, port: r.port, targetPort: PORT_NAME, protocol: 'TCP' }] },
  };
}

/** Formats seconds as a Kubernetes quantity without rounding to zero (0.01 → `10m`, 0.0025 → `2500u`). */
export function secondsQuantity(seconds: number): string {
  const ms = seconds * 1000;
  if (Number.isInteger(ms)) return `${ms}m`;
  return `${Math.max(1, Math.round(seconds * 1e6))}u`;
}

/**
 * autoscaling/v2 HPA. Two signals; the HPA follows whichever asks for more pods:
 * - `Pods` metric `trainfer_queue_seconds_per_request` (custom.metrics.k8s.io via prometheus-adapter):
 *   the mean time requests waited for a model instance — it rises as soon as the instances saturate;
 * - CPU utilisation of the request (metrics-server), a fallback that needs nothing but the cluster.
 * Scale-up is immediate (double or +4 pods per 30 s); scale-down waits 5 minutes and halves at most.
 */
export function hpaManifest(r: ResolvedK8sOptions): HorizontalPodAutoscaler {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: meta(r),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: r.name },
      minReplicas: r.replicas,
      maxReplicas: r.maxReplicas,
      metrics: [
        { type: 'Pods', pods: { metric: { name: QUEUE_METRIC }, target: { type: 'AverageValue', averageValue: secondsQuantity(r.targetQueueMs / 1000) } } },
        { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: r.targetCpuPercent } } },
      ],
      behavior: {
        scaleUp: { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 30 }, { type: 'Pods', value: 4, periodSeconds: 30 }] },
        scaleDown: { stabilizationWindowSeconds: 300, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 50, periodSeconds: 60 }] },
      },
    },
  };
}

/** At most one pod down at a time for voluntary disruptions (node drains, upgrades). */
export function podDisruptionBudgetManifest(r: ResolvedK8sOptions): PodDisruptionBudget {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta(r),
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(r.name) } },
  };
}
