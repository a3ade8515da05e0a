/**
 * The node view for node- and neuron-level graphs (eapgp attribute --level node|neuron, or EAP-IG's node graphs):
 * one row per layer (the input below the first), a layer's heads then its MLP left to right; each node a square
 * whose side grows with √(|score| / max |score|), blue for a positive score, red for a negative one, a pale grey
 * full square when unscored, outlined when the file flags it in the circuit. No edges are drawn: a node circuit is evaluated by
 * node patching, where every kept node reaches every reader, so the picture is the set of nodes. A neuron-level
 * graph adds the list of its neurons of largest |score| (node, d_model dimension, score), and a graph with MLP
 * hidden units (attribute --level mlp-neuron) the list of its MLP neurons of largest |score| (layer, unit, score).
 */
import type { NodeGraphResponse } from '../../src/viewer-server/protocol.js';
import { h, num, s } from './dom.js';

export const NODE_COLORS = { positive: '#2563eb', negative: '#dc2626', unscored: '#9ca3af' } as const;

/** The picture's SVG: `cell` px per node slot. */
export function nodeSvg(g: NodeGraphResponse, cell = 44): SVGSVGElement {
  const cols = g.nHeads + 1, rows = g.nLayers + 1, pad = 28, top = 16;
  const W = pad + cols * cell, H = top + rows * cell + 8;
  const max = Math.max(0, ...g.nodes.map((n) => (n.score === null ? 0 : Math.abs(n.score))));
  const svg = s('svg', { xmlns: 'http://www.w3.org/2000/svg', viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: 'node-graph' });
  for (let c = 0; c < cols; c++) svg.append(s('text', { x: pad + c * cell + cell / 2, y: 11, 'text-anchor': 'middle', class: 'node-layer' }, c < g.nHeads ? `h${c}` : 'mlp'));
  for (let l = 0; l < g.nLayers; l++) svg.append(s('text', { x: 2, y: top + (rows - 1 - l) * cell - cell / 2 + 4, class: 'node-layer' }, `L${l}`));
  svg.append(s('text', { x: 2, y: top + rows * cell - cell / 2 + 4, class: 'node-layer' }, 'in'));
  for (const n of g.nodes) {
    const row = n.layer < 0 ? rows - 1 : rows - 2 - n.layer;
    const col = n.layer < 0 ? (cols - 1) / 2 : n.head < 0 ? cols - 1 : n.head;
    const frac = n.score === null || max === 0 ? 0 : Math.sqrt(Math.abs(n.score) / max);
    const side = n.score === null ? cell - 8 : Math.max(4, frac * (cell - 8)); // unscored: a full pale square
    const cx = pad + col * cell + cell / 2, cy = top + row * cell + cell / 2;
    const fill = n.score === null ? NODE_COLORS.unscored : n.score >= 0 ? NODE_COLORS.positive : NODE_COLORS.negative;
    svg.append(s('rect', {
      x: cx - side / 2, y: cy - side / 2, width: side, height: side, rx: 2, fill, 'fill-opacity': n.score === null ? 0.35 : null, class: `node${n.inGraph ? ' in-graph' : ''}${n.head < 0 && n.layer >= 0 ? ' mlp' : ''}`,
      'data-name': n.name, 'data-score': n.score === null ? 'NaN' : String(n.score),
    }, s('title', {}, `${n.name}: ${num(n.score)}${n.inGraph ? ' (in the circuit)' : ''}`)));
  }
  return svg;
}

/** The top neurons as a table (neuron-level graphs). */
function neuronTable(g: NodeGraphResponse): HTMLElement {
  return h('table', { class: 'top-neurons' },
    h('thead', {}, h('tr', {}, h('th', {}, '#'), h('th', {}, 'node'), h('th', {}, 'dimension'), h('th', {}, 'score'))),
    h('tbody', {}, ...g.topNeurons.map((x, i) => h('tr', { 'data-node': x.node, 'data-dim': x.dim },
      h('td', {}, String(i + 1)), h('td', {}, x.node), h('td', {}, String(x.dim)),
      h('td', { style: `color: ${x.score >= 0 ? NODE_COLORS.positive : NODE_COLORS.negative}` }, num(x.score))))));
}

/** The top MLP hidden units as a table (graphs of attribute --level mlp-neuron). */
function mlpNeuronTable(g: NodeGraphResponse): HTMLElement {
  return h('table', { class: 'top-mlp-neurons' },
    h('thead', {}, h('tr', {}, h('th', {}, '#'), h('th', {}, 'layer'), h('th', {}, 'unit'), h('th', {}, 'score'))),
    h('tbody', {}, ...g.topMlpNeurons.map((x, i) => h('tr', { 'data-layer': x.layer, 'data-unit': x.unit },
      h('td', {}, String(i + 1)), h('td', {}, `m${x.layer}`), h('td', {}, String(x.unit)),
      h('td', { style: `color: ${x.score >= 0 ? NODE_COLORS.positive : NODE_COLORS.negative}` }, num(x.score))))));
}

export function renderNodeView(summary: HTMLElement, body: HTMLElement, g: NodeGraphResponse): void {
  const kept = g.nodes.filter((n) => n.inGraph).length, scored = g.nodes.filter((n) => n.score !== null).length;
  const method = typeof g.meta?.['method'] === 'string' ? ` · ${g.meta['method']}` : '';
  summary.replaceChildren(h('p', {},
    `${g.name}: ${g.level}-level graph${g.topMlpNeurons.length ? ' with MLP neurons' : ''}${method}, ${g.nLayers} layers × ${g.nHeads} heads, d_model ${g.dModel}; ${scored} of ${g.nodes.length} nodes scored, ${kept} flagged in the circuit. `,
    'Square side ∝ √|score|; ', h('span', { style: `color: ${NODE_COLORS.positive}` }, 'positive'), ', ',
    h('span', { style: `color: ${NODE_COLORS.negative}` }, 'negative'), '; outlined: in the circuit.'));
  const parts: HTMLElement[] = [h('div', { class: 'node-picture' }, nodeSvg(g) as unknown as HTMLElement)];
  if (g.level === 'neuron') parts.push(h('div', { class: 'node-neurons' }, h('h3', {}, `Top ${g.topNeurons.length} neurons by |score|`), neuronTable(g)));
  if (g.topMlpNeurons.length) parts.push(h('div', { class: 'node-neurons' }, h('h3', {}, `Top ${g.topMlpNeurons.length} MLP neurons (hidden units) by |score|`), mlpNeuronTable(g)));
  body.replaceChildren(...parts);
}
