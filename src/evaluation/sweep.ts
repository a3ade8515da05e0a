/**
 * Faithfulness over edge budgets: for each budget, select (greedy or top-n, by |score| unless signed), prune,
 * and evaluate the circuit by edge patching. The MIB summary integrates over edge fractions
 * {0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100}%: CPR = area under F, CMD = area under |1 − F| (trapezoids on
 * the fraction axis, so both lie in [0, 1] for F in [0, 1]). This is the EAP-GP paper's protocol over MIB's points;
 * MIB's own (top-n at int(p·E) edges, CPR from the signed ranking, nine given circuits) is in mib.ts.
 */
import type { PairBatch } from '../attribution/types.js';
import { greedy, prune, topn, type Graph } from '../graph/index.js';
import type { CausalLM } from '../models/model.js';
import { evaluateWithBaselines, faithfulness, type Baselines } from './evaluate.js';
import type { Intervention, MetricFn, MissingEdges } from './patching.js';

export const MIB_FRACTIONS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1] as const;

/** The edge counts of EAP-IG's GPT-2 small sweeps: 30..90 by 10, 100..1900 by 100. */
export const HANNA_BUDGETS = [...Array.from({ length: 7 }, (_, i) => 30 + 10 * i), ...Array.from({ length: 19 }, (_, i) => 100 * (i + 1))];

export interface SweepPoint {
  requested: number | null;
  /** Edges and nodes after pruning (nodes exclude logits). */
  edges: number;
  nodes: number;
  metric: number;
  faithfulness: number;
  fraction?: number;
}

export interface SweepResult {
  baseline: number;
  corrupted: number;
  points: SweepPoint[];
  cpr?: number;
  cmd?: number;
}

/** The circuit currently flagged in `g`, as a missing-edge mask. */
export function missingEdges(g: Graph): MissingEdges {
  const real = g.realMask, inG = g.inGraph;
  const m = new Uint8Array(g.nSrc * g.nDst);
  for (let i = 0; i < m.length; i++) m[i] = real[i] && !inG[i] ? 1 : 0;
  return m;
}

export interface SweepArgs {
  model: CausalLM;
  batches: readonly PairBatch[];
  metric: MetricFn;
  graph: Graph;
  /** Edge budgets; null = evaluate the graph's own in_graph flags once. */
  budgets: readonly number[] | null;
  select?: 'greedy' | 'topn';
  absolute?: boolean;
  intervention?: Intervention;
  /** Also report CPR/CMD (budgets must then be the MIB fractions of the edge count). */
  fractions?: readonly number[];
  onRun?: () => void;
  /** m(M) and m(∅) when already known (e.g. shared by a task's methods); else the evaluation's own clean and corrupted runs give them. */
  base?: Baselines;
}

export async function sweep(a: SweepArgs): Promise<SweepResult> {
  return (await sweeps(a, [{ budgets: a.budgets, fractions: a.fractions }]))[0]!;
}

/** A sweep and the baselines it used (a.base, or those of its own clean and corrupted runs, with their spread). */
export async function sweepWithBaselines(a: SweepArgs): Promise<{ result: SweepResult; base: Baselines }> {
  const r = await sweepsWithBaselines(a, [{ budgets: a.budgets, fractions: a.fractions }]);
  return { result: r.results[0]!, base: r.base };
}

/**
 * Several sweeps of one graph (e.g. a reproduction's budgets and its MIB fractions) in one evaluation: the
 * intervention's cache is made once per batch for all of them, and a circuit that two budgets prune to runs once.
 */
export async function sweeps(a: Omit<SweepArgs, 'budgets' | 'fractions'>, sets: readonly Pick<SweepArgs, 'budgets' | 'fractions'>[]): Promise<SweepResult[]> {
  return (await sweepsWithBaselines(a, sets)).results;
}

async function sweepsWithBaselines(
  a: Omit<SweepArgs, 'budgets' | 'fractions'>, sets: readonly Pick<SweepArgs, 'budgets' | 'fractions'>[],
): Promise<{ results: SweepResult[]; base: Baselines }> {
  const circuits = sets.map((s) => sweepCircuits({ ...a, budgets: s.budgets }));
  const evaluated = await evaluateWithBaselines({ model: a.model, batches: a.batches, metric: a.metric, circuits: circuits.flat().map((c) => c.missing), intervention: a.intervention, onRun: a.onRun });
  const { values } = evaluated, base = a.base ?? evaluated.base;
  let at = 0;
  return { results: sets.map((s, i) => sweepResult(circuits[i]!, values.slice(at, (at += circuits[i]!.length)), base, s.fractions)), base };
}

/** A circuit of the sweep: its budget, its size after pruning, and the edges it patches. */
export interface SweepCircuit {
  requested: number | null;
  edges: number;
  nodes: number;
  missing: MissingEdges;
}

/** The sweep's circuits: the graph's own flags (budgets null), or selected and pruned per budget. */
export function sweepCircuits(a: Pick<SweepArgs, 'graph' | 'budgets' | 'select' | 'absolute'>): SweepCircuit[] {
  const circuits: SweepCircuit[] = [];
  if (a.budgets === null) {
    const g = a.graph.clone();
    const c = prune(g);
    circuits.push({ requested: null, ...c, missing: missingEdges(g) });
  } else {
    for (const n of a.budgets) {
      const g = a.graph.clone();
      g.clearCircuit();
      (a.select === 'topn' ? topn : greedy)(g, n, { absolute: a.absolute ?? true });
      const c = prune(g);
      circuits.push({ requested: n, ...c, missing: missingEdges(g) });
    }
  }
  return circuits;
}

/** The sweep's result from each circuit's metric m(C) and the baselines (CPR and CMD with `fractions`). */
export function sweepResult(
  circuits: readonly Pick<SweepCircuit, 'requested' | 'edges' | 'nodes'>[], values: readonly number[], base: Baselines, fractions?: readonly number[],
): SweepResult {
  const points: SweepPoint[] = circuits.map((c, i) => ({
    requested: c.requested, edges: c.edges, nodes: c.nodes, metric: values[i]!, faithfulness: faithfulness(values[i]!, base),
    ...(fractions ? { fraction: fractions[i]! } : {}),
  }));
  const out: SweepResult = { baseline: base.clean, corrupted: base.corrupted, points };
  if (fractions) {
    const xs = fractions, fs = points.map((p) => p.faithfulness);
    out.cpr = trapezoid(xs, fs);
    out.cmd = trapezoid(xs, fs.map((f) => Math.abs(1 - f)));
  }
  return out;
}

/** Edge budgets for the MIB fractions of a graph's edge count (at least one edge each). */
export function fractionBudgets(nEdges: number, fractions: readonly number[] = MIB_FRACTIONS): number[] {
  return fractions.map((f) => Math.max(1, Math.round(f * nEdges)));
}

function trapezoid(xs: readonly number[], ys: readonly number[]): number {
  let s = 0;
  for (let i = 1; i < xs.length; i++) s += ((xs[i]! - xs[i - 1]!) * (ys[i]! + ys[i - 1]!)) / 2;
  return s;
}
