import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import * as api from './index.js';

/**
 * The reviewed public surface (runtime values; types are checked below through the compiler). Adding or
 * removing an export means editing this list: a deliberate, reviewed change.
 */
const PUBLIC_VALUES = [
  // util
  'TrainferError', 'FileFormatError', 'GraphValidationError', 'writeFileAtomic', 'Rng',
  // onnx
  'DTYPES', 'dtypeFromOnnx', 'dtypeToOnnx', 'isFloat', 'Tensor', 'sizeOf', 'tensorFromProto', 'tensorToProto',
  'Graph', 'Model', 'walkGraphs', 'attrInt', 'attrFloat', 'attrInts', 'attrString', 'attrTensor', 'attr', 'GraphBuilder',
  'modelFromProto', 'modelToProto', 'graphFromProto', 'graphToProto',
  'readModel', 'writeModel', 'loadModel', 'readModelProto', 'writeModelProto', 'decodeModelProto', 'encodeModelProto',
  'topoSort', 'eliminateDeadNodes', 'foldConstants', 'constantValue',
  'inferShapes', 'inferTypes', 'formatType', 'SHAPE_FUNCTIONS', 'validateGraph', 'assertValidGraph', 'NodeValidationError',
  'countParameters', 'estimateFlops', 'PER_ELEMENT',
  // runtime
  'Session', 'availableDevices', 'SessionPool', 'PoolError', 'writeModelVerified', 'verifyModel', 'sampleFeeds',
  // autodiff
  'gradients', 'VJP_RULES', 'STOP_GRADIENT_INPUTS', 'softmaxCrossEntropy', 'mse', 'mae', 'huber', 'binaryCrossEntropy', 'klDivergence', 'buildTrainStep', 'cloneGraph', 'checkGradients',
  // nn
  'Network', 'INPUT_NAMES', 'ParamStore', 'initWeight', 'Linear', 'Activation', 'ReLU', 'GELU', 'Sigmoid', 'Tanh', 'Flatten', 'Dropout',
  'Embedding', 'Normalize', 'Rescale', 'Conv2d', 'Pool2d', 'MaxPool2d', 'AvgPool2d', 'GlobalAvgPool', 'BatchNorm', 'LayerNorm', 'Sequential', 'Residual',
  'buildPreset', 'isPreset', 'PRESET_NAMES', 'checkLayer', 'attachLosses', 'defaultLoss',
  'TokenEmbedding', 'SelfAttention', 'TransformerBlock', 'SequencePool', 'buildTransformerPreset', 'isTextPreset', 'parseTransformerSpec', 'TRANSFORMER_DEFAULTS',
  // data
  'Batcher', 'packTable', 'planFeeds', 'parseFeedMapping', 'columnSize', 'getColumn', 'selectRows', 'headRows', 'splitRows', 'columnStats',
  'loadTable', 'readTableFile', 'readJsonl', 'parseJsonl', 'openStream', 'TableStream', 'BUILTIN_DATA', 'loadBuiltin', 'builtinInfo', 'friedman1Function',
  'subset', 'take', 'splitValidation', 'checkLabels', 'featureStats', 'sampleSize', 'datasetFromTable', 'tableFromDataset', 'loadData', 'mnistDir',
  'readIdx', 'readIdxDir', 'readIdxPair', 'parseIdx', 'encodeIdx', 'IDX_FILES', 'readCsv', 'parseCsv',
  'loadSpam', 'SPAM_CLASSES', 'TextTokenizer', 'trainTokenizer', 'SPECIAL_TOKENS', 'TokenizerWorker', 'textFeeds', 'tokenRole',
  'emailText', 'htmlText', 'preprocessTexts', 'parseTextPreprocess', 'TEXT_PREPROCESS',
  // train
  'fit', 'DEFAULT_OPTIMIZER', 'defaultLr', 'learningRate', 'parseSchedule', 'formatSchedule', 'saveCheckpoint', 'loadCheckpoint',
  'checkpointPath', 'CHECKPOINT_FILE', 'evaluate', 'OnnxModelTrainable', 'modelHeads', 'StepRunner', 'createReporter', 'formatEpoch', 'MetricsLog',
  'runTrainJob', 'runFindLrJob', 'findLr', 'FAMILY_DEFAULTS', 'resolveDefaults', 'createMetrics', 'rankingMetrics', 'inferTask', 'teacherOutputs',
  'annotateModel', 'readTrainfer', 'exportModel', 'METADATA_KEYS',
  // serve
  'InferenceServer', 'EXTENSIONS', 'InferenceClient', 'buildRequest', 'InferenceError', 'DEFAULT_MODEL_CONFIG', 'parseModelConfig',
  'readModelConfig', 'DATATYPES', 'datatypeOf', 'dtypeOf', 'ModelRepository', 'ModelVersion', 'isPlainName', 'DynamicBatcher', 'addToRepository', 'BATCH_FIRST_KEY',
  'TextFrontEnd', 'TEXT_INPUT', 'LENGTH_BUCKET',
  // compress
  'quantize', 'quantizeFile', 'quantizeQat', 'runQatFile', 'calibrate', 'compareModels', 'datasetInputs', 'syntheticInputs',
  'readPlan', 'PLAN_METADATA_KEY', 'summarizeReport', 'upgradeOpset', 'MIN_UPGRADE_OPSET', 'MAX_UPGRADE_OPSET',
  'pruneModel', 'checkPruneOptions', 'structuredPrune', 'analyzeDependencies', 'IMPORTANCES', 'MagnitudePruning', 'FixedMasks',
  'magnitudeMasks', 'prunableWeights', 'resolveSchedule', 'sparsityAt', 'sparsityReport', 'formatSparsityReport',
  'distillModel', 'checkDistillOptions', 'packModel', 'unpackModel', 'checkPackOptions', 'TFZ_VERSION',
  // deploy
  'k8sPlan', 'resolveK8sOptions', 'parseRepositorySource', 'DEFAULT_IMAGE', 'scanRepository', 'fitResources', 'deploymentManifest',
  'serviceManifest', 'hpaManifest', 'podDisruptionBudgetManifest', 'servingRuntimeManifest', 'inferenceServiceManifest', 'queueTimeRule',
  'adapterHelmValues', 'QUEUE_METRIC', 'podMonitorManifest', 'scoreJobPlan', 'renderYaml', 'renderPlan', 'writePlan', 'parseImageReference',
  // bench: load generator, systems under test, training benchmark, cost model, report, lab
  'runScenario', 'searchServerQps', 'resolveSettings', 'summarize', 'percentileSorted', 'RealClock', 'VirtualClock', 'SCENARIOS',
  'TensorSampleLibrary', 'libraryFromDataset', 'textLibrary', 'InProcessSut', 'OipSut', 'NoopSut', 'QueueingSut', 'SyntheticLibrary',
  'benchModel', 'benchScenario', 'defaultBatch', 'readBenchResult', 'writeBenchResult', 'machineInfo', 'sha256',
  'benchTraining', 'measureMatmulPeak', 'trainingFlops', 'computeCosts', 'trainingCost', 'energyKwh', 'EXAMPLE_PROFILES', 'readProfiles',
  'checkProfiles', 'writeReport', 'buildCharts', 'paretoFrontier', 'markdownSummary', 'summaryTable', 'runLab', 'WORKLOADS',
  'mnistWorkload', 'mnistMlpWorkload', 'mnistCnnWorkload', 'fp32Variant', 'dynamicInt8Variant', 'staticInt8Variant', 'fp16Variant',
  'int4Variant', 'qatVariant', 'readLabRun', 'costInputs', 'prunedVariant', 'prunedInt8Variant', 'distilledVariant', 'distilledInt8Variant',
  'packedVariant', 'compressionVariants',
  // recsys
  'readInteractions', 'interactionTable', 'itemCounts', 'selectInteractions', 'INTERACTION_COLUMNS', 'leaveLastOut', 'timeSplit', 'splitInteractions', 'parseSplit', 'userHistory', 'generateInteractions', 'parseSyntheticSpec', 'isSyntheticSource', 'SyntheticOracle', 'negativeSampler', 'itemLogQ', 'AliasTable', 'ctrTable', 'userCounts', 'bprLoss', 'sampledSoftmaxLoss', 'softplus', 'RetrievalModel', 'RECSYS_METADATA_KEY', 'retrievalLoss', 'RETRIEVAL_LOSSES', 'buildDlrm', 'guardSparseIds', 'DotInteraction', 'SparseEmbeddings', 'SparseRowOptimizer', 'SPARSE_OPTIMIZERS', 'RankingAccumulator', 'evaluateRetrieval', 'readRecsysMetadata', 'exportRetrieval', 'itemVectors', 'runRetrievalJob', 'runCtrJob', 'loadRecsysData', 'quantizeEmbeddingTables', 'Recommender', 'retrievalInfo', 'buildAnnIndex', 'ANN_KINDS', 'recsysWorkload', 'recsysTwoTower', 'embeddingTablesVariant', 'spamWorkload', 'spamTransformer',
  // web
  'startUiServer', 'findLabReport', 'scanModels', 'runBrowserBenchmark', 'benchFilesInBrowser', 'nodeLatency', 'formatBrowserBench',
];

