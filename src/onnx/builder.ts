/**
 * `GraphBuilder`: emit ONNX graphs from code. Each method adds one node and returns its output name(s).
 *
 * @example
 * const g = new GraphBuilder({ name: 'mlp' });
 * const x = g.input('x', 'float32', ['batch', 784]);
 * const w = g.initializer('w', Tensor.f32([784, 10], weights));
 * g.output(g.relu(g.matMul(x, w)), 'logits');
 * const model = g.toModel();
 */
import { type Attribute, type Dim, Graph, Model, type Node } from './ir.js';
import { attr, attrs } from './attr.js';
import { type DType, dtypeToOnnx as dtypeEnum } from './dtype.js';
import { Tensor } from './tensor.js';

/** Options for `GraphBuilder`. */
export interface GraphBuilderOptions {
  /** Name of a new graph (ignored when `graph` is given). */
  name?: string;
  /** Extend this graph instead of starting a new one. */
  graph?: Graph;
  /** Prefix for generated node and value names (keeps generated parts recognisable, e.g. `grad/`). */
  prefix?: string;
}

/** Options for a generic node. */
export interface OpOptions {
  /** Number of outputs, or their names. Default 1. */
  outputs?: number | string[];
  domain?: string;
  name?: string;
}

/** Emits nodes into a graph. Methods return output value names. */
export class GraphBuilder {
  readonly graph: Graph;
  private readonly prefix: string;
  private readonly used = new Set<string>();
  private counter = 0;

  constructor(options: GraphBuilderOptions = {}) {
    this.graph = options.graph ?? new Graph(options.name ?? 'graph');
    this.prefix = options.prefix ?? '';
    for (const k of this.graph.initializers.keys()) this.used.add(k);
    for (const v of this.graph.inputs) this.used.add(v.name);
    for (const n of this.graph.nodes) {
      this.used.add(n.name);
      for (const o of n.outputs) this.used.add(o);
    }
  }

  /** A value or node name not used yet in this graph. */
  fresh(base: string): string {
    let name = this.prefix + base;
    while (this.used.has(name)) name = `${this.prefix}${base}_${++this.counter}`;
    this.used.add(name);
    return name;
  }

  /** Declares a graph input. */
  input(name: string, dtype: DType, shape: Dim[]): string {
    this.claim(name);
    this.graph.inputs.push({ name, type: { dtype, shape: [...shape] } });
    return name;
  }

  /** Adds an initializer (a constant or trainable parameter) under exactly `name`. */
  initializer(name: string, tensor: Tensor): string {
    this.claim(name);
    this.graph.initializers.set(name, tensor);
    return name;
  }

  /** Adds a constant initializer under a fresh name derived from `base`. */
  constant(tensor: Tensor, base = 'const'): string {
    const name = this.fresh(base);
    this.graph.initializers.set(name, tensor);
    return name;
  }

  /** A float32 scalar constant. */
  scalar(value: number, dtype: DType = 'float32'): string {
    return this.constant(Tensor.scalar(dtype, value), 'c');
  }

  /** An int64 1-D constant (shapes, axes, indices). */
  int64s(values: readonly number[]): string {
    return this.constant(Tensor.i64([values.length], values), 'i64');
  }

  /** Marks `value` as a graph output, optionally renaming it via Identity, with an optional type. */
  output(value: string, name = value, type?: { dtype: DType; shape?: Dim[] }): string {
    let out = value;
    if (name !== value) out = this.op('Identity', [value], {}, { outputs: [name] })[0]!;
    this.graph.outputs.push({ name: out, type: type ? { dtype: type.dtype, shape: type.shape ? [...type.shape] : undefined } : this.graph.typeOf(out) });
    return out;
  }

  /** Adds any node. Returns its output names. */
  op(opType: string, inputs: readonly string[], attributes: Record<string, Attribute> = {}, options: OpOptions = {}): string[] {
    const name = options.name ? (this.claim(options.name), options.name) : this.fresh(opType);
    const outs = options.outputs ?? 1;
    const outputs = typeof outs === 'number' ? Array.from({ length: outs }, (_, i) => this.fresh(`${name.slice(this.prefix.length)}_out${i}`)) : outs.map((o) => (o === '' ? '' : (this.claim(o), o)));
    const node: Node = { name, opType, domain: options.domain ?? '', inputs: [...inputs], outputs, attributes };
    this.graph.nodes.push(node);
    return outputs;
  }

  /** Adds a single-output node. */
  op1(opType: string, inputs: readonly string[], attributes: Record<string, Attribute> = {}, options: Omit<OpOptions, 'outputs'> & { output?: string } = {}): string {
    return this.op(opType, inputs, attributes, { ...options, outputs: options.output ? [options.output] : 1 })[0]!;
  }

  /** Wraps the graph in a model with the given default-domain opset (default 21). */
  toModel(options: { opset?: number; opsets?: Record<string, number>; irVersion?: number } = {}): Model {
    const m = new Model(this.graph);
    m.opsets = new Map([['', options.opset ?? 21], ...Object.entries(options.opsets ?? {})]);
    m.irVersion = options.irVersion ?? 10;
    return m;
  }

