/** The average of the gradients at the clean and at the corrupted input. */
import type { Method } from './types.js';

export const cleanCorrupted: Method = {
  name: 'clean-corrupted',
  points: () => 2,
  run: (ctx) => {
    ctx.point();
    ctx.point({ tokens: 'corrupted' });
  },
};
