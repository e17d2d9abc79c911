/**
 * The options of `trainfer deploy k8s`: what a user may set, their defaults, and the checks that turn
 * bad input into one-line errors before anything is generated. Generators take the resolved form.
 */
import { TrainferError } from '../util/errors.js';
import { checkDns1035Label, checkDns1123Label, checkDns1123Subdomain, checkQuantity, parseImageReference } from './names.js';
import { type RepositoryScan } from './repository-scan.js';
import { type FittedResources, fitResources } from './resources.js';
import { IMAGE, SERVE } from './serve-contract.js';

/**
 * Where the pods find the model repository:
 * - `pvc`: an existing PersistentVolumeClaim (ReadOnlyMany or ReadWriteMany once replicas span nodes),
 *   mounted read-only; `subPath` selects a directory in it. KServe reads it as `pvc://claim/subPath`.
 * - `host`: a directory on every node (single-node and dev clusters: kind, minikube, k3d).
 * - `image`: baked into the image at `path` (a `FROM trainfer` image that COPYs the repository).
 */
export type RepositorySource = { kind: 'pvc'; claim: string; subPath?: string } | { kind: 'host'; path: string } | { kind: 'image'; path: string };

/** What a user may set (the CLI flags of `trainfer deploy k8s`). */
export interface K8sDeployOptions {
  /** The scanned model repository (sizes the pods; its models are listed in the notes). */
  scan: RepositoryScan;
  /** Base name of every object (an RFC 1035 label, ≤ 45 characters). Default `trainfer`. */
  name?: string;
  /** Namespace written into every object; absent: the one `kubectl` applies to. */
  namespace?: string;
  /** Container image. Default `trainfer:0.1.0` (built from this repository's Dockerfile). */
  image?: string;
  /** Replicas at start and the autoscaler's minimum (≥ 1). Default 2. */
  replicas?: number;
  /** The autoscaler's maximum (≥ replicas). Default 4 × replicas. */
  maxReplicas?: number;
  /** Default `{ kind: 'pvc', claim: '<name>-models' }`. */
  models?: RepositorySource;
  /** Container port. Default 8000 (`trainfer serve`'s). */
  port?: number;
  /** CPU request (a quantity); default fitted to the repository. */
  cpu?: string;
  /** Memory request (a quantity); default fitted to the repository. The limit is 1.5× a fitted request, or equal to a given one. */
  memory?: string;
  /** Autoscaling target: mean queue time per request, milliseconds (> 0). Default 10. */
  targetQueueMs?: number;
  /** Autoscaling target: CPU utilisation of the request, percent (1–100). Default 70. */
  targetCpuPercent?: number;
  /** Seconds `trainfer serve` may drain after SIGTERM. Default: the longest model `timeoutMs`, at least 30. */
  drainSeconds?: number;
  /** KServe `storageUri` (s3://, gs://, pvc://, https://…). Default derived from `models`. */
  storageUri?: string;
  /** Generate the HorizontalPodAutoscaler (default true); without it the Deployment pins `replicas`. */
  autoscale?: boolean;
}

/** Options after defaults and checks: what the generators read. */
export interface ResolvedK8sOptions {
  name: string;
  namespace?: string;
  image: string;
  replicas: number;
  maxReplicas: number;
  models: RepositorySource;
  port: number;
  resources: FittedResources & { memoryLimit: string };
  targetQueueMs: number;
  targetCpuPercent: number;
  drainSeconds: number;
  /** preStop sleep: lets endpoints and load balancers drop the pod before the server stops accepting. */
  preStopSeconds: number;
  terminationGracePeriodSeconds: number;
  /** Undefined when the models come from the image (KServe then needs no storage initializer) or a host path. */
  storageUri?: string;
  autoscale: boolean;
  /** Whether KServe manifests can be generated (false for host paths without a storage URI). */
  kserve: boolean;
  /** The model names the repository serves (for notes and the InferenceService). */
  modelNames: string[];
  /** Things the user should know about the result (printed by the CLI). */
  notes: string[];
}

/** Default image: what `docker build -t trainfer:0.1.0 .` in this repository produces. */
export const DEFAULT_IMAGE = 'trainfer:0.1.0';
const PRESTOP_SECONDS = 5;
const GRACE_MARGIN_SECONDS = 5;

/** Parses `--models`: `pvc:<claim>[/<subPath>]`, `host:<absolute path>`, `image[:<absolute path>]`. */
export function parseRepositorySource(value: string, flag = '--models'): RepositorySource {
  const [kind, ...rest] = value.split(':');
  const arg = rest.join(':');
  if (kind === 'pvc') {
    const [claim = '', ...sub] = arg.split('/');
    checkDns1123Subdomain(claim, `${flag} pvc:<claim>`);
    const subPath = sub.join('/');
    if (subPath.split('/').some((s) => s === '..')) throw new TrainferError(`${flag}: the sub-path '${subPath}' must stay inside the claim (no '..')`);
    return subPath ? { kind, claim, subPath } : { kind, claim };
  }
  if (kind === 'host' || kind === 'image') {
    const path = kind === 'image' && arg === '' ? '/srv/models' : arg;
    if (!path.startsWith('/')) throw new TrainferError(`${flag}: ${kind}: needs an absolute path, got '${arg}'`);
    return { kind, path };
  }
  throw new TrainferError(`${flag}: '${value}' must be pvc:<claim>[/<sub-path>], host:<absolute path> or image[:<absolute path>]`);
}

