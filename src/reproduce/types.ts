/**
 * The records of `eapgp reproduce`: results.json (docs/results-format.md, read by the viewer) and the
 * per-(task, method) state files it is assembled from. None of them holds a time, a date or a thread count
 * (they are byte-identical for the same inputs and options); those are in the run logs (PairTiming).
 */
import type { GapSpread } from '../evaluation/degenerate.js';

/** The model of a reproduction. `path` is the --model argument as given. */
export interface ModelInfo {
  path: string;
  layers: number;
  heads: number;
  dModel: number;
  edges: number;
  /** The family (e.g. "neox", "llama") when not GPT-2; absent for GPT-2, whose files read as before. */
  family?: string;
}

/** Settings shared by every (task, method) of a results directory. */
export interface Settings {
  limit: number;
  batchSize: number;
  steps: number;
  intervention: 'patching';
  select: 'greedy';
  absolute: true;
  /** The faithfulness sweep's edge budgets. */
  budgets: number[];
}

/** One circuit of the faithfulness sweep (edges and nodes after pruning; nodes exclude logits). */
export interface SweepPointRecord {
  requested: number;
  edges: number;
  nodes: number;
  metric: number;
  faithfulness: number;
}

export interface FractionPointRecord extends SweepPointRecord {
  fraction: number;
}

export interface PrPoint {
  /** Top-n edges by |score| (unpruned). */
  n: number;
  nodes: { precision: number; recall: number };
  edges: { precision: number; recall: number };
}

/** Precision/recall against a manual circuit; `auc` = ROC AUCs over the full top-n sweep (as `eapgp compare`). */
export interface PrRecord {
  reference: 'acdc' | 'eap-ig';
  points: PrPoint[];
  auc: { nodes: number; edges: number };
}

export interface MethodResult {
  /** Scored graph, relative to the results directory. */
  graph: string;
  points: SweepPointRecord[];
  fractions: { points: FractionPointRecord[]; cpr: number; cmd: number };
  /** Only for tasks with a manual circuit, on GPT-2 small's graph. */
  pr?: PrRecord;
}

/** What makes a task's results comparable across methods and runs. */
export interface TaskKey {
  /** The CSV path, or "generated:TASK:seed=S:n=N". */
  data: string;
  /** sha256 of the CSV. */
  sha256: string;
  examples: number;
  /** The metric form. */
  metric: string;
}

export interface TaskResult {
  data: string;
  examples: number;
  metric: string;
  /** m(M), the clean model. */
  baseline: number;
  /** m(∅), the corrupted run. */
  corrupted: number;
  /**
   * Degenerate data: rows whose clean and corrupted prompts are identical; a gap m(M) − m(∅) too small for F to
   * mean anything (src/evaluation/degenerate.ts). Always written; absent in results of older versions.
   */
  warnings?: string[];
  methods: Record<string, MethodResult>;
}

/** 2: "created" and each method's "seconds" moved to results.log.json (the viewer reads 1 and 2). */
export const RESULTS_VERSION = 2;

export interface Results {
  format: 'eapgp-reproduce';
  version: typeof RESULTS_VERSION;
  model: ModelInfo;
  settings: Settings;
  tasks: Record<string, TaskResult>;
}

/** 2: "finished" and result.seconds moved to the pair's run log (version 1 states are still read). */
export const STATE_VERSION = 2;

/** DIR/state/<task>-<method>.json: one finished (task, method), everything results.json needs of it. */
export interface PairState {
  format: 'eapgp-reproduce-state';
  version: typeof STATE_VERSION;
  task: string;
  method: string;
  model: ModelInfo;
  settings: Settings;
  taskKey: TaskKey;
  baseline: number;
  corrupted: number;
  /** Spread of the per-example gaps m_i(M) − m_i(∅) (absent in states of older versions). */
  spread?: GapSpread;
  /** Data rows whose clean and corrupted prompts are identical (absent in states of older versions). */
  identicalRows?: number[];
  result: MethodResult;
}

/** How a (task, method) ran: from its run log, DIR/state/<task>-<method>.log.json (or a version 1 state). */
export interface PairTiming {
  /** Wall-clock seconds: attribution; evaluation (both sweeps and the precision/recall curve). */
  seconds: { attribute: number; evaluate: number };
  /** When the pair finished (ISO 8601). */
  finished: string;
  /** Compute threads and GEMM path (absent for pairs recorded by version 1 states). */
  threads?: number;
  gemm?: string;
}

/** Timings by task, then method. */
export type Timings = Record<string, Record<string, PairTiming>>;
