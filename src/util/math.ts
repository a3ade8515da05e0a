/** Small float64 helpers over float32 data (metrics and reports, not hot loops). */

/** softmax in float64. */
export function softmax(x: ArrayLike<number>): Float64Array {
  let mx = -Infinity;
  for (let i = 0; i < x.length; i++) mx = Math.max(mx, x[i]!);
  const out = new Float64Array(x.length);
  let s = 0;
  for (let i = 0; i < x.length; i++) s += out[i] = Math.exp(x[i]! - mx);
  for (let i = 0; i < x.length; i++) out[i]! /= s;
  return out;
}

/** Indices of the k largest values, largest first (ties: lower index first). */
export function topK(x: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: x.length }, (_, i) => i);
  idx.sort((a, b) => x[b]! - x[a]! || a - b);
  return idx.slice(0, Math.min(k, x.length));
}
