/**
 * Serving a retrieval model (an mf / two-tower export: inputs `user` [batch, 1] and `exclude`
 * [batch, E], outputs `items`, `scores`, `user_vector`, `cold_start`) with request parameters:
 * `"parameters": {"mode": "exact" | "ann", "k": K}`. `exact` (default) runs the model's own graph on
 * the version's batcher (MatMul + TopK, dynamic batching) and keeps the first k of its top-K; `ann`
 * goes to the version's `AnnWorker` (built at load when config.json sets `"ann"`): user tower + the
 * index, excluded items filtered. Both modes check the excluded item indices (a 400 naming the row and
 * the index when one is not in the catalog), pad rows that have fewer than k items left with item −1
 * and score −3e38, and flag unknown users — answered by the model's cold-start fallback, the most
 * popular items — in the response parameters (`cold_start`, `cold_start_rows`) as well as the
 * `cold_start` output.
 */
import { Tensor } from '../onnx/tensor.js';
import type { BatchRequest, BatchResult } from './batcher.js';
import type { ModelConfig } from './config.js';
import { AnnWorker, type AnnLoadReport } from './ann-worker.js';
import { TrainferError } from '../util/errors.js';
import { badRequest } from './errors.js';
import { type RetrievalInfo, isRetrievalModel, parseRetrievalInfo } from './retrieval.js';

/** Retrieval request modes. */
export const RETRIEVAL_MODES = ['exact', 'ann'] as const;

/** A score at or below this is the graph's "excluded / nothing left" value. */
const EMPTY_SCORE = -1e38;
const PAD_SCORE = -3e38;

/** The retrieval half of a served model version. */
export class RetrievalFrontEnd {
  private constructor(
    readonly info: RetrievalInfo,
    private readonly modelName: string,
    /** Present when config.json asks for an ANN index. */
    readonly ann: AnnWorker | undefined,
  ) {}

  /** The front end of a retrieval model (undefined for any other model); builds the ANN index when `config.ann` asks. */
  static async open(o: { file: string; name: string; metadata: ReadonlyMap<string, string>; inputs: readonly string[]; config: ModelConfig; configFile: string }): Promise<RetrievalFrontEnd | undefined> {
    if (!isRetrievalModel(o)) {
      if (o.config.ann !== 'off') throw new TrainferError(`${o.configFile}: "ann": "${o.config.ann}" needs a retrieval model (trainfer train --model mf|two-tower), and ${o.file} is not one`);
      return undefined;
    }
    const info = parseRetrievalInfo({ ...o, name: o.file });
    const c = o.config;
    const ann = c.ann === 'off' ? undefined : await AnnWorker.start({
      file: o.file,
      recallSample: c.annRecallSample,
      options: { ann: c.ann, connectivity: c.annConnectivity, expansionAdd: c.annExpansionAdd, expansionSearch: c.annExpansionSearch, quantization: c.annQuantization, threads: 1, buildThreads: 0 },
    });
    return new RetrievalFrontEnd(info, o.name, ann);
  }

  /** What the ANN index is and how it measured at load, for `/config` (string values, as Triton's parameters). */
  configParameters(): Record<string, string> {
    const out: Record<string, string> = { 'trainfer.retrieval.items': String(this.info.items), 'trainfer.retrieval.top_k': String(this.info.topK), 'trainfer.retrieval.modes': this.ann ? 'exact,ann' : 'exact' };
    const r = this.ann?.report;
    if (r) {
      const s = r.settings;
      out['trainfer.ann.index'] = `${s.kind} M=${s.connectivity} ef_construction=${s.expansionAdd} ef=${s.expansionSearch} space=${s.space} quantization=${s.quantization}`;
      out['trainfer.ann.build_seconds'] = r.buildSeconds.toFixed(3);
      if (r.recall) {
        out[`trainfer.ann.recall_at_${r.recall.k}`] = r.recall.recall.toFixed(4);
        out['trainfer.ann.recall_users'] = String(r.recall.users);
        out['trainfer.ann.p50_ms'] = r.recall.p50Ms.toFixed(3);
        out['trainfer.ann.p99_ms'] = r.recall.p99Ms.toFixed(3);
      }
    }
    return out;
  }

  /** The load report of the ANN index, if there is one. */
  get annReport(): AnnLoadReport | undefined {
    return this.ann?.report;
  }

