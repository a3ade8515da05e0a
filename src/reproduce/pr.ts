/**
 * Precision/recall curves of a scored graph against a task's manual circuit (src/circuits, ACDC's reference):
 * the top-n edges by |score|, unpruned (DESIGN.md §5), at each count, and the ROC AUCs of the full sweep.
 */
import { REFERENCE_TASKS, overlap, referenceCircuit, rocSweep } from '../circuits/index.js';
import { topn, type Graph } from '../graph/index.js';
import type { ModelInfo, PrRecord } from './types.js';

/**
 * True when `task` has a manual circuit and the model is GPT-2 with GPT-2 small's shape, which it is defined on
 * (Pythia-160m has that shape too, but other heads).
 */
export function hasReference(task: string, model: ModelInfo): boolean {
  return (REFERENCE_TASKS as readonly string[]).includes(task) && model.family === undefined && model.layers === 12 && model.heads === 12;
}

/** Node- and edge-level precision and recall at each of `counts`, and the ROC AUCs (see the module comment). */
export function precisionRecall(graph: Graph, task: string, counts: readonly number[]): PrRecord {
  const ref = referenceCircuit(task, graph, 'acdc');
  const g = graph.clone();
  const points = counts.map((n) => {
    topn(g, n, { absolute: true });
    const o = overlap(g, g.inGraph, ref);
    return {
      n,
      nodes: { precision: o.nodes.precision, recall: o.nodes.recall },
      edges: { precision: o.edges.precision, recall: o.edges.recall },
    };
  });
  return { reference: 'acdc', points, auc: rocSweep(graph, ref, { absolute: true }).auc };
}
