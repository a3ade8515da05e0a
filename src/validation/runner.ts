/**
 * Validation against the ground truth: exact patching scores every edge (one patched forward pass per edge
 * and batch), then each attribution variant is scored on the same batches and compared with it:
 *   - Spearman ρ and Kendall τ-b of |score| vs |exact effect| over all real edges;
 *   - precision of its top-n edges against the top-n exact edges, for several n;
 *   - the faithfulness curve of its circuits (greedy by |score|, pruned, edge patching) over the MIB edge
 *     fractions, with CPR and CMD; the exact scores' own curve is the reference;
 *   - its attribution time.
 * Under an ablation (`intervention` zero, mean or mean-positional) the ground truth is exact patching under that
 * ablation (a removed edge carries the ablated value), the variants are scored under it, and the circuits are
 * evaluated under it with m(∅) the fully ablated model.
 */
import { scoreEdges, type ScoreMethod } from '../attribution/score.js';
import type { LossFn, PairBatch } from '../attribution/types.js';
import { baselinesUnder, type Baselines } from '../evaluation/evaluate.js';
import type { Intervention, MetricFn } from '../evaluation/patching.js';
import { MIB_FRACTIONS, fractionBudgets, sweep, type SweepResult } from '../evaluation/sweep.js';
import { Graph } from '../graph/index.js';
import type { CausalLM } from '../models/model.js';
import { UserError } from '../util/errors.js';
import type { Progress } from '../util/progress.js';
import { precisionAtN } from './top-n.js';
import { kendallTauB, spearman } from './rank-stats.js';
import type { Variant } from './variants.js';
import { exact as exactMethod } from '../attribution/exact-method.js';

/** Fractions of the edge count at which precision@n is reported by default. */
export const PRECISION_FRACTIONS = [0.01, 0.02, 0.05, 0.1, 0.2] as const;

/** The default n values of precision@n: PRECISION_FRACTIONS of the edge count, at least 1, without repeats. */
export function precisionBudgets(nEdges: number): number[] {
  return [...new Set(PRECISION_FRACTIONS.map((f) => Math.max(1, Math.round(f * nEdges))))];
}

/** How one variant compares with exact patching. */
export interface VariantResult {
  name: string;
  method: Variant['method'];
  options: Variant['options'];
  /** Wall-clock seconds of the attribution. */
  seconds: number;
  spearman: number;
  kendall: number;
  /** precision@n for each n of ValidationResult.topN, in that order. */
  precision: number[];
  faithfulness: SweepResult;
}

export interface ValidationResult {
  /** Real edges of the graph (the length of every ranking compared). */
  edges: number;
  examples: number;
  /** What a removed edge carries, in exact patching and every circuit's evaluation (the variants take it too). */
  intervention: Intervention;
  /** m(M) and m(∅) (under an ablation, the fully ablated model's run). */
  baseline: Baselines;
  /** n values of precision@n. */
  topN: number[];
  /** Edge budgets of the faithfulness curves, one per MIB fraction. */
  budgets: number[];
  fractions: number[];
  exact: { seconds: number; scores: Float64Array; faithfulness: SweepResult };
  variants: VariantResult[];
}

export interface ValidateArgs {
  model: CausalLM;
  batches: readonly PairBatch[];
  metric: MetricFn;
  loss: LossFn;
  variants: readonly Variant[];
  /** The intervention of exact patching and of the circuits' evaluation (default patching); the variants' own (variants.ts). */
  intervention?: Intervention;
  /** m(M) and m(∅) under that intervention when already computed (baselinesUnder). */
  base?: Baselines;
  /** n values of precision@n (default precisionBudgets of the edge count). */
  topN?: readonly number[];
  /** Exact patching's scores when already computed (the merged parts of a sharded run): not recomputed, 0 s. */
  exact?: Float64Array;
  /** Makes a progress reporter for each phase (exact patching, each attribution, the sweeps), as scoreEdges does. */
  progress?: (p: { label: string; total: number; itemName: string }) => Progress;
}

/** Values of `dense` at the real edges, in the graph's edge order. */
function atEdges(dense: Float64Array, edges: readonly number[]): Float64Array {
  return Float64Array.from(edges, (i) => dense[i]!);
}

export async function validate(a: ValidateArgs): Promise<ValidationResult> {
  const { model, batches, metric } = a;
  const graph = Graph.of(model.layout);
  const edges = Array.from(graph.edgeFlatIndices());
  const topN = [...(a.topN ?? precisionBudgets(graph.nEdges))];
  for (const n of topN) {
    if (!Number.isSafeInteger(n) || n < 1 || n > graph.nEdges) throw new UserError(`--top: n = ${n} must be an integer in 1..${graph.nEdges} (the model's edge count)`);
  }
  const budgets = fractionBudgets(graph.nEdges);
  const fractions = [...MIB_FRACTIONS];
  const examples = batches.reduce((s, b) => s + b.n, 0);
  /** Scores and wall-clock seconds of one method. */
  const timed = async (label: string, method: ScoreMethod, options?: Variant['options']) => {
    const t0 = performance.now();
    const { scores } = await scoreEdges({
      model, batches, method, loss: a.loss, metric, options,
      progress: a.progress && ((p) => a.progress!({ ...p, label })),
    });
    return { scores, seconds: (performance.now() - t0) / 1000 };
  };
  const intervention = a.intervention ?? 'patching';
  for (const v of a.variants) {
    const own = v.options.intervention ?? 'patching';
    if (own !== intervention) throw new Error(`validate: variant ${v.name} runs under ${own}, the validation under ${intervention}`);
  }
  const exact = a.exact ? { scores: a.exact, seconds: 0 } : await timed('exact patching', exactMethod.name, { intervention });
  const truth = atEdges(exact.scores, edges).map(Math.abs);
  const scored: { v: Variant; scores: Float64Array; seconds: number }[] = [];
  for (const v of a.variants) scored.push({ v, ...(await timed(`${v.name} attribution`, v.method, v.options)) });

  const base = a.base ?? (await baselinesUnder(model, batches, metric, intervention));
  const sweeps = a.progress?.({ label: 'faithfulness sweeps', total: (a.variants.length + 1) * budgets.length * batches.length, itemName: 'runs' });
  const curve = (scores: Float64Array): Promise<SweepResult> => {
    const g = graph.clone();
    g.setScoresDense(scores);
    return sweep({ model, batches, metric, graph: g, budgets, fractions, base, intervention, onRun: () => sweeps?.add(1) });
  };
  const exactCurve = await curve(exact.scores);
  const variants: VariantResult[] = [];
  for (const { v, scores, seconds } of scored) {
    const mine = atEdges(scores, edges).map(Math.abs);
    variants.push({
      name: v.name, method: v.method, options: v.options, seconds,
      spearman: spearman(mine, truth), kendall: kendallTauB(mine, truth),
      precision: precisionAtN(mine, truth, topN),
      faithfulness: await curve(scores),
    });
  }
  sweeps?.finish();
  return { edges: graph.nEdges, examples, intervention, baseline: base, topN, budgets, fractions, exact: { seconds: exact.seconds, scores: exact.scores, faithfulness: exactCurve }, variants };
}
