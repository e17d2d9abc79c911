/**
 * A served model version's configuration in Triton's `ModelConfig` JSON schema (the protobuf
 * `inference.ModelConfig`, field names as Triton prints them), as `GET /v2/models/{name}/config` answers
 * it, so `tritonclient`'s `get_model_config` and tools built on it read it. With `max_batch_size > 0`,
 * `dims` leave out the batch dimension, as Triton's do. Trainfer's own settings and the reason for the
 * batching decision are in `parameters` (string values, as Triton's `ModelParameter`).
 */
import type { ModelVersion, TensorSpec } from './repository.js';

/** `inference.ModelConfig` as JSON (the fields Trainfer fills). */
export interface TritonModelConfig {
  name: string;
  platform: 'onnxruntime_onnx';
  backend: 'onnxruntime';
  version_policy: { all: Record<string, never> };
  max_batch_size: number;
  input: { name: string; data_type: string; format: 'FORMAT_NONE'; dims: number[]; is_shape_tensor: false; allow_ragged_batch: false; optional: false }[];
  output: { name: string; data_type: string; dims: number[]; label_filename: ''; is_shape_tensor: false }[];
  dynamic_batching?: {
    preferred_batch_size: number[];
    max_queue_delay_microseconds: number;
    preserve_ordering: boolean;
    priority_levels: number;
    default_priority_level: number;
    default_queue_policy: { timeout_action: 'REJECT'; default_timeout_microseconds: number; allow_timeout_override: false; max_queue_size: number };
  };
  instance_group: { name: string; kind: 'KIND_CPU' | 'KIND_GPU'; count: number; gpus: number[]; secondary_devices: never[]; profile: string[]; passive: false; host_policy: string }[];
  default_model_filename: 'model.onnx';
  parameters: Record<string, { string_value: string }>;
}

/** Triton's `data_type` name for a protocol datatype (`FP32` → `TYPE_FP32`, `BYTES` → `TYPE_STRING`). */
export function tritonDataType(datatype: string): string {
  return datatype === 'BYTES' ? 'TYPE_STRING' : `TYPE_${datatype}`;
}

/** The Triton-schema configuration of `mv`. */
export function tritonModelConfig(mv: ModelVersion): TritonModelConfig {
  const mbs = mv.batchingDecision.maxBatchSize;
  const dims = (s: TensorSpec) => (mbs > 0 ? s.shape.slice(1) : [...s.shape]);
  const c = mv.config;
  const parameters: Record<string, { string_value: string }> = { 'trainfer.batching': { string_value: mv.batchingDecision.reason } };
  for (const [k, v] of Object.entries(c)) parameters[`trainfer.${k}`] = { string_value: String(v) };
  // A retrieval model: its modes, and the ANN index's settings and the recall measured at load.
  for (const [k, v] of Object.entries(mv.retrieval?.configParameters() ?? {})) parameters[k] = { string_value: v };
  const out: TritonModelConfig = {
    name: mv.name,
    platform: 'onnxruntime_onnx',
    backend: 'onnxruntime',
    version_policy: { all: {} },
    max_batch_size: mbs,
    input: mv.inputs.map((s) => ({ name: s.name, data_type: tritonDataType(s.datatype), format: 'FORMAT_NONE', dims: dims(s), is_shape_tensor: false, allow_ragged_batch: false, optional: false })),
    output: mv.outputs.map((s) => ({ name: s.name, data_type: tritonDataType(s.datatype), dims: dims(s), label_filename: '', is_shape_tensor: false })),
    instance_group: [{ name: `${mv.name}_0`, kind: c.device === 'cuda' ? 'KIND_GPU' : 'KIND_CPU', count: c.instances, gpus: c.device === 'cuda' ? [0] : [], secondary_devices: [], profile: [], passive: false, host_policy: '' }],
    default_model_filename: 'model.onnx',
    parameters,
  };
  if (mbs > 0) {
    out.dynamic_batching = {
      preferred_batch_size: [],
      max_queue_delay_microseconds: Math.round(c.maxQueueDelayMs * 1000),
      preserve_ordering: false,
      priority_levels: 0,
      default_priority_level: 0,
      default_queue_policy: { timeout_action: 'REJECT', default_timeout_microseconds: Math.round(c.timeoutMs * 1000), allow_timeout_override: false, max_queue_size: c.maxQueueSize },
    };
  }
  return out;
}
