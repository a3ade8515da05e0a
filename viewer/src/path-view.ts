/**
 * The saturation view (the EAP-GP paper's Figure 1) for an `eapgp path` file: per example, or averaged over
 * the examples, the task metric, its gradient norm, GradPath's objective and the distance to the corrupted
 * input along EAP-IG's straight path and along each traced GradPath variant, side by side, with the file's
 * diagnostics per variant. Stretches where the metric's slope stays below a share of its mean magnitude are
 * marked as saturated.
 */
import type { GradPathDiagnostics, VariantSummary } from '../../src/attribution/path-diagnostics.js';
import { SERIES_KEYS, type PathFile, type PathGrid, type PathSeries, type SeriesKey } from '../../src/attribution/path-format.js';
import { lineChart, type Band } from './chart.js';
import { h, num } from './dom.js';

export const PATH_COLORS = { straight: '#2563eb', gradpath: '#ea580c' } as const;
/** Colours of the GradPath variants after the first. */
const VARIANT_COLORS = ['#9333ea', '#0891b2', '#db2777', '#a16207', '#4b5563', '#65a30d']; // not the clean line's green

/** One path drawn: the straight path, or a GradPath variant. */
interface DrawnPath {
  label: string;
  lane: string;
  color: string;
  cls: string;
  grid: PathGrid;
  series: PathSeries;
}

export interface PathViewState {
  file: PathFile;
  /** Example index, or -1 for the mean over examples. */
  example: number;
  logY: boolean;
  /** Saturated where |slope| < threshold · mean |slope| (0..1). */
  threshold: number;
}

/** Pointwise mean over examples of one path's series (nulls skipped). */
function meanSeries(f: PathFile, pick: (ex: PathFile['examples'][number]) => PathSeries, n: number): PathSeries {
  const out = {} as PathSeries;
  for (const key of SERIES_KEYS) {
    out[key] = Array.from({ length: n }, (_, i) => {
      const v = f.examples.map((ex) => pick(ex)[key][i]).filter((x): x is number => x !== null && x !== undefined);
      return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
    });
  }
  return out;
}

function meanOf(xs: (number | null)[]): number | null {
  const v = xs.filter((x): x is number => x !== null);
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
}

/** Indices of the grid points where the method takes its gradients. */
function scoreIndices(g: PathGrid): number[] {
  return g.t.flatMap((t, i) => (g.scorePoints.some((p) => Math.abs(p - t) < 1e-9) ? [i] : []));
}

/** Saturated stretches of a path: around each grid point whose |slope| is below threshold · mean |slope|. */
export function saturatedBands(t: readonly number[], slope: readonly (number | null)[], threshold: number, lane: number, color: string): { bands: Band[]; share: number } {
  const mag = slope.map((x) => (x === null ? null : Math.abs(x)));
  const known = mag.filter((x): x is number => x !== null);
  const mean = known.length ? known.reduce((a, b) => a + b, 0) / known.length : 0;
  const bands: Band[] = [];
  let covered = 0;
  for (let i = 0; i < t.length; i++) {
    if (mag[i] === null || (mean > 0 && mag[i]! >= threshold * mean)) continue;
    const x0 = i === 0 ? t[0]! : (t[i - 1]! + t[i]!) / 2;
    const x1 = i === t.length - 1 ? t[i]! : (t[i]! + t[i + 1]!) / 2;
    const last = bands[bands.length - 1];
    if (last && Math.abs(last.x1 - x0) < 1e-12) last.x1 = x1;
    else bands.push({ x0, x1, color, lane });
    covered += x1 - x0;
  }
  const span = t[t.length - 1]! - t[0]!;
  return { bands, share: span > 0 ? covered / span : 0 };
}

const pct = (x: number | null): string => (x === null ? '—' : `${Math.round(100 * x)}%`);
const yes = (x: boolean | null): string => (x === null ? '—' : x ? 'yes' : 'no');
const frac = (x: number | null): string => (x === null ? '—' : x.toFixed(2));

/** The diagnostics table: one row per variant, for one example or summed up over the file. */
function diagnosticsTable(paths: readonly DrawnPath[], rows: (GradPathDiagnostics | VariantSummary)[], perExample: boolean): HTMLElement {
  const head = perExample
    ? ['GradPath variant', 'J monotone', 'J end < start', 'J: way to 0', 'metric: way to corrupted', 'saturated']
    : ['GradPath variant', 'J monotone', 'J end < start', 'J: way to 0 (median)', 'metric: way to corrupted (median)', 'saturated (mean)'];
  return h('table', { id: 'path-diagnostics', class: 'path-diagnostics' },
    h('tr', {}, ...head.map((x) => h('th', {}, x))),
    ...rows.map((r, i) => {
      const p = paths[i + 1]!;
      const cells = 'name' in r
        ? [pct(r.monotone), pct(r.jBelow), frac(r.jFraction), frac(r.metricFraction), pct(r.saturated)]
        : [yes(r.monotone), yes(r.jBelow), frac(r.jFraction), frac(r.metricFraction), pct(r.saturated)];
      return h('tr', {}, h('td', {}, h('span', { class: 'swatch', style: `background:${p.color}` }), p.label), ...cells.map((x) => h('td', {}, x)));
    }));
}

