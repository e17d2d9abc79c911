/**
 * Approximate nearest-neighbour indexes over item vectors (maximum inner product), behind one small
 * interface: `usearch` (Unum's USearch, HNSW, prebuilt binaries in the npm package — the default) and
 * `hnswlib-node` (the reference HNSW implementation; a native build at install, a dev dependency here,
 * compared in bench/recsys.ts). Both are loaded on demand, so a missing one is a one-line error.
 */
import { createRequire } from 'node:module';
import { TrainferError, oneLine } from '../util/errors.js';

/** ANN libraries. */
export type AnnKind = 'usearch' | 'hnswlib';

/** Libraries `--ann` takes. */
export const ANN_KINDS: readonly AnnKind[] = ['usearch', 'hnswlib'];

/** Top hits of one query: item indices and inner products, best first. */
export interface AnnHits {
  ids: number[];
  scores: number[];
}

/** A built index. */
export interface AnnIndex {
  readonly kind: AnnKind;
  readonly size: number;
  /** Seconds the build took. */
  readonly buildSeconds: number;
  search(query: Float32Array, k: number): AnnHits;
}

/** Options for `buildAnnIndex`. */
export interface AnnOptions {
  kind: AnnKind;
  /** [n, dims] row-major. */
  vectors: Float32Array;
  dims: number;
  /** Graph degree M (default 16). */
  connectivity?: number;
  /** Beam width while building (ef_construction, default 128). */
  expansionAdd?: number;
  /** Beam width while searching (ef, default 64). */
  expansionSearch?: number;
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

/**
 * Builds an inner-product index over `vectors` (item i has key i).
 *
 * @example
 * const ix = await buildAnnIndex({ kind: 'usearch', vectors, dims: 64 });
 * ix.search(userVector, 10); // { ids, scores }
 */
export async function buildAnnIndex(o: AnnOptions): Promise<AnnIndex> {
  const n = o.vectors.length / o.dims;
  if (!Number.isInteger(n) || n < 1) throw new TrainferError(`ANN index: ${o.vectors.length} values are not rows of ${o.dims}`);
  const M = o.connectivity ?? 16;
  const efc = o.expansionAdd ?? 128;
  const ef = o.expansionSearch ?? 64;
  const t0 = performance.now();
  if (o.kind === 'usearch') {
    const u = load<UsearchModule>('usearch');
    const ix = new u.Index({ dimensions: o.dims, metric: 'ip', connectivity: M, expansion_add: efc, expansion_search: ef });
    ix.add(BigUint64Array.from({ length: n }, (_, i) => BigInt(i)), o.vectors, o.threads ?? 0);
    const buildSeconds = (performance.now() - t0) / 1000;
    return {
      kind: 'usearch', size: n, buildSeconds,
      search: (q, k) => {
        const m = ix.search(q, k, 1);
        // usearch's 'ip' distance is 1 − ⟨q, x⟩.
        return { ids: Array.from(m.keys, (x) => Number(x)), scores: Array.from(m.distances, (d) => 1 - d) };
      },
    };
  }
  if (o.kind === 'hnswlib') {
    const h = load<HnswModule>('hnswlib-node');
    const ix = new h.HierarchicalNSW('ip', o.dims);
    ix.initIndex(n, M, efc);
    for (let i = 0; i < n; i++) ix.addPoint(Array.from(o.vectors.subarray(i * o.dims, (i + 1) * o.dims)), i);
    ix.setEf(ef);
    const buildSeconds = (performance.now() - t0) / 1000;
    return {
      kind: 'hnswlib', size: n, buildSeconds,
      search: (q, k) => {
        const r = ix.searchKnn(Array.from(q), k);
        return { ids: r.neighbors, scores: r.distances.map((d) => 1 - d) };
      },
    };
  }
  throw new TrainferError(`--ann must be ${ANN_KINDS.join(' or ')}, got '${String(o.kind)}'`);
}