/** Names that belong to tests, never to the public entry. */
const TEST_HELPER = /fixture|mock|fake|crash|^test|ForTest|^run(Ort|Model)$|closeness|randomTensor|^lcg$|^mnist(Mlp|Cnn)$/i;

test('the public entry exports exactly the reviewed list of values, and no test helper', () => {
  const names = Object.keys(api).sort();
  const helpers = names.filter((n) => TEST_HELPER.test(n));
  assert.deepEqual(helpers, [], `test helpers exported: ${helpers.join(', ')}`);
  const reviewed = [...PUBLIC_VALUES].sort();
  assert.deepEqual(names.filter((n) => !reviewed.includes(n)), [], 'exported but not in the reviewed list');
  assert.deepEqual(reviewed.filter((n) => !names.includes(n)), [], 'in the reviewed list but not exported');
  assert.equal(new Set(reviewed).size, reviewed.length, 'the reviewed list has duplicates');
});

function sourceIndex(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return join(dir, 'src', 'index.ts');
}

/** One declaration found by following `export … from` chains: its file's parsed source and the node. */
interface Found {
  node: ts.Node;
  file: string;
}

const parsed = new Map<string, ts.SourceFile>();
function parse(file: string): ts.SourceFile {
  let sf = parsed.get(file);
  if (!sf) parsed.set(file, (sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true)));
  return sf;
}

