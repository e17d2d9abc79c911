/**
 * `buildTrainStep`: forward graph + loss → ONE step graph (forward, backward, global-norm clipping,
 * optimizer update). Parameters, buffers and optimizer state become inputs whose replacements are outputs,
 * so the trainer feeds each step's outputs into the next (see `TrainStep.state`).
 */
import { GraphBuilder } from '../onnx/builder.js';
import { Graph, Model, type ValueInfo } from '../onnx/ir.js';
import { type DType, isFloat } from '../onnx/dtype.js';
import { eliminateDeadNodes, foldConstants } from '../onnx/passes.js';
import { Tensor } from '../onnx/tensor.js';
import { TrainferError } from '../util/errors.js';
import { gradients } from './gradients.js';
import { adamScalars, checkOptimizer, emitUpdate, stateRoles } from './optimizers.js';
import { inferTypes } from './shapes.js';
import { upgradeLegacyForms } from './legacy-forms.js';
import type { StateSlot, TrainStep, TrainStepOptions } from './types.js';

/** A copy of `g` whose node/input/output lists can be rewritten without touching `g` (tensors shared). */
export function cloneGraph(g: Graph): Graph {
  const c = new Graph(g.name);
  c.nodes = g.nodes.map((n) => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs], attributes: { ...n.attributes } }));
  c.inputs = g.inputs.map((v) => ({ ...v }));
  c.outputs = g.outputs.map((v) => ({ ...v }));
  c.initializers = new Map(g.initializers);
  c.valueInfo = new Map(g.valueInfo);
  return c;
}

/**
 * Builds a training step graph. Inputs: data inputs, `lr` (and `step` for Adam/AdamW), parameters,
 * buffers, optimizer state. Outputs: loss, global gradient norm (before clipping), new parameters, new
 * buffers, new optimizer state, extra outputs.
 *
 * @example
 * const step = buildTrainStep({ graph, loss: 'loss', params: ['w1', 'b1'], optimizer: { type: 'sgd', momentum: 0.9 } });
 * const session = await Session.create({ model: step.model });
 */
