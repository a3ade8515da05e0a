/**
 * The average of the gradients at the clean and at the corrupted input. Under an ablation (ablation.ts) the
 * second gradient is taken with the input node at its ablated value: the far end of eap-ig's path.
 */
import { INTERVENTION } from './ablation.js';
import type { Method } from './types.js';

export const cleanCorrupted: Method = {
  name: 'clean-corrupted',
  kind: 'gradient',
  summary: 'the mean of the gradients at the clean and at the corrupted input',
  options: [INTERVENTION],
  color: '#0d9488',
  validateVariants: [''],
  points: () => 2,
  recordsClean: true,
  run: (ctx) => {
    ctx.point({ recordClean: true });
    if (ctx.ablated) ctx.point({ embeds: ctx.baselineEmbeddings(), label: 'the ablated input' });
    else ctx.point({ tokens: 'corrupted' });
  },
};
