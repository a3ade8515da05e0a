/**
 * `eapgp reproduce`: the paper's study (EAP, EAP-IG, EAP-GP on the six tasks) in one call, resumable, with
 * results.json (docs/results-format.md), report.md and SVG plots.
 */
export { reproduce, writeOutputs, type ReproduceOptions, type ReproduceSummary } from './reproduce.js';
export { checkPlanOptions, makePlan, DEFAULT_LIMIT, DEFAULT_METHODS, type Plan, type PlanOptions } from './plan.js';
export { GPT2_SMALL_EDGES, TABLE_BUDGETS, budgetsDescription, isSmallGraph, logSpacedBudgets, prCounts, scaledBudgets, sweepBudgets, tableBudgets } from './budgets.js';
export { dataDirCandidates, datasetFromDir, generatedDataset, paperDataset, type Dataset } from './data.js';
export { collectResults } from './results.js';
export { reportMarkdown } from './report.js';
export { plots, type Plot } from './plots.js';
export { readAllStates, readState, statePath } from './state.js';
export type * from './types.js';