export function buildTrainStep(options: TrainStepOptions): TrainStep {
  const { loss, params, optimizer } = options;
  checkOptimizer(optimizer);
  const src = options.graph;
  const buffers = options.buffers ?? [];
  for (const p of params) {
    const t = src.initializers.get(p);
    if (!t) throw new TrainferError(`buildTrainStep: parameter '${p}' is not an initializer of graph '${src.name}'`);
    if (!isFloat(t.dtype)) throw new TrainferError(`buildTrainStep: parameter '${p}' has dtype ${t.dtype}; only float tensors are trainable`);
  }
  const maskSet = new Set(options.paramMasks ?? []);
  for (const p of maskSet) if (!params.includes(p)) throw new TrainferError(`buildTrainStep: masked parameter '${p}' is not one of the trained parameters`);
  for (const bf of buffers) if (!src.initializers.has(bf.name)) throw new TrainferError(`buildTrainStep: buffer '${bf.name}' is not an initializer of graph '${src.name}'`);
  if (options.clipGradNorm !== undefined && !(options.clipGradNorm > 0)) throw new TrainferError(`buildTrainStep: clipGradNorm must be > 0, got ${options.clipGradNorm}`);
  const gradOutputs = options.gradOutputs ?? [];
  const accumulate = options.accumulate ?? 1;
  if (!(Number.isInteger(accumulate) && accumulate >= 1)) throw new TrainferError(`buildTrainStep: accumulate must be a positive integer, got ${accumulate}`);
  if (accumulate > 1 && gradOutputs.length) throw new TrainferError('buildTrainStep: gradient accumulation cannot be combined with gradOutputs (host-updated tables apply their gradients every micro-batch)');
  const emaDecay = options.ema?.decay;
  if (emaDecay !== undefined && !(emaDecay >= 0 && emaDecay < 1)) throw new TrainferError(`buildTrainStep: ema decay must be in [0, 1), got ${emaDecay}`);
  const noDecay = new Set(options.noDecay ?? []);
  for (const x of gradOutputs) {
    const v = src.inputs.find((i) => i.name === x && !src.initializers.has(x));
    if (!v) throw new TrainferError(`buildTrainStep: gradOutputs '${x}' is not a data input of graph '${src.name}'`);
    if (!v.type || !isFloat(v.type.dtype)) throw new TrainferError(`buildTrainStep: gradOutputs '${x}' has dtype ${v.type?.dtype ?? 'unknown'}; only float inputs have gradients`);
    if (params.includes(x)) throw new TrainferError(`buildTrainStep: '${x}' is both a parameter and a gradOutputs input`);
  }

  const g = cloneGraph(src);
  foldConstants(g); // Constant nodes → initializers (shape and axes inputs become readable)
  upgradeLegacyForms(g); // opset ≤ 17 attribute forms → opset-21 input forms
  const dataInputs = g.feedInputs().map((v) => v.name);
  g.outputs = [];
  // Parameters and buffers become inputs (their values are fed each step).
  const state: StateSlot[] = [];
  const carried = (name: string): Tensor => {
    const t = g.initializers.get(name)!;
    g.initializers.delete(name);
    g.inputs = g.inputs.filter((v) => v.name !== name);
    g.inputs.push({ name, type: { dtype: t.dtype, shape: [...t.dims] } });
    return t;
  };
  const types = inferTypes(g);
  const lossType = types.get(loss);
  if (!g.nodes.some((n) => n.outputs.includes(loss))) throw new TrainferError(`buildTrainStep: loss '${loss}' is not produced by any node of graph '${src.name}'`);

  const rawGrads = gradients({ graph: g, loss, wrt: [...params, ...gradOutputs], types, formulations: options.formulations });
  // Everything that has a gradient: the parameters, then the inputs whose gradient is returned.
  const dtypeOf = (x: string): DType => g.initializers.get(x)?.dtype ?? g.inputs.find((i) => i.name === x)!.type!.dtype;
  const withGrad = [...params, ...gradOutputs];
  const b = new GraphBuilder({ graph: g, prefix: 'opt/' });
  // Masked parameters: mask [param shape] fed per step; dW ← mask ⊙ dW (norm and clipping see only live weights).
  const masks: { param: string; input: string }[] = [];
  const maskOf = new Map<string, string>();
  for (const p of params) {
    if (!maskSet.has(p)) continue;
    const t = src.initializers.get(p)!;
    const input = b.input(g.uniqueName(`${p}/mask`), t.dtype, [...t.dims]);
    masks.push({ param: p, input });
    maskOf.set(p, input);
  }
  let grads = new Map([...rawGrads].map(([p, d]) => [p, maskOf.has(p) ? b.mul(d, maskOf.get(p)!) : d]));
  const lr = b.input(g.uniqueName('lr'), 'float32', []);
  const stepInput = optimizer.type !== 'sgd' ? b.input(g.uniqueName('step'), 'float32', []) : undefined;
  // Gradient accumulation: acc' = acc + dW every micro-batch; the update sees mean = acc' / N.
  let applyInput: string | undefined;
  let applyBool = '';
  const accOf = new Map<string, { input: string; sum: string }>();
  if (accumulate > 1) {
    applyInput = b.input(g.uniqueName('apply'), 'float32', []);
    applyBool = b.op1('Greater', [applyInput, b.scalar(0.5)]);
    grads = new Map([...grads].map(([p, d]) => {
      const t = src.initializers.get(p)!;
      const input = b.input(`${p}/grad_acc`, t.dtype, [...t.dims]);
      const sum = b.add(input, d);
      accOf.set(p, { input, sum });
      return [p, b.mul(sum, b.constant(Tensor.scalar(t.dtype, 1 / accumulate), 'inv_accumulate'))];
    }));
  }
  /** With accumulation, `next` only on the applying micro-batch (else `cur`); otherwise `next`. */
  const gated = (next: string, cur: string): string => (applyInput ? b.where(applyBool, next, cur) : next);

  // Global L2 norm of all gradients (reported unless gradNorm: false), optional clipping to clipGradNorm.
  const wantNorm = options.gradNorm !== false || options.clipGradNorm !== undefined;
  let norm: string;
  if (wantNorm) {
    const sq = withGrad.map((p) => {
      const s = b.op1('ReduceSumSquare', [grads.get(p)!], { keepdims: { type: 'int', value: 0 } });
      return dtypeOf(p) === 'float32' ? s : b.cast(s, 'float32');
    });
    norm = b.sqrt(sq.length === 1 ? sq[0]! : b.op1('Sum', sq));
  } else norm = b.identity(b.constant(Tensor.scalar('float32', NaN), 'no_grad_norm'));
  let clipped = new Map(grads);
  if (options.clipGradNorm !== undefined) {
    // factor = min(1, c / (norm + 1e-6))
    const factor = b.op1('Min', [b.scalar(1), b.div(b.scalar(options.clipGradNorm), b.add(norm, b.scalar(1e-6)))]);
    clipped = new Map(withGrad.map((p) => {
      const dt = dtypeOf(p);
      return [p, b.mul(grads.get(p)!, dt === 'float32' ? factor : b.cast(factor, dt))];
    }));
  }

  const scalars = adamScalars(b, optimizer, lr, stepInput ?? lr);
  const outputs: ValueInfo[] = [];
  const lossOut = loss;
  outputs.push({ name: lossOut, type: lossType ?? { dtype: 'float32', shape: [] } });
  outputs.push({ name: norm, type: { dtype: 'float32', shape: [] } });
  const paramInits = new Map(params.map((p) => [p, carried(p)]));
  const emaSlots: { param: string; input: string }[] = [];
  const bufferInits = new Map(buffers.map((bf) => [bf.name, carried(bf.name)]));
  for (const p of params) {
    const init = paramInits.get(p)!;
    const stateIn: Record<string, string> = {};
    for (const role of stateRoles(optimizer)) {
      const name = b.input(`${p}/${role}`, init.dtype, [...init.dims]);
      stateIn[role] = name;
    }
    const config = noDecay.has(p) && optimizer.weightDecay ? { ...optimizer, weightDecay: 0 } : optimizer;
    const upd = emitUpdate(b, { config, p, g: clipped.get(p)!, dtype: init.dtype, scalars, state: stateIn });
    const mask = maskOf.get(p);
    if (mask) {
      // W_next = mask ⊙ update(W); the optimizer state of pruned weights is zeroed with them.
      upd.param = b.mul(upd.param, mask);
      for (const role of Object.keys(upd.state)) upd.state[role] = b.mul(upd.state[role]!, mask);
    }
    if (applyInput) {
      upd.param = gated(upd.param, p);
      for (const role of Object.keys(upd.state)) upd.state[role] = gated(upd.state[role]!, stateIn[role]!);
    }
    renameValue(g, upd.param, `${p}/next`);
    state.push({ kind: 'param', input: p, output: `${p}/next`, initial: init });
    outputs.push({ name: `${p}/next`, type: { dtype: init.dtype, shape: [...init.dims] } });
    for (const role of Object.keys(stateIn)) {
      renameValue(g, upd.state[role]!, `${p}/${role}/next`);
      state.push({ kind: 'optimizer', param: p, input: stateIn[role]!, output: `${p}/${role}/next`, initial: new Tensor(init.dtype, init.dims) });
      outputs.push({ name: `${p}/${role}/next`, type: { dtype: init.dtype, shape: [...init.dims] } });
    }
    const acc = accOf.get(p);
    if (acc) {
      // acc_next = 0 after the applying micro-batch, else the running sum.
      const zero = b.constant(Tensor.scalar(init.dtype, 0), 'acc_zero');
      const nextAcc = b.op1('Where', [applyBool, b.mul(acc.sum, zero), acc.sum], {}, { output: `${p}/grad_acc/next` });
      state.push({ kind: 'optimizer', param: p, input: acc.input, output: nextAcc, initial: new Tensor(init.dtype, init.dims) });
      outputs.push({ name: nextAcc, type: { dtype: init.dtype, shape: [...init.dims] } });
    }
    if (emaDecay !== undefined) {
      // ema_next = decay·ema + (1 − decay)·W_next (only when the parameters moved)
      const input = b.input(`${p}/ema`, init.dtype, [...init.dims]);
      const k = (v: number): string => b.constant(Tensor.scalar(init.dtype, v), 'ema_k');
      let nextEma = b.add(b.mul(input, k(emaDecay)), b.mul(`${p}/next`, k(1 - emaDecay)));
      if (mask) nextEma = b.mul(nextEma, mask);
      nextEma = b.op1('Identity', [gated(nextEma, input)], {}, { output: `${p}/ema/next` });
      state.push({ kind: 'optimizer', param: p, input, output: nextEma, initial: init.clone() });
      outputs.push({ name: nextEma, type: { dtype: init.dtype, shape: [...init.dims] } });
      emaSlots.push({ param: p, input });
    }
  }
  for (const bf of buffers) {
    const init = bufferInits.get(bf.name)!;
    state.push({ kind: 'buffer', input: bf.name, output: bf.updated, initial: init });
    outputs.push({ name: bf.updated, type: { dtype: init.dtype, shape: [...init.dims] } });
  }
  // dLoss/dX for the chosen inputs (clipped with the rest), e.g. gathered embedding rows a host updates.
  const gradOuts = gradOutputs.map((x) => {
    const t = g.inputs.find((i) => i.name === x)!.type!;
    const out = b.op1('Identity', [clipped.get(x)!], {}, { output: `${x}/grad` });
    outputs.push({ name: out, type: { dtype: t.dtype, shape: t.shape ? [...t.shape] : undefined } });
    return { input: x, output: out };
  });
  const extra: string[] = [];
  for (const e of options.extraOutputs ?? []) {
    if (!outputs.some((o) => o.name === e)) outputs.push({ name: e, type: types.get(e) });
    extra.push(e);
  }
  g.outputs = outputs;
  eliminateDeadNodes(g);
  const model = new Model(g);
  model.opsets = new Map([['', options.opset ?? 21]]);
  return { model, lrInput: lr, stepInput, lossOutput: lossOut, gradNormOutput: norm, state, dataInputs, extraOutputs: extra, masks, gradOutputs: gradOuts, applyInput, ...(emaDecay !== undefined ? { ema: emaSlots } : {}) };
}

/** Renames a value produced by a step node (its producer and every reader), so outputs need no Identity copy. */
function renameValue(g: Graph, from: string, to: string): void {
  for (const n of g.nodes) {
    n.outputs = n.outputs.map((o) => (o === from ? to : o));
    n.inputs = n.inputs.map((i) => (i === from ? to : i));
  }
}
