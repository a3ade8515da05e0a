/**
 * Task definitions (DESIGN.md §6): a task loads an EAP-IG-style CSV into token-id examples with labels, and
 * scores last-position logits with a per-example metric (and its gradient, for attribution).
 *
 * Design: a label carries everything its metric needs (answer ids, and for greater-than / sva the shared
 * token-id sets computed from the tokenizer at load time), so metrics are pure functions of
 * (logits, labels) and a Task object holds no per-file state.
 */
import type { Batch } from '../models/batch.js';
import type { Tokenizer } from '../tokenizer/index.js';

/** ioi, gender-bias, capital-country: metric = logit[correct] − logit[incorrect]. */
export interface LogitDiffLabel {
  readonly kind: 'logit-diff';
  readonly correct: number;
  readonly incorrect: number;
}

/** greater-than: metric = Σ_{y>year} p(yearIds[y]) − Σ_{y≤year} p(yearIds[y]). */
export interface GreaterThanLabel {
  readonly kind: 'greater-than';
  /** YY, 0..99. */
  readonly year: number;
  /** Token ids of "00".."99" (first token of each, no leading space); one array shared by all labels. */
  readonly yearIds: readonly number[];
}

/** The single-token verb forms of the sva verb list (shared by all labels of one load). */
export interface VerbIds {
  readonly singular: readonly number[];
  readonly plural: readonly number[];
}

/** sva: metric = p(singular set) − p(plural set), negated when the clean subject is plural. */
export interface SvaLabel {
  readonly kind: 'sva';
  readonly plural: boolean;
  readonly verbs: VerbIds;
}

/** hypernymy: metric = Σ p(answers) − Σ p(corrupted) (an id listed twice counts twice, like a torch gather-sum). */
export interface HypernymyLabel {
  readonly kind: 'hypernymy';
  readonly answers: readonly number[];
  readonly corrupted: readonly number[];
}

/** Any task's label. */
export type Label = LogitDiffLabel | GreaterThanLabel | SvaLabel | HypernymyLabel;

/** One CSV row, tokenized. */
export interface TaskExample<L extends Label = Label> {
  /** 1-based data row of the CSV (header excluded), for messages. */
  readonly row: number;
  /** Token ids with BOS prepended; same length as `corrupted`. */
  readonly clean: number[];
  readonly corrupted: number[];
  readonly label: L;
}

/** Consecutive examples, right-padded (with BOS) to a common length P shared by clean and corrupted. */
export interface TaskBatch<L extends Label = Label> {
  readonly n: number;
  readonly clean: Batch;
  /** Same P and per-example lengths as `clean`. */
  readonly corrupted: Batch;
  readonly labels: L[];
  /** 1-based CSV data rows of the examples, in order. */
  readonly rows: number[];
}

export interface LoadOptions {
  /** Use only the first `limit` data rows (no shuffling, like EAP-IG's DataLoader). */
  limit?: number;
  /** sva only: the verb-list CSV (columns sing, plur); default: the one next to the data CSV. */
  verbs?: string;
  /** MIB's tasks only: the counterfactual type whose prompt is the corrupted input (default: the task's, mib.ts). */
  counterfactual?: string;
  /** Told of each data row (1-based) a task's loader drops and why (MIB's tasks drop the rows MIB's filter drops). */
  onDrop?: (row: number, why: string) => void;
}

/** Per-example metric values and their gradients with respect to the logits. */
export interface MetricGrad {
  /** [B] metric per example. */
  values: Float64Array;
  /** [B, V] row-major: grad[b·V + j] = ∂values[b] / ∂logits[b, j]. */
  grad: Float32Array;
}

/**
 * The two forms of a task metric (eap-ig-faithfulness metrics.py `logit_diff` / `prob_diff`):
 *   task                            logit-diff                                   prob-diff
 *   ioi, gender-bias, capital-c.    z[correct] − z[incorrect]                    p[correct] − p[incorrect]
 *   greater-than                    mean z[y > YY] − mean z[y ≤ YY]              Σ p[y > YY] − Σ p[y ≤ YY]
 *   sva (sign by `plural`)          mean z[singular] − mean z[plural]            Σ p[singular] − Σ p[plural]
 *   hypernymy                       Σ z[answers] − Σ z[corrupted answers]        Σ p[answers] − Σ p[corrupted answers]
 * z are last-position logits, p = softmax(z); the year and verb sets are those of the labels. The defaults
 * (DESIGN.md §6) are logit-diff for ioi, gender-bias and capital-country and prob-diff for the others. For
 * greater-than, YY = 99 has no later year: the empty mean counts as 0.
 */
export type MetricForm = 'logit-diff' | 'prob-diff';

/** A task: how to read its CSV and how to score logits. */
export interface Task<L extends Label = Label> {
  readonly name: string;
  /** The CSV columns the task reads (alternatives, if any, are named in `describe`/errors). */
  readonly columns: readonly string[];
  /** The form `metric` computes (see MetricForm). */
  readonly metricKind: MetricForm;
  /** The forms `withMetric` accepts, the default first. */
  readonly metricForms: readonly MetricForm[];
  /** The same task scoring with another metric form; a UserError naming the task's forms for any other name. */
  withMetric(form: string): Task<L>;
  /** Reads and tokenizes the CSV. Bad input throws a UserError naming the file, row and column. */
  load(csvPath: string, tokenizer: Tokenizer, opts?: LoadOptions): TaskExample<L>[];
  /** The file `--data` names, when a task reads more than paths (MIB's tasks: a split of the data cache). */
  resolveData?(data: string): string;
  /** Whether the task takes LoadOptions.counterfactual (MIB's tasks). */
  counterfactuals?: boolean;
  /**
   * Per-example metric (EAP-IG "loss=False, mean=False") from last-real-position logits [B, V] (row-major),
   * computed in float64.
   */
  metric(logits: Float32Array, B: number, V: number, labels: readonly L[]): Float64Array;
  /** The metric and its gradient d values[b] / d logits[b, :]. */
  metricGrad(logits: Float32Array, B: number, V: number, labels: readonly L[]): MetricGrad;
}
