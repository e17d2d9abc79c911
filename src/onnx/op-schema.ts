/**
 * The slice of the ONNX operator schemas that validation checks: input count bounds and required
 * attributes of default-domain ops (current opsets; a few older forms noted). One static table.
 */

/** What validation checks for one op. */
export interface OpSchema {
  /** Minimum number of inputs (omitted optional inputs count toward position, not presence). */
  min: number;
  /** Maximum number of inputs (`Infinity` for variadic). */
  max: number;
  /** Attributes that must be present. */
  required?: readonly string[];
  /** Exactly one of these attributes must be present (Constant). */
  oneOf?: readonly string[];
  /** Leading inputs may be '' although they count toward `min` (Loop's optional M and cond). */
  emptyOk?: boolean;
}

const u: OpSchema = { min: 1, max: 1 };
const bin: OpSchema = { min: 2, max: 2 };
const variadic: OpSchema = { min: 1, max: Infinity };
const reduce: OpSchema = { min: 1, max: 2 };
const pool: OpSchema = { min: 1, max: 1, required: ['kernel_shape'] };

const UNARY = [
  'Abs', 'Neg', 'Sqrt', 'Exp', 'Log', 'Reciprocal', 'Relu', 'LeakyRelu', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh', 'Erf',
  'Gelu', 'Identity', 'Floor', 'Ceil', 'Round', 'Sin', 'Cos', 'Tan', 'Asin', 'Acos', 'Atan', 'Sinh', 'Cosh', 'Asinh', 'Acosh',
  'Atanh', 'Softplus', 'Softsign', 'Elu', 'Selu', 'Celu', 'ThresholdedRelu', 'Mish', 'Sign', 'Shrink', 'BitwiseNot', 'Not',
  'IsNaN', 'IsInf', 'Softmax', 'LogSoftmax', 'Hardmax', 'Flatten', 'Transpose', 'Shape', 'Size', 'NonZero', 'GlobalAveragePool',
  'GlobalMaxPool', 'GlobalLpPool', 'DynamicQuantizeLinear', 'ConstantOfShape', 'LRN', 'LpNormalization', 'MeanVarianceNormalization',
  'ArgMax', 'ArgMin', 'EyeLike', 'RandomNormalLike', 'RandomUniformLike',
] as const;

const BINARY = [
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Mod', 'BitShift', 'BitwiseAnd', 'BitwiseOr', 'BitwiseXor', 'PRelu', 'Equal', 'Less', 'Greater',
  'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor', 'MatMul', 'Expand', 'Tile', 'Gather', 'GatherElements', 'GatherND', 'CastLike', 'TopK',
] as const;

const REDUCE = ['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare'] as const;

/** Schemas of the default-domain ops validation knows. */
export const OP_SCHEMAS: Readonly<Record<string, OpSchema>> = {
  ...Object.fromEntries(UNARY.map((op) => [op, u])),
  ...Object.fromEntries(BINARY.map((op) => [op, bin])),
  ...Object.fromEntries(REDUCE.map((op) => [op, reduce])),
  Sum: variadic, Max: variadic, Min: variadic, Mean: variadic, Concat: { ...variadic, required: ['axis'] },
  Einsum: { ...variadic, required: ['equation'] },
  Where: { min: 3, max: 3 },
  Cast: { min: 1, max: 1, required: ['to'] },
  Clip: { min: 1, max: 3 },
  Trilu: { min: 1, max: 2 },
  CumSum: bin,
  Gemm: { min: 2, max: 3 },
  MatMulInteger: { min: 2, max: 4 },
  QLinearMatMul: { min: 8, max: 8 },
  Conv: { min: 2, max: 3 },
  ConvTranspose: { min: 2, max: 3 },
  ConvInteger: { min: 2, max: 4 },
  QLinearConv: { min: 8, max: 9 },
  MaxPool: pool, AveragePool: pool, LpPool: pool,
  MaxUnpool: { min: 2, max: 3, required: ['kernel_shape'] },
  BatchNormalization: { min: 5, max: 5 },
  LayerNormalization: { min: 2, max: 3 },
  InstanceNormalization: { min: 3, max: 3 },
  GroupNormalization: { min: 3, max: 3, required: ['num_groups'] },
  SoftmaxCrossEntropyLoss: { min: 2, max: 3 },
  NegativeLogLikelihoodLoss: { min: 2, max: 3 },
  Dropout: { min: 1, max: 3 },
  Reshape: bin,
  Squeeze: { min: 1, max: 2 },
  Unsqueeze: { min: 1, max: 2 },
  Pad: { min: 1, max: 4 },
  Resize: { min: 1, max: 4 },
  Upsample: { min: 1, max: 2 },
  Split: { min: 1, max: 2 },
  Slice: { min: 1, max: 5 },
  ScatterElements: { min: 3, max: 3 },
  ScatterND: { min: 3, max: 3 },
  Scatter: { min: 3, max: 3 },
  OneHot: { min: 3, max: 3 },
  Constant: { min: 0, max: 0, oneOf: ['value', 'value_float', 'value_floats', 'value_int', 'value_ints', 'value_string', 'value_strings', 'sparse_value'] },
  Range: { min: 3, max: 3 },
  DepthToSpace: { min: 1, max: 1, required: ['blocksize'] },
  SpaceToDepth: { min: 1, max: 1, required: ['blocksize'] },
  QuantizeLinear: { min: 2, max: 3 },
  DequantizeLinear: { min: 2, max: 3 },
  If: { min: 1, max: 1, required: ['then_branch', 'else_branch'] },
  Loop: { min: 2, max: Infinity, required: ['body'], emptyOk: true },
  Scan: { min: 1, max: Infinity, required: ['body', 'num_scan_inputs'] },
};

/** Ops whose form changed with the opset in a way the input-count check must know. */
export function schemaFor(opType: string, opset: number): OpSchema | undefined {
  const s = OP_SCHEMAS[opType];
  if (!s) return undefined;
  if (opType === 'Reshape' && opset < 5) return { min: 1, max: 1, required: ['shape'] };
  if (opType === 'Slice' && opset >= 10) return { min: 3, max: 5 };
  if (opType === 'Slice') return { min: 1, max: 1, required: ['starts', 'ends'] };
  if (opType === 'TopK' && opset < 10) return { min: 1, max: 1, required: ['k'] };
  if ((opType === 'Squeeze' || opType === 'Unsqueeze') && opset < 13) return { min: 1, max: 1, required: opType === 'Unsqueeze' ? ['axes'] : [] };
  if (opType === 'Pad' && opset < 11) return { min: 1, max: 1, required: ['pads'] };
  return s;
}
