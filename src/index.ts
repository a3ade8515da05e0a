/**
 * eap-gp's library entry point: the engine, GPT-2 models, tokenizer, graph, attribution methods, evaluation,
 * tasks and reference circuits. The command line (src/cli) is built on exactly these.
 */
export { createEngine, Engine, type EngineOptions, type EngineInfo } from './engine/engine.js';
export { Tensor } from './engine/tensor.js';
export * as ops from './engine/ops.js';
export { loadModel, type LoadedModel, type LoadOptions } from './models/load.js';
export { GPT2, type GPT2Dims } from './models/gpt2.js';
export { makeBatch, type Batch } from './models/batch.js';
export { type ForwardOptions, type ForwardOutput } from './models/model.js';
export { hookNames, allHookNames, type ForwardHook, type GradHook } from './models/hooks.js';
export { makeRandomModel, type RandomModelOptions } from './models/make-model.js';
export { openCheckpoint, validateGPT2 } from './models/checkpoint.js';
export { resolveModel } from './models/hub.js';
export { loadTokenizer, type Tokenizer } from './tokenizer/index.js';
export * from './graph/index.js';
export { attribute, type Scores } from './attribution/attribute.js';
export { attributeNodes, type NodeScores } from './attribution/nodes.js';
export { methods, getMethod, findMethod, registerMethod, unregisterMethod, type AnyMethod } from './attribution/registry.js';
export { STEPS, intOption, numberOption, choiceOption, type MethodSpec, type MethodOption, type PatchingMethod } from './attribution/method-spec.js';
export { exactScores } from './attribution/exact.js';
export type { AttributionLevel, AttributionOptions, BatchContext, Method, MethodName, PairBatch } from './attribution/types.js';
export { baselines, evaluateCircuits, faithfulness } from './evaluation/evaluate.js';
export { evaluateNodeMasks, type NodeEvaluation } from './evaluation/node-patching.js';
export { sweep, MIB_FRACTIONS, HANNA_BUDGETS, fractionBudgets, type SweepResult } from './evaluation/sweep.js';
export { mibAreas, mibEvaluateCircuits, mibEvaluateImportances, mibItemCount, type MibResult } from './evaluation/mib.js';
export { batches, getTask, lossGrad, taskNames } from './tasks/index.js';
export { generate, writeDataset } from './tasks/generators/index.js';
export { referenceCircuit, overlap, rocSweep } from './circuits/index.js';
export { tracePaths, pathGrids, type PathTrace, type PathTraceOptions } from './attribution/saturation.js';
export { startViewer, type ViewerOptions, type ViewerServer } from './viewer-server/server.js';
export { prepareTaskData, type TaskData } from './tasks/prepare.js';
export type { MetricForm } from './tasks/types.js';
export { scoreEdges, SCORE_METHODS } from './attribution/score.js';
export { reproduce, type ReproduceOptions, type ReproduceSummary, type Results as ReproduceResults } from './reproduce/index.js';
export { lineChart, type Series, type LineChartOptions } from './report/line-chart.js';
export { validate, type ValidationResult } from './validation/runner.js';
export { parseVariants, DEFAULT_VARIANTS, type Variant } from './validation/variants.js';
export { spearman, kendallTauB } from './validation/rank-stats.js';
export { defaultModelDir } from './models/default-model.js';
export { train, type TrainOptions, type StepReport } from './training/train.js';
export { trainRun, type TrainRunOptions } from './training/run.js';
export { heldOutFigures, type TaskFigures } from './training/accuracy.js';
export { generateExamples } from './tasks/generated.js';
export { UserError } from './util/errors.js';
