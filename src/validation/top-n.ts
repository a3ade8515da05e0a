/**
 * Precision of a method's top-n edges against the top-n edges of the ground truth, both ranked by |score|.
 * Ties at the cut are broken by the smaller position (for edges: the smaller flat index u·nDst + v, as circuit
 * selection does), so the result is deterministic; with many exactly tied ground-truth values at the cut, a
 * different tie rule could move precision by at most (tied values at the cut) / n.
 */

/** Positions of the n largest |x|, largest first, ties by smaller position. */
export function topByMagnitude(x: ArrayLike<number>, n: number): Int32Array {
  const idx = Int32Array.from({ length: x.length }, (_, i) => i);
  idx.sort((a, b) => Math.abs(x[b]!) - Math.abs(x[a]!) || a - b);
  return idx.slice(0, Math.min(n, x.length));
}

/** |top-n(method) ∩ top-n(truth)| / n for each n (n ≤ the number of values). */
export function precisionAtN(method: ArrayLike<number>, truth: ArrayLike<number>, ns: readonly number[]): number[] {
  if (method.length !== truth.length) throw new Error(`precision@n of arrays of different lengths (${method.length} vs ${truth.length})`);
  const maxN = Math.max(0, ...ns);
  if (maxN > method.length) throw new Error(`precision@${maxN} of only ${method.length} values`);
  // rank once, then each n is a prefix of both rankings
  const m = topByMagnitude(method, maxN), t = topByMagnitude(truth, maxN);
  const rankT = new Int32Array(truth.length).fill(-1);
  t.forEach((pos, r) => (rankT[pos] = r));
  return ns.map((n) => {
    let hits = 0;
    for (let r = 0; r < n; r++) {
      const rt = rankT[m[r]!]!;
      if (rt >= 0 && rt < n) hits++;
    }
    return hits / n;
  });
}
