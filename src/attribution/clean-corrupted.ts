/** The average of the gradients at the clean and at the corrupted input. */
import type { Method } from './types.js';

export const cleanCorrupted: Method = {
  name: 'clean-corrupted',
  points: () => 2,
  recordsClean: true,
  run: (ctx) => {
    ctx.point({ recordClean: true });
    ctx.point({ tokens: 'corrupted' });
  },
};
