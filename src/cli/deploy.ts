/**
 * `trainfer deploy <target>`: write deployment manifests. `deploy k8s <repo>` writes a Deployment,
 * Service, HorizontalPodAutoscaler and PodDisruptionBudget, the prometheus-adapter rule the autoscaler
 * needs, and a KServe ServingRuntime + InferenceService; `deploy job <model>` writes an Indexed Job that
 * scores a dataset in shards with `trainfer score`, plus its merge Job (docs/deploy.md). Each target is
 * one generator in src/deploy; adding one is one more `.command(…)` here.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { k8sPlan } from '../deploy/k8s-plan.js';
import { DEFAULT_IMAGE, parseRepositorySource } from '../deploy/options.js';
import { SERVE } from '../deploy/serve-contract.js';
import { renderPlan, writePlan } from '../deploy/render.js';
import { scanRepository } from '../deploy/repository-scan.js';
import { scoreJobPlan } from '../deploy/score-job.js';
import { TrainferError } from '../util/errors.js';
import { parseNumber, type CliCommand } from './command.js';

interface K8sFlags {
  name?: string;
  namespace?: string;
  image?: string;
  replicas?: number;
  maxReplicas?: number;
  models?: string;
  port?: number;
  cpu?: string;
  memory?: string;
  targetQueueMs?: number;
  targetCpuPercent?: number;
  drainSeconds?: number;
  storageUri?: string;
  autoscale: boolean;
  out: string;
}

/** `trainfer deploy` */
export const deployCommand: CliCommand = {
  name: 'deploy',
  define(program: Command) {
    const deploy = program.command('deploy').description('write deployment manifests (Kubernetes, KServe) for a model repository');
    deploy
      .command('k8s')
      .description('Kubernetes Deployment + Service + HorizontalPodAutoscaler + PodDisruptionBudget, and a KServe ServingRuntime + InferenceService, for `trainfer serve <repo>`')
      .argument('<model-repository>', 'the repository to serve: <model>/<version>/model.onnx (sizes the pods)')
      .option('--out <dir>', "directory to write into ('-' prints every manifest to stdout)", 'k8s')
      .option('--name <name>', 'base name of every object', 'trainfer')
      .option('--namespace <ns>', 'namespace to write into every object (default: the one kubectl applies to)')
      .option('--image <ref>', 'container image built from this repository\'s Dockerfile', DEFAULT_IMAGE)
      .option('--replicas <n>', 'pods at start and the autoscaler\'s minimum', parseNumber('--replicas'), 2)
      .option('--max-replicas <n>', 'the autoscaler\'s maximum (default 4 × --replicas)', parseNumber('--max-replicas'))
      .option('--models <source>', 'where pods read the repository: pvc:<claim>[/<sub-path>], host:<path> or image[:<path>] (default pvc:<name>-models)')
      .option('--port <n>', 'container port', parseNumber('--port'), SERVE.defaultPort)
      .option('--cpu <quantity>', 'CPU request (default: one core per instance thread, plus one)')
      .option('--memory <quantity>', 'memory request and limit (default: fitted to the model sizes)')
      .option('--target-queue-ms <ms>', 'autoscale to keep the mean queue time per request at this', parseNumber('--target-queue-ms'), 10)
      .option('--target-cpu-percent <n>', 'autoscale to keep CPU use at this share of the request', parseNumber('--target-cpu-percent'), 70)
      .option('--drain-seconds <n>', 'seconds a stopping pod may finish requests (default: the longest model timeoutMs, at least 30)', parseNumber('--drain-seconds'))
      .option('--storage-uri <uri>', 'KServe storageUri of the repository (default pvc://<claim>[/<sub-path>] from --models)')
      .option('--no-autoscale', 'no HorizontalPodAutoscaler: the Deployment keeps --replicas pods')
      .action((repository: string, flags: K8sFlags) => runK8s(repository, flags));
    deploy
      .command('job')
      .description('Kubernetes Indexed Job: `trainfer score` over a dataset in N shards (one pod each), plus the merge Job to run after it')
      .argument('<model>', 'the model inside the data volume, e.g. models/mnist/1/model.onnx')
      .requiredOption('--input <path>', 'the data to score, inside the data volume (JSONL, CSV or IDX)')
      .requiredOption('--scores <dir>', 'where shards and the merged predictions go, inside the data volume')
      .requiredOption('--shards <n>', 'number of shards (pods that complete)', parseNumber('--shards'))
      .requiredOption('--data <source>', 'the volume holding model, data and scores: pvc:<claim> (ReadWriteMany for pods on several nodes)')
      .option('--parallelism <n>', 'pods running at once (default: every shard)', parseNumber('--parallelism'))
      .option('--batch-size <n>', 'trainfer score --batch-size', parseNumber('--batch-size'))
      .option('--retries <n>', 'retries per shard before the Job fails', parseNumber('--retries'), 3)
      .option('--out <dir>', "directory to write into ('-' prints the manifests to stdout)", 'k8s')
      .option('--name <name>', 'name of the Job (the merge Job is <name>-merge)', 'trainfer-score')
      .option('--namespace <ns>', 'namespace to write into both Jobs')
      .option('--image <ref>', 'container image built from this repository\'s Dockerfile', DEFAULT_IMAGE)
      .option('--cpu <quantity>', 'CPU request per shard pod', '1')
      .option('--memory <quantity>', 'memory request and limit per shard pod', '1Gi')
      .action((model: string, flags: JobFlags) => runJob(model, flags));
  },
};

