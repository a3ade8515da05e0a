/** Hypernymy: Σ p(answers_idx) − Σ p(corrupted_answers_idx); both columns are lists like "[16840, 23685]". */
import { defineTask } from './define.js';
import type { HypernymyLabel } from './types.js';

export const hypernymy = defineTask<HypernymyLabel>(
  {
    name: 'hypernymy',
    columns: ['clean', 'corrupted', 'answers_idx', 'corrupted_answers_idx'],
    labeler(ctx) {
      const a = ctx.column('answers_idx');
      const c = ctx.column('corrupted_answers_idx');
      return (r) => ({ kind: 'hypernymy', answers: r.tokenIds(a), corrupted: r.tokenIds(c) });
    },
  },
  'prob-diff',
);
