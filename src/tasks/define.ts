/** Builds a Task from its loading recipe; the metrics are shared because labels carry what they need. */
import { UserError } from '../util/errors.js';
import { loadTask, type TaskLoader } from './load.js';
import { taskMetric, taskMetricGrad } from './metric.js';
import type { Label, LogitDiffLabel, MetricForm, Task } from './types.js';

/**
 * A task whose default metric form is `metricKind` and which offers both forms (types.ts MetricForm). The
 * default scores each label in its own form (metric.ts), exactly as before forms existed.
 */
export function defineTask<L extends Label>(loader: TaskLoader<L>, metricKind: MetricForm): Task<L> {
  return taskOf({ name: loader.name, columns: loader.columns, load: (csvPath, tokenizer, opts) => loadTask(loader, csvPath, tokenizer, opts) }, metricKind);
}

/** How a task reads its data, whatever the file format: what `taskOf` builds a Task from. */
export type TaskReader<L extends Label> = Pick<Task<L>, 'name' | 'columns' | 'load' | 'resolveData' | 'counterfactuals'>;

/** A task from its reader, with both metric forms (see defineTask). */
export function taskOf<L extends Label>(reader: TaskReader<L>, metricKind: MetricForm): Task<L> {
  const forms: readonly MetricForm[] = [metricKind, metricKind === 'logit-diff' ? 'prob-diff' : 'logit-diff'];
  const build = (active: MetricForm): Task<L> => {
    const isDefault = active === metricKind;
    return {
      ...reader,
      metricKind: active,
      metricForms: forms,
      metric: isDefault ? taskMetric : (logits, B, V, labels) => taskMetric(logits, B, V, labels, active),
      metricGrad: isDefault ? taskMetricGrad : (logits, B, V, labels) => taskMetricGrad(logits, B, V, labels, active),
      withMetric(form) {
        if (!(forms as readonly string[]).includes(form)) {
          throw new UserError(`task ${reader.name} has no metric "${form}"; choose ${forms.join(' (default) or ')}`);
        }
        return build(form as MetricForm);
      },
    };
  };
  return build(metricKind);
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