/** Applies defaults and checks every option; throws one-line `TrainferError`s naming the flag. */
export function resolveK8sOptions(o: K8sDeployOptions): ResolvedK8sOptions {
  const notes: string[] = [];
  // 45: KServe derives `<name>-predictor-…` object names from it, which must stay within 63 characters.
  const name = checkDns1035Label(o.name ?? 'trainfer', '--name', 45);
  const namespace = o.namespace === undefined ? undefined : checkDns1123Label(o.namespace, '--namespace');
  const image = o.image ?? DEFAULT_IMAGE;
  parseImageReference(image, '--image');
  const replicas = o.replicas ?? 2;
  if (!Number.isInteger(replicas) || replicas < 1) throw new TrainferError(`--replicas must be a positive integer, got '${replicas}' (the autoscaler keeps at least one pod)`);
  const maxReplicas = o.maxReplicas ?? 4 * replicas;
  if (!Number.isInteger(maxReplicas) || maxReplicas < replicas) throw new TrainferError(`--max-replicas must be an integer >= --replicas (${replicas}), got '${maxReplicas}'`);
  const port = o.port ?? SERVE.defaultPort;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new TrainferError(`--port must be an integer in 1..65535, got '${port}'`);
  const targetQueueMs = o.targetQueueMs ?? 10;
  if (!(targetQueueMs > 0) || !Number.isFinite(targetQueueMs)) throw new TrainferError(`--target-queue-ms must be a number > 0, got '${targetQueueMs}'`);
  const targetCpuPercent = o.targetCpuPercent ?? 70;
  if (!Number.isInteger(targetCpuPercent) || targetCpuPercent < 1 || targetCpuPercent > 100) throw new TrainferError(`--target-cpu-percent must be an integer in 1..100, got '${targetCpuPercent}'`);

  const fitted = fitResources(o.scan);
  const resources = { ...fitted };
  if (o.cpu !== undefined) resources.cpuRequest = checkQuantity(o.cpu, '--cpu');
  if (o.memory !== undefined) resources.memoryRequest = resources.memoryLimit = checkQuantity(o.memory, '--memory');

  const timeouts = o.scan.models.map((m) => m.config.timeoutMs);
  const longest = Math.ceil(Math.max(0, ...timeouts) / 1000);
  const drainSeconds = o.drainSeconds ?? Math.max(SERVE.defaultDrainSeconds, longest);
  if (!Number.isInteger(drainSeconds) || drainSeconds < 1) throw new TrainferError(`--drain-seconds must be a positive integer, got '${drainSeconds}'`);
  if (o.drainSeconds !== undefined && longest > drainSeconds) notes.push(`--drain-seconds ${drainSeconds} is shorter than the longest model timeoutMs (${longest} s): requests in flight at shutdown may be cut off`);
  if (timeouts.some((t) => t === 0)) notes.push(`a model has timeoutMs 0 (no deadline): a request running longer than the ${drainSeconds} s drain is cut off when a pod stops`);

  const models = o.models ?? { kind: 'pvc', claim: `${name}-models` };
  const storageUri = o.storageUri ?? defaultStorageUri(models);
  if (storageUri !== undefined && !/^(pvc|s3|gs|https?|hdfs|webhdfs|oci|hf):\/\/\S+$/.test(storageUri)) {
    throw new TrainferError(`--storage-uri: '${storageUri}' must be a URI KServe's storage initializer reads (pvc://, s3://, gs://, https://, hdfs://, oci://, hf://)`);
  }
  const kserve = models.kind !== 'host' || storageUri !== undefined;
  if (!kserve) notes.push('KServe manifests not written: KServe cannot read a host path; pass --storage-uri (e.g. pvc://claim/path or s3://bucket/models) to get them');
  if (models.kind === 'pvc' && replicas > 1) notes.push(`PersistentVolumeClaim '${models.claim}' must exist and allow ReadOnlyMany or ReadWriteMany access for ${replicas} pods on different nodes`);
  if (resources.gpus > 0) notes.push('a model asks for device cuda: pods request nvidia.com/gpu 1, and the image must carry onnxruntime-node\'s CUDA files (README, "GPU")');

  return {
    name,
    ...(namespace === undefined ? {} : { namespace }),
    image,
    replicas,
    maxReplicas,
    models,
    port,
    resources,
    targetQueueMs,
    targetCpuPercent,
    drainSeconds,
    preStopSeconds: PRESTOP_SECONDS,
    terminationGracePeriodSeconds: PRESTOP_SECONDS + drainSeconds + GRACE_MARGIN_SECONDS,
    ...(storageUri === undefined ? {} : { storageUri }),
    autoscale: o.autoscale ?? true,
    kserve,
    modelNames: o.scan.models.map((m) => m.name),
    notes,
  };
}

function defaultStorageUri(models: RepositorySource): string | undefined {
  if (models.kind === 'pvc') return `pvc://${models.claim}${models.subPath ? `/${models.subPath}` : ''}`;
  return undefined;
}

/** The directory the serving container reads the repository from. */
export function repositoryPathInPod(models: RepositorySource): string {
  return models.kind === 'image' ? models.path : IMAGE.modelsPath;
}
