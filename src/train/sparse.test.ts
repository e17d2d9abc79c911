// Sparse embedding updates: the row-wise optimizers against written-out references (PyTorch's sparse
// SGD / Adagrad / SparseAdam, FBGEMM's row-wise Adagrad), sparse training equal to dense training
// where the math is the same (plain SGD), exact resume with the tables and their optimizer state, and
// ids outside a table as a one-line error naming the input and the id.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Table } from '../data/table.js';
import { negativeSampler } from '../data/negatives.js';
import { RetrievalModel } from '../nn/retrieval.js';
import { retrievalLoss } from '../nn/retrieval-losses.js';
import { fit } from './fit.js';
import { SparseEmbeddings } from './sparse-embeddings.js';
import { SparseRowOptimizer } from './sparse-optimizers.js';

test('row-wise optimizers follow their references on the touched rows and leave the others alone', () => {
  const D = 2;
  const init = () => Float32Array.from([1, 2, 3, 4, 5, 6]); // 3 rows
  const ids = Int32Array.from([2, 0]);
  const grads = [Float32Array.from([0.5, -1, 0.25, 0.125]), Float32Array.from([-0.5, 2, 1, 1])];
  const lr = 0.1;
  const run = (type: 'sgd' | 'adagrad' | 'rowwise-adagrad' | 'sparse-adam') => {
    const opt = new SparseRowOptimizer(type === 'sparse-adam' ? { type, beta1: 0.9, beta2: 0.99 } : { type }, 3, D);
    const w = init();
    grads.forEach((g, s) => opt.update(w, ids, 2, g, lr, s + 1));
    return w;
  };
  // References, written elementwise over dense [rows, D] state.
  const ref = (step: (w: number, g: number, st: number[], t: number, row: number, d: number) => number, rowwise = false) => {
    const w = Array.from(init());
    const st = new Array<number>(6).fill(0);
    const st2 = new Array<number>(6).fill(0);
    grads.forEach((g, s) => {
      [2, 0].forEach((row, j) => {
        if (rowwise) st[row] = st[row]! + (g[j * D]! ** 2 + g[j * D + 1]! ** 2) / D;
        for (let d = 0; d < D; d++) w[row * D + d] = step(w[row * D + d]!, g[j * D + d]!, row * D + d === -1 ? st2 : st, s + 1, row, d);
      });
    });
    return w;
  };
  const close = (a: ArrayLike<number>, b: ArrayLike<number>, what: string) => {
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < 1e-6, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
  };
  close(run('sgd'), ref((w, g) => w - lr * g), 'sgd');
  close(run('adagrad'), ref((w, g, st, _t, row, d) => {
    st[row * D + d] = st[row * D + d]! + g * g;
    return w - (lr * g) / (Math.sqrt(st[row * D + d]!) + 1e-10);
  }), 'adagrad');
  close(run('rowwise-adagrad'), ref((w, g, st, _t, row) => w - (lr * g) / (Math.sqrt(st[row]!) + 1e-8), true), 'rowwise-adagrad');
  const m = new Array<number>(6).fill(0);
  const v = new Array<number>(6).fill(0);
  close(run('sparse-adam'), ref((w, g, _st, t, row, d) => {
    const k = row * D + d;
    m[k] = 0.9 * m[k]! + 0.1 * g;
    v[k] = 0.99 * v[k]! + 0.01 * g * g;
    return w - (lr * Math.sqrt(1 - 0.99 ** t) / (1 - 0.9 ** t)) * m[k]! / (Math.sqrt(v[k]!) + 1e-8);
  }), 'sparse-adam');
  assert.deepEqual([...run('sparse-adam').subarray(2, 4)], [3, 4], 'row 1 was never touched');
});

/** A tiny interaction table with repeated users and items inside batches. */
function interactions(users: number, items: number, n: number): Table {
  const user = new BigInt64Array(n);
  const item = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    user[i] = BigInt((i * 7) % users);
    item[i] = BigInt((i * 5 + (i % 3)) % items);
  }
  return { source: 'tiny', count: n, columns: [{ name: 'user', dtype: 'int64', shape: [], data: user, kind: 'numeric' }, { name: 'item', dtype: 'int64', shape: [], data: item, kind: 'numeric' }] };
}

