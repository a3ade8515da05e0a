/** Options and loading shared by the commands that read a task dataset. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { PairBatch } from '../attribution/types.js';
import type { MetricFn } from '../evaluation/patching.js';
import { batches, getTask, lossGrad, type Task } from '../tasks/index.js';
import type { Label } from '../tasks/types.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { UserError } from '../util/errors.js';
import { intOption, requireOption } from './args.js';

export const TASK_OPTIONS = {
  task: { type: 'string' as const },
  data: { type: 'string' as const },
  limit: { type: 'string' as const },
  'batch-size': { type: 'string' as const },
  verbs: { type: 'string' as const },
};

export interface TaskData {
  task: Task;
  batches: PairBatch[];
  examples: number;
  dataPath: string;
  /** sha256 of the CSV file, recorded in outputs so that results can be traced to their data. */
  dataHash: string;
  metric: MetricFn;
  loss: (logits: Float32Array, B: number, V: number, labels: unknown[]) => { loss: number; grad: Float32Array };
}

export function loadTaskData(values: Record<string, unknown>, tokenizer: Tokenizer, usage: string): TaskData {
  const name = requireOption(values.task, 'task', usage);
  const task = getTask(name);
  const dataPath = requireOption(values.data, 'data', usage);
  const limit = intOption(values.limit, 'limit');
  const batchSize = intOption(values['batch-size'], 'batch-size') ?? 20;
  const examples = task.load(dataPath, tokenizer, { limit, verbs: values.verbs as string | undefined });
  if (examples.length === 0) throw new UserError(`${dataPath}: no examples to run`);
  const dataHash = createHash('sha256').update(readFileSync(dataPath)).digest('hex');
  return {
    task, dataPath, dataHash, examples: examples.length,
    batches: batches(examples, batchSize),
    metric: (logits, B, V, labels) => task.metric(logits, B, V, labels as Label[]),
    loss: (logits, B, V, labels) => lossGrad(task, logits, B, V, labels as Label[]),
  };
}
