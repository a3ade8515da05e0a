/** Global-norm gradient clipping: all gradients scaled together so that their joint L2 norm is at most `maxNorm`. */
import type { Tensor } from '../engine/tensor.js';

/** The L2 norm of all gradients together (accumulated in float64). */
export function globalNorm(grads: readonly Tensor[]): number {
  let s = 0;
  for (const g of grads) {
    const d = g.data();
    for (let i = 0; i < d.length; i++) s += d[i]! * d[i]!;
  }
  return Math.sqrt(s);
}

/**
 * Scales the gradients in place when their global norm exceeds `maxNorm` (no clipping when maxNorm is
 * Infinity or 0); returns the norm before clipping, for logging.
 */
export function clipGradients(grads: readonly Tensor[], maxNorm: number): number {
  const norm = globalNorm(grads);
  if (maxNorm > 0 && Number.isFinite(maxNorm) && norm > maxNorm) {
    const f = maxNorm / norm;
    for (const g of grads) g.engine.kernels.scale(g.ptr, f, g.ptr, g.size);
  }
  return norm;
}
