/**
 * Rank correlations for comparing attribution scores with the exact ground truth: Spearman's ρ (Pearson
 * correlation of average ranks, so ties share a rank) and Kendall's τ-b (tie-corrected, computed in
 * O(n log n) by Knight's algorithm, as scipy.stats.kendalltau does). Both return NaN when a side is constant
 * (the correlation is undefined), and throw on NaN inputs or length mismatches (a caller bug).
 */

function check(x: ArrayLike<number>, y: ArrayLike<number>): void {
  if (x.length !== y.length) throw new Error(`rank correlation of arrays of different lengths (${x.length} vs ${y.length})`);
  for (let i = 0; i < x.length; i++) {
    if (Number.isNaN(x[i]) || Number.isNaN(y[i])) throw new Error(`rank correlation: NaN at index ${i}`);
  }
}

/** 1-based ranks of `x`, ties sharing the average of the ranks they span (e.g. [5, 7, 7] → [1, 2.5, 2.5]). */
export function averageRanks(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a]! - x[b]!);
  const r = new Float64Array(n);
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && x[order[j + 1]!] === x[order[i]!]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) r[order[k]!] = rank;
    i = j + 1;
  }
  return r;
}

/** Pearson's correlation coefficient (two-pass, float64); NaN when either side has zero variance. */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  check(x, y);
  const n = x.length;
  if (n < 2) return NaN;
  let mx = 0, my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i]!;
    my += y[i]!;
  }
  mx /= n;
  my /= n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i]! - mx, dy = y[i]! - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxx === 0 || syy === 0 ? NaN : sxy / Math.sqrt(sxx * syy);
}

/** Spearman's rank correlation ρ: Pearson's correlation of the average ranks (ties handled). */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  check(x, y);
  return pearson(averageRanks(x), averageRanks(y));
}

/** Pairs tied within runs of equal keys along `order`: Σ t(t−1)/2 over runs of length t. */
function tiedPairs(order: Int32Array, same: (a: number, b: number) => boolean): number {
  let pairs = 0;
  for (let i = 0; i < order.length; ) {
    let j = i + 1;
    while (j < order.length && same(order[i]!, order[j]!)) j++;
    const t = j - i;
    pairs += (t * (t - 1)) / 2;
    i = j;
  }
  return pairs;
}

/**
 * Sorts `order` by y (stable, bottom-up merge sort) and returns the number of swaps it took: the pairs with
 * y strictly decreasing along the original order (the discordant pairs when the order is by x).
 */
function sortCountingInversions(order: Int32Array, y: ArrayLike<number>): number {
  const n = order.length;
  let src: Int32Array = order, dst: Int32Array = new Int32Array(n);
  let swaps = 0;
  for (let w = 1; w < n; w *= 2) {
    for (let lo = 0; lo < n; lo += 2 * w) {
      const mid = Math.min(lo + w, n), hi = Math.min(lo + 2 * w, n);
      let i = lo, j = mid, k = lo;
      while (i < mid && j < hi) {
        if (y[src[j]!]! < y[src[i]!]!) {
          swaps += mid - i;
          dst[k++] = src[j++]!;
        } else dst[k++] = src[i++]!;
      }
      while (i < mid) dst[k++] = src[i++]!;
      while (j < hi) dst[k++] = src[j++]!;
    }
    [src, dst] = [dst, src];
  }
  if (src !== order) order.set(src);
  return swaps;
}

/**
 * Kendall's τ-b = (C − D) / √((n0 − n1)(n0 − n2)), with C/D the concordant/discordant pairs, n0 = n(n−1)/2,
 * n1/n2 the pairs tied in x/y. Knight's algorithm: sort by (x, y), count x ties and joint ties, then count the
 * inversions of y while merge-sorting by y, and the y ties.
 */
export function kendallTauB(x: ArrayLike<number>, y: ArrayLike<number>): number {
  check(x, y);
  const n = x.length;
  if (n < 2) return NaN;
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a]! - x[b]! || y[a]! - y[b]!);
  const n1 = tiedPairs(order, (a, b) => x[a] === x[b]);
  const n3 = tiedPairs(order, (a, b) => x[a] === x[b] && y[a] === y[b]);
  const swaps = sortCountingInversions(order, y);
  const n2 = tiedPairs(order, (a, b) => y[a] === y[b]);
  const n0 = (n * (n - 1)) / 2;
  const denom = Math.sqrt((n0 - n1) * (n0 - n2));
  return denom === 0 ? NaN : (n0 - n1 - n2 + n3 - 2 * swaps) / denom;
}
