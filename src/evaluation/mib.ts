/**
 * The MIB circuit track's faithfulness summary (Mueller et al. 2025, "MIB: A Mechanistic Interpretability
 * Benchmark"), as its public evaluation code computes it (hannamw/MIB-circuit-track, MIB_circuit_track/
 * evaluation.py: evaluate_area_under_curve and evaluate_area_under_curve_multifile; the leaderboard's copy in
 * mttk/MIB-circuit-track-autoeval at 730dd7ad; transcribed for our fixture in test/fixtures/gen-mib.py).
 *
 *   - Points: the ten edge percentages p ∈ {0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100} % — no point at 0.
 *   - Importance file: for each p, n = int(p · E) edges (Python's int(): truncation, so 0 on graphs under
 *     1000 edges at 0.1 %), EAP-IG apply_topn(n) — top-n, not greedy — then prune. CPR uses the signed scores
 *     (its abs-False run), CMD the absolute ones (abs-True): the leaderboard evaluates both and takes CPR from
 *     one, CMD from the other.
 *   - Nine circuit files: each circuit as flagged (pruned by evaluate_graph), sorted by its edge count
 *     (weighted_edge_count before pruning), then F = 1 appended for the full model; the x values stay the
 *     nominal percentages whatever the circuits' sizes. One curve gives both CPR and CMD.
 *   - F = (m(C) − m(∅)) / (m(M) − m(∅)), each m a mean over examples; m(M) the clean run, m(∅) the empty
 *     circuit's run (the corrupted run under patching, the fully ablated model under an ablation).
 *   - CPR = Σ trapezoids of F over x, CMD = Σ trapezoids of |1 − F|, x = p (linear, as run_evaluation.py calls
 *     it) or ln p (log_scale=True, as the leaderboard's autoeval run_evaluation.py calls it).
 *
 * Where `evaluate --fractions` (sweep.ts) differs: it selects greedily by |score| (the EAP-GP paper's
 * protocol) for both areas, asks for max(1, round(p · E)) edges instead of int(p · E), and has no log axis;
 * its trapezoids, points and normalisation are MIB's. So the two agree exactly only for `--select topn` on a
 * graph where those counts coincide, and then only for CMD (CPR needs the signed ranking too).
 */
import { prune, topn, type Graph } from '../graph/index.js';
import type { CausalLM } from '../models/model.js';
import type { PairBatch } from '../attribution/types.js';
import type { GapSpread } from './degenerate.js';
import { evaluateWithBaselines, faithfulness, type Baselines } from './evaluate.js';
import type { Intervention, MetricFn, MissingEdges } from './patching.js';
import { MIB_FRACTIONS, missingEdges } from './sweep.js';

/** The nine circuit sizes of a multi-circuit submission: at most 0.1 % … 50 % of the edges. */
export const MIB_CIRCUIT_FRACTIONS = MIB_FRACTIONS.slice(0, 9);

/** Edges of MIB's models' graphs (autoeval EDGE_COUNTS); folder names use these model names. */
export const MIB_EDGE_COUNTS: Readonly<Record<string, number>> = { gpt2: 32491, 'qwen2.5': 179749, gemma2: 74218, llama3: 1592881 };

/** MIB's task names as its folder names spell them (underscores become hyphens, as run_evaluation.py writes them). */
export const MIB_TASKS = ['ioi', 'mcqa', 'arithmetic-addition', 'arithmetic-subtraction', 'arc-easy', 'arc-challenge'] as const;

/** The task/model folders MIB's leaderboard evaluates (utils.py COL_MAPPING). */
export const MIB_LEADERBOARD = [
  'ioi_gpt2', 'ioi_qwen2.5', 'ioi_gemma2', 'ioi_llama3', 'mcqa_qwen2.5', 'mcqa_gemma2', 'mcqa_llama3',
  'arithmetic-addition_llama3', 'arithmetic-subtraction_llama3', 'arc-easy_gemma2', 'arc-easy_llama3', 'arc-challenge_llama3',
] as const;

