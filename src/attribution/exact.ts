/**
 * Exact patching, the ground truth the gradient methods approximate (EAP-IG's get_scores_exact):
 * s(u→v) = loss(all edges but u→v) − loss(all edges), loss = −metric, each a mean of per-batch means.
 * One patched forward pass per edge and batch: meant for small models.
 */
import { Graph } from '../graph/index.js';
import type { PairBatch } from './types.js';
import type { Scores } from './attribute.js';
import { evaluateCircuits } from '../evaluation/evaluate.js';
import type { Intervention, MetricFn, MissingEdges } from '../evaluation/patching.js';
import type { GraphLayout } from '../models/layout.js';
import type { CausalLM } from '../models/model.js';

export interface ExactArgs {
  model: CausalLM;
  batches: readonly PairBatch[];
  metric: MetricFn;
  /** What a removed edge carries (default `patching`: the corrupted run; DESIGN.md §5). */
  intervention?: Intervention;
  /** Called after each patched run (edges × batches runs in all). */
  onRun?: () => void;
}

export async function exactScores(a: ExactArgs): Promise<Scores> {
  const { edges, circuits } = exactCircuits(a.model.layout);
  const values = await evaluateCircuits({ model: a.model, batches: a.batches, metric: a.metric, circuits, average: 'batches', intervention: a.intervention, stack: false, onRun: a.onRun });
  return exactScoresFrom(a.model.layout, edges, values, a.batches.reduce((s, b) => s + b.n, 0));
}

/** The circuits of exact patching: the full graph, then each edge (in the graph's edge order) removed alone. */
export function exactCircuits(layout: GraphLayout): { edges: Int32Array; circuits: MissingEdges[] } {
  const graph = Graph.of(layout);
  const { nSrc, nDst } = graph;
  const edges = graph.edgeFlatIndices();
  const full = new Uint8Array(nSrc * nDst);
  const circuits = [full, ...Array.from(edges, (i) => {
    const m = new Uint8Array(nSrc * nDst);
    m[i] = 1;
    return m;
  })];
  return { edges, circuits };
}

/** s(u→v) = loss without u→v − loss with every edge, from the circuits' metrics (exactCircuits' order). */
export function exactScoresFrom(layout: GraphLayout, edges: Int32Array, values: readonly number[], examples: number): Scores {
  const { nSrc, nDst } = layout;
  const [base, ...without] = values;
  const scores = new Float64Array(nSrc * nDst);
  edges.forEach((i, k) => (scores[i] = base! - without[k]!));
  return { scores, nSrc, nDst, examples, points: 1 };
}
