/**
 * Batching: `packTable` turns a table into one source array per column-fed feed, in the feed's dtype
 * (once per table; a single column already in the right form is used in place, byte pixels stay bytes),
 * and `Batcher` copies rows of it into buffers allocated once per feed — any dtype, any number of feeds,
 * nothing allocated per batch. Byte and float inputs can be standardised while copying (what a model's
 * leading `Normalize` layer would do, one graph pass fewer). Providers fill computed feeds afterwards.
 */
import { type DType, type TypedArray, allocate, floatToHalf } from '../onnx/dtype.js';
import { TrainferError } from '../util/errors.js';
import { type BatchFeed, type FeedPlan, type PlannedFeed, type ProviderBatch, feedSize } from './feed-plan.js';
import { type Column, type Table, columnSize, columnToFloat64, getColumn } from './table.js';

/** A per-step buffer of one feed: `batchSize × prod(shape)` elements of `dtype`. */
export interface FeedBuffer {
  name: string;
  dtype: DType;
  /** Per-sample shape. */
  shape: number[];
  data: TypedArray;
}

type BitView = Uint8Array | Uint16Array | Int32Array;

/** How rows of one feed are copied: raw bits, or bytes/floats through a per-channel affine map into float32. */
type Kernel =
  | { kind: 'bits'; src: BitView; words: number }
  | { kind: 'affine-u8'; src: Uint8Array; size: number; chunk: number; mul: Float32Array; add: Float32Array }
  | { kind: 'affine-f32'; src: Float32Array; size: number; chunk: number; mul: Float32Array; add: Float32Array };

/** A table prepared for one feed plan: one row source per column-fed feed. */
export interface PackedTable {
  source: string;
  count: number;
  /** By feed name (column-fed feeds only). */
  kernels: ReadonlyMap<string, Kernel>;
}

/** Storage words per element and the view that copies them bit for bit. */
function bitView(a: TypedArray): { view: BitView; perElement: number } {
  if (a instanceof Uint8Array || a instanceof Int8Array) return { view: new Uint8Array(a.buffer, a.byteOffset, a.length), perElement: 1 };
  if (a instanceof Uint16Array || a instanceof Int16Array) return { view: new Uint16Array(a.buffer, a.byteOffset, a.length), perElement: 1 };
  const words = a.byteLength / 4;
  return { view: new Int32Array(a.buffer, a.byteOffset, words), perElement: words / Math.max(1, a.length) };
}

/** The storage a column holds for `dtype` when it can be used in place (same element type, no scaling). */
function inPlace(c: Column, dtype: DType): TypedArray | undefined {
  if (Array.isArray(c.data)) return undefined;
  if (c.dtype === dtype && (c.dtype !== 'uint8' || (c.scale ?? 1) === 1)) return c.data;
  return undefined;
}

/** Converts columns (concatenated per row) to one array of `dtype`, `count × size`. */
function convert(cols: readonly Column[], dtype: DType, count: number, size: number): TypedArray {
  const out = allocate(dtype, count * size) as TypedArray;
  const dstAny = out as unknown as { [i: number]: unknown };
  let off = 0;
  for (const c of cols) {
    const s = columnSize(c);
    const same = inPlace(c, dtype) as unknown as { [i: number]: unknown } | undefined;
    const v = same ? undefined : columnToFloat64(c);
    for (let i = 0; i < count; i++) {
      for (let k = 0; k < s; k++) {
        const dst = i * size + off + k;
        const src = i * s + k;
        if (same) dstAny[dst] = same[src];
        else if (out instanceof BigInt64Array) out[dst] = BigInt(v![src]!);
        else if (dtype === 'float16') (out as Uint16Array)[dst] = floatToHalf(v![src]!);
        else (out as Float32Array)[dst] = v![src]!;
      }
    }
    off += s;
  }
  return out;
}

