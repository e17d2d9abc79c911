/**
 * The augmentation worker thread: holds the training images (shared memory, never copied per batch) and
 * writes transformed, standardised batches into the shared slots the main thread names, ahead of the
 * step that needs them. Its whole input is `workerData` plus `epoch` and `make` messages; its draws
 * depend only on the epoch key and the batch index (see augment.ts), so its output equals the in-thread
 * kernel's bit for bit.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type AugmentSpec, type ImageLayout, augmentBatch, transformSlots } from './augment.js';
import type { AugmentWorkerInit, FromAugmentWorker, ToAugmentWorker } from './augment-loader.js';

const init = workerData as AugmentWorkerInit;
const src = init.pixelDtype === 'uint8' ? new Uint8Array(init.pixels) : new Float32Array(init.pixels);
const slots = new Float32Array(init.slots);
const layout: ImageLayout = { ...init.layout, mul: Float32Array.from(init.layout.mul), add: Float32Array.from(init.layout.add) };
const spec: AugmentSpec = init.spec;
const size = layout.channels * layout.height * layout.width;
const scratch = transformSlots(init.batchSize);
let gen = -1;
let order = new Uint32Array(0) as Uint32Array<ArrayBufferLike>;
let key = 0;

parentPort!.on('message', (m: ToAugmentWorker) => {
  try {
    if (m.type === 'epoch') {
      gen = m.gen;
      order = m.order;
      key = m.key;
      return;
    }
    if (m.gen !== gen) return; // a request of an epoch that has been replaced
    const dst = slots.subarray(m.slot * init.batchSize * size, (m.slot + 1) * init.batchSize * size);
    augmentBatch({ src, dst, order, start: m.start, n: m.n, b: m.b, key, spec, layout, scratch });
    parentPort!.postMessage({ type: 'done', gen, b: m.b } satisfies FromAugmentWorker);
  } catch (err) {
    parentPort!.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) } satisfies FromAugmentWorker);
  }
});