/** MIB's task name for one of ours (ioi, mib-arc-easy) or one of its own spellings (arc_easy, arc-easy), or null. */
export function mibTaskName(task: string): string | null {
  const t = task.toLowerCase().replace(/_/g, '-').replace(/^mib-/, '');
  return (MIB_TASKS as readonly string[]).includes(t) ? t : null;
}

/** Python's int(p * n) for n ≥ 0: the same float64 product, truncated. */
export function mibItemCount(p: number, n: number): number {
  return Math.trunc(p * n);
}

export interface MibAreas {
  /** CPR when F is the signed curve: Σ (x₂ − x₁)(F₁ + F₂)/2. */
  areaUnder: number;
  /** CMD when F is the absolute curve: Σ (x₂ − x₁)(|1 − F₁| + |1 − F₂|)/2. */
  areaFrom1: number;
  /** The plain mean of the F values (MIB reports it beside the areas). */
  average: number;
}

/** The areas of F over the percentages `xs` (ln x with logScale), in MIB's order of summation. */
export function mibAreas(fs: readonly number[], opts: { logScale?: boolean; xs?: readonly number[] } = {}): MibAreas {
  const xs = opts.xs ?? MIB_FRACTIONS;
  if (xs.length !== fs.length) throw new Error(`mibAreas: ${fs.length} faithfulness values for ${xs.length} percentages`);
  let areaUnder = 0, areaFrom1 = 0;
  for (let i = 0; i + 1 < fs.length; i++) {
    const x1 = opts.logScale ? Math.log(xs[i]!) : xs[i]!;
    const x2 = opts.logScale ? Math.log(xs[i + 1]!) : xs[i + 1]!;
    areaFrom1 += (x2 - x1) * ((Math.abs(1 - fs[i]!) + Math.abs(1 - fs[i + 1]!)) / 2);
    areaUnder += (x2 - x1) * ((fs[i]! + fs[i + 1]!) / 2);
  }
  return { areaUnder, areaFrom1, average: fs.reduce((a, b) => a + b, 0) / fs.length };
}

/** The order MIB puts given circuits in: as Python sorts (edge count, F) tuples — by count, then by F. */
export function mibCircuitOrder(counts: readonly number[], fs: readonly number[]): number[] {
  return counts.map((_, i) => i).sort((i, j) => counts[i]! - counts[j]! || fs[i]! - fs[j]!);
}

export interface MibPoint {
  /** The nominal percentage (as a fraction) this point sits at on the x axis. */
  fraction: number;
  /** int(p · E) for an importance file; null for a given circuit (and the appended full model). */
  requested: number | null;
  /** Edges of the circuit as MIB counts them (weighted_edge_count); nodes after pruning. */
  edges: number;
  nodes: number;
  /** m(C); null for the appended full model, whose F MIB fixes at 1. */
  metric: number | null;
  faithfulness: number;
  /** The circuit file, in multi-circuit mode. */
  file?: string;
}

export interface MibCurve extends MibAreas {
  /** Ranking of the importance scores (true: |score|); null for given circuits. */
  absolute: boolean | null;
  points: MibPoint[];
}

export interface MibResult {
  mode: 'importances' | 'circuits';
  logScale: boolean;
  /** m(M) and m(∅). */
  baseline: number;
  corrupted: number;
  /** Spread of the per-example m_i(M) − m_i(∅), for the gap warning (degenerate.ts). */
  spread?: GapSpread;
  /** CPR = the signed curve's area under F; CMD = the absolute curve's area from 1 (the same curve for circuits). */
  cpr: number;
  cmd: number;
  curves: { cpr: MibCurve; cmd: MibCurve };
}

export interface MibEvaluateArgs {
  model: CausalLM;
  batches: readonly PairBatch[];
  metric: MetricFn;
  intervention?: Intervention;
  logScale?: boolean;
  onRun?: () => void;
}

/**
 * m(C) of each circuit and the baselines MIB normalises by (m(∅) from the empty circuit under an ablation). A
 * circuit pruned to no edges is m(∅) itself, as EAP-IG's evaluate_graph runs an empty circuit as the
 * corrupted input (so F = 0 exactly, not a patched run's float32 rounding of it).
 */
