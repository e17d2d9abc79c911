/**
 * `OipSut`: any Open Inference Protocol (KServe v2) server as the system under test — `trainfer serve`,
 * Triton, KServe. Each batch is one `/infer` request through `InferenceClient` (binary tensors by
 * default), at most `concurrency` requests in flight. Server-side dynamic batching is the server's
 * business: with `maxBatch` 1 (the default) every query is its own request, as real clients send them.
 */
import { InferenceClient, type ModelMetadata } from '../../serve/client.js';
import { TrainferError, oneLine } from '../../util/errors.js';
import type { QuerySample, QuerySamplesComplete, SystemUnderTest } from '../loadgen/types.js';
import type { TensorSampleLibrary } from '../qsl.js';
import { BatchQueue, type WorkItem, answer, itemIndices } from './batch-queue.js';

/** Options for `OipSut.create`. */
export interface OipSutOptions {
  /** Server base URL, e.g. `http://127.0.0.1:8000`. */
  url: string;
  model: string;
  version?: string;
  library: TensorSampleLibrary;
  /** Samples per request at most (default 1). */
  maxBatch?: number;
  /** Requests in flight at most (default 64). */
  concurrency?: number;
  /** Binary tensor data extension (default true); JSON otherwise. */
  binary?: boolean;
  /** Per-request timeout in ms (default 30 000). */
  timeoutMs?: number;
}

/**
 * @example
 * const sut = await OipSut.create({ url: 'http://127.0.0.1:8000', model: 'mnist', library: qsl });
 * const r = await runScenario({ sut, qsl, settings: { scenario: 'server', targetQps: 2000 } });
 */
export class OipSut implements SystemUnderTest {
  readonly name: string;
  /** Requests sent and answered with an error. */
  failedRequests = 0;
  private readonly queue: BatchQueue;

  private constructor(
    private readonly o: OipSutOptions,
    private readonly client: InferenceClient,
    /** The server's description of the model. */
    readonly metadata: ModelMetadata,
    private readonly fixedBatch: number | undefined,
  ) {
    this.name = `oip:${o.url.replace(/\/+$/, '')}/${o.model}${o.version ? `@${o.version}` : ''}`;
    const maxBatch = fixedBatch ?? Math.max(1, Math.round(o.maxBatch ?? 1));
    this.queue = new BatchQueue({ executors: Math.max(1, o.concurrency ?? 64), maxBatch, maxBatchesPerItem: 1, maxInFlight: 1, send: (e, item) => void this.send(e, item) });
  }

  /** Checks that the server is live and the model's inputs match the library; errors are one line. */
  static async create(o: OipSutOptions): Promise<OipSut> {
    const client = new InferenceClient(o.url);
    let meta: ModelMetadata;
    try {
      meta = await client.modelMetadata(o.model, o.version);
    } catch (err) {
      throw new TrainferError(`${o.url}: cannot get the metadata of model '${o.model}': ${oneLine(err)}`);
    }
    const names = o.library.inputs.map((i) => i.name);
    const missing = meta.inputs.filter((i) => !names.includes(i.name)).map((i) => `'${i.name}'`);
    if (missing.length > 0) throw new TrainferError(`${o.url}: model '${o.model}' takes ${missing.join(', ')}, which the sample library (${names.join(', ')}) does not have`);
    const firsts = meta.inputs.map((i) => i.shape[0]);
    const fixed = firsts.length > 0 && firsts.every((d) => typeof d === 'number' && d > 0) ? firsts[0] : undefined;
    return new OipSut(o, client, meta, fixed);
  }

  issueQuery(samples: readonly QuerySample[], complete: QuerySamplesComplete): void {
    this.queue.push(samples, complete);
  }

  private async send(executor: number, item: WorkItem): Promise<void> {
    const n = item.count;
    const inputs = this.o.library.batch(itemIndices(item), this.fixedBatch ?? n);
    const wanted = new Set(this.metadata.inputs.map((i) => i.name));
    for (const k of Object.keys(inputs)) if (!wanted.has(k)) delete inputs[k];
    try {
      await this.client.infer(this.o.model, { inputs, version: this.o.version, binary: this.o.binary ?? true, signal: AbortSignal.timeout(this.o.timeoutMs ?? 30_000) });
      answer(item.parts);
    } catch (err) {
      this.failedRequests++;
      answer(item.parts, oneLine(err));
    } finally {
      this.queue.finished(executor);
    }
  }
}
