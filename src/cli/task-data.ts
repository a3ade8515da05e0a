/** Options and loading shared by the commands that read a task dataset. */
import { getTask } from '../tasks/index.js';
import { prepareTaskData, type TaskData } from '../tasks/prepare.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { UserError } from '../util/errors.js';
import { intOption, requireOption } from './args.js';

export type { TaskData } from '../tasks/prepare.js';

export const TASK_OPTIONS = {
  task: { type: 'string' as const },
  data: { type: 'string' as const },
  limit: { type: 'string' as const },
  'batch-size': { type: 'string' as const },
  verbs: { type: 'string' as const },
  metric: { type: 'string' as const },
  counterfactual: { type: 'string' as const },
};

/**
 * --task, --data, --limit, --batch-size, --verbs, --metric (a metric form of the task, e.g. prob-diff) and
 * --counterfactual (MIB's tasks: the counterfactual type of the corrupted prompts).
 */
export function loadTaskData(values: Record<string, unknown>, tokenizer: Tokenizer, usage: string): TaskData {
  const task = getTask(requireOption(values.task, 'task', usage));
  const dataPath = requireOption(values.data, 'data', usage);
  if (values.verbs !== undefined && task.name !== 'sva') throw new UserError(`--verbs (a verb list) applies to --task sva only; drop it for --task ${task.name}`);
  return prepareTaskData(task, dataPath, tokenizer, {
    limit: intOption(values.limit, 'limit'),
    batchSize: intOption(values['batch-size'], 'batch-size') ?? 20,
    verbs: values.verbs as string | undefined,
    metric: values.metric as string | undefined,
    counterfactual: values.counterfactual as string | undefined,
  });
}