function kernelFor(f: PlannedFeed, count: number): Kernel {
  const cols = f.columns!;
  const size = feedSize(f);
  const nz = f.spec.normalize;
  const dtype = f.spec.dtype;
  const affine = (scale: number): { chunk: number; mul: Float32Array; add: Float32Array } => {
    const ch = nz ? nz.mean.length : 1;
    if (size % ch !== 0) throw new TrainferError(`input '${f.spec.name}': standardisation has ${ch} channels but samples have ${size} values`);
    return {
      chunk: size / ch,
      mul: Float32Array.from({ length: ch }, (_, k) => scale / (nz ? nz.std[k]! : 1)),
      add: Float32Array.from({ length: ch }, (_, k) => (nz ? -nz.mean[k]! / nz.std[k]! : 0)),
    };
  };
  const one = cols.length === 1 ? cols[0]! : undefined;
  if (dtype === 'float32' && one?.dtype === 'uint8') return { kind: 'affine-u8', src: one.data as Uint8Array, size, ...affine(one.scale ?? 1) };
  if (dtype === 'float32' && nz) {
    const src = one?.dtype === 'float32' ? (one.data as Float32Array) : (convert(cols, 'float32', count, size) as Float32Array);
    return { kind: 'affine-f32', src, size, ...affine(1) };
  }
  if (nz) throw new TrainferError(`input '${f.spec.name}' (${dtype}): standardisation while batching needs a float32 input`);
  const direct = one ? inPlace(one, dtype) : undefined;
  const data = direct ?? convert(cols, dtype, count, size);
  const { view, perElement } = bitView(data);
  return { kind: 'bits', src: view, words: size * perElement };
}

/**
 * Prepares `table`'s columns for `plan` (conversion to each feed's dtype happens here, once). The result
 * feeds any `Batcher` built for the same plan.
 */
export function packTable(table: Table, plan: FeedPlan): PackedTable {
  const kernels = new Map<string, Kernel>();
  for (const f of plan.feeds) {
    if (!f.columns) continue;
    const cols = f.columns.map((c) => {
      const k = getColumn(table, c.name);
      if (k.dtype !== c.dtype || columnSize(k) !== columnSize(c)) throw new TrainferError(`${table.source}: column '${c.name}' is ${k.dtype} [${k.shape.join(', ')}] here but ${c.dtype} [${c.shape.join(', ')}] in the training data`);
      return k;
    });
    kernels.set(f.spec.name, kernelFor({ ...f, columns: cols }, table.count));
  }
  return { source: table.source, count: table.count, kernels };
}

/**
 * Copies batches of rows into per-feed buffers allocated once.
 *
 * @example
 * const b = new Batcher({ plan, batchSize: 128 });
 * const packed = packTable(train, plan);
 * b.fill(packed, order, 0);             // rows order[0..127] → b.buffers
 * await b.provide({ size: 128, phase: 'train', step: 1 }); // computed feeds, if the plan has any
 */
export class Batcher {
  readonly batchSize: number;
  /** One buffer per feed, in plan order. */
  readonly buffers: FeedBuffer[];
  private readonly views: BitView[];
  private readonly plan: FeedPlan;
  private readonly byName: ReadonlyMap<string, BatchFeed>;
  private readonly providers: { feed: PlannedFeed; buffer: FeedBuffer }[];

  constructor(options: { plan: FeedPlan; batchSize: number }) {
    this.plan = options.plan;
    this.batchSize = options.batchSize;
    this.buffers = this.plan.feeds.map((f) => ({ name: f.spec.name, dtype: f.spec.dtype, shape: [...f.shape], data: allocate(f.spec.dtype, options.batchSize * feedSize(f)) as TypedArray }));
    this.views = this.buffers.map((b) => bitView(b.data).view);
    this.byName = new Map(this.buffers.map((b, i) => {
      const f = this.plan.feeds[i]!;
      return [b.name, { data: b.data, dtype: b.dtype, shape: b.shape, role: f.spec.role, ...(f.columns ? { columns: f.columns.map((c) => c.name) } : {}) }];
    }));
    this.providers = this.plan.feeds.map((feed, i) => ({ feed, buffer: this.buffers[i]! })).filter((p) => p.feed.provider);
  }

  /** The buffer of feed `name`. */
  buffer(name: string): FeedBuffer {
    const b = this.buffers.find((x) => x.name === name);
    if (!b) throw new Error(`no feed named '${name}'`);
    return b;
  }

  /** True when some feed is computed by a provider. */
  get hasProviders(): boolean {
    return this.providers.length > 0;
  }

