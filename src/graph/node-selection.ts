/**
 * Circuit selection on a NodeGraph (EAP-IG apply_topn / apply_threshold with level='node' or 'neuron'): rank the
 * node scores, or the neuron scores, by |score| (default) or by the signed score, larger first, ties to the
 * smaller index (node order, then dimension). Unscored (NaN) nodes or neurons always stay in, as in EAP-IG. At
 * the neuron level a node is in the circuit when any of its neurons is. No pruning: node patching needs no
 * connected circuit (a node's output reaches its readers through the residual stream whatever else is kept).
 * Each function replaces the circuit and returns its size.
 */
import { UserError } from '../util/errors.js';
import type { NodeGraph } from './node-graph.js';

export interface NodeCounts {
  nodes: number;
  neurons: number;
}

function scoresOf(g: NodeGraph): Float32Array {
  return g.neuronScores ?? g.nodeScores;
}

function flagsOf(g: NodeGraph): Uint8Array {
  return g.neuronInGraph ?? g.nodeInGraph;
}

/** After the neuron flags changed: a node is in when any of its neurons is. */
function nodesFromNeurons(g: NodeGraph): void {
  if (!g.neuronInGraph) return;
  const D = g.dModel;
  for (let u = 0; u < g.nSrc; u++) g.nodeInGraph[u] = g.neuronInGraph.subarray(u * D, (u + 1) * D).some((x) => x === 1) ? 1 : 0;
}

function counts(g: NodeGraph): NodeCounts {
  return { nodes: g.countNodes(), neurons: g.countNeurons() };
}

/** The n scored nodes (or neurons) of largest |score| (or score), and every unscored one. */
export function topnNodes(g: NodeGraph, n: number, opts: { absolute?: boolean } = {}): NodeCounts {
  const s = scoresOf(g), flags = flagsOf(g), absolute = opts.absolute ?? true;
  const scored: number[] = [];
  for (let i = 0; i < s.length; i++) if (!Number.isNaN(s[i]!)) scored.push(i);
  const what = g.level === 'neuron' ? 'neurons' : 'nodes';
  if (!Number.isInteger(n) || n < 0 || n > scored.length) throw new UserError(`topn: the number of ${what} must be an integer in 0..${scored.length} (the scored ${what}), got ${n}`);
  const key = (i: number): number => (absolute ? Math.abs(s[i]!) : s[i]!);
  scored.sort((a, b) => key(b) - key(a) || a - b);
  g.clear();
  for (let i = 0; i < s.length; i++) if (Number.isNaN(s[i]!)) flags[i] = 1;
  for (let k = 0; k < n; k++) flags[scored[k]!] = 1;
  nodesFromNeurons(g);
  return counts(g);
}

/** Every node (or neuron) with |score| ≥ t (or score ≥ t), and every unscored one. */
export function thresholdNodes(g: NodeGraph, t: number, opts: { absolute?: boolean } = {}): NodeCounts {
  if (Number.isNaN(t)) throw new UserError('threshold: the threshold must be a number, got NaN');
  const s = scoresOf(g), flags = flagsOf(g), absolute = opts.absolute ?? true;
  g.clear();
  for (let i = 0; i < s.length; i++) {
    const x = s[i]!;
    if (Number.isNaN(x) || (absolute ? Math.abs(x) : x) >= t) flags[i] = 1;
  }
  nodesFromNeurons(g);
  return counts(g);
}

/**
 * The n scored MLP hidden units of largest |score| (or score) over all layers, and every unscored one; every
 * node stays in (the selection patches hidden units only, at hook_post), the node and neuron flags are set so.
 */
export function topnMlpNeurons(g: NodeGraph, n: number, opts: { absolute?: boolean } = {}): { mlpNeurons: number } {
  const m = g.mlp;
  if (!m) throw new UserError('topn: the graph has no MLP hidden-unit scores (eapgp attribute --level mlp-neuron writes them)');
  const s = m.scores, absolute = opts.absolute ?? true;
  const scored: number[] = [];
  for (let i = 0; i < s.length; i++) if (!Number.isNaN(s[i]!)) scored.push(i);
  if (!Number.isInteger(n) || n < 0 || n > scored.length) throw new UserError(`topn: the number of MLP neurons must be an integer in 0..${scored.length} (the scored units), got ${n}`);
  const key = (i: number): number => (absolute ? Math.abs(s[i]!) : s[i]!);
  scored.sort((a, b) => key(b) - key(a) || a - b);
  g.fill();
  m.inGraph.fill(0);
  for (let i = 0; i < s.length; i++) if (Number.isNaN(s[i]!)) m.inGraph[i] = 1;
  for (let k = 0; k < n; k++) m.inGraph[scored[k]!] = 1;
  return { mlpNeurons: m.inGraph.reduce((a, x) => a + x, 0) };
}
