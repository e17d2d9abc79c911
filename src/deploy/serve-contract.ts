/**
 * What the generated manifests rely on `trainfer serve` (and the container image) to offer: the port,
 * the health and metrics paths, the metric families the autoscaler reads, the drain on SIGTERM, and the
 * paths and user inside the image. One place, checked against the real server and CLI by
 * serve-contract.test.ts, so a rename in src/serve fails a test instead of a rollout.
 */

/** The server side of the contract. */
export const SERVE = {
  /** `trainfer serve --port` default, and the port the image exposes. */
  defaultPort: 8000,
  /** Liveness: 200 while the process serves HTTP. */
  livePath: '/v2/health/live',
  /** Readiness: 200 once every model is loaded; not 200 while draining. */
  readyPath: '/v2/health/ready',
  /** Prometheus exposition. */
  metricsPath: '/metrics',
  /**
   * Histogram of the time each successful request waited in the batching queue (seconds). Its
   * `_sum`/`_count` give the mean queue time per request: the autoscaling signal.
   */
  queueHistogram: 'trainfer_inference_queue_duration_seconds',
  /** Counter of successful requests (for dashboards and the docs' queries). */
  successCounter: 'trainfer_inference_request_success',
  /**
   * Seconds `trainfer serve` takes, at most, to finish requests in flight after SIGTERM. `trainfer serve
   * --drain-timeout-ms` defaults to 30 000, and each model's `timeoutMs` (default 30 s) bounds a request.
   */
  defaultDrainSeconds: 30,
  /** The `trainfer serve` flag that sets its drain deadline in milliseconds (serve-contract.test.ts checks it exists). */
  drainFlag: '--drain-timeout-ms' as string | undefined,
} as const;

/** The image side of the contract (see the Dockerfile). */
export const IMAGE = {
  /** Where the Dockerfile declares the model repository volume. */
  modelsPath: '/models',
  /** The image's non-root user (the `node` user of the official Node.js images). */
  uid: 1000,
  gid: 1000,
  /** Arguments before the repository path: the image's entrypoint is `node …/cli/main.js`. */
  serveCommand: ['serve'] as readonly string[],
} as const;

/**
 * The arguments that start `trainfer serve` on `repository`, listening on all interfaces at `port`, with
 * `drainSeconds` as its drain deadline where the server takes one (`SERVE.drainFlag`).
 */
export function serveArgs(o: { repository: string; port: number; drainSeconds?: number }): string[] {
  const drain = SERVE.drainFlag && o.drainSeconds !== undefined ? [SERVE.drainFlag, String(o.drainSeconds * 1000)] : [];
  return [...IMAGE.serveCommand, o.repository, '--host', '0.0.0.0', '--port', String(o.port), ...drain];
}
