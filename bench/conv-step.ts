/**
 * Times the generated training step of a LeNet-like CNN (conv 1→32 5×5 pad 2, ReLU, maxpool 2, conv 32→64
 * 5×5 pad 2, ReLU, maxpool 2, FC 3136→128, ReLU, FC 128→10; batch 64; SGD momentum) under each backward
 * formulation of the Conv weight/input gradients and the MaxPool gradient, profiles the default with ORT's
 * profiler (kernel time per op), and times the 784-256-10 MLP step (batch 128) for reference. With PyTorch
 * in /tmp/peers (see shared README) it also times the same models in torch in the same run.
 *
 * Run: flock /tmp/trainfer-bench.lock npx tsx bench/conv-step.ts [--quick]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { GraphBuilder } from '../src/onnx/builder.js';
import { Tensor } from '../src/onnx/tensor.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from '../src/runtime/session.js';
import { buildTrainStep } from '../src/autodiff/train-step.js';
import { softmaxCrossEntropy } from '../src/autodiff/losses.js';
import { seededUniform } from '../src/autodiff/gradcheck.js';
import type { Formulations, TrainStep } from '../src/autodiff/types.js';

const quick = process.argv.includes('--quick');
/** `--profile=<variant name>` profiles that variant instead of the default; `--profile-only` skips timing. */
const profileVariant = process.argv.find((a) => a.startsWith('--profile='))?.slice('--profile='.length) ?? 'default';
const profileOnly = process.argv.includes('--profile-only');
const THREADS = 2;
const rand = seededUniform(1);
const normal = (): number => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
const he = (dims: number[], fanIn: number): Tensor => Tensor.f32(dims, Array.from({ length: dims.reduce((p, d) => p * d, 1) }, () => normal() * Math.sqrt(2 / fanIn)));

function lenet(): { g: GraphBuilder; loss: string; params: string[] } {
  const g = new GraphBuilder({ name: 'lenet' });
  const x = g.input('x', 'float32', ['N', 1, 28, 28]);
  const y = g.input('y', 'int64', ['N']);
  const p = (name: string, t: Tensor): string => g.initializer(name, t);
  p('c1.w', he([32, 1, 5, 5], 25)); p('c1.b', Tensor.f32([32], new Float32Array(32)));
  p('c2.w', he([64, 32, 5, 5], 800)); p('c2.b', Tensor.f32([64], new Float32Array(64)));
  p('f1.w', he([3136, 128], 3136)); p('f1.b', Tensor.f32([128], new Float32Array(128)));
  p('f2.w', he([128, 10], 128)); p('f2.b', Tensor.f32([10], new Float32Array(10)));
  const pool = { kernelShape: [2, 2], strides: [2, 2] };
  let h = g.maxPool(g.relu(g.conv(x, 'c1.w', 'c1.b', { pads: [2, 2, 2, 2] })), pool); // [N, 32, 14, 14]
  h = g.maxPool(g.relu(g.conv(h, 'c2.w', 'c2.b', { pads: [2, 2, 2, 2] })), pool); // [N, 64, 7, 7]
  h = g.relu(g.gemm(g.flatten(h, 1), 'f1.w', 'f1.b')); // [N, 128]
  const logits = g.gemm(h, 'f2.w', 'f2.b'); // [N, 10]
  return { g, loss: softmaxCrossEntropy(g, { logits, labels: y }), params: ['c1.w', 'c1.b', 'c2.w', 'c2.b', 'f1.w', 'f1.b', 'f2.w', 'f2.b'] };
}

function mlp(): { g: GraphBuilder; loss: string; params: string[] } {
  const g = new GraphBuilder({ name: 'mlp' });
  const x = g.input('x', 'float32', ['N', 784]);
  const y = g.input('y', 'int64', ['N']);
  g.initializer('w1', he([784, 256], 784)); g.initializer('b1', Tensor.f32([256], new Float32Array(256)));
  g.initializer('w2', he([256, 10], 256)); g.initializer('b2', Tensor.f32([10], new Float32Array(10)));
  const logits = g.gemm(g.relu(g.gemm(x, 'w1', 'b1')), 'w2', 'b2');
  return { g, loss: softmaxCrossEntropy(g, { logits, labels: y }), params: ['w1', 'b1', 'w2', 'b2'] };
}

