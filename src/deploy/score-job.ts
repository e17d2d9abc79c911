/**
 * `trainfer deploy job`: a Kubernetes Indexed Job that scores a dataset in N shards, one pod per shard
 * running `trainfer score … --shard $(SHARD_INDEX)/N`, and a one-pod merge Job to run after it.
 *
 * The pods run `trainfer score <model.onnx> --input <data> --out <dir> --shard i/N [--batch-size B]` and
 * the merge `trainfer score --merge <dir> --shards N` (src/cli/score.ts); both command lines are in
 * `SCORE` below, and score-job.test.ts checks them against the real command.
 */
import type { Job } from 'kubernetes-types/batch/v1.js';
import type { Container } from 'kubernetes-types/core/v1.js';
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import { TrainferError } from '../util/errors.js';
import { checkDns1035Label, checkDns1123Label, checkDns1123Subdomain, checkQuantity, parseImageReference } from './names.js';
import { DEFAULT_IMAGE } from './options.js';
import { containerSecurityContext, podSecurityContext } from './pod.js';
import type { PlannedFile } from './render.js';

/** The `trainfer score` command lines the Jobs run. */
export const SCORE = {
  shardArgs: (o: { model: string; input: string; out: string; shard: string; batchSize?: number }): string[] => [
    'score', o.model, '--input', o.input, '--out', o.out, '--shard', o.shard, ...(o.batchSize === undefined ? [] : ['--batch-size', String(o.batchSize)]),
  ],
  mergeArgs: (o: { out: string; shards: number }): string[] => ['score', '--merge', o.out, '--shards', String(o.shards)],
} as const;

/** Options of `trainfer deploy job`. Paths are inside the data volume (relative to its root). */
export interface ScoreJobOptions {
  /** The model, e.g. `models/mnist/1/model.onnx`. */
  model: string;
  /** The data to score (JSONL, CSV or IDX), e.g. `data/test.jsonl`. */
  input: string;
  /** Directory the shards (and the merged result) are written to, e.g. `scores/run-1`. */
  out: string;
  /** Number of shards = pods that complete (≥ 1). */
  shards: number;
  /** Pods running at once (default: all shards). */
  parallelism?: number;
  batchSize?: number;
  /** PersistentVolumeClaim holding model, input and output (ReadWriteMany when shards span nodes). */
  claim: string;
  name?: string;
  namespace?: string;
  image?: string;
  /** Default 1 core, 1Gi per shard pod. */
  cpu?: string;
  memory?: string;
  /** Retries per shard before the Job fails (default 3). */
  retriesPerShard?: number;
}

const DATA = '/data';

function inVolume(path: string, flag: string): string {
  if (path === '' || path.startsWith('/') || path.split('/').includes('..')) throw new TrainferError(`${flag}: '${path}' must be a path inside the data volume (relative, no '..')`);
  return `${DATA}/${path.replace(/\/+$/, '')}`;
}

function positiveInt(v: number, flag: string): number {
  if (!Number.isInteger(v) || v < 1) throw new TrainferError(`${flag} must be a positive integer, got '${v}'`);
  return v;
}

/**
 * The Indexed Job and its merge Job. Each shard pod reads its index from the downward API
 * (`batch.kubernetes.io/job-completion-index`); a failed shard is retried on its own
 * (`backoffLimitPerIndex`, Kubernetes ≥ 1.29) and the Job fails as soon as one shard runs out of retries
 * (`maxFailedIndexes: 0`), since a merge of an incomplete result would be refused anyway.
 */
export function scoreJobPlan(o: ScoreJobOptions): { files: PlannedFile[]; jobName: string; mergeName: string } {
  const name = checkDns1035Label(o.name ?? 'trainfer-score', '--name', 52);
  const namespace = o.namespace === undefined ? undefined : checkDns1123Label(o.namespace, '--namespace');
  const image = o.image ?? DEFAULT_IMAGE;
  parseImageReference(image, '--image');
  checkDns1123Subdomain(o.claim, '--data pvc:<claim>');
  const shards = positiveInt(o.shards, '--shards');
  const parallelism = Math.min(positiveInt(o.parallelism ?? shards, '--parallelism'), shards);
  if (o.batchSize !== undefined) positiveInt(o.batchSize, '--batch-size');
  const retries = o.retriesPerShard ?? 3;
  if (!Number.isInteger(retries) || retries < 0) throw new TrainferError(`--retries must be a non-negative integer, got '${retries}'`);
  const [model, input, out] = [inVolume(o.model, '<model>'), inVolume(o.input, '--input'), inVolume(o.out, '--out')];
  const resources = { requests: { cpu: checkQuantity(o.cpu ?? '1', '--cpu'), memory: checkQuantity(o.memory ?? '1Gi', '--memory') }, limits: { memory: o.memory ?? '1Gi' } };

  const meta = (n: string): ObjectMeta => ({
    name: n,
    ...(namespace === undefined ? {} : { namespace }),
    labels: { 'app.kubernetes.io/name': 'trainfer', 'app.kubernetes.io/instance': name, 'app.kubernetes.io/component': 'batch-scoring', 'app.kubernetes.io/managed-by': 'trainfer' },
  });
  const container = (args: string[], env: Container['env'] = []): Container => ({
    name: 'score',
    image,
    imagePullPolicy: 'IfNotPresent',
    args,
    env: [{ name: 'NODE_ENV', value: 'production' }, ...(env ?? [])],
    resources,
    securityContext: containerSecurityContext(),
    volumeMounts: [{ name: 'data', mountPath: DATA }, { name: 'tmp', mountPath: '/tmp' }],
  });
  const podSpec = (c: Container) => ({
    restartPolicy: 'Never',
    securityContext: podSecurityContext(),
    automountServiceAccountToken: false,
    containers: [c],
    volumes: [{ name: 'data', persistentVolumeClaim: { claimName: o.claim } }, { name: 'tmp', emptyDir: { sizeLimit: '256Mi' } }],
  });

  const shardEnv = [{ name: 'SHARD_INDEX', valueFrom: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } } }];
  const job: Job = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: meta(name),
    spec: {
      completionMode: 'Indexed',
      completions: shards,
      parallelism,
      backoffLimitPerIndex: retries,
      maxFailedIndexes: 0,
      template: { metadata: { labels: meta(name).labels }, spec: podSpec(container(SCORE.shardArgs({ model, input, out, shard: `$(SHARD_INDEX)/${shards}`, batchSize: o.batchSize }), shardEnv)) },
    },
  };
  const mergeName = `${name}-merge`;
  const merge: Job = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: meta(mergeName),
    spec: { completions: 1, backoffLimit: 2, template: { metadata: { labels: meta(name).labels }, spec: podSpec(container(SCORE.mergeArgs({ out, shards }))) } },
  };
  return {
    jobName: name,
    mergeName,
    files: [
      { path: 'job/score.yaml', comment: `Scores /data/${o.input} with /data/${o.model} in ${shards} shards (${parallelism} at a time) into /data/${o.out}.`, documents: [job] },
      { path: 'job/merge.yaml', comment: `Apply after the score Job completes:\nkubectl wait --for=condition=complete job/${name} --timeout=24h && kubectl apply -f merge.yaml`, documents: [merge] },
    ],
  };
}
