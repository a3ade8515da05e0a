/**
 * Evaluation by edge patching (DESIGN.md §5; EAP-IG's evaluate_graph). One run caches the intervention's
 * source outputs ã_u (the corrupted run, zeros, or a dataset mean: means.ts); in the clean run every destination input
 * becomes x_v + Σ_{u→v ∉ circuit} (ã_u − a*_u), where a*_u is u's output in this (patched) run. Edges in the
 * circuit carry the run's own activations, all others the intervention's: all edges in ⇒ the clean metric,
 * none ⇒ the corrupted one. How the corrections are laid out: patch-plan.ts; the patched pass: patched-run.ts; with the corrupted run as the
 * intervention, a run computes only the rows after each example's shared clean prefix (sharedPrefix).
 */
import type { PairBatch } from '../attribution/types.js';
import type { Engine } from '../engine/engine.js';
import * as ops from '../engine/ops.js';
import type { Tensor } from '../engine/tensor.js';
import { lastRows, rowStarts } from '../models/batch.js';
import type { CausalLM } from '../models/model.js';
import type { RowSubset } from '../models/row-subset.js';
import { writeAblated, type Intervention, type SourceMeans } from './means.js';
import { patchedFinals } from './patched-run.js';
import { patchesNothing, patchPlan, type PatchPlan } from './patch-plan.js';

export { INTERVENTIONS, type Intervention } from './means.js';

/** Per-example task metric from last-position logits [B, V]. */
export type MetricFn = (logits: Float32Array, B: number, V: number, labels: unknown[]) => Float64Array;

/**
 * Which real edges are *missing* from the circuit: a row-major [nSrc, nDst] 0/1 matrix (1 = patched). The
 * parents of a destination are a prefix of the source order, so only that prefix is read.
 */
export type MissingEdges = Uint8Array;

export interface PatchedRunArgs {
  model: CausalLM;
  batch: PairBatch;
  missing: MissingEdges;
  /** patchPlan(layout, missing), when already made (one serves every batch). */
  plan?: PatchPlan;
  intervention: Intervention;
  /** Dataset means, for the `mean` and `mean-positional` interventions (means.ts). */
  means?: SourceMeans;
  /** The intervention's source outputs for this batch [nSrc, R, D] when already computed (see interventionCache). */
  cache?: Tensor;
  /** Only these rows of the batch (sharedPrefix; the cache then holds them alone). */
  rows?: RowSubset;
}

/** Per example, the position of its first token that differs between the clean and corrupted prompts (its length when none does). */
function firstDifferences(batch: PairBatch): Int32Array {
  const { clean: c, corrupted: x } = batch;
  const starts = rowStarts(c);
  return Int32Array.from(c.lengths, (n, b) => {
    let f = 0;
    while (f < n && c.ids[starts[b]! + f] === x.ids[starts[b]! + f]) f++;
    return f;
  });
}

/**
 * The rows a patched run must compute when the intervention is the corrupted run: in each example, from its first
 * token that differs between the clean and corrupted prompts on (before it both runs compute the same, so every
 * ã_u − a*_u is zero there and the patched run is the clean run), and its last row always. Null when that is every
 * row.
 */
function rowsAfterSharedPrefix(batch: PairBatch): Int32Array | null {
  const c = batch.clean, starts = rowStarts(c), keep: number[] = [];
  firstDifferences(batch).forEach((f, b) => {
    for (let p = Math.min(f, c.lengths[b]! - 1); p < c.lengths[b]!; p++) keep.push(starts[b]! + p);
  });
  return keep.length === c.ids.length ? null : Int32Array.from(keep);
}

/**
 * The corrupted run's logits with the rows of examples whose clean and corrupted prompts are identical taken from
 * the clean run: the same input gives the same output exactly, also where the subset pass would round differently.
 */
function sameWhereIdentical(batch: PairBatch, clean: Float32Array, corrupted: Float32Array): Float32Array {
  const V = clean.length / batch.n;
  firstDifferences(batch).forEach((f, b) => {
    if (f === batch.clean.lengths[b]) corrupted.set(clean.subarray(b * V, (b + 1) * V), b * V);
  });
  return corrupted;
}

/** A forward pass without a tape (nothing here is differentiated), restoring the engine's tape after. */
function untaped<T>(e: Engine, f: () => T): T {
  const prev = e.tape;
  e.tape = null;
  try {
    return f();
  } finally {
    e.tape = prev;
  }
}

/**
 * The clean run of a batch: its last-position logits [B, V] and, when `subset` and the prompts share a clean
 * prefix, the rows after it (rowsAfterSharedPrefix) with the run's attention inputs over every row, kept in the
 * current arena (row-subset.ts): end it only after the last run over the subset.
 */
function cleanRun(model: CausalLM, batch: PairBatch, subset: boolean): { logits: Float32Array; rows: RowSubset | null } {
  const e = model.engine;
  const keep = subset ? rowsAfterSharedPrefix(batch) : null;
  let logits: Float32Array | null = null;
  // the attention inputs are returned from the tidy, so they outlive it
  const attn = untaped(e, () => e.tidy(() => {
    const kept: Tensor[][] = [];
    const keepAttn = keep ? (l: number, t: readonly Tensor[]) => void (kept[l] = t.map((v) => e.keep(v))) : undefined;
    logits = model.forward(batch.clean, { keepAttn, logits: 'last' }).logits!.toArray();
    return kept;
  }));
  return { logits: logits!, rows: keep ? { keep, attn: (l) => attn[l]! } : null };
}

