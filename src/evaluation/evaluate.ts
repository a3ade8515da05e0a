/**
 * Metrics of circuits: the clean model m(M), the empty circuit m(∅) (the corrupted run scored against the
 * clean labels) and patched circuits m(C), each a mean over examples; faithfulness
 * F(C) = (m(C) − m(∅)) / (m(M) − m(∅)).
 */
import { bytesPerExample, examplesThatFit, type PassShape } from '../attribution/memory-plan.js';
import { packPair, runInSlices, runInSlicesSync, type SliceRunOptions } from '../attribution/micro.js';
import type { PairBatch } from '../attribution/types.js';
import { firstNonFiniteHook } from '../models/finite-hooks.js';
import type { CausalLM } from '../models/model.js';
import type { Tensor } from '../engine/tensor.js';
import { Graph } from '../graph/index.js';
import type { Batch } from '../models/batch.js';
import type { GraphLayout } from '../models/layout.js';
import { firstNonFinite, NonFiniteError } from '../util/finite.js';
import { nextTick } from '../util/ticks.js';
import { gapSpread, type GapSpread } from './degenerate.js';
import { patchBuffers, patchesNothing, patchPlan } from './patch-plan.js';
import { patchedFinals } from './patched-run.js';
import { sourceMeans, usesMeans } from './means.js';
import { baselineLogits, referenceRuns, type Intervention, type MetricFn, type MissingEdges } from './patching.js';

/** Logits held at once when unembedding several circuits' last rows together: 32 MiB (at least one circuit's). */
const UNEMBED_FLOATS = 8 << 20;
/**
 * Rows a stacked patched run aims for (patched-run.ts), and the most circuits in one: measured on GPT-2 small's
 * shape at the 100 rows after IOI's shared clean prefix, a circuit's run costs 230 ms alone, 194 ms in stacks of
 * 4 and 179 ms in stacks of 8 (the heap's room for the whole batch caps it further).
 */
const STACK_ROWS = 800;
const STACK_MAX = 8;

export interface Baselines {
  /** m(M): the clean model's metric. */
  clean: number;
  /**
   * m(∅): the corrupted input's metric with the clean labels; under an ablation, evaluation's m(∅) is the empty
   * circuit's run (the fully ablated model, as EAP-IG's evaluate_graph gives it for an empty graph).
   */
  corrupted: number;
  /** Spread of the per-example m_i(M) − m_i(∅) (see degenerate.ts), when computed from the examples. */
  spread?: GapSpread;
}

/** Slicing of a batch for a computation of this shape (micro.ts, memory-plan.ts). */
export function sliceOptions(model: CausalLM, whole: PairBatch, what: string, shape: PassShape): SliceRunOptions {
  const { nLayer: L, nHead: H, dModel: D } = model.dims;
  return {
    perExample: bytesPerExample(model.dims, whole.clean.P, shape),
    what: `${what} on ${L} layers × ${H} heads × d ${D}`,
    weightsInHeap: model.residentLayerBytes,
  };
}

/** Per-example metric values of the clean and the corrupted runs, in batch order (of the batches `indices`, default all). */
export function baselineValues(
  model: CausalLM, batches: readonly PairBatch[], metric: MetricFn, indices: readonly number[] = batches.map((_, i) => i),
): { clean: number[]; corrupted: number[] } {
  const clean: number[] = [], corrupted: number[] = [];
  for (const bi of indices) {
    const whole = batches[bi]!;
    const first = batches.slice(0, bi).reduce((s, b) => s + b.n, 0);
    // a forward pass and a shared clean prefix's attention inputs (q, k and v of every layer)
    const opts = sliceOptions(model, whole, 'a forward pass', { buffers: 4 * model.dims.nLayer, taped: false, headCopies: 'none' });
    runInSlicesSync(model.engine, whole, opts, (slice) => {
      const b = packPair(slice), logits = baselineLogits(model, b);
      const where = `batch ${bi + 1} of ${batches.length} (examples ${first + 1}–${first + whole.n})`;
      const [c, x] = (['clean', 'corrupted'] as const).map((which) => checkedMetric(model, metric, b, logits[which], `the ${which} run`, where, b[which]));
      clean.push(...c!);
      corrupted.push(...x!);
    });
  }
  return { clean, corrupted };
}

