/**
 * The `custom` task: any clean/corrupted prompt pairs, no code needed. Columns:
 *   clean, corrupted   the prompts (equal token lengths, as for every task);
 *   answer, wrong      a token id ("339") or a list of ids ("[339, 673]"): the right and the wrong answer;
 *   metric (optional)  "logit-diff" (default) or "prob-diff", the same in every row.
 * logit-diff = logit[answer] − logit[wrong] (one id per column); prob-diff = Σ p(answer) − Σ p(wrong).
 * Ids come from the model's tokenizer, e.g. `eapgp run --prompt " he"` shows them.
 */
import { UserError } from '../util/errors.js';
import { defineTask } from './define.js';
import type { RowReader } from './load.js';
import type { HypernymyLabel, LogitDiffLabel } from './types.js';

export type CustomMetric = 'logit-diff' | 'prob-diff';

const customTask = defineTask<LogitDiffLabel | HypernymyLabel>(
  {
    name: 'custom',
    columns: ['clean', 'corrupted', 'answer', 'wrong', 'metric (optional: logit-diff or prob-diff)'],
    labeler(ctx) {
      const a = ctx.column('answer');
      const w = ctx.column('wrong');
      let m: number | undefined;
      try {
        m = ctx.column('metric');
      } catch {
        m = undefined; // optional column
      }
      let fileMetric: CustomMetric | undefined;
      const where = (r: RowReader, col: string): string => `${ctx.csvPath}: row ${r.row}, column "${col}"`;
      const ids = (r: RowReader, col: number): number[] => (r.text(col).trim().startsWith('[') ? r.tokenIds(col) : [r.tokenId(col)]);
      return (r) => {
        const metric = m === undefined ? 'logit-diff' : r.text(m).trim();
        if (metric !== 'logit-diff' && metric !== 'prob-diff') throw new UserError(`${where(r, 'metric')}: "${metric}" is not a metric; write logit-diff or prob-diff`);
        fileMetric ??= metric;
        // The attribution loss averages one metric over the rows; mixing two would be meaningless.
        if (metric !== fileMetric) throw new UserError(`${where(r, 'metric')}: "${metric}" differs from the first row's "${fileMetric}"; use one metric per file`);
        const answer = ids(r, a);
        const wrong = ids(r, w);
        if (metric === 'prob-diff') return { kind: 'hypernymy', answers: answer, corrupted: wrong };
        for (const [list, col] of [[answer, 'answer'], [wrong, 'wrong']] as const) {
          if (list.length !== 1) throw new UserError(`${where(r, col)}: logit-diff needs exactly one token id, got ${list.length}; use metric prob-diff for lists`);
        }
        return { kind: 'logit-diff', correct: answer[0]!, incorrect: wrong[0]! };
      };
    },
  },
  'logit-diff',
);

/** The CSV's own `metric` column chooses the form; `withMetric` (--metric) does not apply. */
export const custom: typeof customTask = {
  ...customTask,
  withMetric(form) {
    throw new UserError(`--metric ${form}: the custom task's metric is set by its CSV's "metric" column (logit-diff or prob-diff), not by --metric`);
  },
};
