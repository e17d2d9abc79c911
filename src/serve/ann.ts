/**
 * Approximate nearest-neighbour indexes over item vectors (maximum inner product), behind one small
 * interface: `usearch` (Unum's USearch, HNSW, prebuilt binaries in the npm package — the default) and
 * `hnswlib-node` (the reference HNSW implementation; a native build at install, a dev dependency here,
 * compared in bench/recsys.ts). Both are loaded on demand, so a missing one is a one-line error.
 *
 * Searches are maximum inner product (`ip`, default). The MIPS-to-nearest-neighbour reduction
 * (Bachrach et al., RecSys 2014: item x → [x, √(R² − ‖x‖²)] with R the largest item norm, query
 * q → [q, 0], searched by cosine — the same order) is available as `space: 'augment'`, but measured
 * worse on catalog vectors like a trained tower's (bench/recsys.ts: 93.9% vs 97.9% recall@10 at 100k
 * items, same M/ef): the extra coordinate dominates most vectors and crowds their angles. Hits are
 * re-scored with the exact fp32 inner product (so scores equal the exact path's, even over an f16 or
 * i8 index) and sorted by it.
 */
import { createRequire } from 'node:module';
import { TrainferError, oneLine } from '../util/errors.js';

/** ANN libraries. */
export type AnnKind = 'usearch' | 'hnswlib';

/** Libraries `--ann` takes. */
export const ANN_KINDS: readonly AnnKind[] = ['usearch', 'hnswlib'];

/** How inner products are searched: `ip` (the index's inner-product metric, default) or `augment` (the MIPS → cosine reduction). */
export type AnnSpace = 'augment' | 'ip';

/** Element type of the vectors a usearch index stores (`f32` default; `f16` halves and `i8` quarters its memory). */
export type AnnQuantization = 'f32' | 'f16' | 'i8';

/** Top hits of one query: item indices and inner products, best first. */
export interface AnnHits {
  ids: number[];
  scores: number[];
}

/** What an index was built with (reported by the server and the bench). */
export interface AnnSettings {
  kind: AnnKind;
  connectivity: number;
  expansionAdd: number;
  expansionSearch: number;
  space: AnnSpace;
  quantization: AnnQuantization;
}

/** A built index. */
export interface AnnIndex {
  readonly kind: AnnKind;
  readonly size: number;
  /** Seconds the build took. */
  readonly buildSeconds: number;
  readonly settings: AnnSettings;
  search(query: Float32Array, k: number): AnnHits;
}

/** Options for `buildAnnIndex`. */
export interface AnnOptions {
  kind: AnnKind;
  /** [n, dims] row-major (kept by reference for exact re-scoring; not modified). */
  vectors: Float32Array;
  dims: number;
  /** Graph degree M (default 16). */
  connectivity?: number;
  /** Beam width while building (ef_construction, default 128). */
  expansionAdd?: number;
  /** Beam width while searching (ef, default 256: 95.7% recall of exact top-10 over 1M items at p99 1.0 ms, bench/recsys.ts). */
  expansionSearch?: number;
  /** `ip` (default) or `augment`. */
  space?: AnnSpace;
  /** usearch only: `f32` (default), `f16` or `i8`. */
  quantization?: AnnQuantization;
  /** Build threads (default: all cores). */
  threads?: number;
}

const require = createRequire(import.meta.url);

function load<T>(pkg: string): T {
  try {
    return require(pkg) as T;
  } catch (err) {
    throw new TrainferError(`ANN index '${pkg}' is not available: ${oneLine(err)} (npm install ${pkg})`, { cause: err });
  }
}

interface UsearchModule {
  Index: new (o: { dimensions: number; metric: string; quantization?: string; connectivity: number; expansion_add: number; expansion_search: number }) => {
    add(keys: BigUint64Array, vectors: Float32Array, threads: number): void;
    search(v: Float32Array, k: number, threads: number): { keys: BigUint64Array; distances: Float32Array };
    size(): number;
  };
}

interface HnswModule {
  HierarchicalNSW: new (space: string, dims: number) => {
    initIndex(max: number, m: number, efConstruction: number): void;
    addPoint(p: number[], label: number): void;
    setEf(ef: number): void;
    searchKnn(q: number[], k: number): { neighbors: number[]; distances: number[] };
    getCurrentCount(): number;
  };
}

