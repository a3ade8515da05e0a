/**
 * Greater-than: Σ_{y>YY} p(y) − Σ_{y≤YY} p(y) over the two-digit tokens "00".."99". The YY column is
 * `correct_idx` (eap-ig-faithfulness) or `label` (EAP-IG's own greater-than CSV).
 */
import type { Tokenizer } from '../tokenizer/index.js';
import { defineTask } from './define.js';
import { twoDigitIds } from './single-token.js';
import type { GreaterThanLabel } from './types.js';

/**
 * Token ids of "00".."99", no leading space (as EAP-IG's metric); each must be a single token of this
 * tokenizer (a UserError otherwise, see twoDigitIds).
 */
export function yearTokenIds(tokenizer: Tokenizer): number[] {
  return twoDigitIds(tokenizer);
}

export const greaterThan = defineTask<GreaterThanLabel>(
  {
    name: 'greater-than',
    columns: ['clean', 'corrupted', 'correct_idx'],
    labeler(ctx) {
      const k = ctx.column('correct_idx', 'label');
      const yearIds = yearTokenIds(ctx.tokenizer);
      return (r) => ({ kind: 'greater-than', year: r.int(k, 0, 99, 'the start year\'s last two digits YY, 0..99'), yearIds });
    },
  },
  'prob-diff',
);
