/** Builds a Task from its loading recipe; the metrics are shared because labels carry what they need. */
import { loadTask, type TaskLoader } from './load.js';
import { taskMetric, taskMetricGrad } from './metric.js';
import type { Label, LogitDiffLabel, Task } from './types.js';

export function defineTask<L extends Label>(loader: TaskLoader<L>, metricKind: Task['metricKind']): Task<L> {
  return {
    name: loader.name,
    columns: loader.columns,
    metricKind,
    load: (csvPath, tokenizer, opts) => loadTask(loader, csvPath, tokenizer, opts),
    metric: taskMetric,
    metricGrad: taskMetricGrad,
  };
}

/** A logit-difference task whose label is two token-id columns (ioi, gender-bias, capital-country). */
export function logitDiffTask(name: string, correctColumn: string, incorrectColumn: string): Task<LogitDiffLabel> {
  return defineTask(
    {
      name,
      columns: ['clean', 'corrupted', correctColumn, incorrectColumn],
      labeler(ctx) {
        const c = ctx.column(correctColumn);
        const i = ctx.column(incorrectColumn);
        return (r) => ({ kind: 'logit-diff', correct: r.tokenId(c), incorrect: r.tokenId(i) });
      },
    },
    'logit-diff',
  );
}