  /**
   * Fills the column-fed buffers with rows `order[start .. start + count)` of `packed` (rows
   * `start…` when `order` is null). Returns the number of rows copied (fewer at the end of the data).
   */
  fill(packed: PackedTable, order: ArrayLike<number> | null, start: number, count = this.batchSize): number {
    const n = Math.min(count, this.batchSize, (order ? order.length : packed.count) - start);
    const feeds = this.plan.feeds;
    for (let f = 0; f < feeds.length; f++) {
      const k = packed.kernels.get(feeds[f]!.spec.name);
      if (!k) continue;
      if (k.kind === 'bits') {
        const dst = this.views[f]!;
        if (dst instanceof Int32Array) {
          if (order) copyWords32(k.src as Int32Array, dst, k.words, order, start, n);
          else dst.set((k.src as Int32Array).subarray(start * k.words, (start + n) * k.words));
        } else if (dst instanceof Uint16Array) copyWords16(k.src as Uint16Array, dst, k.words, order, start, n);
        else copyWords8(k.src as Uint8Array, dst, k.words, order, start, n);
      } else {
        const out = this.buffers[f]!.data as Float32Array;
        for (let i = 0; i < n; i++) {
          const j = order ? order[start + i]! : start + i;
          for (let c = 0; c < k.mul.length; c++) {
            const from = j * k.size + c * k.chunk;
            const to = i * k.size + c * k.chunk;
            if (k.kind === 'affine-u8') affineU8(k.src, from, out, to, k.chunk, k.mul[c]!, k.add[c]!);
            else affineF32(k.src, from, out, to, k.chunk, k.mul[c]!, k.add[c]!);
          }
        }
      }
    }
    return n;
  }

  /**
   * Runs the providers for the batch just filled from `rows` (undefined when there are none, so callers
   * need not await).
   */
  provide(o: { size: number; phase: ProviderBatch['phase']; step: number; rows: ProviderBatch['rows'] }): Promise<void> | undefined {
    if (this.providers.length === 0) return undefined;
    return (async () => {
      for (const p of this.providers) {
        const r = p.feed.provider!.fill({ out: p.buffer.data, shape: p.buffer.shape, size: o.size, feeds: this.byName, phase: o.phase, step: o.step, rows: o.rows });
        if (r) await r;
      }
    })();
  }
}

// Monomorphic copy loops, one element type each, so V8 keeps them fast (the batch copy runs every step).
// Short rows copy word by word (a subarray per row costs more than the copy); long rows with `set`.
// Separate functions per strategy keep each one's feedback monomorphic.
function copyWords32(src: Int32Array, dst: Int32Array, w: number, order: ArrayLike<number>, start: number, n: number): void {
  if (w > 48) copyRows32(src, dst, w, order, start, n);
  else copyShortRows32(src, dst, w, order, start, n);
}
function copyRows32(src: Int32Array, dst: Int32Array, w: number, order: ArrayLike<number>, start: number, n: number): void {
  for (let i = 0; i < n; i++) {
    const s = order[start + i]! * w;
    dst.set(src.subarray(s, s + w), i * w);
  }
}
function copyShortRows32(src: Int32Array, dst: Int32Array, w: number, order: ArrayLike<number>, start: number, n: number): void {
  let o = 0;
  for (let i = 0; i < n; i++) {
    let s = order[start + i]! * w;
    const e = s + w;
    while (s < e) dst[o++] = src[s++]!;
  }
}
function copyWords16(src: Uint16Array, dst: Uint16Array, w: number, order: ArrayLike<number> | null, start: number, n: number): void {
  for (let i = 0; i < n; i++) {
    const j = order ? order[start + i]! : start + i;
    if (w > 32) dst.set(src.subarray(j * w, j * w + w), i * w);
    else for (let k = 0; k < w; k++) dst[i * w + k] = src[j * w + k]!;
  }
}
function copyWords8(src: Uint8Array, dst: Uint8Array, w: number, order: ArrayLike<number> | null, start: number, n: number): void {
  for (let i = 0; i < n; i++) {
    const j = order ? order[start + i]! : start + i;
    if (w > 64) dst.set(src.subarray(j * w, j * w + w), i * w);
    else for (let k = 0; k < w; k++) dst[i * w + k] = src[j * w + k]!;
  }
}
function affineU8(src: Uint8Array, from: number, dst: Float32Array, to: number, n: number, mul: number, add: number): void {
  for (let k = 0; k < n; k++) dst[to + k] = src[from + k]! * mul + add;
}
function affineF32(src: Float32Array, from: number, dst: Float32Array, to: number, n: number, mul: number, add: number): void {
  for (let k = 0; k < n; k++) dst[to + k] = src[from + k]! * mul + add;
}
