/**
 * The six tasks of DESIGN.md §6 and their shared machinery. Typical use:
 *   const task = getTask('ioi');
 *   const examples = task.load(csv, tokenizer, { limit: 100 });
 *   for (const b of batches(examples, 20)) { ...forward b.clean...; const { loss, grad } = lossGrad(task, logits, b.n, V, b.labels); }
 */
import { UserError } from '../util/errors.js';
import { capitalCountry } from './capital-country.js';
import { custom } from './custom.js';
import { genderBias } from './gender-bias.js';
import { greaterThan } from './greater-than.js';
import { hypernymy } from './hypernymy.js';
import { ioi } from './ioi.js';
import { MIB_TASKS_DEFINED, mibTaskNames } from './mib.js';
import { sva } from './sva.js';
import type { Task } from './types.js';

export type * from './types.js';
export { batches, GPT2_PAD_ID } from './batch.js';
export { lossGrad, taskMetric, taskMetricGrad } from './metric.js';
export { svaVerbIds, VERB_LIST_NAMES } from './sva.js';
export { yearTokenIds } from './greater-than.js';
export { mibTaskNames } from './mib.js';

const TASKS: readonly Task[] = [ioi, greaterThan, sva, genderBias, capitalCountry, hypernymy];

/** Task names, in DESIGN.md order. */
export const taskNames: readonly string[] = TASKS.map((t) => t.name);

/** The task called `name`; a UserError listing the known names otherwise. */
export function getTask(name: string): Task {
  // custom (any CSV) and MIB's tasks (its files) are not among the six: they have no generators
  const t = [...TASKS, custom, ...MIB_TASKS_DEFINED].find((x) => x.name === name);
  if (!t) throw new UserError(`unknown task "${name}"; choose one of ${[...taskNames, 'custom', ...mibTaskNames].join(', ')}`);
  return t;
}
