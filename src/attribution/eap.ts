/** EAP (Nanda; Syed et al. 2023): one gradient, at the clean input; Δ against the corrupted run or an ablation. */
import { INTERVENTION } from './ablation.js';
import type { Method } from './types.js';

export const eap: Method = {
  name: 'eap',
  kind: 'gradient',
  summary: 'one gradient, at the clean input',
  options: [INTERVENTION],
  color: '#64748b',
  reproduceByDefault: true,
  validateVariants: [''],
  points: () => 1,
  recordsClean: true,
  run: (ctx) => ctx.point({ recordClean: true }),
};
