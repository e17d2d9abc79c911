/**
 * The Node side of the browser-vs-Node comparison: onnxruntime-node in a tight loop, one session with
 * one intra-op thread, batch 1, on zero-filled feeds of the shapes the page used. What `trainfer ui
 * --bench` prints beside the browser's numbers, and what bench/web.ts compares against.
 */
import * as ort from 'onnxruntime-node';
import { TrainferError, oneLine } from '../util/errors.js';
import { type LatencySummary, summarizeLatencies } from './latency-stats.js';

/** Options for `nodeLatency`. */
export interface NodeLatencyOptions {
  /** The `.onnx` file. */
  file: string;
  /** Each input's dtype and dims (e.g. a `BrowserModelBench`'s `inputs`). */
  inputs: Record<string, { dtype: string; dims: number[] }>;
  /** Timed runs (default 200). */
  iterations?: number;
  /** Untimed runs first (default 10). */
  warmup?: number;
  /** Intra-op threads (default 1). */
  threads?: number;
}

/** Times `iterations` back-to-back `session.run` calls on one pre-built set of zero feeds. */
export async function nodeLatency(o: NodeLatencyOptions): Promise<LatencySummary> {
  let s: ort.InferenceSession;
  try {
    s = await ort.InferenceSession.create(o.file, { intraOpNumThreads: o.threads ?? 1, interOpNumThreads: 1, graphOptimizationLevel: 'all', logSeverityLevel: 3 });
  } catch (err) {
    throw new TrainferError(`${o.file}: onnxruntime-node cannot load it: ${oneLine(err)}`, { cause: err });
  }
  try {
    const feeds = Object.fromEntries(Object.entries(o.inputs).map(([name, { dtype, dims }]) => [name, zeros(dtype, dims)]));
    for (let i = 0; i < (o.warmup ?? 10); i++) await s.run(feeds);
    const times: number[] = [];
    for (let i = 0; i < (o.iterations ?? 200); i++) {
      const t0 = performance.now();
      await s.run(feeds);
      times.push(performance.now() - t0);
    }
    return summarizeLatencies(times);
  } finally {
    await s.release();
  }
}

function zeros(dtype: string, dims: number[]): ort.Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  switch (dtype) {
    case 'float32':
      return new ort.Tensor('float32', new Float32Array(n), dims);
    case 'int64':
      return new ort.Tensor('int64', new BigInt64Array(n), dims);
    case 'int32':
      return new ort.Tensor('int32', new Int32Array(n), dims);
    default:
      throw new TrainferError(`input dtype ${dtype}: not supported by the Node comparison`);
  }
}
