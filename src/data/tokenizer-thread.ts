/**
 * The body of a `TokenizerWorker` thread: load the tokenizer.json from `workerData`, then prepare
 * (`workerData.preprocess`) and encode batches as they arrive and post the rows back with their buffers
 * transferred.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { oneLine } from '../util/errors.js';
import { type TextPreprocess, preprocessTexts } from './email-text.js';
import { TextTokenizer } from './tokenizer.js';
import type { FromTokenizerThread, ToTokenizerThread } from './tokenizer-worker.js';

if (!parentPort) throw new Error('tokenizer-thread must run inside a worker thread');
const port = parentPort;
const post = (m: FromTokenizerThread, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
const init = workerData as { json: string; source: string; maxLength?: number; preprocess?: TextPreprocess };

let tok: TextTokenizer | undefined;
try {
  tok = TextTokenizer.fromJson(init.json, { source: init.source, maxLength: init.maxLength });
  post({ type: 'ready', maxLength: tok.maxLength, padId: tok.padId, vocabSize: tok.vocabSize });
} catch (err) {
  post({ type: 'init-error', message: oneLine(err) });
}

port.on('message', (m: ToTokenizerThread) => {
  if (m.type === 'close' || !tok) {
    port.close();
    return;
  }
  const t = tok;
  preprocessTexts(m.texts, init.preprocess).then((texts) => t.encodeBatch(texts, m.options)).then(
    (batch) => post({ type: 'done', id: m.id, batch }, [batch.ids.buffer, batch.mask.buffer, batch.lengths.buffer, batch.truncated.buffer] as ArrayBuffer[]),
    (err: unknown) => post({ type: 'error', id: m.id, message: oneLine(err) }),
  );
});
