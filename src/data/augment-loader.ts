/**
 * `AugmentLoader`: produces augmented image batches ahead of the training step, on a worker thread, into
 * `lookahead` shared-memory slots (the images are copied into shared memory once; nothing is allocated
 * per batch). The main thread asks for batch `b` when its step needs it; by then the worker has usually
 * made it, and it then starts on batch `b + lookahead`. `thread: false` runs the same kernel in the
 * calling thread (same output bit for bit), for comparisons and environments without workers.
 */
import { Worker } from 'node:worker_threads';
import { TrainferError, oneLine } from '../util/errors.js';
import { type AugmentSpec, type ImageLayout, augmentBatch, transformSlots } from './augment.js';

/** What the worker starts with. */
export interface AugmentWorkerInit {
  pixels: SharedArrayBuffer;
  pixelDtype: 'uint8' | 'float32';
  slots: SharedArrayBuffer;
  batchSize: number;
  spec: AugmentSpec;
  layout: { channels: number; height: number; width: number; mul: number[]; add: number[] };
}

/** Main thread → worker. */
export type ToAugmentWorker =
  | { type: 'epoch'; gen: number; order: Uint32Array<ArrayBufferLike>; key: number }
  | { type: 'make'; gen: number; b: number; slot: number; start: number; n: number };

/** Worker → main thread. */
export type FromAugmentWorker = { type: 'done'; gen: number; b: number } | { type: 'error'; message: string };

/** Options for `AugmentLoader.create`. */
export interface AugmentLoaderOptions {
  /** Raw images, `count × C·H·W` (bytes or floats). */
  images: Uint8Array | Float32Array;
  layout: ImageLayout;
  spec: AugmentSpec;
  batchSize: number;
  /** Batches made ahead (default 4). */
  lookahead?: number;
  /** Run on a worker thread (default true). */
  thread?: boolean;
}

function workerBootstrap(): string {
  const self = new URL(import.meta.url);
  if (!self.pathname.endsWith('.ts')) return `import(${JSON.stringify(new URL('./augment-worker.js', self).href)});`;
  const entry = new URL('./augment-worker.ts', self).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  return `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
}

interface Pending { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void }

/** Augmented batches made ahead of the step (see the file header). */
export class AugmentLoader {
  private readonly size: number;
  private readonly slots: Float32Array;
  private readonly pending = new Map<number, Pending>();
  private gen = 0;
  private order = new Uint32Array(0) as Uint32Array<ArrayBufferLike>;
  private key = 0;
  private steps = 0;
  /** Highest batch index requested in this epoch (−1: none yet). */
  private requested = -1;
  private failure?: Error;
  private readonly scratch;

  private constructor(
    private readonly o: AugmentLoaderOptions,
    private readonly lookahead: number,
    shared: SharedArrayBuffer,
    private readonly worker?: Worker,
  ) {
    this.size = o.layout.channels * o.layout.height * o.layout.width;
    this.slots = new Float32Array(shared);
    this.scratch = transformSlots(o.batchSize);
    worker?.on('message', (m: FromAugmentWorker) => {
      if (m.type === 'error') return this.fail(new TrainferError(`augmentation worker: ${m.message}`));
      if (m.gen !== this.gen) return;
      const p = this.pending.get(m.b);
      p?.resolve();
    });
    worker?.on('error', (err) => this.fail(new TrainferError(`augmentation worker failed: ${oneLine(err)}`)));

  }

  /** Starts the worker (when `thread` is on) with the images in shared memory. */
  static create(o: AugmentLoaderOptions): AugmentLoader {
    const lookahead = Math.max(1, o.lookahead ?? 4);
    const size = o.layout.channels * o.layout.height * o.layout.width;
    if (o.images.length % size !== 0) throw new TrainferError(`augmentation: ${o.images.length} image values are not a whole number of ${o.layout.channels}×${o.layout.height}×${o.layout.width} images`);
    const slots = new SharedArrayBuffer(lookahead * o.batchSize * size * 4);
    if (o.thread === false) return new AugmentLoader(o, lookahead, slots);
    const pixels = new SharedArrayBuffer(o.images.byteLength);
    (o.images instanceof Uint8Array ? new Uint8Array(pixels) : new Float32Array(pixels)).set(o.images as never);
    const init: AugmentWorkerInit = {
      pixels, pixelDtype: o.images instanceof Uint8Array ? 'uint8' : 'float32', slots, batchSize: o.batchSize, spec: o.spec,
      layout: { channels: o.layout.channels, height: o.layout.height, width: o.layout.width, mul: [...o.layout.mul], add: [...o.layout.add] },
    };
    return new AugmentLoader(o, lookahead, slots, new Worker(workerBootstrap(), { eval: true, workerData: init }));
  }

  /** Starts an epoch: rows in `order`, draws keyed by `key`, `steps` batches. Requests of the previous epoch are dropped. */
  begin(order: Uint32Array<ArrayBufferLike>, key: number, steps: number): void {
    this.gen++;
    for (const p of this.pending.values()) p.resolve();
    this.pending.clear();
    this.order = order;
    this.key = key;
    this.steps = steps;
    this.requested = -1;
    this.worker?.postMessage({ type: 'epoch', gen: this.gen, order, key } satisfies ToAugmentWorker);
  }

  private request(b: number): void {
    let resolve!: () => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(() => undefined); // read-ahead nobody awaits yet must not count as unhandled
    this.pending.set(b, { promise, resolve, reject });
    const slot = b % this.lookahead;
    const start = b * this.o.batchSize;
    const n = Math.min(this.o.batchSize, this.order.length - start);
    if (this.worker) this.worker.postMessage({ type: 'make', gen: this.gen, b, slot, start, n } satisfies ToAugmentWorker);
    else {
      const dst = this.slots.subarray(slot * this.o.batchSize * this.size, (slot + 1) * this.o.batchSize * this.size);
      augmentBatch({ src: this.o.images, dst, order: this.order, start, n, b, key: this.key, spec: this.o.spec, layout: this.o.layout, scratch: this.scratch });
      resolve();
    }
  }

  /**
   * Batch `b` of the epoch (`batchSize × C·H·W` float32, standardised). The view stays valid until the
   * next call: copy it out before asking for the next batch.
   */
  async batch(b: number): Promise<Float32Array> {
    if (this.failure) throw this.failure;
    if (b > this.requested + 1 || !this.pending.has(b)) {
      // First batch of the epoch (or of a resumed one), or a jump: start the read-ahead here.
      for (const p of this.pending.values()) p.resolve();
      this.pending.clear();
      this.requested = b - 1;
    }
    // Slot (b − 1) % lookahead was handed out last time and has been copied: refill it with b + lookahead − 1.
    const last = Math.min(this.steps - 1, b + this.lookahead - 1);
    while (this.requested < last) this.request(++this.requested);
    await this.pending.get(b)!.promise;
    if (this.failure) throw this.failure;
    this.pending.delete(b);
    const slot = b % this.lookahead;
    return this.slots.subarray(slot * this.o.batchSize * this.size, (slot + 1) * this.o.batchSize * this.size);
  }

  private fail(err: Error): void {
    this.failure = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  /** Stops the worker (it never runs onnxruntime, so terminating it is safe). */
  async close(): Promise<void> {
    await this.worker?.terminate();
  }
}
