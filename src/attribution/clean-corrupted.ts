/** The average of the gradients at the clean and at the corrupted input. */
import type { Method } from './types.js';

export const cleanCorrupted: Method = {
  name: 'clean-corrupted',
  kind: 'gradient',
  summary: 'the mean of the gradients at the clean and at the corrupted input',
  options: [],
  color: '#0d9488',
  validateVariants: [''],
  points: () => 2,
  recordsClean: true,
  run: (ctx) => {
    ctx.point({ recordClean: true });
    ctx.point({ tokens: 'corrupted' });
  },
};
