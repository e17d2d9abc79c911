/**
 * What changed in default-domain operators between opsets 7 and 21, as one static table: for each op,
 * the opset at which its form changed and how to rewrite the old form into the new one with equal
 * outputs (attributes that became inputs, Softmax-family axis semantics, Upsample → Resize, …), plus the
 * experimental ops older exporters emitted, rewritten into standard ops. `opset-upgrade.ts` walks a model
 * with it; `opset-upgrade.test.ts` runs each rewrite against the original in onnxruntime.
 */
import { attr } from './attr.js';
import type { DType } from './dtype.js';
import { type Attribute, type Node, attrFloat, attrInt, attrInts, attrString } from './ir.js';
import { Tensor } from './tensor.js';

/** The values of a float tensor (others converted). */
function floatData(t: Tensor): ArrayLike<number> {
  return t.dtype === 'float32' || t.dtype === 'float64' ? (t.data as Float32Array) : t.toNumbers();
}

/** What a rewrite may ask of the graph it works in. */
export interface UpgradeContext {
  from: number;
  target: number;
  /** A value or node name not used anywhere in the graph. */
  fresh(base: string): string;
  /** Adds an initializer under a fresh name; returns the name. */
  constant(t: Tensor, base: string): string;
  /** The initializer `name` holds, in this graph or an enclosing one. */
  constValue(name: string): Tensor | undefined;
  dtypeOf(name: string): DType | undefined;
  rankOf(name: string): number | undefined;
  /** Whether anything (a node, a graph output, a subgraph) reads `name`. */
  isRead(name: string): boolean;
  /** Forgets a declared type that a rewrite made wrong. */
  dropValueInfo(name: string): void;
  /** A new default-domain node with a fresh name. */
  node(opType: string, inputs: string[], outputs: string[], attributes?: Record<string, Attribute>): Node;
  /** Fails the upgrade with a one-line error naming `n`. */
  refuse(n: Node, reason: string): never;
}

/**
 * A rewrite's result: undefined (nothing to do), the node changed in place with optional nodes around it,
 * or a replacement for it (then no later transition applies).
 */
export type Step = undefined | { before?: Node[]; after?: Node[]; replace?: Node[] };

/** One change of an op's form: applies when upgrading across opset `at`. */
export interface Transition {
  at: number;
  apply(c: UpgradeContext, n: Node): Step;
}

const label = (n: Node): string => n.name || n.outputs[0] || n.opType;

function take(n: Node, key: string): Attribute | undefined {
  const a = n.attributes[key];
  delete n.attributes[key];
  return a;
}

/** Drops trailing omitted ('') inputs. */
function trim(inputs: string[]): string[] {
  const out = [...inputs];
  while (out.length > 1 && out[out.length - 1] === '') out.pop();
  return out;
}

/** An `axes`-style ints attribute moved to an int64 input at `slot`. */
function intsToInput(key: string, slot: number): Transition['apply'] {
  return (c, n) => {
    const v = attrInts(n, key);
    if (v === undefined) return undefined;
    take(n, key);
    if (v.length === 0) return {};
    const inputs = [...n.inputs];
    while (inputs.length < slot) inputs.push('');
    inputs[slot] = c.constant(Tensor.i64([v.length], v), `${label(n)}_${key}`);
    n.inputs = trim(inputs);
    return {};
  };
}

/** A scalar of `dtype` (float types only: what Clip/Pad values are). */
function scalarOf(dtype: DType | undefined, v: number): Tensor {
  const t = dtype === 'float16' || dtype === 'float64' || dtype === 'bfloat16' ? dtype : 'float32';
  return Tensor.scalar(t, v);
}

/** Before opset 13, Softmax-family ops flattened the input to 2-D at `axis` (default 1). */
const softmaxAxis: Transition = {
  at: 13,
  apply(c, n) {
    const axis = attrInt(n, 'axis', 1);
    const x = n.inputs[0]!;
    const rank = c.rankOf(x);
    if (rank !== undefined && (axis === rank - 1 || axis === -1)) {
      n.attributes.axis = attr.int(-1);
      return {};
    }
    // Flatten(x, axis) → op(axis = -1) → Reshape(·, Shape(x)): the coerced 2-D computation, exactly.
    const flat = c.fresh(`${x}_2d`);
    const shape = c.fresh(`${x}_shape`);
    const y2 = c.fresh(`${n.outputs[0]}_2d`);
    const op: Node = { ...n, inputs: [flat], outputs: [y2], attributes: { ...n.attributes, axis: attr.int(-1) } };
    return { replace: [c.node('Flatten', [x], [flat], { axis: attr.int(axis) }), c.node('Shape', [x], [shape]), op, c.node('Reshape', [y2, shape], [n.outputs[0]!])] };
  },
};

