/**
 * Task data for commands that can run without a CSV: with --data, the CSV (as loadTaskData reads it);
 * without, `--limit` prompts (default `defaultN`) made by the task's generator with `--seed`, written to a
 * temporary CSV, loaded the same way and removed again, so both paths give identical batches for identical rows.
 */
import { withGeneratedCsv } from '../tasks/generated.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { UserError } from '../util/errors.js';
import { intOption, requireOption } from './args.js';
import { loadTaskData, type TaskData } from './task-data.js';

export const GENERATED_OPTIONS = { seed: { type: 'string' as const } };

/** TaskData from --data, or generated (dataPath then reads "generated: TASK, n N, seed S"). */
export function loadOrGenerateTaskData(values: Record<string, unknown>, tokenizer: Tokenizer, usage: string, defaultN: number): TaskData {
  if (values.data !== undefined) {
    if (values.seed !== undefined) throw new UserError('--seed applies to generated prompts only; drop it, or drop --data to generate prompts');
    return loadTaskData(values, tokenizer, usage);
  }
  const task = requireOption(values.task, 'task', usage);
  if (task === 'custom') throw new UserError('--task custom has no generator: give its CSV with --data');
  const n = intOption(values.limit, 'limit') ?? defaultN;
  const seed = intOption(values.seed, 'seed', 0) ?? 1;
  return withGeneratedCsv(task, { n, seed, tokenizer }, (csv) => ({
    ...loadTaskData({ ...values, data: csv }, tokenizer, usage),
    dataPath: `generated: ${task}, n ${n}, seed ${seed}`,
  }));
}
