/**
 * Exporting a trained retrieval model: run the item tower over the whole catalog once (onnxruntime,
 * batches of 8,192 items), bake the item vectors into the retrieval graph (MatMul + TopK), record the
 * id vocabularies in its `trainfer.recsys` metadata (so `recommend`, `eval` and serving map raw ids),
 * and write it through `writeModelVerified` (loaded and run once before it replaces anything).
 */
import * as ort from 'onnxruntime-node';
import type { Model } from '../onnx/ir.js';
import { Tensor } from '../onnx/tensor.js';
import { Session } from '../runtime/session.js';
import { writeModelVerified } from '../runtime/verified-write.js';
import { RECSYS_METADATA_KEY, type RetrievalModel } from '../nn/retrieval.js';

/** The item tower's vectors for every item, [items, vectorDim]. */
export async function itemVectors(model: RetrievalModel, weights?: ReadonlyMap<string, Tensor>, threads?: number): Promise<Tensor> {
  const I = model.options.items;
  const D = model.vectorDim;
  const session = await Session.create({ model: model.itemTowerGraph({ weights }) }, { intraOpThreads: threads });
  try {
    const out = new Float32Array(I * D);
    const B = 8192;
    for (let s = 0; s < I; s += B) {
      const n = Math.min(B, I - s);
      const ids = BigInt64Array.from({ length: n }, (_, i) => BigInt(s + i));
      const r = await session.ort.run({ item: new ort.Tensor('int64', ids, [n, 1]) });
      out.set(r.item_vectors!.data as Float32Array, s * D);
    }
    return new Tensor('float32', [I, D], out);
  } finally {
    await session.release();
  }
}

/** Options for `exportRetrieval`. */
export interface ExportRetrievalOptions {
  path: string;
  model: RetrievalModel;
  weights?: ReadonlyMap<string, Tensor>;
  /** Raw ids of users and items (absent: the index is the id). */
  userIds?: readonly string[];
  itemIds?: readonly string[];
  /** K of the exported TopK (default 100, at most the catalog). */
  topK?: number;
  /** Extra metadata fields (data source, training settings). */
  info?: Record<string, unknown>;
  threads?: number;
}

/** Builds the retrieval model with its catalog and vocabularies and writes it verified. Returns the model. */
export async function exportRetrieval(o: ExportRetrievalOptions): Promise<Model> {
  const vectors = await itemVectors(o.model, o.weights, o.threads);
  const model = o.model.inferenceGraph({ weights: o.weights, itemVectors: vectors, topK: o.topK });
  const md = JSON.parse(model.metadata.get(RECSYS_METADATA_KEY)!) as Record<string, unknown>;
  model.metadata.set(RECSYS_METADATA_KEY, JSON.stringify({ ...md, ...o.info, ...(o.userIds ? { userIds: o.userIds } : {}), ...(o.itemIds ? { itemIds: o.itemIds } : {}) }));
  await writeModelVerified({
    path: o.path,
    model,
    feeds: { user: Tensor.i64([2, 1], [0, -1]), exclude: Tensor.i64([2, 1], [-1, 0]) },
  });
  return model;
}