/**
 * The hand-built MLP step the shared README measured (71k samples/s): SCE loss with log_prob, dlogits =
 * (exp(logp) − onehot)/B, dW = Gemm(transA), db = ReduceSum, ReLU mask via Where, plain SGD. Its state
 * slots mimic a TrainStep so the same timing loop runs it.
 */
function handBuiltMlp(): TrainStep {
  const g = new GraphBuilder({ name: 'mlp-hand' });
  const x = g.input('x', 'float32', ['N', 784]);
  const y = g.input('y', 'int64', ['N']);
  const lr = g.input('lr', 'float32', []);
  const init = { w1: he([784, 256], 784), b1: Tensor.f32([256], new Float32Array(256)), w2: he([256, 10], 256), b2: Tensor.f32([10], new Float32Array(10)) };
  for (const [k, t] of Object.entries(init)) g.input(k, 'float32', [...t.dims]);
  const h = g.relu(g.gemm(x, 'w1', 'b1'));
  const logits = g.gemm(h, 'w2', 'b2');
  const [loss, logp] = g.op('SoftmaxCrossEntropyLoss', [logits, y], { reduction: { type: 'string', value: 'mean' } }, { outputs: 2 }) as [string, string];
  const onehot = g.op1('OneHot', [y, g.constant(Tensor.i64([], [10])), g.constant(Tensor.f32([2], [0, 1]))], { axis: { type: 'int', value: 1 } });
  const dl = g.div(g.sub(g.exp(logp), onehot), g.cast(g.op1('Size', [y]), 'float32'));
  const dw2 = g.gemm(h, dl, undefined, { transA: true });
  const db2 = g.reduceSum(dl, [0], false);
  const dh = g.where(g.greater(h, g.scalar(0)), g.gemm(dl, 'w2', undefined, { transB: true }), g.scalar(0));
  const dw1 = g.gemm(x, dh, undefined, { transA: true });
  const db1 = g.reduceSum(dh, [0], false);
  const upd = (p: string, d: string): string => g.sub(p, g.mul(d, lr));
  const outs = { w1: upd('w1', dw1), b1: upd('b1', db1), w2: upd('w2', dw2), b2: upd('b2', db2) };
  g.graph.outputs = [{ name: loss }, ...Object.values(outs).map((name) => ({ name }))];
  return {
    model: g.toModel(), lrInput: lr, lossOutput: loss, gradNormOutput: loss, dataInputs: ['x', 'y'], extraOutputs: [], gradOutputs: [],
    state: Object.entries(outs).map(([k, o]) => ({ kind: 'param' as const, input: k, output: o, initial: init[k as keyof typeof init] })),
  };
}

interface Timing { samplesPerSec: number; msPerStep: number; bestSamplesPerSec: number; cpuMsPerStep: number; profile?: Map<string, number> }

async function timeStep(step: TrainStep, data: Record<string, Tensor>, batch: number, seconds: number, profile = false, threads = THREADS): Promise<Timing> {
  const s = await Session.create({ model: step.model }, { intraOpThreads: threads, profile, profileFilePrefix: profile ? join(tmpdir(), 'conv-step-profile') : undefined });
  const feeds: Record<string, Tensor> = { ...data, [step.lrInput]: Tensor.scalar('float32', 0.01) };
  for (const sl of step.state) feeds[sl.input] = sl.initial;
  const once = async (): Promise<void> => {
    const out = await s.run(feeds);
    for (const sl of step.state) feeds[sl.input] = out[sl.output]!;
  };
  for (let i = 0; i < 3; i++) await once();
  // Other processes share the 2 cores: report the median step (typical) and the best (least disturbed).
  const times: number[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000 || times.length < 5) {
    const t = performance.now();
    await once();
    times.push(performance.now() - t);
  }
  const n = times.length;
  const cpu = process.cpuUsage(cpu0);
  const cpuMsPerStep = (cpu.user + cpu.system) / 1000 / n;
  times.sort((a, b) => a - b);
  const ms = times[n >> 1]!;
  const best = times[0]!;
  let prof: Map<string, number> | undefined;
  if (profile) {
    const file = s.endProfiling();
    prof = new Map();
    for (const e of JSON.parse(readFileSync(file, 'utf8')) as { cat: string; name: string; dur: number; args?: { op_name?: string } }[]) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
      const key = `${e.args?.op_name ?? '?'} ${e.name.replace(/_kernel_time$/, '')}`;
      prof.set(key, (prof.get(key) ?? 0) + e.dur / 1000 / (n + 3));
    }
    rmSync(file, { force: true });
  }
  await s.release();
  return { samplesPerSec: (batch * 1000) / ms, msPerStep: ms, bestSamplesPerSec: (batch * 1000) / best, cpuMsPerStep, profile: prof };
}

