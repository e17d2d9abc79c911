/**
 * Issue 13's targets in one run, with PyTorch CPU (bench/peers/torch_recsys.py) in the same run:
 *   1. quality: two-tower (the CLI's defaults) on synthetic 100k users × 50k items, recall@10 vs the
 *      planted-factor oracle's, beside the estimable reference (the oracle's item factors with each user's
 *      topic mix estimated from their training items: the most the data can tell);
 *   2. training samples/s of MF (BPR) and two-tower (sampled softmax + logQ) vs PyTorch with
 *      nn.Embedding(sparse=True) + Adagrad / SparseAdam, same architecture, data and batch (1024), best of
 *      windows on both sides over a fixed number of steps;
 *   3. sparse step time at 100k vs 1M table rows (64 dims), peak RSS vs the table's fp32 size, and the
 *      dense step (the table inside the step graph, Adam on all of it) beside it — each in its own process;
 *   4. top-10 over a 1M-item catalog at batch 1: exact (MatMul + TopK in the ONNX graph) and ANN through
 *      usearch (recall vs exact, p50/p99), hnswlib-node beside usearch on a 100k-item catalog;
 *   5. row-wise int8 and fp16 tables of the trained two-tower: bytes and recall@10 against fp32.
 *
 * Run: flock -x /tmp/trainfer-cpu.lock npx tsx bench/recsys.ts [--quick] [--epochs N] [--only quality,train,rows,ann,int8]
 * (quality alone is deterministic: `flock -s` is enough for `--only quality`).
 * Full run ≈ 14 min on the loaded 2-core machine (the 1M-item usearch build alone ≈ 3 min); --quick: 20k × 10k data, 200k-item catalog.
 * Prints a table per part and one JSON line at the end.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { quantizeEmbeddingTables } from '../src/compress/embedding-tables.js';
import { type Interactions, interactionTable, itemCounts } from '../src/data/interactions.js';
import { negativeSampler } from '../src/data/negatives.js';
import { retrievalLoss } from '../src/nn/retrieval-losses.js';
import { RetrievalModel } from '../src/nn/retrieval.js';
import { modelToProto } from '../src/onnx/ir-proto.js';
import { Model } from '../src/onnx/ir.js';
import { cloneGraph } from '../src/autodiff/index.js';
import { encodeModelProto } from '../src/onnx/model-io.js';
import { readModel } from '../src/onnx/model-io.js';
import { Tensor } from '../src/onnx/tensor.js';
import { Recommender } from '../src/serve/retrieval.js';
import { type AnnQuantization, type AnnSpace, buildAnnIndex } from '../src/serve/ann.js';
import { fit } from '../src/train/fit.js';
import { evaluateRetrieval } from '../src/train/ranking-eval.js';
import { loadRecsysData } from '../src/train/recsys-data.js';
import { retrievalDefaults, runRetrievalJob } from '../src/train/recsys-job.js';
import { SparseEmbeddings } from '../src/train/sparse-embeddings.js';
import { Rng } from '../src/util/rng.js';
import type { ProgressReporter } from '../src/train/progress.js';

const argv = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const here = fileURLToPath(new URL('.', import.meta.url));
const self = fileURLToPath(import.meta.url);
const py = '/tmp/peers/bin/python';
const quick = argv.includes('--quick');
/** --smoke: tiny sizes, to check the script runs (numbers meaningless). */
const smoke = argv.includes('--smoke');
const BATCH = 1024;

/**
 * A progress reporter that timestamps every step and reports the best windowed rate: steps/s of the
 * fastest of the windows of `window` steps (the least disturbed on a shared machine; the PyTorch
 * peer reports the same way), beside fit's whole-run samples/s.
 */
function windowTimer(window = 60): ProgressReporter & { bestStepsPerSecond(): number } {
  const times: number[] = [];
  return {
    epochStart() {},
    step() {
      times.push(performance.now());
    },
    epochEnd() {},
    message() {},
    stop() {},
    bestStepsPerSecond() {
      let best = 0;
      for (let i = 0; i + window < times.length; i += window) best = Math.max(best, (window / (times[i + window]! - times[i]!)) * 1000);
      return best;
    },
  };
}