/** The rows after each example's shared clean prefix (see rowsAfterSharedPrefix; null: every row), from one clean run. */
export function sharedPrefix(model: CausalLM, batch: PairBatch): RowSubset | null {
  return cleanRun(model, batch, true).rows;
}

/**
 * The intervention's source outputs ã for a batch [nSrc, R, D] (R: its rows, or the subset's), in the current arena,
 * and for the patching intervention with `logits`, the corrupted run's last-position logits from the run that
 * records ã (over the subset: its rows before are the clean run's).
 */
function intervene(
  model: CausalLM, batch: PairBatch, intervention: Intervention, means: SourceMeans | undefined, rows: RowSubset | null | undefined, logits: boolean,
): { cache: Tensor; corrupted: Float32Array | null } {
  const e = model.engine;
  const D = model.dims.dModel;
  const nSrc = model.layout.nSrc, R = rows ? rows.keep.length : batch.clean.ids.length;
  const out = e.empty([nSrc, R, D]);
  if (rows && intervention !== 'patching') throw new Error('a row subset serves the patching intervention only');
  if (intervention === 'patching') {
    const corrupted = untaped(e, () => e.tidy(() => {
      const r = model.forward(batch.corrupted, { rows: rows ?? undefined, record: { buf: out, alpha: 1, write: true }, logits: logits ? 'last' : 'none' });
      return logits ? r.logits!.toArray() : null;
    }));
    return { cache: out, corrupted };
  }
  writeAblated(out, intervention, means, batch.clean);
  return { cache: out, corrupted: null };
}

/** The intervention's source outputs ã for a batch [nSrc, R, D] (R: its rows, or the subset's), in the current arena. */
export function interventionCache(model: CausalLM, batch: PairBatch, intervention: Intervention, means?: SourceMeans, rows?: RowSubset | null): Tensor {
  return intervene(model, batch, intervention, means, rows, false).cache;
}

/**
 * What every patched run of a batch shares: the clean run's last-position logits (m(M) of the batch), the
 * intervention's cache and, for the patching intervention, the corrupted run's logits (m(∅)) from the pass that
 * records the cache and the rows after the shared clean prefix (null: every row). Under an ablation the corrupted
 * prompts are not run: m(∅) is the empty circuit's patched run (evaluate.ts). In the current arena: end it after
 * the batch's runs.
 */
export interface ReferenceRuns {
  clean: Float32Array;
  corrupted: Float32Array | null;
  cache: Tensor;
  rows: RowSubset | null;
}

/**
 * The clean and corrupted runs' last-position logits as evaluation computes them (referenceRuns): the corrupted run
 * over the rows after the shared clean prefix, so every command's baselines are the same numbers.
 */
export function baselineLogits(model: CausalLM, batch: PairBatch): { clean: Float32Array; corrupted: Float32Array } {
  const e = model.engine;
  const arena = e.beginArena();
  try {
    const { logits: clean, rows } = cleanRun(model, batch, true);
    const corrupted = untaped(e, () => e.tidy(() => model.forward(batch.corrupted, { rows: rows ?? undefined, logits: 'last' }).logits!.toArray()));
    return { clean, corrupted: sameWhereIdentical(batch, clean, corrupted) };
  } finally {
    e.endArena(arena);
  }
}

export function referenceRuns(model: CausalLM, batch: PairBatch, intervention: Intervention, means?: SourceMeans): ReferenceRuns {
  if (intervention !== 'patching') {
    // the patched runs compute every row (the intervention differs from the clean run before the first corrupted token)
    return { clean: cleanRun(model, batch, false).logits, corrupted: null, cache: intervene(model, batch, intervention, means, null, false).cache, rows: null };
  }
  const { logits: clean, rows } = cleanRun(model, batch, true);
  const { cache, corrupted } = intervene(model, batch, intervention, means, rows, true);
  return { clean, corrupted: sameWhereIdentical(batch, clean, corrupted!), cache, rows };
}

/** Last-position logits [B, V] of the clean input with the missing edges patched (see patch-plan.ts). */
export function patchedLogits(a: PatchedRunArgs): Float32Array {
  const e = a.model.engine;
  return e.tidy(() => a.model.unembed(patchedFinal(a)).toArray());
}

/**
 * The final-normed residual stream at each example's last position [B, D] of the patched run, in the current arena:
 * the logits are model.unembed of it, which evaluation does for several circuits in one product (the vocabulary
 * matrix read once for all of them).
 */
export function patchedFinal(a: PatchedRunArgs): Tensor {
  const { model, batch } = a;
  const e = model.engine;
  const plan = a.plan ?? patchPlan(model.layout, a.missing);
  const input = batch.clean;
  // every edge in: the plain forward pass over every row
  if (patchesNothing(plan)) {
    return e.tidy(() => model.finalNorm(ops.gatherRows(model.forward(input, { logits: 'none' }).residFinal, e.fromArray(lastRows(input), [input.B], 'i32'))));
  }
  return e.tidy(() => {
    const cache = a.cache ?? interventionCache(model, batch, a.intervention, a.means, a.rows);
    return patchedFinals({ model, input, plans: [plan], cache, rows: a.rows });
  });
}