/** The augmented items [n, dims + 1] of the MIPS → cosine reduction. */
function augmentItems(v: Float32Array, n: number, dims: number): Float32Array {
  const norms = new Float64Array(n);
  let max = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let d = 0; d < dims; d++) s += v[i * dims + d]! * v[i * dims + d]!;
    norms[i] = s;
    if (s > max) max = s;
  }
  const out = new Float32Array(n * (dims + 1));
  for (let i = 0; i < n; i++) {
    out.set(v.subarray(i * dims, (i + 1) * dims), i * (dims + 1));
    out[i * (dims + 1) + dims] = Math.sqrt(Math.max(0, max - norms[i]!));
  }
  return out;
}

/**
 * Builds an index over `vectors` (item i has key i) that answers maximum-inner-product queries.
 *
 * @example
 * const ix = await buildAnnIndex({ kind: 'usearch', vectors, dims: 64 });
 * ix.search(userVector, 10); // { ids, scores }
 */
export async function buildAnnIndex(o: AnnOptions): Promise<AnnIndex> {
  const n = o.vectors.length / o.dims;
  if (!Number.isInteger(n) || n < 1) throw new TrainferError(`ANN index: ${o.vectors.length} values are not rows of ${o.dims}`);
  const settings: AnnSettings = { kind: o.kind, connectivity: o.connectivity ?? 16, expansionAdd: o.expansionAdd ?? 128, expansionSearch: o.expansionSearch ?? 256, space: o.space ?? 'ip', quantization: o.quantization ?? 'f32' };
  for (const k of ['connectivity', 'expansionAdd', 'expansionSearch'] as const) {
    if (!(Number.isInteger(settings[k]) && settings[k] >= 2)) throw new TrainferError(`ANN ${k} must be an integer ≥ 2, got ${settings[k]}`);
  }
  if (settings.space !== 'augment' && settings.space !== 'ip') throw new TrainferError(`ANN space must be augment or ip, got '${String(settings.space)}'`);
  if (!['f32', 'f16', 'i8'].includes(settings.quantization)) throw new TrainferError(`ANN quantization must be f32, f16 or i8, got '${String(settings.quantization)}'`);
  if (settings.kind === 'hnswlib' && settings.quantization !== 'f32') throw new TrainferError(`hnswlib-node stores f32 vectors only (quantization ${settings.quantization} is usearch's)`);
  const aug = settings.space === 'augment';
  const dims = aug ? o.dims + 1 : o.dims;
  const stored = aug ? augmentItems(o.vectors, n, o.dims) : o.vectors;
  const query = (q: Float32Array): Float32Array => {
    if (!aug) return q;
    const x = new Float32Array(dims);
    x.set(q.subarray(0, o.dims));
    return x;
  };
  // Exact fp32 inner products of the hits, best first.
  const rescore = (q: Float32Array, ids: number[]): AnnHits => {
    const hits = ids.map((id) => {
      let s = 0;
      for (let d = 0; d < o.dims; d++) s += q[d]! * o.vectors[id * o.dims + d]!;
      return { id, s };
    });
    hits.sort((a, b) => b.s - a.s || a.id - b.id);
    return { ids: hits.map((h) => h.id), scores: hits.map((h) => h.s) };
  };
  const t0 = performance.now();
  if (settings.kind === 'usearch') {
    const u = load<UsearchModule>('usearch');
    const ix = new u.Index({ dimensions: dims, metric: aug ? 'cos' : 'ip', quantization: settings.quantization, connectivity: settings.connectivity, expansion_add: settings.expansionAdd, expansion_search: settings.expansionSearch });
    ix.add(BigUint64Array.from({ length: n }, (_, i) => BigInt(i)), stored, o.threads ?? 0);
    const buildSeconds = (performance.now() - t0) / 1000;
    return {
      kind: 'usearch', size: n, buildSeconds, settings,
      search: (q, k) => rescore(q, Array.from(ix.search(query(q), Math.min(k, n), 1).keys, (x) => Number(x))),
    };
  }
  if (settings.kind === 'hnswlib') {
    const h = load<HnswModule>('hnswlib-node');
    const ix = new h.HierarchicalNSW(aug ? 'cosine' : 'ip', dims);
    ix.initIndex(n, settings.connectivity, settings.expansionAdd);
    for (let i = 0; i < n; i++) ix.addPoint(Array.from(stored.subarray(i * dims, (i + 1) * dims)), i);
    ix.setEf(settings.expansionSearch);
    const buildSeconds = (performance.now() - t0) / 1000;
    return {
      kind: 'hnswlib', size: n, buildSeconds, settings,
      search: (q, k) => rescore(q, ix.searchKnn(Array.from(query(q)), Math.min(k, n)).neighbors),
    };
  }
  throw new TrainferError(`--ann must be ${ANN_KINDS.join(' or ')}, got '${String(o.kind)}'`);
}