const REDUCE_18 = ['ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare'] as const;

/** Resize-10 → 11: nearest rounding and coordinates as onnxruntime ran Resize-10 and Upsample. */
const fromUpsample = new WeakSet<Node>();
const resize11: Transition = {
  at: 11,
  apply(c, n) {
    if (fromUpsample.has(n)) return undefined; // already in the opset-11 form
    const [x, scales] = n.inputs as [string, string];
    const mode = attrString(n, 'mode', 'nearest');
    n.inputs = [x, '', scales];
    n.attributes.coordinate_transformation_mode = attr.string('asymmetric');
    if (mode === 'nearest') {
      // Before opset 11, nearest took floor(x / scale) when upsampling and ceil when downsampling, per axis.
      const s = c.constValue(scales);
      if (!s) return c.refuse(n, 'nearest Resize-10 with non-constant scales: its rounding (floor up, ceil down) has no opset-11 equivalent without knowing the scales');
      const v = Array.from(floatData(s)).filter((x) => x !== 1);
      const down = v.filter((x) => x < 1).length;
      if (down && down < v.length) return c.refuse(n, 'nearest Resize-10 that upsamples some axes and downsamples others has no single opset-11 rounding mode');
      n.attributes.nearest_mode = attr.string(down ? 'ceil' : 'floor');
    }
    return {};
  },
};

/** Inference-mode BatchNormalization with per-activation statistics (spatial = 0) → Mul and Add. */
function batchNormSpatial(c: UpgradeContext, n: Node): Step {
  if (n.outputs.filter(Boolean).length > 1) return c.refuse(n, 'training-mode outputs (running mean/var) are not upgraded');
  const spatial = take(n, 'spatial');
  take(n, 'is_test');
  take(n, 'consumed_inputs');
  if (spatial?.type !== 'int' || spatial.value !== 0) return {};
  const [x, ...params] = n.inputs as [string, string, string, string, string];
  const ts = params.map((p) => c.constValue(p));
  if (ts.some((t) => !t)) return c.refuse(n, 'spatial = 0 with non-constant scale/bias/mean/var has no opset-9 equivalent');
  const [scale, bias, mean, variance] = ts.map((t) => floatData(t!));
  const eps = attrFloat(n, 'epsilon', 1e-5);
  const dims = ts[0]!.dims;
  const a = new Float32Array(scale!.length);
  const b = new Float32Array(scale!.length);
  for (let i = 0; i < a.length; i++) {
    a[i] = scale![i]! / Math.sqrt(variance![i]! + eps);
    b[i] = bias![i]! - mean![i]! * a[i]!;
  }
  // Parameters are [C, D1, …]; x is [N, C, D1, …]: trailing-aligned broadcasting needs no reshape.
  const scaled = c.fresh(`${n.outputs[0]}_scaled`);
  return {
    replace: [
      c.node('Mul', [x, c.constant(new Tensor('float32', dims, a), `${label(n)}_a`)], [scaled]),
      c.node('Add', [scaled, c.constant(new Tensor('float32', dims, b), `${label(n)}_b`)], [n.outputs[0]!]),
    ],
  };
}

