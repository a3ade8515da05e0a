/**
 * Precision and recall of the shown circuits against the chosen manual circuit (computed in the worker by
 * src/circuits, for the current selection), and the results.json's own top-n precision/recall when present.
 */
import type { PrecisionRecall } from '../../src/circuits/overlap.js';
import type { PrRecord } from '../../src/reproduce/types.js';
import { h, int, num } from './dom.js';
import type { SelectionResult, Slot } from './protocol.js';

export interface OverlapState {
  result: SelectionResult | null;
  names: Partial<Record<Slot, string>>;
  /** results.json precision/recall of the shown graphs, when they come from one. */
  pr: Partial<Record<Slot, PrRecord>>;
  n: number;
  referenceChosen: boolean;
}

const cell = (p: PrecisionRecall, what: 'precision' | 'recall'): HTMLElement =>
  h('td', { title: `${p.hits} of ${what === 'precision' ? `${p.found} found` : `${p.relevant} in the manual circuit`}` }, num(p[what]));

export function renderOverlap(el: HTMLElement, st: OverlapState): void {
  el.replaceChildren();
  el.className = '';
  const r = st.result;
  if (!st.referenceChosen) {
    el.className = 'muted';
    el.append('Choose a manual circuit to compare with (IOI and Greater-Than, on GPT-2 small).');
    return;
  }
  if (r?.referenceError) return void el.append(h('p', { class: 'note warn', id: 'reference-error' }, r.referenceError));
  if (!r?.reference) return void el.append(h('p', { class: 'muted' }, 'Waiting for a graph…'));
  const slots = (['A', 'B'] as const).filter((s) => r[s]?.overlap);
  const head = h('tr', {}, h('th', {}, ''), ...slots.map((s) => h('th', {}, `${s}: ${st.names[s] ?? ''}`)));
  const rows = (['nodes', 'edges'] as const).flatMap((level) =>
    (['precision', 'recall'] as const).map((what) => h('tr', {}, h('td', {}, `${level} ${what}`), ...slots.map((s) => cell(r[s]!.overlap![level], what)))));
  el.append(
    h('table', { id: 'overlap-table' }, h('thead', {}, head), h('tbody', {}, ...rows)),
    h('p', { class: 'note' }, `${r.reference.description}. Circuit nodes are the endpoints of its edges; `, r.reference.countMlps ? 'MLPs count.' : 'MLP nodes and edges are left out on both sides.'),
  );
  for (const s of slots) {
    const pr = st.pr[s];
    if (!pr || pr.points.length === 0) continue;
    const near = pr.points.reduce((a, b) => (Math.abs(Math.log(b.n / st.n)) < Math.abs(Math.log(a.n / st.n)) ? b : a));
    el.append(h('p', { class: 'note' },
      `results.json, ${s} (top-n by |score|, ${pr.reference} reference): ROC AUC nodes ${num(pr.auc.nodes)}, edges ${num(pr.auc.edges)}; `,
      `at n = ${int(near.n)}: nodes P ${num(near.nodes.precision)} R ${num(near.nodes.recall)}, edges P ${num(near.edges.precision)} R ${num(near.edges.recall)}.`));
  }
}
