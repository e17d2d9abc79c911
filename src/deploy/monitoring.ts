/**
 * A Prometheus Operator `PodMonitor` (monitoring.coreos.com/v1) that scrapes the serving pods' /metrics.
 * The operator labels every series with `namespace` and `pod`, which the prometheus-adapter rule maps
 * to the pods the autoscaler asks about. Optional: clusters without the operator scrape through the
 * pods' `prometheus.io/*` annotations instead.
 */
import type { LabelSelector, ObjectMeta } from 'kubernetes-types/meta/v1.js';
import type { ResolvedK8sOptions } from './options.js';
import { objectLabels, selectorLabels } from './pod.js';
import { SERVE } from './serve-contract.js';

/** monitoring.coreos.com/v1 PodMonitor (the fields Trainfer sets). */
export interface PodMonitor {
  apiVersion: 'monitoring.coreos.com/v1';
  kind: 'PodMonitor';
  metadata: ObjectMeta;
  spec: {
    selector: LabelSelector;
    podMetricsEndpoints: { port: string; path: string; interval: string; scrapeTimeout?: string }[];
  };
}

/** Scrapes port `portName` of the pods every 15 s. */
export function podMonitorManifest(r: ResolvedK8sOptions, portName: string): PodMonitor {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PodMonitor',
    metadata: { name: r.name, ...(r.namespace === undefined ? {} : { namespace: r.namespace }), labels: objectLabels(r.name) },
    spec: { selector: { matchLabels: selectorLabels(r.name) }, podMetricsEndpoints: [{ port: portName, path: SERVE.metricsPath, interval: '15s', scrapeTimeout: '10s' }] },
  };
}
