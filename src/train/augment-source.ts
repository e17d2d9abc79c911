/**
 * Training epochs with image augmentation: the same seeded permutation per epoch as an in-memory table
 * source, every column-fed feed copied by the batcher as usual except the image input, which comes
 * transformed and standardised from an `AugmentLoader` (a worker thread making batches ahead). The
 * augmentation draws are keyed by the epoch's shuffle state (in the checkpoint) and the batch index, so
 * a resumed run replays them exactly; the spec is part of the checkpoint fingerprint.
 */
import type { PackedTable } from '../data/batcher.js';
import { packTable } from '../data/batcher.js';
import { type AugmentSpec, epochKey } from '../data/augment.js';
import { AugmentLoader } from '../data/augment-loader.js';
import type { FeedPlan } from '../data/feed-plan.js';
import type { Table } from '../data/table.js';
import { TrainferError } from '../util/errors.js';
import type { EpochSource } from './fit-setup.js';

/** Options for `augmentedSource`. */
export interface AugmentedSourceOptions {
  table: Table;
  plan: FeedPlan;
  spec: AugmentSpec;
  /** The fit seed (mixed into every epoch's key). */
  seed: number;
  batchSize: number;
  /** The batcher's buffer of each feed, by name (the image feed's is filled here). */
  buffer: (name: string) => Float32Array;
  /** Make batches on a worker thread (default true). */
  thread?: boolean;
  lookahead?: number;
}

/** An epoch source that augments the image input; `close` stops its worker. */
export type AugmentedSource = EpochSource & { readonly feed: string; close(): Promise<void> };

/** The image-fed input of `plan` and how its pixels map to values, or a one-line error. */
function imageFeed(table: Table, plan: FeedPlan, packed: PackedTable) {
  const candidates = plan.feeds.filter((f) => f.columns?.length === 1 && (f.columns[0]!.kind === 'image' || f.columns[0]!.shape.length >= 2));
  if (candidates.length !== 1) {
    throw new TrainferError(`--augment: ${table.source} ${candidates.length === 0 ? 'feeds no image input (augmentation needs a column of [C, H, W] or [H, W] pixels)' : `feeds ${candidates.length} image inputs (${candidates.map((c) => c.spec.name).join(', ')}); augmentation supports one`}`);
  }
  const f = candidates[0]!;
  const col = f.columns![0]!;
  const [channels, height, width] = col.shape.length === 2 ? [1, col.shape[0]!, col.shape[1]!] : (col.shape as [number, number, number]);
  if (col.shape.length > 3) throw new TrainferError(`--augment: input '${f.spec.name}' has samples of shape [${col.shape.join(', ')}]; expected [C, H, W]`);
  if (f.spec.dtype !== 'float32') throw new TrainferError(`--augment: input '${f.spec.name}' is ${f.spec.dtype}; augmentation writes float32 images`);
  const k = packed.kernels.get(f.spec.name)!;
  const per = (a: Float32Array) => Float32Array.from({ length: channels }, (_, c) => a[a.length === 1 ? 0 : c]!);
  if (k.kind === 'affine-u8' || k.kind === 'affine-f32') return { name: f.spec.name, images: k.src, layout: { channels, height, width, mul: per(k.mul), add: per(k.add) } };
  if (col.dtype !== 'float32') throw new TrainferError(`--augment: input '${f.spec.name}' reads a ${col.dtype} column; expected bytes or float32 pixels`);
  return { name: f.spec.name, images: col.data as Float32Array, layout: { channels, height, width, mul: new Float32Array(channels).fill(1), add: new Float32Array(channels) } };
}

/** Epochs over `table` with the image input augmented (see the file header). */
export function augmentedSource(o: AugmentedSourceOptions): AugmentedSource {
  const full = packTable(o.table, o.plan, { preconvert: false });
  const img = imageFeed(o.table, o.plan, full);
  const packed: PackedTable = { ...full, kernels: new Map([...full.kernels].filter(([name]) => name !== img.name)) };
  const target = o.buffer(img.name);
  const steps = Math.floor(o.table.count / o.batchSize);
  const loader = AugmentLoader.create({ images: img.images, layout: img.layout, spec: o.spec, batchSize: o.batchSize, thread: o.thread, lookahead: o.lookahead });
  const rows = { packed, table: o.table, order: new Uint32Array(0) as ArrayLike<number>, start: 0 };
  return {
    feed: img.name,
    count: o.table.count,
    begin: (shuffle) => {
      const key = epochKey(shuffle.state(), o.seed);
      const order = shuffle.permutation(o.table.count);
      rows.order = order;
      loader.begin(order, key, steps);
    },
    batch: async (b, size) => {
      target.set((await loader.batch(b)).subarray(0, target.length));
      rows.start = b * size;
      return rows;
    },
    position: () => undefined,
    close: () => loader.close(),
  };
}
