/**
 * The saturation view (the EAP-GP paper's Figure 1) for an `eapgp path` file: per example, or averaged over
 * the examples, the task metric, its gradient norm, GradPath's objective and the distance to the corrupted
 * input along EAP-IG's straight path and along GradPath. Stretches where the metric's slope stays below a
 * share of its largest value are marked as saturated.
 */
import { SERIES_KEYS, type PathFile, type PathGrid, type PathSeries, type SeriesKey } from '../../src/attribution/path-format.js';
import { lineChart, type Band } from './chart.js';
import { h, num } from './dom.js';

export const PATH_COLORS = { straight: '#2563eb', gradpath: '#ea580c' } as const;
type PathName = keyof typeof PATH_COLORS;
const PATHS: PathName[] = ['straight', 'gradpath'];
const LABEL: Record<PathName, string> = { straight: 'EAP-IG straight path', gradpath: 'GradPath (EAP-GP)' };

export interface PathViewState {
  file: PathFile;
  /** Example index, or -1 for the mean over examples. */
  example: number;
  logY: boolean;
  /** Saturated where |slope| < threshold · max |slope| (0..1). */
  threshold: number;
}

/** Pointwise mean over examples of one path's series (nulls skipped). */
function meanSeries(f: PathFile, path: PathName): PathSeries {
  const n = f[path].t.length;
  const out = {} as PathSeries;
  for (const key of SERIES_KEYS) {
    out[key] = Array.from({ length: n }, (_, i) => {
      const v = f.examples.map((ex) => ex[path][key][i]).filter((x): x is number => x !== null && x !== undefined);
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

/** Saturated stretches of a path: around each grid point whose |slope| is below the threshold. */
export function saturatedBands(t: readonly number[], slope: readonly (number | null)[], threshold: number, lane: number, color: string): { bands: Band[]; share: number } {
  const mag = slope.map((x) => (x === null ? null : Math.abs(x)));
  const max = Math.max(0, ...mag.filter((x): x is number => x !== null));
  const bands: Band[] = [];
  let covered = 0;
  for (let i = 0; i < t.length; i++) {
    if (mag[i] === null || mag[i]! >= threshold * max) continue;
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

export function renderPathView(summary: HTMLElement, charts: HTMLElement, st: PathViewState): void {
  const f = st.file;
  const ex = st.example >= 0 ? f.examples[st.example] : undefined;
  const series: Record<PathName, PathSeries> = {
    straight: ex ? ex.straight : meanSeries(f, 'straight'),
    gradpath: ex ? ex.gradpath : meanSeries(f, 'gradpath'),
  };
  const clean = ex ? ex.cleanMetric : meanOf(f.examples.map((e) => e.cleanMetric));
  const corrupted = ex ? ex.corruptedMetric : meanOf(f.examples.map((e) => e.corruptedMetric));
  const sat = PATHS.map((p, lane) => saturatedBands(f[p].t, series[p].slope, st.threshold, lane, PATH_COLORS[p]));

  summary.replaceChildren(
    ex
      ? h('div', {}, h('div', { class: 'prompt' }, `clean: ${ex.clean}`), h('div', { class: 'prompt' }, `corrupted: ${ex.corrupted}`))
      : h('div', {}, `Mean over ${f.examples.length} examples.`),
    h('div', {},
      `${f.task} (${f.metric}), model ${f.model}; GradPath: ${f.steps} steps of η = ${f.gpEta} (${f.gpNorm} norm). `,
      `Metric: clean ${num(clean)}, corrupted ${num(corrupted)}; end of GradPath ${num(series.gradpath.metric[series.gradpath.metric.length - 1])}.`),
    h('div', { id: 'path-saturation' }, ...PATHS.map((p, i) => h('span', {},
      h('span', { class: 'swatch', style: `background:${PATH_COLORS[p]}` }),
      `${LABEL[p]}: saturated over ${Math.round(sat[i]!.share * 100)}% of the path. `))),
  );

  // four cells laid out first, then each chart drawn at its cell's width
  const cells = Array.from({ length: 4 }, () => h('div', { class: 'chart-cell' }));
  charts.replaceChildren(...cells);
  const width = Math.max(260, Math.floor(cells[0]!.clientWidth));
  const height = Math.round(Math.min(380, Math.max(280, width * 0.5)));
  const chart = (key: SeriesKey, title: string, yLabel: string, extra: Partial<Parameters<typeof lineChart>[0]> = {}): SVGSVGElement =>
    lineChart({
      width, height, title, xLabel: 't (0 = clean input; 1 = corrupted input / end of GradPath)', yLabel, cls: `path-${key}`,
      series: PATHS.map((p) => ({
        label: LABEL[p], color: PATH_COLORS[p], x: f[p].t, y: series[p][key], markers: scoreIndices(f[p]), cls: `path-${p}`,
      })),
      ...extra,
    });
  const hl = [
    ...(clean !== null ? [{ y: clean, label: 'clean', color: '#16a34a' }] : []),
    ...(corrupted !== null ? [{ y: corrupted, label: 'corrupted', color: '#dc2626' }] : []),
  ];
  [
    chart('metric', 'Task metric along the path', f.metric, { hlines: hl, bands: sat.flatMap((x) => x.bands), lanes: ['IG sat.', 'GP sat.'] }),
    chart('gradMetric', 'Gradient norm ‖∂metric/∂embeddings‖', 'norm', { logY: st.logY }),
    chart('objective', 'GradPath objective J = Σ‖logits − corrupted logits‖²', 'J', { logY: st.logY }),
    chart('distCorrupted', 'Distance to the corrupted embeddings', '‖γ − e′‖'),
  ].forEach((svg, i) => cells[i]!.append(svg));
}