  private claim(name: string): void {
    if (this.used.has(name)) throw new Error(`name '${name}' is already used in graph '${this.graph.name}'`);
    this.used.add(name);
  }

  // ---- elementwise (numpy broadcasting) ----
  add(a: string, b: string): string { return this.op1('Add', [a, b]); }
  sub(a: string, b: string): string { return this.op1('Sub', [a, b]); }
  mul(a: string, b: string): string { return this.op1('Mul', [a, b]); }
  div(a: string, b: string): string { return this.op1('Div', [a, b]); }
  pow(a: string, b: string): string { return this.op1('Pow', [a, b]); }
  neg(x: string): string { return this.op1('Neg', [x]); }
  abs(x: string): string { return this.op1('Abs', [x]); }
  sqrt(x: string): string { return this.op1('Sqrt', [x]); }
  exp(x: string): string { return this.op1('Exp', [x]); }
  log(x: string): string { return this.op1('Log', [x]); }
  reciprocal(x: string): string { return this.op1('Reciprocal', [x]); }
  relu(x: string): string { return this.op1('Relu', [x]); }
  leakyRelu(x: string, alpha = 0.01): string { return this.op1('LeakyRelu', [x], { alpha: attr.float(alpha) }); }
  sigmoid(x: string): string { return this.op1('Sigmoid', [x]); }
  tanh(x: string): string { return this.op1('Tanh', [x]); }
  erf(x: string): string { return this.op1('Erf', [x]); }
  /** Gelu (opset 20+); `approximate: 'tanh'` for the tanh form. */
  gelu(x: string, approximate: 'none' | 'tanh' = 'none'): string { return this.op1('Gelu', [x], approximate === 'none' ? {} : { approximate: attr.string(approximate) }); }
  identity(x: string): string { return this.op1('Identity', [x]); }
  cast(x: string, to: DType): string { return this.op1('Cast', [x], { to: attr.int(dtypeEnum(to)) }); }
  clip(x: string, min?: string, max?: string): string { return this.op1('Clip', [x, min ?? '', max ?? ''].slice(0, max ? 3 : min ? 2 : 1)); }
  where(cond: string, a: string, b: string): string { return this.op1('Where', [cond, a, b]); }
  equal(a: string, b: string): string { return this.op1('Equal', [a, b]); }
  greater(a: string, b: string): string { return this.op1('Greater', [a, b]); }
  less(a: string, b: string): string { return this.op1('Less', [a, b]); }
  not(x: string): string { return this.op1('Not', [x]); }

  // ---- linear algebra ----
  matMul(a: string, b: string): string { return this.op1('MatMul', [a, b]); }
  /** Y = alpha·A'·B' + beta·C. */
  gemm(a: string, b: string, c?: string, o: { alpha?: number; beta?: number; transA?: boolean; transB?: boolean } = {}): string {
    return this.op1('Gemm', c ? [a, b, c] : [a, b], attrs({
      alpha: o.alpha === undefined ? undefined : attr.float(o.alpha),
      beta: o.beta === undefined ? undefined : attr.float(o.beta),
      transA: o.transA ? attr.int(1) : undefined,
      transB: o.transB ? attr.int(1) : undefined,
    }));
  }

  // ---- convolution and pooling ----
  conv(x: string, w: string, b?: string, o: ConvOptions = {}): string { return this.op1('Conv', b ? [x, w, b] : [x, w], convAttrs(o)); }
  convTranspose(x: string, w: string, b?: string, o: ConvOptions & { outputPadding?: number[]; outputShape?: number[] } = {}): string {
    return this.op1('ConvTranspose', b ? [x, w, b] : [x, w], {
      ...convAttrs(o),
      ...attrs({ output_padding: o.outputPadding ? attr.ints(o.outputPadding) : undefined, output_shape: o.outputShape ? attr.ints(o.outputShape) : undefined }),
    });
  }
  maxPool(x: string, o: PoolOptions & { withIndices?: false }): string;
  maxPool(x: string, o: PoolOptions & { withIndices: true }): [string, string];
  maxPool(x: string, o: PoolOptions & { withIndices?: boolean }): string | [string, string] {
    const outs = this.op('MaxPool', [x], poolAttrs(o), { outputs: o.withIndices ? 2 : 1 });
    return o.withIndices ? [outs[0]!, outs[1]!] : outs[0]!;
  }
  averagePool(x: string, o: PoolOptions & { countIncludePad?: boolean }): string {
    return this.op1('AveragePool', [x], { ...poolAttrs(o), ...attrs({ count_include_pad: o.countIncludePad ? attr.int(1) : undefined }) });
  }
  globalAveragePool(x: string): string { return this.op1('GlobalAveragePool', [x]); }

