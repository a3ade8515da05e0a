/**
 * Exact patching, the ground truth the gradient methods approximate (EAP-IG's get_scores_exact):
 * s(u→v) = loss(all edges but u→v) − loss(all edges), loss = −metric, each a mean of per-batch means.
 * One patched forward pass per edge and batch: meant for small models.
 */
import { Graph } from '../graph/index.js';
import type { PairBatch } from './types.js';
import type { Scores } from './attribute.js';
import { evaluateCircuits } from '../evaluation/evaluate.js';
import type { Intervention, MetricFn } from '../evaluation/patching.js';
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
  const graph = Graph.of(a.model.layout);
  const { nSrc, nDst } = graph;
  const edges = Array.from(graph.edgeFlatIndices());
  const full = new Uint8Array(nSrc * nDst);
  const circuits = [full, ...edges.map((i) => {
    const m = new Uint8Array(nSrc * nDst);
    m[i] = 1;
    return m;
  })];
  const [base, ...without] = await evaluateCircuits({ model: a.model, batches: a.batches, metric: a.metric, circuits, average: 'batches', intervention: a.intervention, onRun: a.onRun });
  const scores = new Float64Array(nSrc * nDst);
  edges.forEach((i, k) => (scores[i] = base! - without[k]!));
  return { scores, nSrc, nDst, examples: a.batches.reduce((s, b) => s + b.n, 0), points: 1 };
}
