/**
 * Evaluation by node (and neuron) patching: one run caches the intervention's source outputs ã_u (the corrupted
 * run, zeros or a dataset mean: means.ts); in the clean run every source's output is replaced, where it hooks
 * out (token embedding, each head after W_O, each MLP), by
 *   a_u + (1 − m_u) ⊙ (ã_u − a_u)
 * with m_u its keep mask over the output's d_model dimensions (NodeGraph.keepMask: 1 for a node in the circuit,
 * 0 for one out of it, per dimension at the neuron level). Every reader of u sees the same patched output, unlike
 * edge patching; at the node level this equals edge patching of the edges between kept nodes (tested). All nodes
 * in ⇒ the clean run; none ⇒ every source at its intervention value, the corrupted run for `patching`.
 * MLP-neuron patching (`hiddenMasks`, NodeGraph.mlpKeepMask) patches the MLPs' hidden units instead, at hook_post:
 *   h + (1 − m_l) ⊙ (h̃ − h),  h̃ the corrupted run's hidden units,
 * every node output otherwise the run's own. All units kept ⇒ the clean run; none ⇒ each MLP computes its output
 * from the corrupted hidden units while attention stays clean: for an MLP output linear in h (all but Gemma 2)
 * that is node patching with every MLP out and every other node in (tested), not the corrupted run.
 */
import type { PairBatch } from '../attribution/types.js';
import type { Tensor } from '../engine/tensor.js';
import { hookNames, type ForwardHook } from '../models/hooks.js';
import type { CausalLM } from '../models/model.js';
import { baselinesOf, faithfulness, type Baselines } from './evaluate.js';
import { sourceMeans, usesMeans, type Intervention } from './means.js';
import type { MetricFn } from './patching.js';
import { interventionCache } from './patching.js';
import { UserError } from '../util/errors.js';

export interface NodeEvaluationArgs {
  model: CausalLM;
  batches: readonly PairBatch[];
  metric: MetricFn;
  /** Keep masks, each [nSrc, D] (NodeGraph.keepMask). */
  masks: readonly Float32Array[];
  /** Per mask, the MLPs' hidden units kept [L, F] (NodeGraph.mlpKeepMask), or null: none patched. Corrupted run only. */
  hiddenMasks?: readonly (Float32Array | null)[];
  intervention?: Intervention;
  /** Called after each patched run. */
  onRun?: () => void;
}

export interface NodeEvaluation {
  /** m(C) of each mask, the mean over examples. */
  values: number[];
  faithfulness: number[];
  /** m(M) (the clean run) and m(∅) (every source at its intervention value). */
  base: Baselines;
}

/** Whether every value of a source's rows [u0, u0 + count) of the mask is 1. */
function keepsAll(mask: Float32Array, u0: number, count: number, D: number): boolean {
  for (let i = u0 * D; i < (u0 + count) * D; i++) if (mask[i] !== 1) return false;
  return true;
}

/**
 * A hook replacing sources u0 … u0 + count − 1 (their outputs stacked [count, R, D], or [R, D]) by the patched
 * value; nothing when every one keeps its own output (the run stays the plain forward pass there).
 */
function patchHook(model: CausalLM, mask: Float32Array, cache: Tensor, u0: number, count: number): ForwardHook | undefined {
  const e = model.engine, D = model.dims.dModel;
  if (keepsAll(mask, u0, count, D)) return undefined;
  return (v) => {
    const out = e.empty(v.shape);
    const RD = v.size / count, R = RD / D;
    const x = v.data(), c = cache.data(), o = out.data();
    for (let i = 0; i < count; i++) {
      const u = u0 + i, xo = i * RD, co = u * RD;
      for (let r = 0; r < R; r++) {
        for (let d = 0; d < D; d++) {
          const k = r * D + d, keep = mask[u * D + d]!;
          o[xo + k] = keep === 1 ? x[xo + k]! : keep === 0 ? c[co + k]! : x[xo + k]! + (1 - keep) * (c[co + k]! - x[xo + k]!);
        }
      }
    }
    return out;
  };
}

