/** What the page is sent of a node- or neuron-level graph file (protocol.ts NodeGraphResponse). */
import { readNodeGraphJson } from '../graph/node-json.js';
import { NODE_VIEW_TOP_NEURONS, type NodeGraphResponse, type NodeView } from './protocol.js';

export function nodeGraphResponse(file: string, name: string): NodeGraphResponse {
  const { graph: g, meta } = readNodeGraphJson(file);
  const { layout } = g, D = g.dModel;
  const nodes: NodeView[] = [];
  for (let u = 0; u < g.nSrc; u++) {
    let score: number | null = g.nodeScores[u]!;
    if (Number.isNaN(score) && g.neuronScores) {
      // a neuron-level file of EAP-IG holds no node scores: the node's is the sum of its neurons'
      let s = 0, any = false;
      for (let d = 0; d < D; d++) {
        const x = g.neuronScores[u * D + d]!;
        if (!Number.isNaN(x)) (s += x), (any = true);
      }
      score = any ? s : null;
    }
    nodes.push({
      name: g.srcName(u), layer: layout.srcLayer(u), head: u === 0 || layout.srcKind(u) === 'mlp' ? -1 : layout.srcHead(u),
      score: score === null || Number.isNaN(score) ? null : score, inGraph: g.nodeInGraph[u] === 1,
    });
  }
  const topNeurons: NodeGraphResponse['topNeurons'] = [];
  if (g.neuronScores) {
    const idx = Array.from(g.neuronScores.keys()).filter((i) => !Number.isNaN(g.neuronScores![i]!));
    idx.sort((a, b) => Math.abs(g.neuronScores![b]!) - Math.abs(g.neuronScores![a]!) || a - b);
    for (const i of idx.slice(0, NODE_VIEW_TOP_NEURONS)) topNeurons.push({ node: g.srcName(Math.floor(i / D)), dim: i % D, score: g.neuronScores[i]! });
  }
  const topMlpNeurons: NodeGraphResponse['topMlpNeurons'] = [];
  if (g.mlp) {
    const { scores: m, width: F } = g.mlp;
    const idx = Array.from(m.keys()).filter((i) => !Number.isNaN(m[i]!));
    idx.sort((a, b) => Math.abs(m[b]!) - Math.abs(m[a]!) || a - b);
    for (const i of idx.slice(0, NODE_VIEW_TOP_NEURONS)) topMlpNeurons.push({ layer: Math.floor(i / F), unit: i % F, score: m[i]! });
  }
  return { name, level: g.level, nLayers: layout.nLayers, nHeads: layout.nHeads, dModel: D, nodes, topNeurons, topMlpNeurons, meta: meta ?? null };
}
