/**
 * The serving container and pod pieces that a plain Deployment and a KServe ServingRuntime share:
 * arguments, probes on the v2 health endpoints, resources, the drain on termination and a locked-down
 * security context that matches the image's non-root user.
 */
import type { Container, PodSecurityContext, Probe, ResourceRequirements, SecurityContext } from 'kubernetes-types/core/v1.js';
import type { ResolvedK8sOptions } from './options.js';
import { IMAGE, SERVE, serveArgs } from './serve-contract.js';

/** Labels every generated object carries; `selectorLabels` is the subset that selects the pods. */
export function objectLabels(name: string): Record<string, string> {
  return { ...selectorLabels(name), 'app.kubernetes.io/component': 'inference-server', 'app.kubernetes.io/managed-by': 'trainfer' };
}

/** The labels a Service, a PodDisruptionBudget and topology spreading select the pods by. */
export function selectorLabels(name: string): Record<string, string> {
  return { 'app.kubernetes.io/name': 'trainfer', 'app.kubernetes.io/instance': name };
}

/** Annotations for Prometheus' conventional pod discovery (`prometheus.io/*`). */
export function scrapeAnnotations(port: number): Record<string, string> {
  return { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(port), 'prometheus.io/path': SERVE.metricsPath };
}

function probe(path: string, port: string | number, o: { period: number; timeout: number; failures: number }): Probe {
  return { httpGet: { path, port }, periodSeconds: o.period, timeoutSeconds: o.timeout, failureThreshold: o.failures };
}

/**
 * The `trainfer serve` container.
 * - startup probe on liveness, allowing `resources.startupSeconds` (models load before the port opens);
 * - readiness on `/v2/health/ready` (not ready while loading or draining), liveness on `/v2/health/live`;
 * - preStop sleeps so endpoints drop the pod before SIGTERM makes the server stop accepting.
 */
export function servingContainer(r: ResolvedK8sOptions, o: { containerName: string; repositoryPath: string; portName: string }): Container {
  const port = o.portName;
  const resources: ResourceRequirements = {
    requests: { cpu: r.resources.cpuRequest, memory: r.resources.memoryRequest },
    limits: { memory: r.resources.memoryLimit, ...(r.resources.gpus > 0 ? { 'nvidia.com/gpu': String(r.resources.gpus) } : {}) },
  };
  return {
    name: o.containerName,
    image: r.image,
    imagePullPolicy: 'IfNotPresent',
    args: serveArgs({ repository: o.repositoryPath, port: r.port, drainSeconds: r.drainSeconds }),
    ports: [{ name: port, containerPort: r.port, protocol: 'TCP' }],
    env: [{ name: 'NODE_ENV', value: 'production' }],
    resources,
    startupProbe: probe(SERVE.livePath, port, { period: 2, timeout: 2, failures: Math.ceil(r.resources.startupSeconds / 2) }),
    readinessProbe: probe(SERVE.readyPath, port, { period: 5, timeout: 2, failures: 2 }),
    livenessProbe: probe(SERVE.livePath, port, { period: 10, timeout: 5, failures: 3 }),
    lifecycle: { preStop: { exec: { command: ['sleep', String(r.preStopSeconds)] } } },
    securityContext: containerSecurityContext(),
    volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
  };
}

/** Non-root, no privilege escalation, no capabilities, read-only root file system. */
export function containerSecurityContext(): SecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: IMAGE.uid,
    runAsGroup: IMAGE.gid,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** Pod-level security context: the image's user and group, group-owned volumes. */
export function podSecurityContext(): PodSecurityContext {
  return { runAsNonRoot: true, runAsUser: IMAGE.uid, runAsGroup: IMAGE.gid, fsGroup: IMAGE.gid, seccompProfile: { type: 'RuntimeDefault' } };
}
