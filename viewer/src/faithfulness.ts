/**
 * The faithfulness curve of the shown graphs' task from a reproduce results.json: F against the edge budget,
 * one line per method (A and B emphasised), the current budget marked and F read off A's curve there.
 * Without results the panel says how to get them: faithfulness needs the model and data, a graph file alone
 * does not have it.
 */
import type { Results } from '../../src/reproduce/types.js';
import type { MethodLegend } from '../../src/viewer-server/protocol.js';
import { lineChart, type Series } from './chart.js';
import { h, int, num } from './dom.js';
import type { SelectMode } from './protocol.js';

/** Where a shown graph comes from in a results.json. */
export interface Origin {
  results: Results;
  task: string;
  method: string;
}

export interface FaithState {
  a: Origin | null;
  b: Origin | null;
  n: number;
  mode: SelectMode;
  absolute: boolean;
  prune: boolean;
  /** The catalog's methods (names and colours). */
  legend: readonly MethodLegend[];
}

/** A method's legend colour, from the method registry (sent with the catalog); amber for one it does not know. */
const colorOf = (legend: readonly MethodLegend[], m: string): string => legend.find((x) => x.name === m)?.color ?? '#a16207';

/** F at budget n on a sweep (linear in log n between the neighbouring budgets), or null outside its range. */
export function faithAt(points: readonly { requested: number; faithfulness: number }[], n: number): number | null {
  const p = [...points].filter((q) => Number.isFinite(q.faithfulness)).sort((a, b) => a.requested - b.requested);
  for (let i = 0; i < p.length; i++) {
    if (p[i]!.requested === n) return p[i]!.faithfulness;
    if (i > 0 && p[i - 1]!.requested < n && n < p[i]!.requested) {
      const a = p[i - 1]!, b = p[i]!;
      const f = Math.log(n / a.requested) / Math.log(b.requested / a.requested);
      return a.faithfulness + f * (b.faithfulness - a.faithfulness);
    }
  }
  return null;
}

type MethodSweep = { points: readonly { requested: number; faithfulness: number }[]; fractions?: { points: readonly { requested: number; faithfulness: number }[] } };

/**
 * Every measured point of a method, by budget: the paper's edge counts and the MIB fractions (the same greedy
 * protocol), so small models, whose scaled edge counts stop early, get a curve up to all edges.
 */
export function sweepPoints(r: MethodSweep): { requested: number; faithfulness: number }[] {
  const byBudget = new Map<number, { requested: number; faithfulness: number }>();
  for (const p of [...(r.fractions?.points ?? []), ...r.points]) byBudget.set(p.requested, p);
  return [...byBudget.values()].sort((x, y) => x.requested - y.requested);
}

export function renderFaithfulness(el: HTMLElement, st: FaithState): void {
  el.replaceChildren();
  const o = st.a ?? st.b;
  if (o === null) {
    el.append(h('p', { class: 'muted', id: 'faith-none' },
      'No faithfulness curve: this graph was opened on its own, and faithfulness needs the model and the data. ',
      'Open the results.json of ', h('code', {}, 'eapgp reproduce'), ' to see F against the edge budget here, or run ',
      h('code', {}, 'eapgp evaluate --graph FILE --edges …'), ' for chosen budgets.'));
    return;
  }
  const task = o.results.tasks[o.task];
  if (!task) return void el.append(h('p', { class: 'muted' }, `results.json has no task ${o.task}`));
  const series: Series[] = [];
  const emphasis = [st.a?.task === o.task ? st.a.method : null, st.b?.task === o.task ? st.b.method : null];
  for (const [method, r] of Object.entries(task.methods)) {
    const pts = sweepPoints(r);
    const strong = emphasis.includes(method);
    series.push({
      label: method + (method === emphasis[0] ? ' (A)' : method === emphasis[1] ? ' (B)' : ''), color: colorOf(st.legend, method), width: strong ? 2.6 : 1.3,
      dash: strong ? undefined : '4 3', x: pts.map((p) => p.requested), y: pts.map((p) => p.faithfulness),
      markers: pts.map((_, i) => i), cls: `method-${method}`,
    });
  }
  const main = emphasis[0] ?? emphasis[1];
  const mainPts = main ? sweepPoints(task.methods[main]!) : [];
  const F = faithAt(mainPts, st.n);
  const sweepLike = st.mode === 'greedy' && st.absolute && st.prune;
  const width = Math.max(260, Math.floor(el.clientWidth || 330)); // drawn at the width it is shown at
  el.append(lineChart({
    width, height: 270, title: `${o.task}: faithfulness vs edges`, xLabel: 'edges (budget, log scale)', yLabel: 'faithfulness F',
    logX: true, series, cls: 'faithfulness',
    hlines: [{ y: 1, label: 'F = 1 (model)', color: '#9ca3af' }, { y: 0, label: 'F = 0 (empty circuit)', color: '#d1d5db' }],
    vline: st.mode === 'file' ? null : { x: st.n, label: `n = ${int(st.n)}` },
    point: F !== null && st.mode !== 'file' && main ? { x: st.n, y: F, label: `F ≈ ${num(F)}`, color: colorOf(st.legend, main) } : null,
  }));
  const r = main ? task.methods[main] : undefined;
  el.append(h('dl', { class: 'kv' },
    h('dt', {}, 'm(M), m(∅)'), h('dd', {}, `${num(task.baseline)}, ${num(task.corrupted)} (${task.metric}, ${int(task.examples)} examples)`),
    h('dt', {}, 'sweep'), h('dd', {}, `${o.results.settings.select}, ${o.results.settings.absolute ? '|score|' : 'signed'}, pruned, ${o.results.settings.intervention}`),
    ...(r ? [h('dt', {}, `${main} CPR / CMD`), h('dd', {}, `${num(r.fractions?.cpr)} / ${num(r.fractions?.cmd)}`)] : []),
    h('dt', {}, 'at this budget'), h('dd', { id: 'faith-at' }, F === null ? 'outside the sweep' : `F ≈ ${num(F)}${mainPts.some((p) => p.requested === st.n) ? '' : ' (interpolated)'}`),
  ));
  if (!sweepLike) {
    el.append(h('p', { class: 'note warn' }, 'The curve is for greedy selection by |score| with pruning (the sweep\'s protocol); the circuit shown is selected differently.'));
  }
}
