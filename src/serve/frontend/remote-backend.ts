/**
 * The `ServeBackend` of an HTTP worker thread: names resolve against a catalog the main thread keeps
 * current, decoded requests and every non-inference operation go to the main thread over the worker's
 * port, and answers come back by message id. Only inference carries tensors; their buffers are
 * transferred, not copied.
 */
import type { MessagePort } from 'node:worker_threads';
import type { BatchRequest, BatchResult } from '../batcher.js';
import { InferenceError } from '../errors.js';
import { type CatalogEntry, resolveInCatalog } from '../repository.js';
import type { ControlAnswer, ControlRequest, ServeBackend, ServedModel } from '../served-model.js';
import { type FromFrontend, type ToFrontend, type WireError, tensorsFromWire, tensorsToWire } from './protocol.js';

interface Waiting {
  resolve: (m: Extract<ToFrontend, { t: 'result' | 'control-result' }>) => void;
  reject: (e: Error) => void;
}

/** The worker side of the front-end protocol. */
export class RemoteBackend implements ServeBackend {
  private catalog = new Map<string, CatalogEntry>();
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;
  private isClosing = false;

  constructor(
    private readonly port: MessagePort,
    readonly root: string,
    catalog: CatalogEntry[],
  ) {
    this.setCatalog(catalog);
  }

  /** Handles a main → worker message meant for the backend; false for others. */
  receive(m: ToFrontend): boolean {
    switch (m.t) {
      case 'result':
      case 'control-result':
      case 'error': {
        const w = this.waiting.get(m.id);
        if (!w) return true;
        this.waiting.delete(m.id);
        if (m.t === 'error') w.reject(toError(m.error));
        else w.resolve(m);
        return true;
      }
      case 'catalog':
        this.setCatalog(m.entries);
        return true;
      case 'closing':
        this.isClosing = true;
        return true;
      default:
        return false;
    }
  }

  resolve(name: string, version: string | undefined): ServedModel {
    // Once the server closes, the catalog empties: say so rather than "unknown model".
    if (this.isClosing) throw new InferenceError('the server is shutting down', 503, { 'Retry-After': '1' });
    return resolveInCatalog(this.catalog, name, version);
  }

  async submit(model: ServedModel, req: BatchRequest): Promise<BatchResult> {
    const id = this.nextId++;
    const transfer: ArrayBuffer[] = [];
    const msg: FromFrontend = {
      t: 'infer', id, name: model.name, version: model.version, uid: model.uid, feeds: tensorsToWire(req.feeds, transfer),
      batch: req.batch, fetches: req.fetches ? [...req.fetches] : undefined, rid: req.id ?? '', ...(req.parameters ? { parameters: req.parameters } : {}),
    };
    const answer = this.ask(id, msg, transfer);
    req.signal?.addEventListener('abort', () => this.post({ t: 'cancel', id }), { once: true });
    const r = (await answer) as Extract<ToFrontend, { t: 'result' }>;
    return { outputs: tensorsFromWire(r.outputs), queueMs: r.queueMs, computeMs: r.computeMs, batchSize: r.batchSize, ...(r.parameters ? { parameters: r.parameters } : {}) };
  }

  async control(req: ControlRequest): Promise<ControlAnswer> {
    const id = this.nextId++;
    const r = (await this.ask(id, { t: 'control', id, req })) as Extract<ToFrontend, { t: 'control-result' }>;
    return r.answer;
  }

  closing(): boolean {
    return this.isClosing;
  }

  private ask(id: number, msg: FromFrontend, transfer: ArrayBuffer[] = []): Promise<Extract<ToFrontend, { t: 'result' | 'control-result' }>> {
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.port.postMessage(msg, transfer);
    });
  }

  private post(msg: FromFrontend): void {
    this.port.postMessage(msg);
  }

  private setCatalog(entries: CatalogEntry[]): void {
    this.catalog = new Map(entries.map((e) => [e.name, e]));
  }
}

function toError(e: WireError): InferenceError {
  return new InferenceError(e.message, e.status, e.headers);
}
