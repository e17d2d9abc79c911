/**
 * The prometheus-adapter rule that turns `trainfer serve`'s queue-time histogram into the per-pod custom
 * metric the HorizontalPodAutoscaler reads (custom.metrics.k8s.io/v1beta1, pods/<QUEUE_METRIC>): the
 * mean seconds each request waited for a model instance over the last minute. Rendered as values for
 * the prometheus-community/prometheus-adapter Helm chart (`rules.custom`).
 */
import { SERVE } from './serve-contract.js';

/** The custom metric's name as the HPA asks for it. */
export const QUEUE_METRIC = 'trainfer_queue_seconds_per_request';

/** One prometheus-adapter discovery rule (its config file's `rules[]` entry). */
export interface AdapterRule {
  seriesQuery: string;
  resources: { overrides: Record<string, { resource: string }> };
  name: { matches: string; as: string };
  metricsQuery: string;
}

/**
 * The rule. `<<.LabelMatchers>>` and `<<.GroupBy>>` are the adapter's template fields (it fills in the
 * namespace and pod the HPA asks about). Requires Prometheus to attach `namespace` and `pod` labels to
 * the scraped series, which kube-prometheus' ServiceMonitors/PodMonitors and the usual
 * `kubernetes_sd_configs` relabelling do. Idle pods read 0 rather than NaN (`clamp_min` on the rate).
 */
export function queueTimeRule(o: { window?: string } = {}): AdapterRule {
  const window = o.window ?? '1m';
  const h = SERVE.queueHistogram;
  return {
    seriesQuery: `${h}_count{namespace!="",pod!=""}`,
    resources: { overrides: { namespace: { resource: 'namespace' }, pod: { resource: 'pod' } } },
    name: { matches: `^${h}_count$`, as: QUEUE_METRIC },
    metricsQuery:
      `sum by (<<.GroupBy>>) (rate(${h}_sum{<<.LabelMatchers>>}[${window}]))` +
      ` / clamp_min(sum by (<<.GroupBy>>) (rate(${h}_count{<<.LabelMatchers>>}[${window}])), 1e-9)`,
  };
}

/** Helm values for prometheus-community/prometheus-adapter that add the rule. */
export function adapterHelmValues(): { rules: { custom: AdapterRule[] } } {
  return { rules: { custom: [queueTimeRule()] } };
}
