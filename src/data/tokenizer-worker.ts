/**
 * `TokenizerWorker`: a `TextTokenizer` in a worker thread. The main thread posts texts and gets back
 * id/mask rows as transferred buffers, so tokenizing (the library calls, copying ids out of its
 * encodings) never runs on the thread that drives training steps or serves requests. A worker started
 * with `preprocess` prepares each text first (e.g. `email`: MIME decoding, see email-text.ts), so the
 * preparation costs the worker's time, not the caller's. The worker's body
 * is tokenizer-thread.ts.
 */
import { Worker } from 'node:worker_threads';
import { TrainferError, oneLine } from '../util/errors.js';
import type { TextPreprocess } from './email-text.js';
import type { EncodeOptions, EncodedBatch } from './tokenizer.js';

/** Main → worker. */
export type ToTokenizerThread = { type: 'encode'; id: number; texts: string[]; options: EncodeOptions } | { type: 'close' };
/** Worker → main. */
export type FromTokenizerThread =
  | { type: 'ready'; maxLength: number; padId: number; vocabSize: number }
  | { type: 'init-error'; message: string }
  | { type: 'done'; id: number; batch: EncodedBatch }
  | { type: 'error'; id: number; message: string };

/** Bootstrap code: dist runs the sibling .js; under tsx the worker registers tsx's loader first. */
function bootstrap(): string {
  const self = new URL(import.meta.url);
  if (!self.pathname.endsWith('.ts')) return `import(${JSON.stringify(new URL('./tokenizer-thread.js', self).href)});`;
  const entry = new URL('./tokenizer-thread.ts', self).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  return `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
}

/** A tokenizer running in its own thread. */
export class TokenizerWorker {
  private next = 1;
  private readonly waiting = new Map<number, { resolve: (b: EncodedBatch) => void; reject: (e: Error) => void }>();
  private failed?: Error;

  private constructor(private readonly worker: Worker, readonly maxLength: number, readonly padId: number, readonly vocabSize: number) {
    worker.on('message', (m: FromTokenizerThread) => {
      if (m.type !== 'done' && m.type !== 'error') return;
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (this.waiting.size === 0) worker.unref();
      if (m.type === 'done') w?.resolve(m.batch);
      else w?.reject(new TrainferError(m.message));
    });
    const fail = (err: Error) => {
      this.failed ??= err;
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    };
    worker.on('error', (err) => fail(new TrainferError(`tokenizer worker failed: ${oneLine(err)}`)));
    worker.on('exit', (code) => fail(new TrainferError(`tokenizer worker exited (code ${code})`)));
    worker.unref();
  }

  /** Starts a worker for a tokenizer.json (its text) and waits until it has loaded it. */
  static start(o: { json: string; source: string; maxLength?: number; preprocess?: TextPreprocess }): Promise<TokenizerWorker> {
    const worker = new Worker(bootstrap(), { eval: true, workerData: o });
    return new Promise((resolve, reject) => {
      const onMessage = (m: FromTokenizerThread) => {
        if (m.type === 'ready') {
          cleanup();
          resolve(new TokenizerWorker(worker, m.maxLength, m.padId, m.vocabSize));
        } else if (m.type === 'init-error') {
          cleanup();
          void worker.terminate();
          reject(new TrainferError(m.message));
        }
      };
      const onError = (err: Error) => {
        cleanup();
        reject(new TrainferError(`${o.source}: tokenizer worker failed to start: ${oneLine(err)}`));
      };
      const cleanup = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
    });
  }

  /** Prepares (with the worker's `preprocess`) and encodes texts in the worker (see `TextTokenizer.encodeBatch`). */
  encodeBatch(texts: readonly string[], options: EncodeOptions = {}): Promise<EncodedBatch> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.next++;
    const msg: ToTokenizerThread = { type: 'encode', id, texts: [...texts], options };
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      // Referenced while a request is pending (the process waits for the answer), unreferenced when idle.
      this.worker.ref();
      this.worker.postMessage(msg);
    });
  }

  /** Stops the worker. */
  async close(): Promise<void> {
    this.failed ??= new TrainferError('tokenizer worker closed');
    // terminate() rather than a close message: the thread holds no state worth a graceful end.
    await this.worker.terminate();
  }
}