async function evaluateMasks(a: MibEvaluateArgs, circuits: readonly { edges: number; missing: MissingEdges }[]): Promise<{ values: number[]; base: Baselines }> {
  const r = await evaluateWithBaselines({ model: a.model, batches: a.batches, metric: a.metric, circuits: circuits.map((c) => c.missing), intervention: a.intervention, onRun: a.onRun });
  return { values: circuits.map((c, i) => (c.edges === 0 ? r.base.corrupted : r.values[i]!)), base: r.base };
}

/** Number of patched runs per batch `mibEvaluateImportances` makes (two curves of ten). */
export const MIB_IMPORTANCE_RUNS = 2 * MIB_FRACTIONS.length;

/** CPR and CMD of an importance file: top-n by signed score (CPR) and by |score| (CMD) at int(p · E) edges, pruned. */
export async function mibEvaluateImportances(a: MibEvaluateArgs & { graph: Graph }): Promise<MibResult> {
  const curves = [false, true].map((absolute) =>
    MIB_FRACTIONS.map((p) => {
      const g = a.graph.clone();
      const requested = mibItemCount(p, g.nEdges);
      topn(g, requested, { absolute });
      const c = prune(g);
      return { fraction: p, requested, edges: c.edges, nodes: c.nodes, missing: missingEdges(g) };
    }),
  );
  const { values, base } = await evaluateMasks(a, curves.flat());
  const [signed, absolute] = curves.map((cs, k): MibCurve => {
    const points = cs.map(({ missing: _, ...c }, i): MibPoint => {
      const m = values[k * cs.length + i]!;
      return { ...c, metric: m, faithfulness: faithfulness(m, base) };
    });
    return { absolute: k === 1, points, ...mibAreas(points.map((p) => p.faithfulness), { logScale: a.logScale }) };
  });
  return { mode: 'importances', logScale: !!a.logScale, baseline: base.clean, corrupted: base.corrupted, spread: base.spread, cpr: signed!.areaUnder, cmd: absolute!.areaFrom1, curves: { cpr: signed!, cmd: absolute! } };
}

/** CPR and CMD of given circuits (MIB's nine-file submission): each as flagged and pruned, sorted by size, F = 1 appended. */
export async function mibEvaluateCircuits(a: MibEvaluateArgs & { circuits: readonly { file: string; graph: Graph }[] }): Promise<MibResult> {
  if (a.circuits.length !== MIB_CIRCUIT_FRACTIONS.length) throw new Error(`mibEvaluateCircuits: ${a.circuits.length} circuits, MIB reads ${MIB_CIRCUIT_FRACTIONS.length}`);
  const total = a.circuits[0]!.graph.nEdges;
  const cs = a.circuits.map(({ file, graph }) => {
    const edges = graph.countEdgesInGraph(); // weighted_edge_count, taken before evaluate_graph prunes
    const g = graph.clone();
    const { nodes, edges: prunedEdges } = prune(g);
    return { file, edges, nodes, prunedEdges, missing: missingEdges(g) };
  });
  const { values, base } = await evaluateMasks(a, cs.map((c) => ({ edges: c.prunedEdges, missing: c.missing })));
  const fs = values.map((m) => faithfulness(m, base));
  // sort as MIB does (by count, then F) and carry each circuit's details along
  const order = mibCircuitOrder(cs.map((c) => c.edges), fs);
  const points: MibPoint[] = order.map((i, k) => ({
    fraction: MIB_FRACTIONS[k]!, requested: null, edges: cs[i]!.edges, nodes: cs[i]!.nodes, metric: values[i]!, faithfulness: fs[i]!, file: cs[i]!.file,
  }));
  points.push({ fraction: 1, requested: null, edges: total, nodes: a.circuits[0]!.graph.nSrc, metric: null, faithfulness: 1 });
  const curve: MibCurve = { absolute: null, points, ...mibAreas(points.map((p) => p.faithfulness), { logScale: a.logScale }) };
  return { mode: 'circuits', logScale: !!a.logScale, baseline: base.clean, corrupted: base.corrupted, spread: base.spread, cpr: curve.areaUnder, cmd: curve.areaFrom1, curves: { cpr: curve, cmd: curve } };
}