/**
 * The metric of a run's last-position logits on a packed batch, or a NonFiniteError naming the run (`run`, e.g.
 * "the clean run") and, when the logits are not finite and `input` is given, the first non-finite hook point of
 * that input's forward pass.
 */
function checkedMetric(model: CausalLM, metric: MetricFn, b: PairBatch, logits: Float32Array, run: string, where: string, input?: Batch): Float64Array {
  const values = metric(logits, b.n, model.dims.vocabSize, b.labels);
  if (firstNonFinite(values) < 0) return values;
  const site = firstNonFinite(logits) >= 0 ? 'activation' : 'metric';
  const hook = site === 'activation' && input ? firstNonFiniteHook(model, { batch: input }) : null;
  throw new NonFiniteError(site, site === 'metric' ? `the metric of ${run}` : hook ? `${hook} in ${run}` : `the logits of ${run}`, [where]);
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

export function baselines(model: CausalLM, batches: readonly PairBatch[], metric: MetricFn): Baselines {
  return baselinesOf(baselineValues(model, batches, metric));
}

/**
 * m(M) and m(∅) as evaluation under `intervention` reports them: the clean and corrupted runs under patching;
 * under an ablation m(∅) is the empty circuit's run (the fully ablated model), with the spread of its gaps.
 */
export async function baselinesUnder(model: CausalLM, batches: readonly PairBatch[], metric: MetricFn, intervention: Intervention = 'patching'): Promise<Baselines> {
  if (intervention === 'patching') return baselines(model, batches, metric);
  return (await evaluateWithBaselines({ model, batches, metric, circuits: [], intervention })).base;
}

/** The baselines of per-example values (all of them, in batch order). */
export function baselinesOf(v: { clean: readonly number[]; corrupted: readonly number[] }): Baselines {
  return { clean: mean(v.clean), corrupted: mean(v.corrupted), spread: gapSpread(v.clean, v.corrupted) };
}

export interface EvaluateCircuitsArgs {
  model: CausalLM;
  batches: readonly PairBatch[];
  metric: MetricFn;
  /** One missing-edge matrix per circuit. */
  circuits: readonly MissingEdges[];
  intervention?: Intervention;
  /** Mean over examples (default) or EAP-IG's mean of per-batch means (used by `exact`). */
  average?: 'examples' | 'batches';
  /** Called after each (batch, circuit) run. */
  onRun?: () => void;
  /**
   * Stack circuits along the batch and unembed their last rows together (default true). A stacked circuit's m(C) can differ in the last bits from its
   * run alone (a BLAS product rounds a row by where it sits among the product's rows), so callers whose circuit
   * lists differ between runs that must agree bit for bit (exact patching's shards over edges) turn it off.
   */
  stack?: boolean;
}

/** m(C) for each circuit. The intervention's cache is computed once per batch and shared by all circuits. */
export async function evaluateCircuits(a: EvaluateCircuitsArgs): Promise<number[]> {
  return (await evaluateWithBaselines(a)).values;
}

/**
 * m(C) for each circuit, and the baselines m(M) and m(∅) of the same examples, which the clean and corrupted runs
 * every batch's patched runs start from give at no extra cost.
 */
export async function evaluateWithBaselines(a: EvaluateCircuitsArgs): Promise<{ values: number[]; base: Baselines }> {
  const sums = a.circuits.map(() => 0);
  const clean: number[] = [], corrupted: number[] = [];
  let N = 0;
  await evaluateCircuitBatches(a, a.batches.map((_, i) => i), (b) => {
    b.sums.forEach((s, i) => (sums[i]! += s));
    clean.push(...b.clean);
    corrupted.push(...b.corrupted);
    N += b.examples;
  });
  return { values: circuitMeans(sums, N, a.batches.length, a.average), base: baselinesOf({ clean, corrupted }) };
}

/** The circuits' sums over every batch (added in batch order) as means over examples, or over batches. */
export function circuitMeans(sums: readonly number[], examples: number, batches: number, average: 'examples' | 'batches' = 'examples'): number[] {
  return sums.map((s) => (average === 'batches' ? s / batches : s / examples));
}

/**
 * One batch's share of the circuits' metrics: per circuit, the sum of the metric over the batch's examples
 * (divided by the batch's size when averaging over batches). The total is these added in batch order.
 */
export interface CircuitBatchSums {
  index: number;
  examples: number;
  sums: Float64Array;
  /** The batch's per-example metric of the clean and the corrupted runs (the baselines' share), in order. */
  clean: Float64Array;
  corrupted: Float64Array;
}

/** Runs the batches `indices` (in that order) of evaluateCircuits, handing each one's sums to `each`. */
export async function evaluateCircuitBatches(a: EvaluateCircuitsArgs, indices: readonly number[], each: (b: CircuitBatchSums) => void): Promise<void> {
  const { model, batches, metric } = a;
  const e = model.engine;
  const intervention = a.intervention ?? 'patching';
  // the dataset means are over every batch, also when this call runs a few of them
  const means = usesMeans(intervention) ? sourceMeans(model, batches, intervention === 'mean-positional') : undefined;
  const V = model.dims.vocabSize, D = model.dims.dModel;
  // equal circuits (budgets that prune to the same circuit) run once; plans serve every batch
  const first = firstEqual(a.circuits);
  const plans = a.circuits.map((m, i) => (first[i] === i ? patchPlan(model.layout, m) : null));
  // under an ablation m(∅) is the empty circuit's run, one more per batch
  const emptyPlan = intervention === 'patching' ? null : patchPlan(model.layout, emptyCircuit(model.layout));
  const buffers = patchBuffers(model.layout, [...plans, emptyPlan].filter((p) => p !== null));
  for (const bi of indices) {
    const whole = batches[bi]!;
    const N = batches.slice(0, bi).reduce((s, b) => s + b.n, 0);
    const sums = new Float64Array(a.circuits.length);
    const clean: number[] = [], corrupted: number[] = [];
    // per example: the intervention's cache and the running differences [nSrc, rows, D], and the widest layer's inputs
    const one = sliceOptions(model, whole, 'edge patching', { buffers, taped: false, headCopies: 'none' });
    // circuits stacked along the batch, as many as the heap holds for the whole batch (up to STACK_MAX)
    const stackMax = a.stack === false ? 1 : Math.min(STACK_MAX, Math.max(1, Math.floor(examplesThatFit(e.heap, one.perExample) / whole.n)));
    const opts = { ...one, perExample: stackMax * one.perExample };
    const where = `edge patching, batch ${bi + 1} of ${batches.length} (examples ${N + 1}–${N + whole.n})`;
    let done = 0, reported = 0;
    await runInSlices(e, whole, opts, async (slice) => {
      const last = done + slice.n === whole.n;
      const batch = packPair(slice); // padding rows never reach a real position: skip them
      const sliceSums = a.circuits.map(() => 0); // committed only when the whole slice has run
      const arena = e.beginArena();
      const circuitSum = (i: number, logits: Float32Array): number =>
        checkedMetric(model, metric, batch, logits, `the patched run of circuit ${i + 1} of ${a.circuits.length}`, where).reduce((x, y) => x + y, 0);
      let base: [Float64Array, Float64Array];
      try {
        // the clean and corrupted runs: the baselines, the intervention's cache and a shared clean prefix's rows
        const ref = referenceRuns(model, batch, intervention, means);
        const corrupted = ref.corrupted ?? e.tidy(() => model.unembed(patchedFinals({ model, input: batch.clean, plans: [emptyPlan!], cache: ref.cache })).toArray());
        base = [
          checkedMetric(model, metric, batch, ref.clean, 'the clean run', where, batch.clean),
          ref.corrupted
            ? checkedMetric(model, metric, batch, corrupted, 'the corrupted run', where, batch.corrupted)
            : checkedMetric(model, metric, batch, corrupted, 'the fully ablated run (the empty circuit)', where),
        ];
        // the patched runs, a stack of circuits per pass, their last rows unembedded a few circuits at a time (one
        // pass over the vocabulary matrix)
        const n = batch.n, BV = n * V;
        const rowsPerCircuit = ref.rows ? ref.rows.keep.length : batch.clean.ids.length;
        const stack = Math.min(stackMax, Math.ceil(STACK_ROWS / rowsPerCircuit));
        const pending: { circuits: number[]; x: Tensor }[] = [];
        let pendingCount = 0;
        const unembedPending = (): void => {
          const logits = e.tidy(() => {
            const x = e.empty([pendingCount * n, D]);
            let at = 0;
            for (const p of pending) {
              e.kernels.scale(p.x.ptr, 1, x.ptr + 4 * at * D, p.x.size);
              at += p.x.size / D;
            }
            return model.unembed(x).toArray();
          });
          let j = 0;
          for (const p of pending) for (const i of p.circuits) sliceSums[i] = circuitSum(i, logits.subarray(j * BV, (j++ + 1) * BV));
          pending.length = 0;
          pendingCount = 0;
        };
        // unembedded together only with stacking (a product rounds a row by its place among the rows too)
        const group = a.stack === false ? 1 : Math.max(1, Math.floor(UNEMBED_FLOATS / BV));
        const runs: number[] = [];
        a.circuits.forEach((_, i) => {
          if (first[i] !== i) return;
          if (patchesNothing(plans[i]!)) sliceSums[i] = circuitSum(i, ref.clean); // every edge in: the clean run itself
          else runs.push(i);
        });
        for (let r = 0; r < runs.length; r += stack) {
          const circuits = runs.slice(r, r + stack);
          await nextTick();
          const x = patchedFinals({ model, input: batch.clean, plans: circuits.map((i) => plans[i]!), cache: ref.cache, rows: ref.rows ?? undefined });
          pending.push({ circuits, x });
          pendingCount += circuits.length;
          if (pendingCount >= group) unembedPending();
          // one run per (batch, circuit), however it is sliced (a retried slice does not count twice)
          for (let j = 0; j < circuits.length && last && reported < runs.length; j++) {
            reported++;
            a.onRun?.();
          }
        }
        if (pending.length) unembedPending();
        // equal circuits and every-edge circuits count as runs too
        while (last && reported < a.circuits.length) {
          reported++;
          a.onRun?.();
        }
        a.circuits.forEach((_, i) => (sliceSums[i] = sliceSums[first[i]!]!));
      } finally {
        e.endArena(arena);
      }
      sliceSums.forEach((s, i) => (sums[i]! += a.average === 'batches' ? s / whole.n : s));
      clean.push(...base[0]);
      corrupted.push(...base[1]);
      done += slice.n;
    });
    each({ index: bi, examples: whole.n, sums, clean: Float64Array.from(clean), corrupted: Float64Array.from(corrupted) });
  }
}

/** The empty circuit of a graph layout: every real edge missing. */
function emptyCircuit(layout: GraphLayout): MissingEdges {
  return Uint8Array.from(Graph.of(layout).realMask, (x) => (x ? 1 : 0));
}

/** Per circuit, the index of the first circuit equal to it (itself when none before is). */
export function firstEqual(circuits: readonly MissingEdges[]): number[] {
  const seen = new Map<number, number[]>();
  return circuits.map((m, i) => {
    let h = 0x811c9dc5; // FNV-1a over the mask
    for (let j = 0; j < m.length; j++) h = Math.imul(h ^ m[j]!, 0x01000193);
    const same = seen.get(h) ?? [];
    for (const j of same) if (equalBytes(circuits[j]!, m)) return j;
    seen.set(h, [...same, i]);
    return i;
  });
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
/** F(C) = (m(C) − m(∅)) / (m(M) − m(∅)); NaN when the clean and corrupted metrics coincide. */
export function faithfulness(m: number, base: Baselines): number {
  const d = base.clean - base.corrupted;
  return d === 0 ? NaN : (m - base.corrupted) / d;
}