// ---- child mode: one sparse/dense step-time measurement at a table size, alone in its process ----
if (argv[0] === '--child') {
  const { rows, mode, steps } = JSON.parse(argv[1]!) as { rows: number; mode: 'sparse' | 'dense'; steps: number };
  const n = 200_000;
  const rng = Rng.fromSeed(7);
  const d: Interactions = {
    source: 'random', count: n, user: Int32Array.from({ length: n }, () => rng.int(rows)), item: Int32Array.from({ length: n }, () => rng.int(1000)),
    label: new Float32Array(n).fill(1), time: Float64Array.from({ length: n }, (_, i) => i), labelKind: 'implicit', users: rows, items: 1000, userFeatures: [], itemFeatures: [],
  };
  const model = new RetrievalModel({ kind: 'mf', users: rows, items: 1000, dim: 64, negatives: 4, seed: 0 });
  const timer = windowTimer(Math.max(2, Math.floor(steps / 5)));
  const sparse = mode === 'sparse' ? [new SparseEmbeddings({ optimizer: { type: 'rowwise-adagrad' }, lr: 0.1 })] : [];
  const r = await fit({
    model, train: interactionTable(d), feeds: { user: { columns: ['user'] }, item: { columns: ['item'] }, neg_item: { provider: negativeSampler({ items: 1000, seed: 1, counts: itemCounts(d) }) } },
    losses: [{ loss: retrievalLoss('bpr') }], epochs: 1, batchSize: BATCH, maxSteps: steps, optimizer: { type: 'adam' }, lr: 0.01, extensions: sparse, progress: timer, seed: 0,
  });
  const best = timer.bestStepsPerSecond();
  const rssMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(`${JSON.stringify({ rows, mode, steps: r.steps, stepMs: best > 0 ? 1000 / best : (r.trainSeconds / r.steps) * 1000, peakRssMb: rssMb, tableMb: (rows * 64 * 4) / 2 ** 20 })}\n`);
  process.exit(0);
}

const only = new Set((flag('--only') ?? 'quality,train,rows,ann,int8').split(','));
const USERS = smoke ? 2000 : quick ? 20_000 : 100_000;
const ITEMS = smoke ? 1000 : quick ? 10_000 : 50_000;
/** Two-tower epochs for the quality run (default: the CLI's). */
const EPOCHS = flag('--epochs') === undefined ? undefined : Number(flag('--epochs'));
const DATA = `synthetic:users=${USERS},items=${ITEMS}`;
const EVAL_USERS = smoke ? 300 : quick ? 2000 : 20_000;
/** Steps of each throughput run (trainfer and PyTorch), after which the best window counts. */
const SPEED_STEPS = smoke ? 40 : quick ? 300 : 600;
const tmp = mkdtempSync(join(tmpdir(), 'trainfer-bench-recsys-'));
const results: Record<string, unknown> = { machine: { cpus: cpus().length, model: cpus()[0]?.model, load: loadavg().map((x) => +x.toFixed(2)) }, data: DATA };
const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const num = (x: number) => Math.round(x).toLocaleString('en-US');
const row = (cells: (string | number)[]) => console.log(`| ${cells.join(' | ')} |`);
console.log(`# bench/recsys.ts — ${cpus().length} × ${cpus()[0]?.model}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}${quick ? ' (--quick)' : ''}\n`);

