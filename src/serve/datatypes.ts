/**
 * Open Inference Protocol datatype names (`FP32`, `INT64`, `BYTES`, …) and their mapping to our dtypes,
 * with element sizes for the binary tensor data extension.
 */
import type { DType } from '../onnx/dtype.js';

/** Protocol datatype names, by our dtype. */
export const DATATYPES = {
  bool: 'BOOL',
  uint8: 'UINT8',
  uint16: 'UINT16',
  uint32: 'UINT32',
  uint64: 'UINT64',
  int8: 'INT8',
  int16: 'INT16',
  int32: 'INT32',
  int64: 'INT64',
  float16: 'FP16',
  float32: 'FP32',
  float64: 'FP64',
  bfloat16: 'BF16',
  string: 'BYTES',
} as const satisfies Partial<Record<DType, string>>;

/** A protocol datatype name (`FP32`, `INT64`, `BYTES`, …). */
export type Datatype = (typeof DATATYPES)[keyof typeof DATATYPES];
/** A dtype the protocol can carry. */
export type ServedDType = keyof typeof DATATYPES;

const BY_NAME = new Map<string, ServedDType>(Object.entries(DATATYPES).map(([k, v]) => [v, k as ServedDType]));

/** Bytes per element in the binary extension (BYTES elements have their own length prefixes). */
export const ELEMENT_BYTES = {
  bool: 1, uint8: 1, int8: 1, uint16: 2, int16: 2, float16: 2, bfloat16: 2,
  uint32: 4, int32: 4, float32: 4, uint64: 8, int64: 8, float64: 8, string: 0,
} as const satisfies Record<ServedDType, number>;

/** Protocol name for a dtype, or undefined when the protocol has none (complex, float8, int4). */
export function datatypeOf(dtype: DType): Datatype | undefined {
  return (DATATYPES as Partial<Record<DType, Datatype>>)[dtype];
}

/** Our dtype for a protocol name, or undefined. */
export function dtypeOf(datatype: string): ServedDType | undefined {
  return BY_NAME.get(datatype);
}