function batchData(batch: number, shape: number[]): Record<string, Tensor> {
  const size = shape.reduce((p, d) => p * d, 1);
  return { x: Tensor.f32([batch, ...shape], Array.from({ length: batch * size }, () => rand())), y: Tensor.i64([batch], Array.from({ length: batch }, (_, i) => i % 10)) };
}

function torchBaseline(): { mlp: number; cnn: number } | undefined {
  const py = '/tmp/peers/bin/python';
  if (!existsSync(py)) return undefined;
  const script = `
import time, torch, torch.nn as nn, json
torch.set_num_threads(${THREADS}); torch.manual_seed(0)
def bench(model, x, y, secs):
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    lossf = nn.CrossEntropyLoss()
    def step():
        opt.zero_grad(); lossf(model(x), y).backward(); opt.step()
    for _ in range(3): step()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < secs or n < 5: step(); n += 1
    return x.shape[0] * n / (time.perf_counter() - t0)
mlp = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
cnn = nn.Sequential(nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
print(json.dumps({"mlp": bench(mlp, torch.rand(128, 784), torch.randint(0, 10, (128,)), ${quick ? 2 : 4}), "cnn": bench(cnn, torch.rand(64, 1, 28, 28), torch.randint(0, 10, (64,)), ${quick ? 3 : 6})}))
`;
  const r = spawnSync(py, ['-c', script], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as { mlp: number; cnn: number };
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  console.log(`machine: ${cpus().length} cores, ${cpus()[0]?.model ?? '?'}; onnxruntime-node intraOpThreads=${THREADS}; load ${(await import('node:os')).loadavg().map((v) => v.toFixed(1)).join(' ')}`);
  const secs = quick ? 2 : 4;
  const variants: { name: string; f: Formulations }[] = [
    { name: 'default', f: {} },
    { name: 'dW unfold-slices', f: { convWeight: 'unfold-slices' } },
    { name: 'dW unfold-matmul', f: { convWeight: 'unfold-matmul' } },
    { name: 'dW unfold-matmul-t', f: { convWeight: 'unfold-matmul-t' } },
    { name: 'dW unfold-gemm', f: { convWeight: 'unfold-gemm' } },
    { name: 'dW conv (batch-transposed)', f: { convWeight: 'conv' } },
    { name: 'dX conv-transpose', f: { convInput: 'conv-transpose' } },
    { name: 'maxpool unpool (indices)', f: { maxPool: 'unpool' } },
    { name: 'maxpool scatter (indices)', f: { maxPool: 'scatter' } },
  ];
  const data = batchData(64, [1, 28, 28]);
  console.log('\nLeNet-like CNN step, batch 64, SGD momentum 0.9:');
  // Two passes over the variants (the second in reverse order), keeping each variant's better pass:
  // load from other processes comes in bursts, and a single pass penalises whichever ran during one.
  const results: { name: string; t: Timing; cpu: number }[] = [];
  for (const pass of profileOnly ? [] : [0, 1]) {
    for (const v of pass === 0 ? variants : [...variants].reverse()) {
      const { g, loss, params } = lenet();
      const step = buildTrainStep({ graph: g.graph, loss, params, optimizer: { type: 'sgd', momentum: 0.9 }, formulations: v.f });
      const t = await timeStep(step, data, 64, secs / 2);
      // CPU time of a single-threaded run: the work a formulation costs, much less sensitive to other load.
      const one = await timeStep(step, data, 64, secs / 4, false, 1);
      const prev = results.find((r) => r.name === v.name);
      if (!prev) results.push({ name: v.name, t, cpu: one.cpuMsPerStep });
      else {
        if (t.samplesPerSec > prev.t.samplesPerSec) prev.t = t;
        prev.cpu = Math.min(prev.cpu, one.cpuMsPerStep);
      }
    }
  }
  for (const r of results) {
    console.log(`  ${r.name.padEnd(28)} ${r.t.samplesPerSec.toFixed(0).padStart(6)} samples/s median  ${r.t.bestSamplesPerSec.toFixed(0).padStart(6)} best  ${r.t.msPerStep.toFixed(1).padStart(6)} ms/step  | 1 thread: ${r.cpu.toFixed(1).padStart(6)} cpu-ms/step`);
  }
  // Profile the default: kernel time per node, grouped.
  const { g, loss, params } = lenet();
  const pv = variants.find((v) => v.name === profileVariant) ?? variants[0]!;
  const step = buildTrainStep({ graph: g.graph, loss, params, optimizer: { type: 'sgd', momentum: 0.9 }, formulations: pv.f });
  const prof = (await timeStep(step, data, 64, quick ? 1 : 2, true)).profile!;
  const total = [...prof.values()].reduce((a, b) => a + b, 0);
  console.log(`\nORT profile of the '${pv.name}' CNN step (kernel ms/step, total ${total.toFixed(1)}):`);
  for (const [k, v] of [...prof].sort((a, b) => b[1] - a[1]).slice(0, 14)) console.log(`  ${v.toFixed(2).padStart(6)} ms  ${(100 * v / total).toFixed(0).padStart(3)}%  ${k}`);

  if (profileOnly) return;
  console.log('\n784-256-10 MLP step, batch 128 (same run):');
  const mlpData = batchData(128, [784]);
  const mlpVariants: { name: string; step: () => TrainStep }[] = [
    { name: 'hand-built (plain SGD)', step: handBuiltMlp },
    { name: 'generated, plain SGD', step: () => { const m = mlp(); return buildTrainStep({ graph: m.g.graph, loss: m.loss, params: m.params, optimizer: { type: 'sgd' }, gradNorm: false }); } },
    { name: 'generated, SGD + grad norm', step: () => { const m = mlp(); return buildTrainStep({ graph: m.g.graph, loss: m.loss, params: m.params, optimizer: { type: 'sgd' } }); } },
    { name: 'generated, SGD momentum 0.9', step: () => { const m = mlp(); return buildTrainStep({ graph: m.g.graph, loss: m.loss, params: m.params, optimizer: { type: 'sgd', momentum: 0.9 } }); } },
    { name: 'generated, AdamW', step: () => { const m = mlp(); return buildTrainStep({ graph: m.g.graph, loss: m.loss, params: m.params, optimizer: { type: 'adamw', weightDecay: 0.01 } }); } },
  ];
  let mt: Timing | undefined;
  for (const v of mlpVariants) {
    const st = v.step();
    const data = st.stepInput ? { ...mlpData, [st.stepInput]: Tensor.scalar('float32', 1) } : mlpData;
    const t = await timeStep(st, data, 128, secs);
    if (v.name.includes('momentum')) mt = t;
    console.log(`  ${v.name.padEnd(28)} ${t.samplesPerSec.toFixed(0).padStart(6)} samples/s median  ${t.bestSamplesPerSec.toFixed(0).padStart(6)} best  ${t.msPerStep.toFixed(2)} ms/step`);
  }

  const torch = torchBaseline();
  const best = results.length ? results.reduce((a, b) => (b.t.samplesPerSec > a.t.samplesPerSec ? b : a)) : undefined;
  if (torch) {
    console.log(`\nPyTorch (same run, ${THREADS} threads): MLP ${torch.mlp.toFixed(0)} samples/s, CNN ${torch.cnn.toFixed(0)} samples/s`);
    console.log(`ratio trainfer/torch: MLP (momentum) ${(mt!.samplesPerSec / torch.mlp).toFixed(2)}×, CNN default ${((results[0]?.t.samplesPerSec ?? NaN) / torch.cnn).toFixed(2)}×, CNN best (${best?.name}) ${((best?.t.samplesPerSec ?? NaN) / torch.cnn).toFixed(2)}×`);
  } else console.log('\nPyTorch not found in /tmp/peers: no same-run baseline (shared README: MLP ≈ 60k, CNN ≈ 2.0k samples/s)');
}

await main();