/** Per op: the opsets at which its form changed, oldest first. */
export const OPSET_TRANSITIONS: Readonly<Record<string, readonly Transition[]>> = {
  BatchNormalization: [{ at: 9, apply: batchNormSpatial }],
  Resize: [resize11],
  Slice: [{
    at: 10,
    apply(c, n) {
      const starts = attrInts(n, 'starts');
      const ends = attrInts(n, 'ends');
      if (!starts && !ends && n.inputs.length >= 3) return undefined; // already the input form (from DynamicSlice)
      if (!starts || !ends) return c.refuse(n, 'attribute-form Slice without starts/ends');
      const axes = attrInts(n, 'axes');
      for (const k of ['starts', 'ends', 'axes']) take(n, k);
      const i64 = (v: number[], k: string): string => c.constant(Tensor.i64([v.length], v), `${label(n)}_${k}`);
      n.inputs = [n.inputs[0]!, i64(starts, 'starts'), i64(ends, 'ends'), ...(axes ? [i64(axes, 'axes')] : [])];
      return {};
    },
  }],
  TopK: [{
    at: 10,
    apply(c, n) {
      const k = take(n, 'k');
      if (k?.type !== 'int') return c.refuse(n, 'no k');
      n.inputs = [n.inputs[0]!, c.constant(Tensor.i64([1], [k.value]), `${label(n)}_k`)];
      return {};
    },
  }],
  Dropout: [{
    at: 12,
    apply(c, n) {
      const mask = n.outputs[1];
      if (mask) {
        // Dropout-7's mask has the input's type, Dropout-10's is bool: drop it when nothing reads it.
        if (c.from < 10 && c.isRead(mask)) return c.refuse(n, 'its float mask output (Dropout-7) is read; Dropout-10+ masks are bool');
        if (!c.isRead(mask)) {
          n.outputs = [n.outputs[0]!];
          c.dropValueInfo(mask);
        }
      }
      const ratio = take(n, 'ratio');
      take(n, 'is_test');
      if (ratio?.type === 'float') n.inputs = [n.inputs[0]!, c.constant(Tensor.f32([], [ratio.value]), `${label(n)}_ratio`)];
      return {};
    },
  }],
  Clip: [{
    at: 11,
    apply(c, n) {
      const min = take(n, 'min');
      const max = take(n, 'max');
      if (!min && !max) return undefined;
      const dtype = c.dtypeOf(n.inputs[0]!);
      const value = (a: Attribute | undefined, k: string): string => (a && (a.type === 'float' || a.type === 'int') ? c.constant(scalarOf(dtype, a.value), `${label(n)}_${k}`) : '');
      n.inputs = trim([n.inputs[0]!, value(min, 'min'), value(max, 'max')]);
      return {};
    },
  }],
  Pad: [{
    at: 11,
    apply(c, n) {
      const pads = attrInts(n, 'pads');
      if (!pads) return c.refuse(n, 'attribute-form Pad without pads');
      const value = take(n, 'value');
      take(n, 'pads');
      take(n, 'paddings');
      const mode = attrString(n, 'mode', 'constant');
      const inputs = [n.inputs[0]!, c.constant(Tensor.i64([pads.length], pads), `${label(n)}_pads`)];
      const v = value?.type === 'float' ? value.value : 0;
      if (mode === 'constant' && v !== 0) inputs.push(c.constant(scalarOf(c.dtypeOf(n.inputs[0]!), v), `${label(n)}_value`));
      n.inputs = inputs;
      return {};
    },
  }],
  Scan: [{
    at: 9,
    apply(c, n) {
      return c.refuse(n, 'Scan-8 (with a batch axis and sequence_lens) differs from Scan-9; re-export at opset 9 or later');
    },
  }],
  Squeeze: [{ at: 13, apply: intsToInput('axes', 1) }],
  Unsqueeze: [{ at: 13, apply: intsToInput('axes', 1) }],
  ReduceSum: [{ at: 13, apply: intsToInput('axes', 1) }],
  ...Object.fromEntries(REDUCE_18.map((op) => [op, [{ at: 18, apply: intsToInput('axes', 1) }]])),
  Split: [
    { at: 13, apply: intsToInput('split', 1) },
    {
      at: 18,
      apply(_c, n) {
        // Split-18 without sizes needs num_outputs (before, the output count said it).
        if (n.inputs[1] || n.attributes.num_outputs) return undefined;
        n.attributes.num_outputs = attr.int(n.outputs.length);
        return {};
      },
    },
  ],
  Softmax: [softmaxAxis],
  LogSoftmax: [softmaxAxis],
  Hardmax: [softmaxAxis],
};

/**
 * Deprecated and experimental ops older exporters emitted, rewritten into standard ops (or refused)
 * whatever the model's opset, since newer opsets have no kernel for them.
 */
