/**
 * When faithfulness cannot mean anything. F = (m(C) − m(∅)) / (m(M) − m(∅)) measures a circuit against the
 * gap between the clean model's and the corrupted run's mean metric, a mean over examples of the per-example
 * gaps d_i = m_i(M) − m_i(∅). Two things must hold for F to measure anything:
 *
 *  - the gap is established: |gap| > 2 standard errors (sd(d)/√n), a two-sided test at about 95 %; below it
 *    the data do not even fix the gap's sign, and F's denominator is noise;
 *  - the gap is not negligible against how much single examples vary: |gap| ≥ 0.2·sd(d) (Cohen's "small"
 *    effect size). Below it the model does not perform the task on this data: the clean and corrupted runs
 *    differ by less than examples differ among themselves, and any circuit's F is a ratio of small
 *    differences of large, unrelated numbers.
 *
 * Together: |gap| / sd(d) must exceed max(2/√n, 0.2); the first rule decides below 100 examples, the second
 * above. Both are in the metric's own units, so one rule serves logit and probability differences and models of
 * any confidence; a fixed floor (say 0.1 logits) would pass a large gap that is pure noise and flag a large,
 * consistent effect of a metric with small units. The paper's IOI data on the built-in model (which does not
 * know most of its names) gives |gap| / sd(d) = 0.07–0.08 (100 or all 1,000 rows); the other five tasks' data 0.38
 * or more, and the generated data far more. A gap of exactly zero (e.g. every row's clean and corrupted
 * prompts equal) is always flagged.
 */

/** |m(M) − m(∅)| must exceed this many standard errors of the per-example gaps for F to mean something … */
export const MIN_GAP_STANDARD_ERRORS = 2;
/** … and this fraction of their standard deviation (an effect size). */
export const MIN_GAP_EFFECT_SIZE = 0.2;

/** The per-example gaps m_i(M) − m_i(∅): their sample standard deviation and count. */
export interface GapSpread {
  sd: number;
  n: number;
}

export function gapSpread(clean: readonly number[], corrupted: readonly number[]): GapSpread {
  const n = clean.length;
  if (n !== corrupted.length) throw new Error(`gapSpread: ${n} clean values and ${corrupted.length} corrupted`);
  if (n < 2) return { sd: 0, n };
  let mean = 0;
  for (let i = 0; i < n; i++) mean += clean[i]! - corrupted[i]!;
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (clean[i]! - corrupted[i]! - mean) ** 2;
  return { sd: Math.sqrt(ss / (n - 1)), n };
}

/** The smallest |m(M) − m(∅)| for which F means something, given the per-example spread. */
export function minMeaningfulGap(s: GapSpread): number {
  return s.sd * Math.max(MIN_GAP_STANDARD_ERRORS / Math.sqrt(Math.max(s.n, 1)), MIN_GAP_EFFECT_SIZE);
}

/** What gapWarning needs: the two means and, when known, the spread of the per-example gaps. */
export interface GapInput {
  clean: number;
  corrupted: number;
  spread?: GapSpread;
}

const fmt = (x: number): string => (x === 0 ? '0' : Math.abs(x) >= 1e-3 && Math.abs(x) < 1e4 ? x.toFixed(4) : x.toExponential(2));

/** A warning (one sentence) when faithfulness cannot mean anything on these baselines, else null. */
export function gapWarning(b: GapInput): string | null {
  const gap = b.clean - b.corrupted;
  const min = b.spread ? minMeaningfulGap(b.spread) : 0;
  if (gap !== 0 && Math.abs(gap) >= min) return null;
  const why = gap === 0
    ? 'm(M) − m(∅) = 0: the clean and corrupted runs give the same metric'
    : `m(M) − m(∅) = ${fmt(gap)} is too small for its spread over the examples (per-example sd ${fmt(b.spread!.sd)}, n = ${b.spread!.n}; ` +
      `F needs |m(M) − m(∅)| ≥ ${fmt(min)}, see src/evaluation/degenerate.ts)`;
  return `${why}, so faithfulness F = (m(C) − m(∅)) / (m(M) − m(∅)) divides by noise and means nothing on this data ` +
    '(the model does not perform the task on these prompts); use data the model solves (eapgp tasks make) or another model';
}