/** Hooks at hook_post replacing the hidden units a mask [L, F] does not keep by the cached h̃ [L, R, F]. */
function hiddenHooks(model: CausalLM, mask: Float32Array, cache: Tensor, hooks: Record<string, ForwardHook>): void {
  const e = model.engine, L = model.dims.nLayer, F = mask.length / L;
  for (let l = 0; l < L; l++) {
    if (keepsAll(mask, l, 1, F)) continue;
    hooks[hookNames.mlpPost(l)] = (v) => {
      const out = e.empty(v.shape), R = v.size / F, co = l * R * F;
      const x = v.data(), c = cache.data(), o = out.data();
      for (let r = 0; r < R; r++) {
        for (let j = 0; j < F; j++) {
          const k = r * F + j, keep = mask[l * F + j]!;
          o[k] = keep === 1 ? x[k]! : keep === 0 ? c[co + k]! : x[k]! + (1 - keep) * (c[co + k]! - x[k]!);
        }
      }
      return out;
    };
  }
}

/** The corrupted run's hidden units [L, R, F]. */
function hiddenCache(model: CausalLM, b: PairBatch): Tensor {
  const e = model.engine, { nLayer: L, dModel: D } = model.dims, R = b.corrupted.ids.length;
  const hidden = e.empty([L, R, model.dMlp]);
  e.tidy(() => model.forward(b.corrupted, { record: { buf: e.empty([model.layout.nSrc, R, D]), alpha: 1, write: true, hidden }, logits: 'none' }));
  return hidden;
}

/** Node patching of each mask over the batches, with m(M) and m(∅), metric means over examples. */
export function evaluateNodeMasks(a: NodeEvaluationArgs): NodeEvaluation {
  const { model } = a;
  const e = model.engine;
  const { nLayer: L, nHead: H, vocabSize: V, dModel: D } = model.dims;
  const layout = model.layout;
  const intervention = a.intervention ?? 'patching';
  const hidden = a.hiddenMasks?.some((m) => m !== null) ?? false;
  if (hidden && intervention !== 'patching') throw new UserError(`MLP-neuron patching takes the hidden units of the corrupted run: --intervention ${intervention} has none (use --intervention patching)`);
  const means = usesMeans(intervention) ? sourceMeans(model, a.batches, intervention === 'mean-positional') : undefined;
  const empty = new Float32Array(layout.nSrc * D);
  const sums = new Float64Array(a.masks.length);
  const clean: number[] = [], none: number[] = [];
  let N = 0;
  const values = (logits: Float32Array, b: PairBatch): Float64Array => a.metric(logits, b.clean.B, V, b.labels);
  const metricSum = (logits: Float32Array, b: PairBatch): number => values(logits, b).reduce((s, x) => s + x, 0);
  for (const b of a.batches) {
    e.tidy(() => {
      const cache = interventionCache(model, b, intervention, means);
      const hcache = hidden ? hiddenCache(model, b) : null;
      const run = (mask: Float32Array, hmask: Float32Array | null = null): Float32Array => e.tidy(() => {
        const hooks: Record<string, ForwardHook> = {};
        if (hmask) hiddenHooks(model, hmask, hcache!, hooks);
        const put = (name: string, h: ForwardHook | undefined) => h && (hooks[name] = h);
        put(hookNames.embed, patchHook(model, mask, cache, 0, 1));
        for (let l = 0; l < L; l++) {
          put(hookNames.result(l), patchHook(model, mask, cache, layout.head(l, 0), H));
          put(hookNames.mlpOut(l), patchHook(model, mask, cache, layout.mlp(l), 1));
        }
        return model.forward(b.clean, { hooks, logits: 'last' }).logits!.toArray();
      });
      clean.push(...values(e.tidy(() => model.forward(b.clean, { logits: 'last' }).logits!.toArray()), b));
      none.push(...values(run(empty), b));
      a.masks.forEach((m, i) => {
        sums[i]! += metricSum(run(m, a.hiddenMasks?.[i] ?? null), b);
        a.onRun?.();
      });
    });
    N += b.n;
  }
  const base = baselinesOf({ clean, corrupted: none });
  const circuitValues = Array.from(sums, (s) => s / N);
  return { values: circuitValues, faithfulness: circuitValues.map((m) => faithfulness(m, base)), base };
}