  // ---- normalisation ----
  batchNormalization(x: string, scale: string, bias: string, mean: string, variance: string, o: { epsilon?: number; momentum?: number } = {}): string {
    return this.op1('BatchNormalization', [x, scale, bias, mean, variance], attrs({ epsilon: o.epsilon === undefined ? undefined : attr.float(o.epsilon), momentum: o.momentum === undefined ? undefined : attr.float(o.momentum) }));
  }
  layerNormalization(x: string, scale: string, bias?: string, o: { axis?: number; epsilon?: number } = {}): string {
    return this.op1('LayerNormalization', bias ? [x, scale, bias] : [x, scale], attrs({ axis: o.axis === undefined ? undefined : attr.int(o.axis), epsilon: o.epsilon === undefined ? undefined : attr.float(o.epsilon) }));
  }
  softmax(x: string, axis = -1): string { return this.op1('Softmax', [x], { axis: attr.int(axis) }); }
  logSoftmax(x: string, axis = -1): string { return this.op1('LogSoftmax', [x], { axis: attr.int(axis) }); }

  // ---- shape manipulation ----
  reshape(x: string, shape: readonly number[] | string): string { return this.op1('Reshape', [x, typeof shape === 'string' ? shape : this.int64s(shape)]); }
  flatten(x: string, axis = 1): string { return this.op1('Flatten', [x], { axis: attr.int(axis) }); }
  transpose(x: string, perm?: readonly number[]): string { return this.op1('Transpose', [x], perm ? { perm: attr.ints(perm) } : {}); }
  concat(xs: readonly string[], axis: number): string { return this.op1('Concat', xs, { axis: attr.int(axis) }); }
  split(x: string, o: { axis?: number; sizes?: readonly number[]; numOutputs?: number }): string[] {
    const n = o.sizes?.length ?? o.numOutputs ?? 2;
    return this.op('Split', o.sizes ? [x, this.int64s(o.sizes)] : [x], attrs({ axis: attr.int(o.axis ?? 0), num_outputs: o.sizes ? undefined : attr.int(n) }), { outputs: n });
  }
  slice(x: string, starts: readonly number[], ends: readonly number[], axes?: readonly number[], steps?: readonly number[]): string {
    const ins = [x, this.int64s(starts), this.int64s(ends)];
    if (axes || steps) ins.push(axes ? this.int64s(axes) : '');
    if (steps) ins.push(this.int64s(steps));
    return this.op1('Slice', ins);
  }
  gather(data: string, indices: string, axis = 0): string { return this.op1('Gather', [data, indices], { axis: attr.int(axis) }); }
  squeeze(x: string, axes: readonly number[]): string { return this.op1('Squeeze', [x, this.int64s(axes)]); }
  unsqueeze(x: string, axes: readonly number[]): string { return this.op1('Unsqueeze', [x, this.int64s(axes)]); }
  shape(x: string): string { return this.op1('Shape', [x]); }
  expand(x: string, shape: string): string { return this.op1('Expand', [x, shape]); }

  // ---- reductions (axes as inputs, opset 18+) ----
  reduceSum(x: string, axes?: readonly number[], keepdims = true): string { return this.reduce('ReduceSum', x, axes, keepdims); }
  reduceMean(x: string, axes?: readonly number[], keepdims = true): string { return this.reduce('ReduceMean', x, axes, keepdims); }
  reduceMax(x: string, axes?: readonly number[], keepdims = true): string { return this.reduce('ReduceMax', x, axes, keepdims); }
  private reduce(op: string, x: string, axes: readonly number[] | undefined, keepdims: boolean): string {
    return this.op1(op, axes ? [x, this.int64s(axes)] : [x], { keepdims: attr.int(keepdims ? 1 : 0) });
  }

  // ---- training ----
  dropout(x: string, ratio: string, trainingMode: string): [string, string] {
    const [y, mask] = this.op('Dropout', [x, ratio, trainingMode], {}, { outputs: 2 });
    return [y!, mask!];
  }
}

/** Convolution attributes (all optional; ONNX defaults apply). */
export interface ConvOptions {
  strides?: number[];
  pads?: number[];
  dilations?: number[];
  group?: number;
  kernelShape?: number[];
  autoPad?: 'NOTSET' | 'SAME_UPPER' | 'SAME_LOWER' | 'VALID';
}

/** Pooling attributes. */
export interface PoolOptions {
  kernelShape: number[];
  strides?: number[];
  pads?: number[];
  dilations?: number[];
  ceilMode?: boolean;
}

function convAttrs(o: ConvOptions): Record<string, Attribute> {
  return attrs({
    strides: o.strides ? attr.ints(o.strides) : undefined,
    pads: o.pads ? attr.ints(o.pads) : undefined,
    dilations: o.dilations ? attr.ints(o.dilations) : undefined,
    group: o.group && o.group !== 1 ? attr.int(o.group) : undefined,
    kernel_shape: o.kernelShape ? attr.ints(o.kernelShape) : undefined,
    auto_pad: o.autoPad && o.autoPad !== 'NOTSET' ? attr.string(o.autoPad) : undefined,
  });
}

function poolAttrs(o: PoolOptions): Record<string, Attribute> {
  return attrs({
    kernel_shape: attr.ints(o.kernelShape),
    strides: o.strides ? attr.ints(o.strides) : undefined,
    pads: o.pads ? attr.ints(o.pads) : undefined,
    dilations: o.dilations ? attr.ints(o.dilations) : undefined,
    ceil_mode: o.ceilMode ? attr.int(1) : undefined,
  });
}

