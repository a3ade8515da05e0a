/**
 * Edge budgets of a reproduction: the sweep's counts, the few of them the report tables show, and the top-n
 * counts of the precision/recall curves.
 *
 * GPT-2 small and larger graphs take the EAP-IG paper's GPT-2-small counts (HANNA_BUDGETS: 30..90 by 10,
 * 100..1900 by 100, 0.09 %..5.8 % of its 32,491 edges), scaled to the graph's edge count, so GPT-2 small's
 * numbers compare with the published ones. Smaller graphs do not fit that scheme: a task's circuit needs a few
 * components whatever the model's size, i.e. a larger fraction of a small model's edges (the built-in model's
 * IOI circuits reach F ≥ 0.95 only at 15–20 % of its 479 edges), and the scaled counts (1..28 edges there) would
 * stop where its faithfulness curve begins. There the sweep takes SMALL_GRAPH_POINTS counts evenly spaced on a
 * log scale from 1 edge to every edge, the same number of circuits as the paper's sweep, so the curve is
 * covered from the first edge to the full model, and the tables show fixed fractions of the edges.
 */
import { HANNA_BUDGETS, MIB_FRACTIONS, fractionBudgets } from '../evaluation/sweep.js';

/** Edges of GPT-2 small's graph (12 layers × 12 heads), the size HANNA_BUDGETS were chosen for. */
export const GPT2_SMALL_EDGES = 32491;

/** The budgets of GPT-2 small whose faithfulness the report tabulates (scaled like the sweep). */
export const TABLE_BUDGETS = [50, 100, 200, 500, 1000] as const;

/** Graphs with fewer edges than this take the log-spaced sweep (see the module comment). */
export const SMALL_GRAPH_EDGES = GPT2_SMALL_EDGES;

/** Circuits in a small graph's sweep: as many as the paper's sweep has budgets. */
export const SMALL_GRAPH_POINTS = HANNA_BUDGETS.length;

/** The fractions of a small graph's edges the report tabulates: from a circuit's first edges to its completion. */
export const SMALL_GRAPH_TABLE_FRACTIONS = [0.02, 0.05, 0.1, 0.2, 0.5] as const;

/** Whether a graph of nEdges edges takes the log-spaced sweep instead of the paper's scaled counts. */
export const isSmallGraph = (nEdges: number): boolean => nEdges < SMALL_GRAPH_EDGES;

function checkEdges(nEdges: number): void {
  if (!(Number.isInteger(nEdges) && nEdges > 0)) throw new Error(`budgets: nEdges must be a positive integer, got ${nEdges}`);
}

const distinctSorted = (xs: readonly number[]): number[] => [...new Set(xs)].sort((a, b) => a - b);

/**
 * `counts` (default HANNA_BUDGETS) times nEdges / 32,491, rounded, at least 1, at most nEdges, without
 * repeats, in increasing order. GPT-2 small keeps the paper's counts exactly.
 */
export function scaledBudgets(nEdges: number, counts: readonly number[] = HANNA_BUDGETS): number[] {
  checkEdges(nEdges);
  const scale = nEdges / GPT2_SMALL_EDGES;
  return distinctSorted(counts.map((n) => Math.min(nEdges, Math.max(1, Math.round(n * scale)))));
}

/** `points` counts evenly spaced on a log scale from 1 to nEdges (both included), rounded, without repeats. */
export function logSpacedBudgets(nEdges: number, points = SMALL_GRAPH_POINTS): number[] {
  checkEdges(nEdges);
  return distinctSorted(Array.from({ length: points }, (_, i) => Math.round(nEdges ** (i / (points - 1)))));
}

/** The budgets of the report's faithfulness tables: TABLE_BUDGETS scaled, or a small graph's fixed fractions. */
export function tableBudgets(nEdges: number): number[] {
  if (!isSmallGraph(nEdges)) return scaledBudgets(nEdges, TABLE_BUDGETS);
  checkEdges(nEdges);
  return distinctSorted(SMALL_GRAPH_TABLE_FRACTIONS.map((f) => Math.max(1, Math.round(f * nEdges))));
}

/** The faithfulness sweep's budgets (see the module comment); every table budget is one of them. */
export function sweepBudgets(nEdges: number): number[] {
  return isSmallGraph(nEdges) ? distinctSorted([...logSpacedBudgets(nEdges), ...tableBudgets(nEdges)]) : scaledBudgets(nEdges);
}

/** One line for the report: how the budgets were chosen. */
export function budgetsDescription(nEdges: number): string {
  const n = (x: number): string => x.toLocaleString('en-US');
  if (!isSmallGraph(nEdges)) {
    return `the EAP-IG paper's GPT-2-small counts${nEdges === GPT2_SMALL_EDGES ? '' : `, scaled by ${n(nEdges)} / ${n(GPT2_SMALL_EDGES)} edges`}`;
  }
  const scaled = scaledBudgets(nEdges);
  return `${SMALL_GRAPH_POINTS} counts evenly spaced on a log scale from 1 edge to all ${n(nEdges)}, and ` +
    `${SMALL_GRAPH_TABLE_FRACTIONS.map((f) => `${f * 100} %`).join(', ')} of the edges for the tables: a graph smaller than GPT-2 small's ` +
    `needs a larger share of its edges for a circuit, and the paper's counts scaled by ${n(nEdges)} / ${n(GPT2_SMALL_EDGES)} would stop at ` +
    `${n(scaled.at(-1)!)} edge${scaled.at(-1) === 1 ? '' : 's'}`;
}

/**
 * The top-n counts of a precision/recall curve: the sweep budgets and the MIB fractions of the edges, so the
 * curve reaches from small circuits to the whole graph.
 */
export function prCounts(nEdges: number, budgets: readonly number[]): number[] {
  return [...new Set([...budgets, ...fractionBudgets(nEdges, MIB_FRACTIONS)])].filter((n) => n <= nEdges).sort((a, b) => a - b);
}
