/**
 * A task dataset ready to run: a CSV loaded with a task (in a chosen metric form), batched, with the metric
 * and loss functions that evaluation and attribution take. Shared by `attribute`, `evaluate` and `reproduce`.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { LossFn, PairBatch } from '../attribution/types.js';
import type { MetricFn } from '../evaluation/patching.js';
import { UserError } from '../util/errors.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { batches } from './batch.js';
import { lossGrad } from './metric.js';
import type { Label, Task } from './types.js';

export interface TaskData {
  /** The task, in the metric form asked for. */
  task: Task;
  batches: PairBatch[];
  examples: number;
  dataPath: string;
  /** sha256 of the CSV file, recorded in outputs so that results can be traced to their data. */
  dataHash: string;
  metric: MetricFn;
  loss: LossFn;
  /** Data rows (1-based) whose clean and corrupted prompts are the same tokens: they carry no signal. */
  identicalRows: number[];
  /** Data rows the task's loader dropped, and why (MIB's tasks: the rows MIB's filter drops). */
  dropped: { row: number; why: string }[];
}

export interface PrepareOptions {
  /** Only the first `limit` rows. */
  limit?: number;
  /** Examples per batch (default 20). */
  batchSize?: number;
  /** sva: the verb-list CSV (default: the one next to the data CSV). */
  verbs?: string;
  /** A metric form of the task (default: its DESIGN.md §6 form). */
  metric?: string;
  /** MIB's tasks: the counterfactual type of the corrupted prompts. */
  counterfactual?: string;
}

/** Loads `dataPath` with `task` (see the module comment). Bad input throws a UserError naming file and row. */
export function prepareTaskData(task: Task, data: string, tokenizer: Tokenizer, opts: PrepareOptions = {}): TaskData {
  const t = opts.metric === undefined ? task : task.withMetric(opts.metric);
  if (opts.counterfactual !== undefined && !t.counterfactuals) throw new UserError(`--counterfactual applies to MIB's tasks only; drop it for --task ${t.name}`);
  const dataPath = t.resolveData?.(data) ?? data;
  const dropped: TaskData['dropped'] = [];
  const examples = t.load(dataPath, tokenizer, { limit: opts.limit, verbs: opts.verbs, counterfactual: opts.counterfactual, onDrop: (row, why) => dropped.push({ row, why }) });
  if (examples.length === 0) throw new UserError(`${dataPath}: no examples to run`);
  const dataHash = createHash('sha256').update(readFileSync(dataPath)).digest('hex');
  return {
    task: t, dataPath, dataHash, examples: examples.length,
    batches: batches(examples, opts.batchSize ?? 20, tokenizer.padId), // GPT-2: 50256 as before
    metric: (logits, B, V, labels) => t.metric(logits, B, V, labels as Label[]),
    loss: (logits, B, V, labels) => lossGrad(t, logits, B, V, labels as Label[]),
    identicalRows: examples.filter((e) => e.clean.every((id, i) => id === e.corrupted[i])).map((e) => e.row),
    dropped,
  };
}

/** A warning naming the rows the task's loader dropped and why (the first few), else null. */
export function droppedRowsWarning(d: Pick<TaskData, 'dropped' | 'examples' | 'dataPath'>): string | null {
  if (d.dropped.length === 0) return null;
  const shown = d.dropped.slice(0, 3).map((x) => `row ${x.row}: ${x.why}`).join('; ');
  return `${d.dropped.length} row${d.dropped.length === 1 ? '' : 's'} of ${d.dataPath} dropped, ${d.examples} kept (${shown}${d.dropped.length > 3 ? '; …' : ''})`;
}

/**
 * A warning when some rows' clean and corrupted prompts are identical, else null: such a row adds nothing to
 * the scores (its activation differences are zero) and nothing to m(M) − m(∅), yet counts in every mean.
 */
export function identicalRowsWarning(d: Pick<TaskData, 'identicalRows' | 'examples' | 'dataPath'>): string | null {
  const rows = d.identicalRows;
  if (rows.length === 0) return null;
  const shown = rows.length > 10 ? `${rows.slice(0, 10).join(', ')}, …` : rows.join(', ');
  return `${rows.length} of ${d.examples} rows of ${d.dataPath} have identical clean and corrupted prompts (row${rows.length === 1 ? '' : 's'} ${shown}): ` +
    'they contribute nothing to the scores or to m(M) − m(∅) but count in every mean; fix or drop them';
}