interface JobFlags {
  input: string;
  scores: string;
  shards: number;
  data: string;
  parallelism?: number;
  batchSize?: number;
  retries: number;
  out: string;
  name: string;
  namespace?: string;
  image: string;
  cpu: string;
  memory: string;
}

function runJob(model: string, f: JobFlags): void {
  if (!f.data.startsWith('pvc:')) throw new TrainferError(`--data: '${f.data}' must be pvc:<claim>`);
  const plan = scoreJobPlan({
    model, input: f.input, out: f.scores, shards: f.shards, parallelism: f.parallelism, batchSize: f.batchSize, claim: f.data.slice(4),
    name: f.name, namespace: f.namespace, image: f.image, cpu: f.cpu, memory: f.memory, retriesPerShard: f.retries,
  });
  if (f.out === '-') return void process.stdout.write(renderPlan(plan.files));
  const written = writePlan({ files: plan.files, outDir: f.out });
  process.stderr.write(
    `trainfer deploy: wrote ${written.length} files to ${resolve(f.out)}\n` +
      `  kubectl apply -f ${f.out}/job/score.yaml\n` +
      `  kubectl wait --for=condition=complete job/${plan.jobName} --timeout=24h && kubectl apply -f ${f.out}/job/merge.yaml\n`,
  );
}

function runK8s(repository: string, f: K8sFlags): void {
  const scan = scanRepository({ root: repository });
  const plan = k8sPlan({
    scan,
    name: f.name,
    namespace: f.namespace,
    image: f.image,
    replicas: f.replicas,
    maxReplicas: f.maxReplicas,
    models: f.models === undefined ? undefined : parseRepositorySource(f.models),
    port: f.port,
    cpu: f.cpu,
    memory: f.memory,
    targetQueueMs: f.targetQueueMs,
    targetCpuPercent: f.targetCpuPercent,
    drainSeconds: f.drainSeconds,
    storageUri: f.storageUri,
    autoscale: f.autoscale,
  });
  const r = plan.options;
  if (f.out === '-') {
    process.stdout.write(renderPlan(plan.files));
  } else {
    const written = writePlan({ files: plan.files, outDir: f.out });
    const res = r.resources;
    const scale = r.autoscale ? `${r.replicas}–${r.maxReplicas} replicas` : `${r.replicas} replicas`;
    process.stderr.write(
      `trainfer deploy: wrote ${written.length} files to ${resolve(f.out)} for ${r.modelNames.join(', ')} ` +
        `(${scale}; cpu ${res.cpuRequest}, memory ${res.memoryRequest} request / ${res.memoryLimit} limit; drain ${r.drainSeconds} s, grace ${r.terminationGracePeriodSeconds} s)\n` +
        `  plain Kubernetes: kubectl apply -f ${f.out}/kubernetes/\n` +
        (r.kserve ? `  or KServe:        kubectl apply -f ${f.out}/kserve/\n` : '') +
        `  scraping:         kubectl apply -f ${f.out}/monitoring/ (Prometheus Operator)` + (r.autoscale ? `; autoscaling metric: helm … prometheus-adapter -f ${f.out}/prometheus-adapter/values.yaml\n` : '\n'),
    );
  }
  for (const n of r.notes) process.stderr.write(`trainfer deploy: note: ${n}\n`);
}
