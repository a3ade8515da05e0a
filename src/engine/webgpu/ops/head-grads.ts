/** The per-head LayerNorm gradient deposit (models/head-grads.ts) as WebGPU dispatches, split by rows. */
import type { OpBuilder } from '../dispatch.js';
import { headGradDepositWgsl } from '../wgsl/head-grads.js';
import { chunks, dispatch } from './bind.js';

export const headGradDeposit: OpBuilder<[number, number, number, number, number, number, number, number, number, number, number, number, boolean]> = (
  limits, g, rstd, y, cvec, offs, U, A, Wt, rows, cols, seg, alpha, accumulate,
) => {
  if (rows === 0 || cols === 0) return [];
  const nseg = cols / seg;
  if (!Number.isInteger(nseg)) throw new Error(`headGradDeposit: ${cols} columns are not whole segments of ${seg}`);
  if (nseg > limits.maxComputeWorkgroupsPerDimension) {
    throw new Error(`headGradDeposit: ${nseg} segments exceed maxComputeWorkgroupsPerDimension ${limits.maxComputeWorkgroupsPerDimension}`);
  }
  const whole = 4 * nseg * rows;
  return chunks(limits, 'headGradDeposit', rows, 12 * cols + 4, 8 * cols + 2 * whole, 8, limits.maxComputeWorkgroupsPerDimension)
    .map(([r0, n]) => dispatch(limits, 'headGradDeposit', '', [
      { name: 'g', ptr: g + 4 * r0 * cols, bytes: 4 * n * cols }, { name: 'rstd', ptr: rstd + 4 * r0, bytes: 4 * n },
      { name: 'y', ptr: y + 4 * r0 * cols, bytes: 4 * n * cols }, { name: 'cvec', ptr: cvec, bytes: 4 * cols },
      { name: 'offs', ptr: offs, bytes: 4 * cols }, { name: 'U', ptr: U + 4 * r0 * cols, bytes: 4 * n * cols },
      { name: 'A', ptr: A, bytes: whole }, { name: 'Wt', ptr: Wt, bytes: whole },
    ], [['rows', 'u32', rows], ['cols', 'u32', cols], ['seg', 'u32', seg], ['r0', 'u32', r0], ['alpha', 'f32', alpha],
      ['acc', 'u32', accumulate ? 1 : 0]], headGradDepositWgsl, [n, nseg, 1]));
};