export const DEPRECATED_OPS: Readonly<Record<string, (c: UpgradeContext, n: Node) => Step>> = {
  Upsample(c, n) {
    // Upsample-7 (scales attribute) and -9 (scales input) = Resize-11 with asymmetric coordinates; nearest
    // rounds down (onnxruntime's Upsample takes floor(x / scale); Upsample scales are ≥ 1).
    if (c.target < 11) return c.refuse(n, 'Upsample is converted to Resize-11; upgrade to opset 11 or later');
    const scales = take(n, 'scales');
    if (scales?.type === 'floats') n.inputs = [n.inputs[0]!, c.constant(Tensor.f32([scales.value.length], scales.value), `${label(n)}_scales`)];
    if (n.inputs.length < 2 || !n.inputs[1]) return c.refuse(n, 'no scales');
    const mode = attrString(n, 'mode', 'nearest');
    n.opType = 'Resize';
    n.inputs = [n.inputs[0]!, '', n.inputs[1]!];
    n.attributes.mode = attr.string(mode === 'bilinear' || mode === 'linear' ? 'linear' : 'nearest');
    n.attributes.coordinate_transformation_mode = attr.string('asymmetric');
    if (mode === 'nearest') n.attributes.nearest_mode = attr.string('floor');
    fromUpsample.add(n);
    return {};
  },
  Scatter(_c, n) {
    n.opType = 'ScatterElements'; // the same op, renamed (Scatter is deprecated from opset 11)
    return {};
  },
  ImageScaler(c, n) {
    // y[n, c, …] = scale · x[n, c, …] + bias[c]
    const scale = attrFloat(n, 'scale', 1);
    const bias = n.attributes.bias?.type === 'floats' ? n.attributes.bias.value : [];
    const rank = c.rankOf(n.inputs[0]!) ?? 4;
    const scaled = c.fresh(`${n.outputs[0]}_scaled`);
    const b = Tensor.f32([bias.length, ...Array<number>(Math.max(0, rank - 2)).fill(1)], bias);
    return { replace: [c.node('Mul', [n.inputs[0]!, c.constant(Tensor.f32([], [scale]), `${label(n)}_scale`)], [scaled]), c.node('Add', [scaled, c.constant(b, `${label(n)}_bias`)], [n.outputs[0]!])] };
  },
  Scale(c, n) {
    return { replace: [c.node('Mul', [n.inputs[0]!, c.constant(Tensor.f32([], [attrFloat(n, 'scale', 1)]), `${label(n)}_scale`)], [n.outputs[0]!])] };
  },
  Affine(c, n) {
    const scaled = c.fresh(`${n.outputs[0]}_scaled`);
    return {
      replace: [
        c.node('Mul', [n.inputs[0]!, c.constant(Tensor.f32([], [attrFloat(n, 'alpha', 1)]), `${label(n)}_alpha`)], [scaled]),
        c.node('Add', [scaled, c.constant(Tensor.f32([], [attrFloat(n, 'beta', 0)]), `${label(n)}_beta`)], [n.outputs[0]!]),
      ],
    };
  },
  ScaledTanh(c, n) {
    const [inner, t] = [c.fresh(`${n.outputs[0]}_inner`), c.fresh(`${n.outputs[0]}_tanh`)];
    return {
      replace: [
        c.node('Mul', [n.inputs[0]!, c.constant(Tensor.f32([], [attrFloat(n, 'beta', 1)]), `${label(n)}_beta`)], [inner]),
        c.node('Tanh', [inner], [t]),
        c.node('Mul', [t, c.constant(Tensor.f32([], [attrFloat(n, 'alpha', 1)]), `${label(n)}_alpha`)], [n.outputs[0]!]),
      ],
    };
  },
  ParametricSoftplus(c, n) {
    const [inner, t] = [c.fresh(`${n.outputs[0]}_inner`), c.fresh(`${n.outputs[0]}_softplus`)];
    return {
      replace: [
        c.node('Mul', [n.inputs[0]!, c.constant(Tensor.f32([], [attrFloat(n, 'beta', 1)]), `${label(n)}_beta`)], [inner]),
        c.node('Softplus', [inner], [t]),
        c.node('Mul', [t, c.constant(Tensor.f32([], [attrFloat(n, 'alpha', 1)]), `${label(n)}_alpha`)], [n.outputs[0]!]),
      ],
    };
  },
  DynamicSlice(_c, n) {
    n.opType = 'Slice'; // DynamicSlice(data, starts, ends, axes) is Slice-10's input form
    return {};
  },
  Crop: (c, n) => c.refuse(n, 'experimental op with no standard equivalent; re-export the model'),
  GRUUnit: (c, n) => c.refuse(n, 'experimental op with no standard equivalent; re-export the model'),
  GivenTensorFill: (c, n) => c.refuse(n, 'experimental op with no standard equivalent; re-export the model'),
  ConstantFill: (c, n) => c.refuse(n, 'experimental op with no standard equivalent; use ConstantOfShape'),
};
