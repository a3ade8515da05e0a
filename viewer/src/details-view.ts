/** The details box: an edge's score and rank, or a node's incoming and outgoing edges (circuit ones first). */
import { h, int, num } from './dom.js';
import type { EdgeDetails, EdgeRow, NodeDetails, Slot } from './protocol.js';

function list(rows: EdgeRow[]): HTMLElement {
  return h('ul', { class: 'edge-list' }, ...rows.map((r) => h('li', { class: r.inCircuit ? 'on' : 'off', 'data-flat': r.flat },
    h('span', {}, r.name), h('span', {}, num(r.score)))));
}

export function renderDetails(el: HTMLElement, slot: Slot, graphName: string, d: EdgeDetails | NodeDetails | null, pinned: boolean): void {
  el.replaceChildren();
  el.className = '';
  if (d === null) {
    el.className = 'muted';
    el.append('Hover over a node or an edge; click to keep it.');
    return;
  }
  const where = h('p', { class: 'muted' }, `${slot}: ${graphName}`, pinned ? h('span', { class: 'pill' }, 'pinned — click the background or press Esc') : '');
  if (d.kind === 'edge') {
    el.append(
      h('h3', { id: 'details-name' }, d.name),
      where,
      h('dl', { class: 'kv' },
        h('dt', {}, 'score'), h('dd', { id: 'details-score', title: String(d.score) }, num(d.score)),
        h('dt', {}, 'rank'), h('dd', { id: 'details-rank' }, `${int(d.rank)} of ${int(d.of)}`),
        h('dt', {}, 'in circuit'), h('dd', {}, d.inCircuit ? 'yes' : 'no')),
    );
    return;
  }
  el.append(
    h('h3', { id: 'details-name' }, d.name),
    where,
    h('dl', { class: 'kv' },
      h('dt', {}, 'kind'), h('dd', {}, d.nodeKind + (d.layer >= 0 && d.nodeKind !== 'logits' ? `, layer ${d.layer}` : '')),
      h('dt', {}, 'in circuit'), h('dd', {}, d.inCircuit ? 'yes' : 'no')),
    h('div', { class: 'muted' }, `incoming: ${int(d.incoming.inCircuit)} in the circuit of ${int(d.incoming.total)}`),
    list(d.incoming.top),
    ...(d.nodeKind === 'logits' ? [] : [h('div', { class: 'muted' }, `outgoing: ${int(d.outgoing.inCircuit)} in the circuit of ${int(d.outgoing.total)}`), list(d.outgoing.top)]),
  );
}