export function renderPathView(summary: HTMLElement, charts: HTMLElement, st: PathViewState): void {
  const f = st.file;
  const ex = st.example >= 0 ? f.examples[st.example] : undefined;
  const many = f.gradpaths.length > 1;
  const paths: DrawnPath[] = [
    { label: 'EAP-IG straight path', lane: 'IG sat.', color: PATH_COLORS.straight, cls: 'path-straight', grid: f.straight,
      series: ex ? ex.straight : meanSeries(f, (x) => x.straight, f.straight.t.length) },
    ...f.gradpaths.map((v, i) => ({
      label: many ? `GradPath ${v.name}` : 'GradPath (EAP-GP)', lane: many ? `GP ${i + 1} sat.` : 'GP sat.',
      color: i === 0 ? PATH_COLORS.gradpath : VARIANT_COLORS[(i - 1) % VARIANT_COLORS.length]!, cls: i === 0 ? 'path-gradpath' : `path-gradpath-${i}`,
      grid: f.gradpath, series: ex ? ex.gradpaths[i]! : meanSeries(f, (x) => x.gradpaths[i]!, f.gradpath.t.length),
    })),
  ];
  const clean = ex ? ex.cleanMetric : meanOf(f.examples.map((e) => e.cleanMetric));
  const corrupted = ex ? ex.corruptedMetric : meanOf(f.examples.map((e) => e.corruptedMetric));
  const sat = paths.map((p, lane) => saturatedBands(p.grid.t, p.series.slope, st.threshold, lane, p.color));
  const ends = paths.slice(1).map((p) => num(p.series.metric[p.series.metric.length - 1]));
  const v0 = f.gradpaths[0]!;

  summary.replaceChildren(
    ex
      ? h('div', {}, h('div', { class: 'prompt' }, `clean: ${ex.clean}`), h('div', { class: 'prompt' }, `corrupted: ${ex.corrupted}`))
      : h('div', {}, `Mean over ${f.examples.length} examples.`),
    h('div', {},
      `${f.task} (${f.metric}), model ${f.model}; GradPath: ${f.steps} steps`,
      many ? ` (${f.gradpaths.length} variants). ` : ` of η = ${v0.gpEta} (${v0.gpNorm} norm). `,
      `Metric: clean ${num(clean)}, corrupted ${num(corrupted)}; end of GradPath ${many ? paths.slice(1).map((p, i) => `${f.gradpaths[i]!.name} ${ends[i]}`).join(', ') : ends[0]}.`),
    h('div', { id: 'path-saturation' }, ...paths.map((p, i) => h('span', {},
      h('span', { class: 'swatch', style: `background:${p.color}` }),
      `${p.label}: saturated over ${Math.round(sat[i]!.share * 100)}% of the path. `))),
    diagnosticsTable(paths, ex ? ex.diagnostics.gradpaths : f.summary.gradpaths, !!ex),
  );

  // four cells laid out first, then each chart drawn at its cell's width
  const cells = Array.from({ length: 4 }, () => h('div', { class: 'chart-cell' }));
  charts.replaceChildren(...cells);
  const width = Math.max(260, Math.floor(cells[0]!.clientWidth));
  const height = Math.round(Math.min(380, Math.max(280, width * 0.5)));
  const chart = (key: SeriesKey, title: string, yLabel: string, extra: Partial<Parameters<typeof lineChart>[0]> = {}): SVGSVGElement =>
    lineChart({
      width, height, title, xLabel: 't (0 = clean input; 1 = corrupted input / end of GradPath)', yLabel, cls: `path-${key}`,
      series: paths.map((p) => ({ label: p.label, color: p.color, x: p.grid.t, y: p.series[key], markers: scoreIndices(p.grid), cls: p.cls })),
      ...extra,
    });
  const hl = [
    ...(clean !== null ? [{ y: clean, label: 'clean', color: '#16a34a' }] : []),
    ...(corrupted !== null ? [{ y: corrupted, label: 'corrupted', color: '#dc2626' }] : []),
  ];
  [
    chart('metric', 'Task metric along the path', f.metric, { hlines: hl, bands: sat.flatMap((x) => x.bands), lanes: paths.map((p) => p.lane) }),
    chart('gradMetric', 'Gradient norm ‖∂metric/∂embeddings‖', 'norm', { logY: st.logY }),
    chart('objective', 'GradPath objective J = Σ‖logits − corrupted logits‖²', 'J', { logY: st.logY }),
    chart('distCorrupted', 'Distance to the corrupted embeddings', '‖γ − e′‖'),
  ].forEach((svg, i) => cells[i]!.append(svg));
}
