/**
 * Fits a serving pod's CPU and memory to its model repository, from how `trainfer serve` runs it: one
 * worker thread per instance, each with its own onnxruntime session (a copy of the weights), plus the
 * HTTP thread. The memory model comes from measurements in docs/deploy.md ("Sizing").
 */
import type { RepositoryScan } from './repository-scan.js';

/** Requests and limits for the serving container, as Kubernetes quantities. */
export interface FittedResources {
  /** Cores: Σ instances × threadsPerInstance over every model version, plus one for the HTTP thread. */
  cpuRequest: string;
  memoryRequest: string;
  memoryLimit: string;
  /** GPUs (`nvidia.com/gpu`): 1 when any model's config asks for `device: cuda`, else 0. */
  gpus: number;
  /** Worker threads the server will start (instances over every version). */
  workerThreads: number;
  /** Seconds the startup probe allows for loading every model before the pod is restarted. */
  startupSeconds: number;
}

const MIB = 1024 * 1024;
/** RSS of `trainfer serve` with one tiny model (measured: 183 MiB on Node 20, onnxruntime-node 1.30). */
const BASE_MIB = 192;
/** Per instance: the session holds about 1.1–1.3× the file (measured); 1.5× leaves room for activations. */
const PER_INSTANCE_FACTOR = 1.5;
const PER_INSTANCE_MIB = 16;

/** Computes requests and limits for serving `scan`. */
export function fitResources(scan: RepositoryScan): FittedResources {
  let cores = 1;
  let bytes = BASE_MIB * MIB;
  let workerThreads = 0;
  let loadBytes = 0;
  for (const m of scan.models) {
    for (const v of m.versions) {
      workerThreads += m.config.instances;
      cores += m.config.instances * m.config.threadsPerInstance;
      bytes += m.config.instances * (PER_INSTANCE_FACTOR * v.bytes + PER_INSTANCE_MIB * MIB);
      loadBytes += m.config.instances * v.bytes;
    }
  }
  const requestMib = roundUp(bytes / MIB, 64);
  const gpus = scan.models.some((m) => m.config.device === 'cuda') ? 1 : 0;
  // onnxruntime loads ~130 MB/s here (319 MB in 2.5 s, docs/onnx.md); allow 10× that slowness on busy
  // nodes and slow volumes, and never less than two minutes.
  const startupSeconds = Math.max(120, Math.ceil(loadBytes / (13 * MIB)));
  return {
    cpuRequest: String(cores),
    memoryRequest: `${requestMib}Mi`,
    memoryLimit: `${roundUp(requestMib * 1.5, 64)}Mi`,
    gpus,
    workerThreads,
    startupSeconds,
  };
}

function roundUp(x: number, step: number): number {
  return Math.ceil(x / step) * step;
}
