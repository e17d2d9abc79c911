/**
 * Trainfer's public API: what users call, grouped by layer, each export documented with TSDoc where it is
 * declared. Test fixtures and hooks stay in their modules (tests import them from there);
 * `public-api.test.ts` holds the reviewed list of names, so a new export is a deliberate change.
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
// ONNX analysis: shape/dtype inference (`inferTypes` reads, `inferShapes` also writes value_info), validation, cost model
export { inferShapes, inferTypes, formatType, SHAPE_FUNCTIONS } from './onnx/shape-infer.js';
export type { InferShapesOptions, ShapeInference, ShapeProblem } from './onnx/shape-infer.js';
export type { ShapeFn, ShapeContext, KnownValue } from './onnx/shape/types.js';
export { validateGraph, assertValidGraph, NodeValidationError } from './onnx/validate.js';
export type { ValidateOptions, Severity } from './onnx/validate.js';
export { countParameters, estimateFlops, PER_ELEMENT } from './onnx/cost.js';
export { upgradeOpset, MIN_UPGRADE_OPSET, MAX_UPGRADE_OPSET } from './onnx/opset-upgrade.js';
export type { UpgradeOpsetOptions, UpgradeResult } from './onnx/opset-upgrade.js';
export type { ParameterCount, FlopOptions, NodeCost, FlopEstimate } from './onnx/cost.js';

// Runtime
export { Session, availableDevices } from './runtime/session.js';
export type { Device, SessionOptions, ModelSource } from './runtime/session.js';
export { SessionPool } from './runtime/pool.js';
export { PoolError } from './runtime/pool.js';
export { writeModelVerified, verifyModel } from './runtime/verified-write.js';
export type { WriteModelVerifiedOptions, VerifyModelOptions } from './runtime/verified-write.js';
export { sampleFeeds } from './runtime/sample-feeds.js';
export type { SampleFeedsOptions } from './runtime/sample-feeds.js';
export type { SessionPoolOptions, PoolRunOptions, PoolRunResult, IoMetadata, PoolFailureKind, PoolEvent, RestartPolicy, PoolCloseResult } from './runtime/pool.js';

// Autodiff: gradients, losses, optimizer updates, the one-graph training step
export type { OptimizerConfig, SgdConfig, AdamConfig, TrainStep, TrainStepOptions, StateSlot, Buffer } from './autodiff/types.js';
export { gradients, VJP_RULES, STOP_GRADIENT_INPUTS, softmaxCrossEntropy, mse, mae, huber, binaryCrossEntropy, klDivergence, buildTrainStep, cloneGraph, checkGradients } from './autodiff/index.js';
export type { GradientsOptions, DifferentiableOp, VjpRule, VjpContext, SoftmaxCrossEntropyOptions, KlDivergenceOptions, RegressionLossOptions, BinaryCrossEntropyOptions, TypeMap, Formulations, GradCheckOptions, GradCheckResult } from './autodiff/index.js';

// Layers and networks: a model yields a training graph and an inference graph
export { Network, INPUT_NAMES } from './nn/network.js';
export type { NetworkOptions, NetworkInput, NetworkHead, ModelInput, ModelHead, TrainingGraph, TrainingGraphOptions, RandomInput, InputKind } from './nn/network.js';
export { ParamStore, initWeight } from './nn/layer.js';
export type { Layer, BuildContext, ForwardContext, InitScheme } from './nn/layer.js';
export { Linear, Activation, ReLU, GELU, Sigmoid, Tanh, Flatten, Dropout, Embedding, Normalize, Rescale } from './nn/layers-dense.js';
export type { LinearOptions, ActivationKind, ActivationOptions, DropoutOptions, EmbeddingOptions, NormalizeOptions, RescaleOptions } from './nn/layers-dense.js';
export { Conv2d, Pool2d, MaxPool2d, AvgPool2d, GlobalAvgPool, BatchNorm, LayerNorm } from './nn/layers-conv.js';
export type { Conv2dOptions, Pool2dOptions, BatchNormOptions, LayerNormOptions } from './nn/layers-conv.js';
export { Sequential, Residual } from './nn/compose.js';
export type { SequentialOptions, ResidualOptions } from './nn/compose.js';
export { buildPreset, isPreset, PRESET_NAMES } from './nn/presets.js';
export type { PresetOptions, CategoricalInput } from './nn/presets.js';
export { TokenEmbedding, SelfAttention, TransformerBlock, SequencePool } from './nn/layers-text.js';
export { buildTransformerPreset, isTextPreset, parseTransformerSpec, TRANSFORMER_DEFAULTS } from './nn/presets-text.js';
export type { TransformerPresetOptions } from './nn/presets-text.js';
export { attachLosses, defaultLoss } from './nn/loss.js';
export type { Task, LossSpec, HeadLoss, HeadValue, TargetSpec, CustomLoss, AttachLossesOptions, AttachedLosses } from './nn/loss.js';
export { checkLayer } from './nn/layer-check.js';
export type { CheckLayerOptions, CheckLayerResult } from './nn/layer-check.js';

// Data: tables of typed columns (IDX/MNIST, CSV, JSONL, generated sets, streams), feed plans, batching
export { Rng } from './util/rng.js';
export type { RngState } from './util/rng.js';
export { columnSize, getColumn, selectRows, headRows, splitRows, columnStats } from './data/table.js';
export type { Table, TableSplits, Column, ColumnDType, ColumnKind, ColumnData } from './data/table.js';
export { loadTable, loadData, readTableFile, mnistDir } from './data/load.js';
export type { LoadTableOptions, LoadDataOptions } from './data/load.js';
export { loadSpam, SPAM_CLASSES } from './data/spam.js';
export { TextTokenizer } from './data/tokenizer.js';
export type { EncodedBatch, EncodeOptions } from './data/tokenizer.js';
export { trainTokenizer, SPECIAL_TOKENS } from './data/tokenizer-train.js';
export type { TrainTokenizerOptions } from './data/tokenizer-train.js';
export { TokenizerWorker } from './data/tokenizer-worker.js';
export { textFeeds, tokenRole } from './data/text-feeds.js';
export type { TextFeeds, TextFeedsOptions, TokenRole } from './data/text-feeds.js';
export { emailText, htmlText, preprocessTexts, parseTextPreprocess, TEXT_PREPROCESS } from './data/email-text.js';
export type { TextPreprocess } from './data/email-text.js';
export { readCsv, parseCsv } from './data/csv.js';
export type { CsvOptions, TextTableOptions } from './data/csv.js';
export { readJsonl, parseJsonl } from './data/jsonl.js';
export type { ColumnTypeHint, NumericFacts } from './data/sniff.js';
export { openStream, TableStream } from './data/stream.js';
export type { OpenStreamOptions, StreamSplits, StreamState } from './data/stream.js';
export { BUILTIN_DATA, loadBuiltin, builtinInfo, friedman1Function } from './data/builtin.js';
export type { BuiltinData, BuiltinInfo } from './data/builtin.js';
export { planFeeds, parseFeedMapping } from './data/feed-plan.js';
export type { FeedSpec, FeedBinding, FeedProvider, ProviderBatch, BatchFeed, FeedPlan, PlannedFeed, PlanFeedsOptions } from './data/feed-plan.js';
export { Batcher, packTable } from './data/batcher.js';
export type { FeedBuffer, PackedTable } from './data/batcher.js';
export { readIdx, readIdxDir, readIdxPair, parseIdx, encodeIdx, IDX_FILES } from './data/idx.js';
// The single-tensor view (one float input + class labels) for code that feeds exactly that
export { subset, take, splitValidation, checkLabels, featureStats, sampleSize, datasetFromTable, tableFromDataset } from './data/dataset.js';
export type { Dataset, DataSplits } from './data/dataset.js';

// Training: fit, metrics, schedules, checkpoints, evaluation, fine-tuning imported ONNX models, the CLI job
export { fit, DEFAULT_OPTIMIZER, defaultLr } from './train/fit.js';
export type { FitOptions, FitResult } from './train/fit.js';
export type { TopEntry } from './train/fit-essentials.js';
export { findLr } from './train/find-lr.js';
export type { FindLrOptions, FindLrResult, LrPoint } from './train/find-lr.js';
export { createMetrics, rankingMetrics } from './train/metrics.js';
export type { MetricAccumulator, MetricsResult, MetricsOptions } from './train/metrics.js';
export { inferTask } from './train/task.js';
export type { TaskChoice } from './train/task.js';
export { teacherOutputs } from './train/providers.js';
export type { TeacherOptions } from './train/providers.js';
export { learningRate, parseSchedule, formatSchedule } from './train/schedule.js';
export type { Schedule, SchedulePoint } from './train/schedule.js';
export { saveCheckpoint, loadCheckpoint, checkpointPath, CHECKPOINT_FILE } from './train/checkpoint.js';
export type { Checkpoint, CheckpointMeta } from './train/checkpoint.js';
export { evaluate } from './train/evaluate.js';
export type { EvalResult, EvaluateOptions } from './train/evaluate.js';
export { annotateModel, readTrainfer, exportModel, METADATA_KEYS } from './train/export.js';
export type { TrainferMetadata, InputRecord, HeadRecord, AnnotateOptions } from './train/export.js';
export { OnnxModelTrainable, modelHeads } from './train/onnx-trainable.js';
export type { OnnxTrainableOptions } from './train/onnx-trainable.js';
export type { Trainable } from './train/trainable.js';
export { StepRunner } from './train/step-runner.js';
export type { StepFeed, StepFetch, StepRunnerOptions } from './train/step-runner.js';
export { createReporter, formatEpoch, MetricsLog } from './train/progress.js';
export type { EpochMetrics, ProgressMode, ProgressReporter } from './train/progress.js';
export { runTrainJob, runFindLrJob } from './train/job.js';
export type { TrainJobOptions, TrainJobResult } from './train/job.js';
export { FAMILY_DEFAULTS, resolveDefaults } from './train/defaults.js';

// Serving: the Open Inference Protocol (KServe v2) server, its client and model repository
export { InferenceServer, EXTENSIONS } from './serve/server.js';
export type { ServeOptions, ServerCloseResult } from './serve/server.js';
export { BATCH_FIRST_KEY } from './serve/batching-policy.js';
export { InferenceClient, buildRequest } from './serve/client.js';
export type { InferOptions, InferResult, ModelMetadata, ServerMetadata, TensorMetadata } from './serve/client.js';
export { InferenceError } from './serve/errors.js';
export { DEFAULT_MODEL_CONFIG, parseModelConfig, readModelConfig } from './serve/config.js';
export type { ModelConfig } from './serve/config.js';
export { DATATYPES, datatypeOf, dtypeOf } from './serve/protocol.js';
export type { Datatype, InferRequest, InferResponse, RequestInput, RequestOutput, ResponseOutput } from './serve/protocol.js';
export { ModelRepository, ModelVersion, isPlainName } from './serve/repository.js';
export { TextFrontEnd, TEXT_INPUT, LENGTH_BUCKET } from './serve/text-input.js';
export { DynamicBatcher } from './serve/batcher.js';
export type { BatcherOptions, BatchRequest, BatchResult } from './serve/batcher.js';
export { addToRepository } from './serve/example-models.js';

// Compression: int8 (static QDQ with calibration, dynamic), fp16, int4 MatMulNBits, quantization-aware training
export { quantize } from './compress/quantize/quantize.js';
export type { QuantizeOptions, QuantizeResult, QuantizeMode } from './compress/quantize/quantize.js';
export { quantizeFile } from './compress/quantize/pipeline.js';
export type { QuantizeFileOptions, QuantizeFileResult } from './compress/quantize/pipeline.js';
export { quantizeQat, runQatFile } from './compress/quantize/qat-file.js';
export type { QatOptions } from './compress/quantize/qat-file.js';
export { calibrate } from './compress/quantize/calibration.js';
export type { BatchSource, CalibrateOptions, Calibration } from './compress/quantize/calibration.js';
export type { CalibrationMethod } from './compress/quantize/calib-stats.js';
export { compareModels } from './compress/quantize/measure.js';
export type { CompareOptions, Comparison, ModelMetrics, Agreement } from './compress/quantize/measure.js';
export { datasetInputs, syntheticInputs } from './compress/quantize/measure-inputs.js';
export type { MeasureInputs, DatasetInputsOptions, SyntheticInputsOptions } from './compress/quantize/measure-inputs.js';
export { readPlan, PLAN_METADATA_KEY } from './compress/quantize/plan.js';
export type { QuantizePlan } from './compress/quantize/plan.js';
export { summarizeReport } from './compress/quantize/report.js';
export type { QuantizeReport, NodeOutcome } from './compress/quantize/report.js';

// Compression: pruning (unstructured magnitude masks with the Zhu-Gupta schedule, dependency-aware
// structured pruning into smaller layers), knowledge distillation, Deep-Compression packing (.tfz)
export { pruneModel, checkPruneOptions } from './compress/prune/prune-model.js';
export type { PruneOptions, PruneResult } from './compress/prune/prune-model.js';
export { structuredPrune } from './compress/prune/structured.js';
export type { StructuredPruneOptions, StructuredPruneResult, GroupOutcome } from './compress/prune/structured.js';
export { analyzeDependencies } from './compress/prune/depgraph.js';
export type { AnalyzeOptions, DependencyGraph, PruningGroup } from './compress/prune/depgraph.js';
export { IMPORTANCES } from './compress/prune/importance.js';
export type { Importance } from './compress/prune/importance.js';
export { MagnitudePruning, FixedMasks } from './compress/prune/gradual.js';
export type { MagnitudePruningOptions } from './compress/prune/gradual.js';
export { magnitudeMasks, prunableWeights } from './compress/prune/magnitude.js';
export type { MagnitudeMaskOptions, PrunableWeight } from './compress/prune/magnitude.js';
export { resolveSchedule, sparsityAt } from './compress/prune/schedule.js';
export type { SparsitySchedule, ScheduleOptions } from './compress/prune/schedule.js';
export { sparsityReport, formatSparsityReport } from './compress/prune/report.js';
export type { SparsityReport, LayerReport } from './compress/prune/report.js';
export { distillModel, checkDistillOptions } from './compress/distill/distill.js';
export type { DistillOptions, DistillResult } from './compress/distill/distill.js';
export { packModel, unpackModel, checkPackOptions } from './compress/pack/pack-model.js';
export type { PackOptions, PackResult, PackedTensorReport, UnpackOptions, UnpackResult } from './compress/pack/pack-model.js';
export { TFZ_VERSION } from './compress/pack/container.js';

// Benchmarks: the MLPerf-style load generator (scenarios, SUT/QSL interfaces, clocks), systems under
// test (in-process, OIP URL, synthetic), the training benchmark, the cost/energy model, the report and the lab
export { runScenario } from './bench/loadgen/run-scenario.js';
export type { RunScenarioOptions, ScenarioResult, ScenarioMetric, RunProgress } from './bench/loadgen/run-scenario.js';
export { searchServerQps } from './bench/loadgen/server-search.js';
export type { ServerSearchOptions, ServerSearchResult, ServerTrial } from './bench/loadgen/server-search.js';
export { resolveSettings } from './bench/loadgen/settings.js';
export type { TestSettings, ResolvedSettings } from './bench/loadgen/settings.js';
export { summarize, percentileSorted } from './bench/loadgen/stats.js';
export type { LatencySummary as ScenarioLatencySummary } from './bench/loadgen/stats.js';
export { RealClock, VirtualClock } from './bench/loadgen/clock.js';
export { SCENARIOS } from './bench/loadgen/types.js';
export type { Scenario, SystemUnderTest, QuerySampleLibrary, QuerySample, QuerySampleResponse, QuerySamplesComplete, Clock } from './bench/loadgen/types.js';
export { TensorSampleLibrary } from './bench/qsl.js';
export type { SampleInput, FromTensorsOptions, SyntheticSamplesOptions } from './bench/qsl.js';
export { libraryFromDataset, textLibrary } from './bench/dataset-library.js';
export { InProcessSut } from './bench/sut/in-process.js';
export type { InProcessSutOptions } from './bench/sut/in-process.js';
export { OipSut } from './bench/sut/oip.js';
export type { OipSutOptions } from './bench/sut/oip.js';
export { NoopSut, QueueingSut, SyntheticLibrary } from './bench/sut/synthetic.js';
export type { QueueingSutOptions, ServiceTime, Stall } from './bench/sut/synthetic.js';
export { benchModel, benchScenario, defaultBatch } from './bench/bench-model.js';
export type { BenchModelOptions, BenchScenarioOptions, BenchTarget } from './bench/bench-model.js';
export { readBenchResult, writeBenchResult } from './bench/result-file.js';
export type { BenchResultFile, ModelRef, TargetInfo } from './bench/result-file.js';
export { machineInfo, sha256 } from './bench/machine.js';
export type { MachineInfo } from './bench/machine.js';
export { benchTraining, measureMatmulPeak, trainingFlops } from './bench/train-bench.js';
export type { TrainBenchOptions, TrainingRecord, MatmulPeak, LossPoint } from './bench/train-bench.js';
export { computeCosts, trainingCost, energyKwh } from './bench/cost/model.js';
export type { CostOptions, CostReport, CostWorkloadInput, CostVariantInput, VariantCost, WorkloadCost, TrainingCost } from './bench/cost/model.js';
export { EXAMPLE_PROFILES, readProfiles, checkProfiles } from './bench/cost/profiles.js';
export type { ProfilesFile, HardwareProfile, ProfileSpeed } from './bench/cost/profiles.js';
export { writeReport } from './bench/report/write-report.js';
export { buildCharts, paretoFrontier } from './bench/report/charts.js';
export type { Chart } from './bench/report/charts.js';
export { markdownSummary, summaryTable } from './bench/report/markdown.js';
export { runLab } from './bench/lab/run-lab.js';
export type { LabOptions, LabResult } from './bench/lab/run-lab.js';
export { WORKLOADS } from './bench/lab/workloads.js';
export { mnistWorkload, mnistMlp as mnistMlpWorkload, mnistCnn as mnistCnnWorkload } from './bench/lab/mnist.js';
export { fp32Variant, dynamicInt8Variant, staticInt8Variant, fp16Variant, int4Variant, qatVariant } from './bench/lab/variants.js';
export { prunedVariant, prunedInt8Variant, distilledVariant, distilledInt8Variant, packedVariant, compressionVariants } from './bench/lab/compress-variants.js';
export { readLabRun, costInputs } from './bench/lab/lab-run.js';
export type { LabRun, LabWorkload, LabVariant, VariantBench } from './bench/lab/lab-run.js';
export type { Workload, VariantSpec, LabContext, QualityMetric, WorkloadBench, VariantBuildArgs, BuiltVariant } from './bench/lab/workload.js';
// Deployment: manifests for Kubernetes and KServe (docs/deploy.md)
export { k8sPlan } from './deploy/k8s-plan.js';
export type { K8sPlan } from './deploy/k8s-plan.js';
export { resolveK8sOptions, parseRepositorySource, DEFAULT_IMAGE } from './deploy/options.js';
export type { K8sDeployOptions, ResolvedK8sOptions, RepositorySource } from './deploy/options.js';
export { scanRepository } from './deploy/repository-scan.js';
export type { RepositoryScan, ScannedModel, ScannedVersion } from './deploy/repository-scan.js';
export { fitResources } from './deploy/resources.js';
export type { FittedResources } from './deploy/resources.js';
export { deploymentManifest, serviceManifest, hpaManifest, podDisruptionBudgetManifest } from './deploy/kubernetes.js';
export { servingRuntimeManifest, inferenceServiceManifest } from './deploy/kserve.js';
export type { ServingRuntime, InferenceService, SupportedModelFormat } from './deploy/kserve.js';
export { queueTimeRule, adapterHelmValues, QUEUE_METRIC } from './deploy/prometheus-adapter.js';
export type { AdapterRule } from './deploy/prometheus-adapter.js';
export { podMonitorManifest } from './deploy/monitoring.js';
export type { PodMonitor } from './deploy/monitoring.js';
export { scoreJobPlan } from './deploy/score-job.js';
export type { ScoreJobOptions } from './deploy/score-job.js';
export { renderYaml, renderPlan, writePlan } from './deploy/render.js';
export type { PlannedFile } from './deploy/render.js';
export { parseImageReference } from './deploy/names.js';
export type { ImageReference } from './deploy/names.js';

// The browser page: serve it with a models directory, scan a directory as the page sees it, benchmark
// every model in headless Chromium (onnxruntime-web) beside onnxruntime-node
export { startUiServer, findLabReport } from './web/ui-server.js';
export type { UiServerOptions, UiServer } from './web/ui-server.js';
export { scanModels } from './web/catalog.js';
export type { ScanModelsOptions } from './web/catalog.js';
export type { ModelManifest, ManifestModel, ManifestTensor, ModelKind, ModelPrecision } from './web/manifest.js';
export { runBrowserBenchmark } from './web/browser-bench.js';
export type { BrowserBenchOptions, BrowserBenchResult, PageDownload } from './web/browser-bench.js';
export type { BackendInfo, BrowserBenchReport, BrowserModelBench, PageApi, PageState } from './web/page-api.js';
export { formatBrowserBench } from './web/bench-table.js';
export { nodeLatency } from './web/node-latency.js';
export type { NodeLatencyOptions } from './web/node-latency.js';
export { benchFilesInBrowser } from './web/browser-bench.js';
export type { BenchFilesOptions } from './web/browser-bench.js';
export type { LatencySummary } from './web/latency-stats.js';

// Recommenders: interaction data, retrieval models and rankers, sparse embedding updates, ranking metrics, top-K serving
export { readInteractions, interactionTable, itemCounts, selectInteractions, INTERACTION_COLUMNS } from './data/interactions.js';
export type { Interactions, SideFeature, LabelKind, ReadInteractionsOptions } from './data/interactions.js';
export { leaveLastOut, timeSplit, splitInteractions, parseSplit, userHistory } from './data/interaction-splits.js';
export type { InteractionSplits, SplitSpec, UserHistory } from './data/interaction-splits.js';
export { generateInteractions, parseSyntheticSpec, isSyntheticSource, SyntheticOracle } from './data/synthetic-interactions.js';
export type { SyntheticSpec } from './data/synthetic-interactions.js';
export { negativeSampler, itemLogQ, AliasTable } from './data/negatives.js';
export type { NegativeSamplerOptions } from './data/negatives.js';
export { ctrTable, userCounts } from './data/ctr.js';
export type { CtrTableOptions } from './data/ctr.js';
export { bprLoss, sampledSoftmaxLoss, softplus } from './autodiff/ranking-losses.js';
export type { BprLossOptions, SampledSoftmaxOptions } from './autodiff/ranking-losses.js';
export { RetrievalModel, RECSYS_METADATA_KEY } from './nn/retrieval.js';
export type { RetrievalModelOptions, TowerFeature } from './nn/retrieval.js';
export { retrievalLoss, RETRIEVAL_LOSSES } from './nn/retrieval-losses.js';
export type { RetrievalLossName, RetrievalLossOptions } from './nn/retrieval-losses.js';
export { buildDlrm, guardSparseIds } from './nn/dlrm.js';
export type { DlrmOptions, SparseField } from './nn/dlrm.js';
export { DotInteraction } from './nn/layers-recsys.js';
export type { DotInteractionOptions } from './nn/layers-recsys.js';
export type { TrainingExtension, PrepareContext, PrepareResult, StepContext, EpochContext, ExtensionState, ExtensionFeed } from './train/extension.js';
export { SparseEmbeddings } from './train/sparse-embeddings.js';
export type { SparseEmbeddingsOptions } from './train/sparse-embeddings.js';
export { SparseRowOptimizer, SPARSE_OPTIMIZERS } from './train/sparse-optimizers.js';
export type { SparseOptimizerConfig } from './train/sparse-optimizers.js';
export { RankingAccumulator } from './train/ranking-metrics.js';
export type { RankingScalars } from './train/ranking-metrics.js';
export { evaluateRetrieval, readRecsysMetadata } from './train/ranking-eval.js';
export type { RetrievalEvalOptions, RetrievalEvalResult, RecsysMetadata } from './train/ranking-eval.js';
export { exportRetrieval, itemVectors } from './train/retrieval-export.js';
export type { ExportRetrievalOptions } from './train/retrieval-export.js';
export { runRetrievalJob } from './train/recsys-job.js';
export type { RetrievalJobOptions, RetrievalJobResult } from './train/recsys-job.js';
export { runCtrJob } from './train/ctr-job.js';
export type { CtrJobOptions, CtrJobResult } from './train/ctr-job.js';
export { loadRecsysData } from './train/recsys-data.js';
export type { InteractionJobOptions, RecsysData, RecsysDataOptions } from './train/recsys-data.js';
export { quantizeEmbeddingTables } from './compress/embedding-tables.js';
export type { QuantizeTablesOptions, TableReport } from './compress/embedding-tables.js';
export { Recommender, retrievalInfo } from './serve/retrieval.js';
export type { AnnRecall, Recommendation, RecommenderOptions, RetrievalInfo } from './serve/retrieval.js';
export { buildAnnIndex, ANN_KINDS } from './serve/ann.js';
export type { AnnIndex, AnnKind, AnnOptions, AnnHits, AnnQuantization, AnnSettings, AnnSpace } from './serve/ann.js';
export { recsysWorkload, recsysTwoTower, embeddingTablesVariant } from './bench/lab/recsys.js';
export { spamWorkload, spamTransformer } from './bench/lab/spam.js';
export type { SpamWorkloadSpec } from './bench/lab/spam.js';
export type { RecsysWorkloadSpec } from './bench/lab/recsys.js';