const hasExport = (n: ts.Node): boolean => ts.canHaveModifiers(n) && (ts.getModifiers(n) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);

/** Finds the exported declaration of `name` in `file`, following re-exports (parsing only, no type checking). */
function findDeclaration(file: string, name: string): Found | undefined {
  const sf = parse(file);
  for (const st of sf.statements) {
    if (ts.isExportDeclaration(st) && st.moduleSpecifier && ts.isStringLiteral(st.moduleSpecifier) && st.exportClause && ts.isNamedExports(st.exportClause)) {
      for (const el of st.exportClause.elements) {
        if (el.name.text !== name) continue;
        const target = join(dirname(file), st.moduleSpecifier.text.replace(/\.js$/, '.ts'));
        return findDeclaration(target, (el.propertyName ?? el.name).text);
      }
    }
    if (!hasExport(st)) continue;
    if ((ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st) || ts.isInterfaceDeclaration(st) || ts.isTypeAliasDeclaration(st) || ts.isEnumDeclaration(st)) && st.name?.text === name) return { node: st, file };
    if (ts.isVariableStatement(st) && st.declarationList.declarations.some((d) => ts.isIdentifier(d.name) && d.name.text === name)) return { node: st, file };
  }
  return undefined;
}

/** Every name `src/index.ts` exports (values and types). */
function publicNames(index: string): string[] {
  const out: string[] = [];
  for (const st of parse(index).statements) {
    if (ts.isExportDeclaration(st) && st.exportClause && ts.isNamedExports(st.exportClause)) for (const el of st.exportClause.elements) out.push(el.name.text);
  }
  return out;
}

test('every public export — values and types — has a TSDoc comment where it is declared, and public classes expose no test hook', () => {
  const index = sourceIndex();
  const undocumented: string[] = [];
  const missing: string[] = [];
  const hooks: string[] = [];
  for (const name of publicNames(index)) {
    const found = findDeclaration(index, name);
    if (!found) {
      missing.push(name);
      continue;
    }
    const docs = ts.getJSDocCommentsAndTags(found.node);
    if (!docs.length) undocumented.push(`${name} (${found.file.slice(found.file.indexOf('src/'))})`);
    if (ts.isClassDeclaration(found.node)) {
      for (const m of found.node.members) {
        const isPrivate = (ts.getModifiers(m as ts.HasModifiers) ?? []).some((k) => k.kind === ts.SyntaxKind.PrivateKeyword) || (m.name !== undefined && ts.isPrivateIdentifier(m.name));
        // Symbol-keyed members ([CRASH_WORKER]) are reachable only by importing the symbol from its module.
        if (!m.name || isPrivate || ts.isComputedPropertyName(m.name)) continue;
        const text = m.name.getText();
        if (TEST_HELPER.test(text)) hooks.push(`${name}.${text}`);
      }
    }
  }
  assert.deepEqual(missing, [], `exports whose declaration was not found: ${missing.join(', ')}`);
  assert.deepEqual(undocumented, [], `exports without TSDoc: ${undocumented.join(', ')}`);
  assert.deepEqual(hooks, [], `test hooks on public classes: ${hooks.join(', ')}`);
});