const mf = (seed = 1) => new RetrievalModel({ kind: 'mf', users: 12, items: 9, dim: 4, negatives: 2, seed });
const feeds = () => ({ user: { columns: ['user'] }, item: { columns: ['item'] }, neg_item: { provider: negativeSampler({ items: 9, seed: 5 }) } });

test('sparse SGD on the tables trains exactly as dense SGD does (same losses and weights)', async () => {
  const train = interactions(12, 9, 96);
  const common = { train, losses: [{ loss: retrievalLoss('bpr') }], epochs: 3, batchSize: 16, lr: 0.5, optimizer: { type: 'sgd' as const }, seed: 2, progress: 'none' as const, threads: 1 };
  const dense = await fit({ ...common, model: mf(), feeds: feeds() });
  const sparse = new SparseEmbeddings({ optimizer: { type: 'sgd' } });
  const sp = await fit({ ...common, model: mf(), feeds: feeds(), extensions: [sparse] });
  assert.deepEqual(sparse.tableNames.sort(), ['item_bias', 'item_embedding', 'user_bias', 'user_embedding']);
  dense.history.forEach((h, i) => assert.ok(Math.abs(h.loss - sp.history[i]!.loss) < 1e-5, `epoch ${i + 1}: ${h.loss} vs ${sp.history[i]!.loss}`));
  for (const [k, t] of dense.weights) {
    const s = sp.weights.get(k)!.data as Float32Array;
    (t.data as Float32Array).forEach((v, i) => assert.ok(Math.abs(v - s[i]!) < 1e-5, `${k}[${i}]: ${v} vs ${s[i]}`));
  }
  assert.ok(dense.history[2]!.loss < dense.history[0]!.loss, 'the loss went down');
});

test('sparse Adam training resumes exactly: tables and their moments are in the checkpoint', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trainfer-sparse-'));
  try {
    const train = interactions(12, 9, 96);
    const common = { train, losses: [{ loss: retrievalLoss('bpr') }], epochs: 2, batchSize: 16, lr: 0.01, optimizer: { type: 'adam' as const }, seed: 3, progress: 'none' as const, threads: 1 };
    const ext = () => [new SparseEmbeddings({ optimizer: { type: 'sparse-adam' }, lr: 0.05 })];
    const straight = await fit({ ...common, model: mf(), feeds: feeds(), extensions: ext() });
    await fit({ ...common, model: mf(), feeds: feeds(), extensions: ext(), checkpointDir: dir, maxSteps: 7 });
    const resumed = await fit({ ...common, model: mf(), feeds: feeds(), extensions: ext(), checkpointDir: dir, resume: true });
    assert.equal(resumed.steps, straight.steps);
    for (const [k, t] of straight.weights) assert.deepEqual(resumed.weights.get(k)!.data, t.data, `${k} differs after resume`);
    await assert.rejects(fit({ ...common, model: mf(), feeds: feeds(), extensions: [new SparseEmbeddings({ optimizer: { type: 'rowwise-adagrad' } })], checkpointDir: dir, resume: true }), /the checkpoint was made with extensions/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an id outside its embedding table is a one-line error naming the input and the id', async () => {
  const train = interactions(12, 20, 32); // items up to 19, the model has 9
  await assert.rejects(
    fit({ model: mf(), train, feeds: feeds(), losses: [{ loss: retrievalLoss('bpr') }], batchSize: 16, progress: 'none', threads: 1, extensions: [new SparseEmbeddings()] }),
    /input 'item' holds id 1[0-9] \(row \d+ of batch 1\) but embedding table 'item_(embedding|bias)' has 9 rows \(ids 0\.\.8\)/,
  );
  assert.throws(() => new SparseEmbeddings({ optimizer: { type: 'adagrad', eps: -1 } }), /sparse optimizer adagrad: eps must be > 0/);
  await assert.rejects(fit({ model: mf(), train: interactions(12, 9, 32), feeds: feeds(), losses: [{ loss: retrievalLoss('bpr') }], batchSize: 16, progress: 'none', extensions: [new SparseEmbeddings({ tables: ['global_bias'] })] }), /'global_bias' is not a table only read by Gathers/);
});
