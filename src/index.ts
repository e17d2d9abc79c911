/**
 * Trainfer's public API. Grouped by layer; everything here is stable enough to import.
 */

// Errors and utilities
export { TrainferError, FileFormatError, GraphValidationError } from './util/errors.js';
export { writeFileAtomic } from './util/atomic-write.js';

// ONNX: model I/O, graph IR, builder, passes
export type { DType, TypedArray } from './onnx/dtype.js';
export { DTYPES, dtypeFromOnnx, dtypeToOnnx, isFloat } from './onnx/dtype.js';
export { Tensor, sizeOf, tensorFromProto, tensorToProto } from './onnx/tensor.js';
export type { Attribute, Dim, GraphIndex, Node, ValueInfo, ValueType } from './onnx/ir.js';
export { Graph, Model, walkGraphs, attrInt, attrFloat, attrInts, attrString, attrTensor } from './onnx/ir.js';
export { attr } from './onnx/attr.js';
export { GraphBuilder } from './onnx/builder.js';
export type { GraphBuilderOptions, ConvOptions, PoolOptions, OpOptions } from './onnx/builder.js';
export { modelFromProto, modelToProto, graphFromProto, graphToProto } from './onnx/ir-proto.js';
export { readModel, writeModel, loadModel, readModelProto, writeModelProto, decodeModelProto, encodeModelProto } from './onnx/model-io.js';
export type { ReadModelOptions, WriteModelOptions } from './onnx/model-io.js';
export { topoSort, eliminateDeadNodes, foldConstants, constantValue } from './onnx/passes.js';
// ONNX analysis: shape/dtype inference, validation, cost model (`inferTypes` here is autodiff's; the
// non-mutating ONNX inference is `inferShapes(…)`'s result or `onnx/shape-infer.js#inferTypes`)
export { inferShapes, formatType, SHAPE_FUNCTIONS } from './onnx/shape-infer.js';
export type { InferShapesOptions, ShapeInference, ShapeProblem } from './onnx/shape-infer.js';
export type { ShapeFn, ShapeContext, KnownValue } from './onnx/shape/types.js';
export { validateGraph, assertValidGraph, NodeValidationError } from './onnx/validate.js';
export type { ValidateOptions, Severity } from './onnx/validate.js';
export { countParameters, estimateFlops, PER_ELEMENT } from './onnx/cost.js';
export type { ParameterCount, FlopOptions, NodeCost, FlopEstimate } from './onnx/cost.js';

// Runtime
export { Session, availableDevices } from './runtime/session.js';
export type { Device, SessionOptions, ModelSource } from './runtime/session.js';
export { SessionPool } from './runtime/pool.js';
export type { SessionPoolOptions, PoolRunOptions, PoolRunResult, IoMetadata } from './runtime/pool.js';

// Autodiff: gradients, losses, optimizer updates, the one-graph training step
export type { OptimizerConfig, SgdConfig, AdamConfig, TrainStep, TrainStepOptions, StateSlot, Buffer } from './autodiff/types.js';
export { gradients, VJP_RULES, softmaxCrossEntropy, mse, binaryCrossEntropy, klDivergence, buildTrainStep, cloneGraph, inferTypes } from './autodiff/index.js';
export type { GradientsOptions, DifferentiableOp, VjpRule, VjpContext, SoftmaxCrossEntropyOptions, KlDivergenceOptions, TypeMap } from './autodiff/index.js';

// Serving: the Open Inference Protocol (KServe v2) server, its client and model repository
export { InferenceServer, EXTENSIONS } from './serve/server.js';
export type { ServeOptions } from './serve/server.js';
export { InferenceClient, buildRequest } from './serve/client.js';
export type { InferOptions, InferResult, ModelMetadata, ServerMetadata, TensorMetadata } from './serve/client.js';
export { InferenceError } from './serve/errors.js';
export { DEFAULT_MODEL_CONFIG, parseModelConfig, readModelConfig } from './serve/config.js';
export type { ModelConfig } from './serve/config.js';
export { DATATYPES, datatypeOf, dtypeOf } from './serve/protocol.js';
export type { Datatype, InferRequest, InferResponse, RequestInput, RequestOutput, ResponseOutput } from './serve/protocol.js';
export { ModelRepository, ModelVersion, isPlainName } from './serve/repository.js';
export { DynamicBatcher } from './serve/batcher.js';
export type { BatcherOptions, BatchRequest, BatchResult } from './serve/batcher.js';
export { mnistMlp, mnistCnn, addToRepository } from './serve/example-models.js';
