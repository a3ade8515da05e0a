/**
 * Diagnostics of an `eapgp path` file, from its series alone (definitions in path-format.ts): per example, the
 * saturated share of each path and, per GradPath variant, whether its objective decreased monotonically and how
 * far the path got towards the corrupted run; summed up over the examples. No Node imports: the viewer uses it.
 */
import type { GradPathVariant, PathExample, PathFile, PathGrid, PathSeries } from './path-format.js';

/** A sample is saturated where |slope| < SATURATION_SHARE · mean |slope| over the path's even samples. */
export const SATURATION_SHARE = 0.1;

export interface GradPathDiagnostics {
  saturated: number | null;
  /** The variant's own objective never increases from vertex to vertex. */
  monotone: boolean | null;
  /** J = Σ‖logits − corrupted logits‖² at the start and the end of the path. */
  jStart: number | null;
  jEnd: number | null;
  /** (J(0) − J(1)) / J(0). */
  jFraction: number | null;
  /** (m(0) − m(1)) / (m(0) − m(z′)). */
  metricFraction: number | null;
  /** J, and the variant's own objective, end below their start. */
  jBelow: boolean | null;
  ownBelow: boolean | null;
}

export interface ExampleDiagnostics {
  straight: { saturated: number | null };
  /** One per variant. */
  gradpaths: GradPathDiagnostics[];
}

export interface VariantSummary {
  name: string;
  /** Shares of the examples (those with the value) where the property holds. */
  monotone: number | null;
  jBelow: number | null;
  ownBelow: number | null;
  /** Medians over the examples. */
  jFraction: number | null;
  metricFraction: number | null;
  /** Mean over the examples. */
  saturated: number | null;
}

export interface PathSummary {
  examples: number;
  straight: { saturated: number | null };
  gradpaths: VariantSummary[];
}

const near = (a: number, b: number): boolean => Math.abs(a - b) < 1e-9;

/** The share of the P even samples t = i/(P−1) of a path where |slope| < share · their mean |slope|. */
export function saturatedShare(t: readonly number[], slope: readonly (number | null)[], points: number, share = SATURATION_SHARE): number | null {
  const mags: number[] = [];
  for (let i = 0; i < points; i++) {
    const at = t.findIndex((x) => near(x, i / (points - 1)));
    const s = at >= 0 ? slope[at] : null;
    if (s === null || s === undefined) return null;
    mags.push(Math.abs(s));
  }
  const mean = mags.reduce((a, b) => a + b, 0) / mags.length;
  if (mean === 0) return 1;
  return mags.filter((m) => m < share * mean).length / mags.length;
}

/** Values of a series at t = 0, 1/k, …, 1 (null where one is missing). */
function atVertices(grid: PathGrid, y: readonly (number | null)[], k: number): (number | null)[] {
  return Array.from({ length: k + 1 }, (_, j) => {
    const i = grid.t.findIndex((x) => near(x, j / k));
    return i >= 0 ? (y[i] ?? null) : null;
  });
}

const fraction = (start: number | null, end: number | null, target: number | null): number | null =>
  start === null || end === null || target === null || start === target ? null : (start - end) / (start - target);

/** One GradPath variant's diagnostics for one example. */
export function diagnoseGradPath(
  f: Pick<PathFile, 'steps' | 'points' | 'gradpath'>, variant: Pick<GradPathVariant, 'gpObjective'>, s: PathSeries, corruptedMetric: number | null,
): GradPathDiagnostics {
  const k = f.steps;
  const J = atVertices(f.gradpath, s.objective, k);
  const m = atVertices(f.gradpath, s.metric, k);
  const own = variant.gpObjective === 'metric' ? m.map((x) => (x === null || corruptedMetric === null ? null : (x - corruptedMetric) ** 2)) : J;
  const jStart = J[0]!, jEnd = J[k]!;
  const below = (a: number | null, b: number | null): boolean | null => (a === null || b === null ? null : b < a);
  return {
    saturated: saturatedShare(f.gradpath.t, s.slope, f.points),
    monotone: own.some((x) => x === null) ? null : own.every((x, j) => j === 0 || x! <= own[j - 1]!),
    jStart, jEnd,
    jFraction: fraction(jStart, jEnd, 0),
    metricFraction: fraction(m[0]!, m[k]!, corruptedMetric),
    jBelow: below(jStart, jEnd),
    ownBelow: below(own[0]!, own[k]!),
  };
}

/** An example's diagnostics: the straight path's saturated share, and each variant's diagnostics. */
export function diagnoseExample(
  f: Pick<PathFile, 'steps' | 'points' | 'straight' | 'gradpath' | 'gradpaths'>, ex: Pick<PathExample, 'straight' | 'gradpaths' | 'corruptedMetric'>,
): ExampleDiagnostics {
  return {
    straight: { saturated: saturatedShare(f.straight.t, ex.straight.slope, f.points) },
    gradpaths: f.gradpaths.map((v, i) => diagnoseGradPath(f, v, ex.gradpaths[i]!, ex.corruptedMetric)),
  };
}

const present = <T>(xs: readonly (T | null)[]): T[] => xs.filter((x): x is T => x !== null);
const share = (xs: readonly (boolean | null)[]): number | null => {
  const v = present(xs);
  return v.length ? v.filter(Boolean).length / v.length : null;
};
const mean = (xs: readonly (number | null)[]): number | null => {
  const v = present(xs);
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
};
/** The median (the mean of the middle two for an even count). */
export function median(xs: readonly (number | null)[]): number | null {
  const v = present(xs).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const h = v.length >> 1;
  return v.length % 2 ? v[h]! : (v[h - 1]! + v[h]!) / 2;
}

/** The examples' diagnostics summed up per path. */
export function summarise(f: Pick<PathFile, 'gradpaths'> & { examples: readonly Pick<PathExample, 'diagnostics'>[] }): PathSummary {
  const d = f.examples.map((ex) => ex.diagnostics);
  return {
    examples: d.length,
    straight: { saturated: mean(d.map((x) => x.straight.saturated)) },
    gradpaths: f.gradpaths.map((v, i) => {
      const g = d.map((x) => x.gradpaths[i]!);
      return {
        name: v.name,
        monotone: share(g.map((x) => x.monotone)),
        jBelow: share(g.map((x) => x.jBelow)),
        ownBelow: share(g.map((x) => x.ownBelow)),
        jFraction: median(g.map((x) => x.jFraction)),
        metricFraction: median(g.map((x) => x.metricFraction)),
        saturated: mean(g.map((x) => x.saturated)),
      };
    }),
  };
}
