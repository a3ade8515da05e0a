/**
 * Edge budgets of a reproduction: the EAP-IG paper's GPT-2-small counts (HANNA_BUDGETS: 30..90 by 10,
 * 100..1900 by 100) scaled to the model's edge count, the few of them the report tables show, and the top-n
 * counts of the precision/recall curves.
 */
import { HANNA_BUDGETS, MIB_FRACTIONS, fractionBudgets } from '../evaluation/sweep.js';

/** Edges of GPT-2 small's graph (12 layers × 12 heads), the size HANNA_BUDGETS were chosen for. */
export const GPT2_SMALL_EDGES = 32491;

/** The budgets of GPT-2 small whose faithfulness the report tabulates (scaled like the sweep). */
export const TABLE_BUDGETS = [50, 100, 200, 500, 1000] as const;

/**
 * `counts` (default HANNA_BUDGETS) times nEdges / 32,491, rounded, at least 1, at most nEdges, without
 * repeats, in increasing order. GPT-2 small keeps the paper's counts exactly.
 */
export function scaledBudgets(nEdges: number, counts: readonly number[] = HANNA_BUDGETS): number[] {
  if (!(Number.isInteger(nEdges) && nEdges > 0)) throw new Error(`scaledBudgets: nEdges must be a positive integer, got ${nEdges}`);
  const scale = nEdges / GPT2_SMALL_EDGES;
  const out = counts.map((n) => Math.min(nEdges, Math.max(1, Math.round(n * scale))));
  return [...new Set(out)].sort((a, b) => a - b);
}

/** The budgets of the report's faithfulness tables: TABLE_BUDGETS scaled (all of them are sweep budgets). */
export function tableBudgets(nEdges: number): number[] {
  return scaledBudgets(nEdges, TABLE_BUDGETS);
}

/**
 * The top-n counts of a precision/recall curve: the sweep budgets and the MIB fractions of the edges, so the
 * curve reaches from small circuits to the whole graph.
 */
export function prCounts(nEdges: number, budgets: readonly number[]): number[] {
  return [...new Set([...budgets, ...fractionBudgets(nEdges, MIB_FRACTIONS)])].filter((n) => n <= nEdges).sort((a, b) => a - b);
}
