/**
 * The `dlrm` preset (Naumov et al. 2019, as MLPerf's DLRM): a bottom MLP on the standardised dense
 * features down to the embedding width D, one embedding table per sparse (categorical / id) field, the
 * pairwise dot interaction of all F vectors, and a top MLP to one click logit. Built as a `Network`
 * (one input per field with its own branch, `DotInteraction` in the trunk, a `binary` head), so it
 * trains, exports and serves like any other network; its tables are what the sparse-update extension
 * takes over.
 */
import { cloneGraph } from '../autodiff/index.js';
import { GraphBuilder } from '../onnx/builder.js';
import { Model } from '../onnx/ir.js';
import { topoSort } from '../onnx/passes.js';
import { Tensor } from '../onnx/tensor.js';
import { TrainferError } from '../util/errors.js';
import type { Layer } from './layer.js';
import { Embedding, Flatten, Linear, Normalize, ReLU } from './layers-dense.js';
import { DotInteraction } from './layers-recsys.js';
import { Network, type NetworkInput } from './network.js';

/** A sparse field: its input name and number of categories (the table gets one extra row for unseen ones). */
export interface SparseField {
  name: string;
  categories: number;
}

/** Options for `buildDlrm`. */
export interface DlrmOptions {
  /** Number of dense features (0: none). */
  dense: number;
  /** Their standardisation (mean/std per feature). */
  normalize?: { mean: readonly number[]; std: readonly number[] };
  sparse: readonly SparseField[];
  /** Embedding width D (default 16). */
  dim?: number;
  /** Bottom MLP hidden sizes before the D-wide output (default [64]). */
  bottom?: readonly number[];
  /** Top MLP hidden sizes before the logit (default [64, 32]). */
  top?: readonly number[];
  seed?: number;
  name?: string;
}

/**
 * A DLRM-style ranker: inputs `dense` [dense] (float32) and one int64 [1] input per sparse field; head
 * `click` (one logit; the exported model adds `probabilities`).
 *
 * @example
 * const net = buildDlrm({ dense: 2, sparse: [{ name: 'user', categories: 1000 }, { name: 'item', categories: 500 }] });
 */
export function buildDlrm(o: DlrmOptions): Network {
  const D = o.dim ?? 16;
  if (o.sparse.length === 0) throw new TrainferError('dlrm needs at least one sparse (categorical or id) field');
  if (!(Number.isInteger(D) && D > 0)) throw new TrainferError(`dlrm: embedding width must be a positive integer, got ${D}`);
  const inputs: NetworkInput[] = [];
  if (o.dense > 0) {
    const bottom: Layer[] = o.normalize ? [new Normalize(o.normalize)] : [];
    for (const h of o.bottom ?? [64]) bottom.push(new Linear({ outFeatures: h }), new ReLU());
    bottom.push(new Linear({ outFeatures: D }), new ReLU());
    inputs.push({ name: 'dense', shape: [o.dense], layers: bottom });
  }
  for (const f of o.sparse) {
    if (!(Number.isInteger(f.categories) && f.categories >= 1)) throw new TrainferError(`dlrm: field '${f.name}' needs a positive number of categories, got ${f.categories}`);
    inputs.push({ name: f.name, shape: [1], dtype: 'int64', layers: [new Embedding({ numEmbeddings: f.categories + 1, dim: D, std: 1 / Math.sqrt(D) }), new Flatten()] });
  }
  const F = inputs.length;
  const trunk: Layer[] = F >= 2 ? [new DotInteraction({ fields: F, dim: D })] : [];
  for (const h of o.top ?? [64, 32]) trunk.push(new Linear({ outFeatures: h }), new ReLU());
  trunk.push(new Linear({ outFeatures: 1, init: 'xavier-uniform' }));
  return new Network({ inputs, layers: trunk, heads: [{ name: 'click', task: 'binary' }], seed: o.seed, name: o.name ?? 'dlrm' });
}

/**
 * Makes an exported ranker safe for any id: each sparse input's ids outside 0..categories−1 read the
 * table's extra row, which is set to the mean of the trained rows (an unseen user or item scores as an
 * average one) — so a request with an unknown id gets a documented answer instead of failing its whole
 * batch. Returns a new model; the input is not modified.
 */
export function guardSparseIds(model: Model, fields: readonly SparseField[]): Model {
  const g = cloneGraph(model.graph);
  const b = new GraphBuilder({ graph: g, prefix: 'guard/' });
  for (const f of fields) {
    if (!g.inputs.some((i) => i.name === f.name)) continue;
    const readers = g.nodes.filter((n) => n.inputs.includes(f.name));
    const unknown = b.constant(Tensor.i64([], [f.categories]), `${f.name}_unknown`);
    const valid = b.op1('And', [b.op1('GreaterOrEqual', [f.name, b.constant(Tensor.i64([], [0]), 'zero')]), b.less(f.name, unknown)]);
    const safe = b.where(valid, f.name, unknown);
    for (const n of readers) {
      n.inputs = n.inputs.map((x) => (x === f.name ? safe : x));
      if (n.opType !== 'Gather') continue;
      const t = g.initializers.get(n.inputs[0]!);
      if (!t || t.dtype !== 'float32' || t.dims[0] !== f.categories + 1) continue;
      const [rows, dim] = t.dims as [number, number];
      const data = (t.data as Float32Array).slice();
      data.fill(0, f.categories * dim);
      for (let r = 0; r < f.categories; r++) for (let d = 0; d < dim; d++) data[f.categories * dim + d]! += data[r * dim + d]! / f.categories;
      g.initializers.set(n.inputs[0]!, new Tensor('float32', [rows, dim], data));
    }
  }
  topoSort(g);
  const m = new Model(g);
  m.opsets = new Map(model.opsets);
  m.producerName = model.producerName;
  m.metadata = new Map(model.metadata);
  return m;
}
