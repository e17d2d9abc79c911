/**
 * The body of an `AnnWorker` thread (see ann-worker.ts): loads a retrieval model, builds its ANN index
 * (the user tower and the exact graph as onnxruntime sessions, the index over the catalog's vectors),
 * measures the index's recall against exact top-10 on a sample of users, then answers queries one at a
 * time. Nothing here runs on the server's main thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { readModel } from '../onnx/model-io.js';
import { oneLine } from '../util/errors.js';
import type { AnnThreadData, FromAnnThread, ToAnnThread } from './ann-worker.js';
import { Recommender } from './retrieval.js';

const port = parentPort!;
const data = workerData as AnnThreadData;

async function main(): Promise<void> {
  let rec: Recommender;
  try {
    rec = await Recommender.load(readModel(data.file), { ...data.options, name: data.file });
    const recall = data.recallSample > 0 ? await rec.measureAnnRecall({ sample: data.recallSample, k: 10 }) : undefined;
    port.postMessage({ type: 'ready', settings: rec.ann!.settings, buildSeconds: rec.ann!.buildSeconds, recall } satisfies FromAnnThread);
  } catch (err) {
    port.postMessage({ type: 'init-error', message: oneLine(err) } satisfies FromAnnThread);
    return;
  }
  const D = rec.info.vectorDim;
  // One query at a time, in arrival order: a search takes well under a millisecond.
  let chain = Promise.resolve();
  port.on('message', (m: ToAnnThread) => {
    if (m.type === 'close') {
      chain = chain.then(async () => {
        await rec.close();
        process.exit(0); // ends this thread only
      });
      return;
    }
    chain = chain.then(async () => {
      const t0 = performance.now();
      try {
        const B = m.users.length;
        const exclude = Array.from({ length: B }, (_, b) => Array.from(m.exclude.subarray(b * m.excluded, (b + 1) * m.excluded), Number).filter((x) => x >= 0));
        // Out-of-range users are cold start (the graph's rule), also past 2^53.
        const users = Array.from(m.users, (u) => (u >= 0n && u < BigInt(rec.info.users) ? Number(u) : -1));
        const res = await rec.recommend({ users, k: m.k, exclude, mode: 'ann' });
        const items = new BigInt64Array(B * m.k).fill(-1n);
        const scores = new Float32Array(B * m.k).fill(-3e38);
        const userVector = new Float32Array(B * D);
        const coldStart = new Uint8Array(B);
        res.forEach((r, b) => {
          r.items.forEach((it, j) => {
            items[b * m.k + j] = BigInt(it);
            scores[b * m.k + j] = r.scores[j]!;
          });
          if (r.vector) userVector.set(r.vector, b * D);
          coldStart[b] = r.coldStart ? 1 : 0;
        });
        const msg: FromAnnThread = { type: 'done', id: m.id, items, scores, userVector, coldStart, ms: performance.now() - t0 };
        port.postMessage(msg, [items.buffer, scores.buffer, userVector.buffer, coldStart.buffer]);
      } catch (err) {
        port.postMessage({ type: 'error', id: m.id, message: oneLine(err) } satisfies FromAnnThread);
      }
    });
  });
}

void main();
