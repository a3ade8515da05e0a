/**
 * Scores of every edge with one method of the registry by name: a gradient method (`attribute`) or a patching
 * one (`exactScores`), with progress in the unit each one counts. Shared by `eapgp attribute` and
 * `eapgp reproduce`.
 */
import type { MetricFn } from '../evaluation/patching.js';
import type { CausalLM } from '../models/model.js';
import { NonFiniteError } from '../util/finite.js';
import type { Progress } from '../util/progress.js';
import { circuitMeans, evaluateCircuitBatches } from '../evaluation/evaluate.js';
import { Graph } from '../graph/graph.js';
import type { GraphLayout } from '../models/layout.js';
import { attribute, attributeBatches, normaliseScores, type Scores } from './attribute.js';
import { exactCircuits, exactScores, exactScoresFrom } from './exact.js';
import { getMethod, methodNames } from './registry.js';
import type { AttributionOptions, LossFn, MethodName, PairBatch } from './types.js';

/** Every method name `scoreEdges` takes (the registry's, in its order). */
export const SCORE_METHODS: readonly string[] = methodNames();

export type ScoreMethod = MethodName;

/** `name` as a method; a UserError listing the methods otherwise. */
export function checkMethod(name: string): ScoreMethod {
  return getMethod(name).name;
}

const patches = (method: string): boolean => getMethod(method).kind === 'patching';

export interface ScoreEdgesArgs {
  model: CausalLM;
  batches: readonly PairBatch[];
  method: ScoreMethod;
  /** The attribution loss (gradient methods). */
  loss: LossFn;
  /** The task metric (exact patching). */
  metric: MetricFn;
  /** The method's options; `intervention` (exact patching): what a removed edge carries (default `patching`). */
  options?: AttributionOptions;
  /** Makes the progress reporter once the amount of work is known; finished here (failed on an error). */
  progress?: (p: { label: string; total: number; itemName: string }) => Progress;
}

export async function scoreEdges(a: ScoreEdgesArgs): Promise<Scores> {
  const { model, batches } = a;
  let progress: Progress | undefined;
  try {
    let scores: Scores;
    if (patches(a.method)) {
      const nEdges = model.layout.nEdges;
      progress = a.progress?.({ label: `${a.method} patching`, total: (nEdges + 1) * batches.length, itemName: 'runs' });
      scores = await exactScores({ model, batches, metric: a.metric, intervention: a.options?.intervention, onRun: () => progress?.add(1) });
    } else {
      const examples = batches.reduce((s, b) => s + b.n, 0);
      progress = a.progress?.({ label: `${a.method} attribution`, total: examples, itemName: 'examples' });
      scores = await attribute({ model, batches, method: a.method, loss: a.loss, options: a.options, onBatch: (n) => progress?.set(n) });
    }
    progress?.finish();
    return scores;
  } catch (e) {
    progress?.finish(true);
    // gradient methods name themselves and the batch; exact patching's evaluation names the batch only
    throw e instanceof NonFiniteError && patches(a.method) ? e.within(a.method) : e;
  }
}

/**
 * One batch's share of a method's scores, what a shard keeps (src/shard/): for a gradient method its
 * contribution on each edge (graph edge order), for exact patching each circuit's metric sum over the batch
 * (the full graph, then each edge removed). edgeScoresFrom adds them up as scoreEdges does.
 */
export interface BatchValues {
  index: number;
  examples: number;
  values: Float64Array;
}

/**
 * Runs the batches `indices` of scoreEdges, handing each batch's values to `each` (progress over these batches
 * only). For exact patching, `edges` [start, end) restricts the removed-edge circuits to those edges (graph edge
 * order): each batch's values are then the full graph's sum and those edges' sums.
 */
export async function scoreEdgeBatches(a: ScoreEdgesArgs, indices: readonly number[], each: (b: BatchValues) => void, edges?: { start: number; end: number }): Promise<void> {
  const { model, batches } = a;
  let progress: Progress | undefined;
  try {
    if (patches(a.method)) {
      const all = exactCircuits(model.layout).circuits;
      const circuits = edges ? [all[0]!, ...all.slice(1 + edges.start, 1 + edges.end)] : all;
      progress = a.progress?.({ label: `${a.method} patching`, total: circuits.length * indices.length, itemName: 'runs' });
      await evaluateCircuitBatches({ model, batches, metric: a.metric, circuits, average: 'batches', intervention: a.options?.intervention, stack: false, onRun: () => progress?.add(1) }, indices,
        (b) => each({ index: b.index, examples: b.examples, values: b.sums }));
    } else {
      progress = a.progress?.({ label: `${a.method} attribution`, total: indices.reduce((s, i) => s + batches[i]!.n, 0), itemName: 'examples' });
      const flat = Graph.of(model.layout).edgeFlatIndices();
      await attributeBatches({ model, batches, method: a.method, loss: a.loss, options: a.options }, indices, (b) => {
        each({ index: b.index, examples: b.examples, values: Float64Array.from(flat, (f) => b.sums[f]!) });
        progress?.add(b.examples);
      });
    }
    progress?.finish();
  } catch (e) {
    progress?.finish(true);
    throw e instanceof NonFiniteError && patches(a.method) ? e.within(a.method) : e;
  }
}

/**
 * The scores of scoreEdges from every batch's values (in batch order): the same additions in the same order,
 * so the same bits. `points` is the method's passes per batch (Scores.points; 1 for exact).
 */
export function edgeScoresFrom(method: ScoreMethod, layout: GraphLayout, records: readonly BatchValues[], points: number): Scores {
  const examples = records.reduce((s, r) => s + r.examples, 0);
  const edges = Graph.of(layout).edgeFlatIndices();
  if (patches(method)) {
    const sums = new Array<number>(edges.length + 1).fill(0);
    for (const r of records) r.values.forEach((v, i) => (sums[i]! += v));
    return exactScoresFrom(layout, edges, circuitMeans(sums, examples, records.length, 'batches'), examples);
  }
  const { nSrc, nDst } = layout;
  const S = new Float64Array(nSrc * nDst);
  for (const r of records) for (let k = 0; k < edges.length; k++) S[edges[k]!]! += r.values[k]!;
  return { scores: normaliseScores(S, examples, points), nSrc, nDst, examples, points };
}