  /** Checks a request's parameters and excluded items, then answers it exactly (`exact`: the version's batcher) or through the index. */
  async submit(req: BatchRequest, exact: (r: BatchRequest) => Promise<BatchResult>): Promise<BatchResult> {
    const { mode, k } = this.parameters(req);
    const user = req.feeds.user;
    const exclude = req.feeds.exclude;
    if (!user || !exclude) throw badRequest("a retrieval request needs the inputs 'user' and 'exclude'");
    const B = user.dims[0]!;
    const E = exclude.dims[1] ?? 0;
    const ex = exclude.data as BigInt64Array;
    for (let i = 0; i < ex.length; i++) {
      const v = ex[i]!;
      if (v < -1n || v >= BigInt(this.info.items)) throw badRequest(`input 'exclude': row ${Math.floor(i / Math.max(1, E))} holds item index ${v}, which is not in the catalog (0..${this.info.items - 1}; −1 pads)`);
    }
    const wanted = req.fetches ?? ['items', 'scores', 'user_vector', 'cold_start'];
    let outputs: Record<string, Tensor>;
    let result: Omit<BatchResult, 'outputs'>;
    if (mode === 'exact') {
      const r = await exact({ ...req, fetches: [...new Set([...wanted, 'items', 'scores', 'cold_start'])] });
      outputs = { ...r.outputs, ...this.prefix(r.outputs.items!, r.outputs.scores!, k) };
      result = r;
    } else {
      if (!this.ann) throw badRequest(`model '${this.modelName}' serves exact top-K only: set "ann": "usearch" (or "hnswlib") in its config.json to build an ANN index at load`);
      const a = await this.ann.query({ users: user.data as BigInt64Array, exclude: ex, excluded: E, k });
      outputs = {
        items: new Tensor('int64', [B, k], a.items),
        scores: new Tensor('float32', [B, k], a.scores),
        user_vector: new Tensor('float32', [B, this.info.vectorDim], a.userVector),
        cold_start: new Tensor('bool', [B, 1], a.coldStart),
      };
      result = { queueMs: 0, computeMs: a.ms, batchSize: B };
    }
    const cold = outputs.cold_start!.data as Uint8Array;
    const rows: number[] = [];
    cold.forEach((c, b) => c && rows.push(b));
    return {
      ...result,
      outputs: Object.fromEntries(wanted.map((n) => [n, outputs[n]!])),
      parameters: { mode, k, cold_start: rows.length, ...(rows.length ? { cold_start_rows: rows.join(',') } : {}) },
    };
  }

  /** Stops the ANN thread. */
  async close(): Promise<void> {
    await this.ann?.close();
  }

  private parameters(req: BatchRequest): { mode: (typeof RETRIEVAL_MODES)[number]; k: number } {
    const p = req.parameters ?? {};
    const mode = p.mode ?? 'exact';
    if (!(RETRIEVAL_MODES as readonly unknown[]).includes(mode)) throw badRequest(`parameter 'mode' must be ${RETRIEVAL_MODES.map((m) => `"${m}"`).join(' or ')}, got ${JSON.stringify(mode).slice(0, 80)}`);
    const max = mode === 'exact' ? this.info.topK : this.info.items;
    const k = p.k ?? Math.min(this.info.topK, max);
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > max) {
      const why = mode === 'exact' ? `the model's top-K (export with a larger --top-k, or use "mode": "ann" for up to ${this.info.items})` : 'the catalog size';
      throw badRequest(`parameter 'k' must be an integer in 1..${max} (${why}), got ${JSON.stringify(k).slice(0, 80)}`);
    }
    return { mode: mode as (typeof RETRIEVAL_MODES)[number], k };
  }

  /** The first k columns of the model's [B, K] items and scores, items −1 where nothing was left. */
  private prefix(items: Tensor, scores: Tensor, k: number): { items: Tensor; scores: Tensor } {
    const [B, K] = items.dims as [number, number];
    const it = items.data as BigInt64Array;
    const sc = scores.data as Float32Array;
    const outI = new BigInt64Array(B * k);
    const outS = new Float32Array(B * k);
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < k; j++) {
        const s = sc[b * K + j]!;
        const empty = s <= EMPTY_SCORE;
        outI[b * k + j] = empty ? -1n : it[b * K + j]!;
        outS[b * k + j] = empty ? PAD_SCORE : s;
      }
    }
    return { items: new Tensor('int64', [B, k], outI), scores: new Tensor('float32', [B, k], outS) };
  }
}