function torch(cfg: Record<string, unknown>): Record<string, unknown> | { reason: string } {
  if (!existsSync(py)) return { reason: `${py} not found (python3 -m venv /tmp/peers && /tmp/peers/bin/pip install torch numpy)` };
  const r = spawnSync(py, [`${here}peers/torch_recsys.py`, JSON.stringify({ threads: availableParallelism(), batch: BATCH, ...cfg })], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) return { reason: `torch peer failed: ${(r.stderr || '').trim().split('\n').pop()}` };
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

// ---- 1, 2, 5: quality vs the oracle, training throughput vs PyTorch, int8/fp16 tables ----
let ttFile: string | undefined;
if (only.has('quality') || only.has('train') || only.has('int8')) {
  const data = loadRecsysData({ data: DATA });
  const train = data.splits.train;
  const prefix = join(tmp, 'train');
  writeFileSync(`${prefix}.user.i32`, train.user);
  writeFileSync(`${prefix}.item.i32`, train.item);
  writeFileSync(`${prefix}.user_segment.i32`, data.all.userFeatures[0]!.values);
  writeFileSync(`${prefix}.item_genre.i32`, data.all.itemFeatures[0]!.values);
  console.log(`data: ${DATA}: ${num(train.count)} train interactions, ${num(data.splits.test.count)} held out (leave-last-out)\n`);

  if (only.has('quality') || only.has('int8')) {
    ttFile = join(tmp, 'two_tower.onnx');
    const tt = await runRetrievalJob({ model: 'two-tower', data: DATA, out: ttFile, epochs: EPOCHS, evalUsers: EVAL_USERS, progress: 'none' });
    const mf = only.has('quality') ? await runRetrievalJob({ model: 'mf', data: DATA, out: join(tmp, 'mf.onnx'), epochs: 1, evalUsers: EVAL_USERS, progress: 'none' }) : undefined;
    const oracle = tt.eval.oracle!['recall@10']!;
    const estimable = tt.eval.estimable!['recall@10']!;
    const ratio = tt.eval.model['recall@10']! / oracle;
    console.log(`## quality: two-tower vs the planted-factor oracle (target ≥ 90% of the oracle's recall@10), ${num(tt.eval.users)} test users\n`);
    row(['ranking', 'epochs', 'train s', 'recall@10', 'NDCG@10', '/ oracle', '/ estimable']);
    row(['---', '---:', '---:', '---:', '---:', '---:', '---:']);
    const line = (name: string, r: typeof tt.eval.model, epochs: number | string, secs: number | string) => row([name, epochs, secs, pct(r['recall@10']!), r['ndcg@10']!.toFixed(4), pct(r['recall@10']! / oracle), pct(r['recall@10']! / estimable)]);
    line(`two-tower (${tt.sparse.split(': ')[1]})`, tt.eval.model, tt.epochs, tt.trainSeconds.toFixed(0));
    if (mf) line('mf (bpr)', mf.eval.model, mf.epochs, mf.trainSeconds.toFixed(0));
    line('popularity', tt.eval.popularity, '—', '—');
    line('estimable reference (true item factors, user mix from train items)', tt.eval.estimable!, '—', '—');
    line('planted-factor oracle', tt.eval.oracle!, '—', '—');
    console.log();
    results.quality = { twoTower: { epochs: tt.epochs, recall10: tt.eval.model['recall@10'], oracleRecall10: oracle, estimableRecall10: estimable, ratio, ratioEstimable: tt.eval.model['recall@10']! / estimable, trainSeconds: tt.trainSeconds, users: tt.eval.users }, mf: mf && { recall10: mf.eval.model['recall@10'], oracleRecall10: mf.eval.oracle!['recall@10'] } };
  }

  if (only.has('train')) {
    const timers = { tt: windowTimer(), mf: windowTimer(), mfAdam: windowTimer() };
    const speed = (o: Omit<Parameters<typeof runRetrievalJob>[0], 'data'>) => runRetrievalJob({ ...o, data: DATA, epochs: 1, maxSteps: SPEED_STEPS, evalUsers: 200 });
    const tt = await speed({ model: 'two-tower', out: join(tmp, 'tt-speed.onnx'), progress: timers.tt });
    const mf = await speed({ model: 'mf', out: join(tmp, 'mf.onnx'), progress: timers.mf });
    const mfAdam = await speed({ model: 'mf', out: join(tmp, 'mf-adam.onnx'), sparseOptimizer: 'sparse-adam', sparseLr: 0.01, progress: timers.mfAdam });
    /** Best windowed samples/s (fit's whole-run figure when there are too few steps). */
    const sps = (t: ReturnType<typeof windowTimer>, whole: number) => (t.bestStepsPerSecond() > 0 ? t.bestStepsPerSecond() * BATCH : whole);
    const peer = torch({ task: 'train', prefix, users: data.all.users, items: data.all.items, models: ['mf', 'two-tower'], sparse_optimizers: ['adagrad', 'sparseadam'], steps: SPEED_STEPS, mf_dim: 32, tt_dim: 64, tt_row_l2: retrievalDefaults('two-tower').sparseWeightDecay, lr: { mf: 0.01, 'two-tower': 0.002 }, sparse_lr: 0.1 });
    const p = (k: string) => ('reason' in peer ? undefined : (peer[k] as { samples_per_s: number } | undefined)?.samples_per_s);
    console.log(`## training samples/s, batch 1024, best of windows over ${SPEED_STEPS} steps (target ≥ 1.0× PyTorch CPU, sparse embeddings)\n`);
    row(['model', 'embedding optimizer', 'trainfer samples/s (whole run)', 'PyTorch samples/s', 'ratio']);
    row(['---', '---', '---:', '---:', '---:']);
    const lines: [string, string, number, number, number | undefined][] = [
      ['mf (bpr, 4 negatives)', 'rowwise-adagrad / torch Adagrad', sps(timers.mf, mf.samplesPerSecond), mf.samplesPerSecond, p('mf/adagrad')],
      ['mf (bpr, 4 negatives)', 'sparse-adam / torch SparseAdam', sps(timers.mfAdam, mfAdam.samplesPerSecond), mfAdam.samplesPerSecond, p('mf/sparseadam')],
      ['two-tower (softmax + logQ)', 'rowwise-adagrad / torch Adagrad', sps(timers.tt, tt.samplesPerSecond), tt.samplesPerSecond, p('two-tower/adagrad')],
    ];
    for (const [m, o, ours, whole, theirs] of lines) row([m, o, `${num(ours)} (${num(whole)})`, theirs ? num(theirs) : 'n/a', theirs ? `${(ours / theirs).toFixed(2)}×` : 'n/a']);
    if ('reason' in peer) console.log(`\nPyTorch skipped: ${peer.reason as string}`);
    console.log();
    results.training = { steps: SPEED_STEPS, trainfer: Object.fromEntries(lines.map(([m, o, ours, whole]) => [`${m} ${o}`, { best: ours, whole }])), torch: peer };
  }

  if (only.has('int8')) {
    const base = readModel(ttFile!);
    const seen = [train];
    const evalOf = async (m: typeof base) => (await evaluateRetrieval({ model: m, seen, test: data.splits.test, maxUsers: EVAL_USERS, seed: 0 })).model['recall@10']!;
    const bytes = (m: typeof base) => encodeModelProto(modelToProto(m)).length;
    const fp32 = await evalOf(base);
    console.log('## embedding tables: row-wise int8 / fp16 (target int8 4× smaller, ≤ 1% relative recall@10 loss)\n');
    row(['tables', 'table bytes', 'ratio', 'model bytes', 'recall@10', 'relative change']);
    row(['---', '---:', '---:', '---:', '---:', '---:']);
    // The bytes of the tables the quantizer rewrites (the catalog included), as fp32.
    row(['fp32', num(quantizeEmbeddingTables(base, { dtype: 'fp16' }).tables.reduce((n, t) => n + t.bytesBefore, 0)), '1.00×', num(bytes(base)), pct(fp32), '—']);
    const q: Record<string, unknown> = { fp32: { recall10: fp32, modelBytes: bytes(base) } };
    const variants = [
      { key: 'int8', label: 'int8, fp16 row scales', o: { dtype: 'int8', scale: 'fp16' } },
      { key: 'int8-fp32-scale', label: 'int8, fp32 row scales', o: { dtype: 'int8', scale: 'fp32' } },
      { key: 'fp16', label: 'fp16', o: { dtype: 'fp16' } },
    ] as const;
    for (const v of variants) {
      const r = quantizeEmbeddingTables(base, v.o);
      const before = r.tables.reduce((s, t) => s + t.bytesBefore, 0);
      const after = r.tables.reduce((s, t) => s + t.bytesAfter, 0);
      const rec = await evalOf(r.model);
      row([`${v.label} (${r.tables.map((t) => t.name).join(', ')})`, num(after), `${(before / after).toFixed(2)}×`, num(bytes(r.model)), pct(rec), `${(((rec - fp32) / fp32) * 100).toFixed(2)}%`]);
      q[v.key] = { tableBytesBefore: before, tableBytesAfter: after, ratio: before / after, modelBytes: bytes(r.model), recall10: rec, relative: (rec - fp32) / fp32 };
    }
    // Exactly 4× needs the scale outside the row: one fp32 scale shared by a block of 64 rows (values
    // simulated — quantized and dequantized back into the fp32 layout — to measure the recall effect only).
    const BLOCK = 64;
    const sim = blockScaled(base, BLOCK);
    const simRecall = await evalOf(sim.model);
    row([`int8, one fp32 scale per ${BLOCK} rows (simulated)`, num(sim.after), `${(sim.before / sim.after).toFixed(2)}×`, '—', pct(simRecall), `${(((simRecall - fp32) / fp32) * 100).toFixed(2)}%`]);
    q[`int8-block${BLOCK}-simulated`] = { tableBytesBefore: sim.before, tableBytesAfter: sim.after, ratio: sim.before / sim.after, recall10: simRecall, relative: (simRecall - fp32) / fp32 };
    console.log();
    results.tables = q;
  }
}

/**
 * The two-tower's user table and item catalog quantized to int8 with one symmetric scale per block of
 * `block` rows (items, for the [D, I] catalog), dequantized back in place: the recall effect of a scale
 * stored outside the row, and the bytes such a layout would take.
 */
function blockScaled(m: Model, block: number): { model: Model; before: number; after: number } {
  const out = readModelCopy(m);
  let before = 0;
  let after = 0;
  for (const [name, t] of out.graph.initializers) {
    const isCatalog = name === 'item_matrix_t';
    if (t.dtype !== 'float32' || t.dims.length !== 2 || (!isCatalog && !(name.endsWith('_embedding') && t.dims[0]! >= 1000 && t.dims[1]! >= 4))) continue;
    const [a, b] = t.dims as [number, number];
    const [rows, dim] = isCatalog ? [b, a] : [a, b];
    const at = (r: number, d: number) => (isCatalog ? d * b + r : r * b + d);
    const src = t.data as Float32Array;
    const v = new Float32Array(src);
    for (let r0 = 0; r0 < rows; r0 += block) {
      let mx = 0;
      for (let r = r0; r < Math.min(rows, r0 + block); r++) for (let d = 0; d < dim; d++) mx = Math.max(mx, Math.abs(src[at(r, d)]!));
      const sc = mx > 0 ? mx / 127 : 1;
      for (let r = r0; r < Math.min(rows, r0 + block); r++) for (let d = 0; d < dim; d++) v[at(r, d)] = Math.round(src[at(r, d)]! / sc) * sc;
    }
    out.graph.initializers.set(name, new Tensor('float32', t.dims, v));
    before += rows * dim * 4;
    after += rows * dim + Math.ceil(rows / block) * 4;
  }
  return { model: out, before, after };
}

/** A copy of a model whose initializers can be replaced without touching the original. */
function readModelCopy(m: Model): Model {
  const c = new Model(cloneGraph(m.graph));
  c.opsets = new Map(m.opsets);
  c.irVersion = m.irVersion;
  c.metadata = new Map(m.metadata);
  return c;
}

// ---- 3: sparse step time vs table rows, peak RSS ----
if (only.has('rows')) {
  const child = (rows: number, mode: 'sparse' | 'dense', steps: number) => {
    const r = spawnSync(process.execPath, [...process.execArgv, self, '--child', JSON.stringify({ rows, mode, steps })], { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (r.status !== 0) return { rows, mode, error: (r.stderr || '').trim().split('\n').pop() };
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as { rows: number; mode: string; stepMs: number; peakRssMb: number; tableMb: number };
  };
  const [small, large] = smoke ? [10_000, 100_000] : [100_000, 1_000_000];
  const runs = [child(small, 'sparse', smoke ? 20 : 300), child(large, 'sparse', smoke ? 20 : 300), child(small, 'dense', smoke ? 5 : 20), child(large, 'dense', smoke ? 5 : 10)];
  const peer = [small, large].map((rows) => ({ rows, r: torch({ task: 'rows', rows, steps: smoke ? 20 : 300 }) }));
  console.log('## step time vs table rows: mf, 64 dims, bpr, batch 1024 (target: no growth 100k → 1M; peak RSS < 4× table at 1M)\n');
  row(['run', 'rows', 'ms/step', 'peak RSS MB', 'table fp32 MB', 'RSS / table']);
  row(['---', '---:', '---:', '---:', '---:', '---:']);
  for (const r of runs) {
    if ('error' in r) row([`trainfer ${r.mode}`, num(r.rows), `failed: ${r.error}`, '', '', '']);
    else row([`trainfer ${r.mode}${r.mode === 'dense' ? ' (Adam on the whole table)' : ' (rowwise-adagrad)'}`, num(r.rows), r.stepMs.toFixed(2), num(r.peakRssMb), num(r.tableMb), `${(r.peakRssMb / r.tableMb).toFixed(2)}×`]);
  }
  for (const { rows, r } of peer) {
    if ('reason' in r) row(['PyTorch sparse (Adagrad)', num(rows), `n/a: ${r.reason as string}`, '', '', '']);
    else row(['PyTorch sparse (Adagrad)', num(rows), (r.step_ms as number).toFixed(2), num(r.peak_rss_mb as number), num((rows * 64 * 4) / 2 ** 20), `${((r.peak_rss_mb as number) / ((rows * 64 * 4) / 2 ** 20)).toFixed(2)}×`]);
  }
  console.log();
  results.rows = { trainfer: runs, torch: peer };
}

// ---- 4: top-10 over a 1M-item catalog ----
if (only.has('ann')) {
  const I = smoke ? 20_000 : quick ? 200_000 : 1_000_000;
  const D = 64;
  const U = 2000;
  const T = 256;
  const rng = Rng.fromSeed(3);
  // Structured vectors like a trained tower's: items near a mix of topic centroids, users mixing two topics.
  const centroid = Float32Array.from({ length: T * D }, () => rng.normal() / Math.sqrt(D));
  const vec = (n: number, noise: number) => {
    const out = new Float32Array(n * D);
    for (let i = 0; i < n; i++) {
      const a = rng.int(T);
      const b = rng.int(T);
      const w = rng.uniform() < 0.3 ? 0.4 : 0;
      for (let d = 0; d < D; d++) out[i * D + d] = centroid[a * D + d]! + w * centroid[b * D + d]! + (noise * rng.normal()) / Math.sqrt(D);
    }
    return out;
  };
  const items = vec(I, 0.5);
  const users = vec(U, 0.3);
  // The catalog is given as item vectors (the model's own item table is not read by the retrieval graph).
  const big = new RetrievalModel({ kind: 'two-tower', users: U, items: I, dim: D, hidden: [], seed: 0, name: 'catalog' });
  const graph = big.inferenceGraph({ weights: new Map([['user_embedding', new Tensor('float32', [U, D], users)]]), itemVectors: new Tensor('float32', [I, D], items), topK: 100 });
  const threads = availableParallelism();
  // Index settings (flags to explore; the defaults are the ones docs/recommenders.md reports).
  const ANN = {
    connectivity: Number(flag('--ann-m') ?? 16),
    expansionAdd: Number(flag('--ann-efc') ?? 128),
    expansionSearch: Number(flag('--ann-ef') ?? 256),
    space: (flag('--ann-space') ?? 'ip') as AnnSpace,
    quantization: (flag('--ann-quantization') ?? 'f32') as AnnQuantization,
  };
  const rec = await Recommender.load(graph, { ann: 'usearch', threads, ...ANN });
  const Q = smoke ? 50 : quick ? 300 : 1000;
  const queries = Array.from({ length: Q }, () => rng.int(U));
  const time = async (mode: 'exact' | 'ann') => {
    const ms: number[] = [];
    const answers: number[][] = [];
    for (let w = 0; w < 20; w++) await rec.recommend({ users: [queries[w % Q]!], k: 10, mode });
    for (const u of queries) {
      const t0 = performance.now();
      const [r] = await rec.recommend({ users: [u], k: 10, mode });
      ms.push(performance.now() - t0);
      answers.push(r!.items);
    }
    ms.sort((a, b) => a - b);
    return { p50: ms[Math.floor(Q * 0.5)]!, p99: ms[Math.floor(Q * 0.99)]!, answers };
  };
  const exact = await time('exact');
  const ann = await time('ann');
  const recall = (a: number[][], e: number[][]) => a.reduce((s, r, i) => s + r.filter((x) => e[i]!.includes(x)).length, 0) / (e.length * 10);
  console.log(`## top-10 over ${num(I)} items, batch 1, ${threads} threads (target: ANN p99 ≤ 5 ms at ≥ 95% recall of exact)\n`);
  row(['method', 'build s', 'p50 ms', 'p99 ms', 'recall@10 vs exact']);
  row(['---', '---:', '---:', '---:', '---:']);
  row(['exact (MatMul + TopK in the graph)', '—', exact.p50.toFixed(2), exact.p99.toFixed(2), '100%']);
  const label = `usearch HNSW (M ${ANN.connectivity}, ef_construction ${ANN.expansionAdd}, ef ${ANN.expansionSearch}, ${ANN.space}, ${ANN.quantization}; user tower + search)`;
  row([label, rec.ann!.buildSeconds.toFixed(1), ann.p50.toFixed(2), ann.p99.toFixed(2), pct(recall(ann.answers, exact.answers))]);
  // The beam is max(ef, k): asking the same index for more candidates shows the recall/latency curve above its ef.
  const sweep: Record<string, unknown> = {};
  const user: Float32Array[] = [];
  for (const u of queries) user.push((await rec.recommend({ users: [u], k: 1, mode: 'ann' }))[0]!.vector!);
  for (const wide of [64, 128, 256, 512].filter((x) => x > ANN.expansionSearch)) {
    const ms: number[] = [];
    const got = queries.map((u, i) => {
      const t0 = performance.now();
      const h = rec.ann!.search(user[i]!, wide);
      ms.push(performance.now() - t0);
      return h.ids.slice(0, 10);
    });
    ms.sort((a, b) => a - b);
    const r = recall(got, exact.answers);
    row([`  same index, ${wide} candidates (search only)`, '—', ms[Math.floor(Q * 0.5)]!.toFixed(2), ms[Math.floor(Q * 0.99)]!.toFixed(2), pct(r)]);
    sweep[String(wide)] = { p50: ms[Math.floor(Q * 0.5)], p99: ms[Math.floor(Q * 0.99)], recall: r };
  }
  results.ann = { items: I, settings: ANN, exact: { p50: exact.p50, p99: exact.p99 }, usearch: { build: rec.ann!.buildSeconds, p50: ann.p50, p99: ann.p99, recall: recall(ann.answers, exact.answers) }, candidates: sweep };
  await rec.close();

  // usearch vs hnswlib-node on the same 100k-item catalog (hnswlib-node's build is single-threaded from JS)
  const S = smoke ? 5000 : 100_000;
  const sub = items.subarray(0, S * D);
  const NQ = Math.min(300, Q);
  const truth = queries.slice(0, NQ).map((u) => {
    const q = users.subarray(u * D, u * D + D);
    const s = new Float32Array(S);
    for (let i = 0; i < S; i++) {
      let a = 0;
      for (let d = 0; d < D; d++) a += q[d]! * sub[i * D + d]!;
      s[i] = a;
    }
    return [...s.keys()].sort((a, b) => s[b]! - s[a]!).slice(0, 10);
  });
  const libs: Record<string, unknown> = {};
  for (const kind of ['usearch', 'hnswlib'] as const) {
    let ix;
    try {
      ix = await buildAnnIndex({ kind, vectors: sub, dims: D, threads, ...ANN });
    } catch (err) {
      row([kind, `unavailable: ${(err as Error).message}`, '', '', '']);
      continue;
    }
    const ms: number[] = [];
    const got = queries.slice(0, NQ).map((u) => {
      const t0 = performance.now();
      const h = ix.search(users.subarray(u * D, u * D + D), 10);
      ms.push(performance.now() - t0);
      return h.ids;
    });
    ms.sort((a, b) => a - b);
    const r = recall(got, truth);
    row([`${kind} on ${num(S)} items (search only)`, ix.buildSeconds.toFixed(1), ms[Math.floor(NQ / 2)]!.toFixed(3), ms[Math.floor(NQ * 0.99)]!.toFixed(3), pct(r)]);
    libs[kind] = { build: ix.buildSeconds, p50: ms[Math.floor(NQ / 2)], p99: ms[Math.floor(NQ * 0.99)], recall: r };
  }
  console.log();
  (results.ann as Record<string, unknown>).libraries100k = libs;
}

rmSync(tmp, { recursive: true, force: true });
console.log(JSON.stringify(results));
