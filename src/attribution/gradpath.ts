/**
 * GradPath's mechanics, shared by EAP-GP (eap-gp.ts, whose header defines the path and its variants) and the
 * saturation traces (saturation.ts): the objective J per example with its gradient at the embeddings, the step
 * lengths, one step (with backtracking), the walk γ_0..γ_k and the pinned blend.
 */
import type { Engine } from '../engine/engine.js';
import { gatherRows } from '../engine/ops.js';
import type { Tape } from '../engine/tape.js';
import type { Tensor } from '../engine/tensor.js';
import type { CausalLM, SourceRecord } from '../models/model.js';
import { lastRows, rowStarts, type Batch } from '../models/batch.js';

/** A GradPath variant's rule (eap-gp.ts's header defines each field). */
export interface GradPathRule {
  eta: number;
  norm: 'example' | 'batch';
  step: 'absolute' | 'relative';
  /** Most halvings of a step until J decreases; 0: no backtracking. */
  backtrack: number;
  objective: 'logits' | 'metric';
  end: 'free' | 'corrupted';
}

/** The task metric per example and ∂values[b]/∂logits[b, :], from last-position logits [B, V]. */
export type MetricAt = (logits: Float32Array) => { values: Float64Array; grad: Float32Array };

/** What GradPath descends, for one batch. */
export interface GradPathObjective {
  /** The logits a forward pass at a point must give for J. */
  readonly logits: 'last' | 'none';
  /** J per example from a forward pass taped at `leaf`, and g = ∂(Σ_b J_b)/∂leaf (a backward without watchers). */
  taped(tape: Tape, leaf: Tensor, out: { residFinal: Tensor; logits?: Tensor | null }): { J: Float64Array; g: Tensor };
  /** J per example at γ (one forward pass, no tape). */
  at(gamma: Tensor): Float64Array;
}

/**
 * What the logits objective compares against, from the corrupted run's final residual stream [R, D]: its final
 * norm [R, D] (with the Gram matrix), or its logits at every row [R, V] (without).
 */
export function finalTarget(model: CausalLM, corruptedFinal: Tensor): Tensor {
  return model.engine.tidy(() => {
    const x = model.finalNorm(corruptedFinal);
    return model.unembedGram() ? x : model.unembed(x);
  });
}

/**
 * GradPath's logits objective on a taped forward pass: per example J_b = Σ_{real p} ‖logits[p] − logits'[p]‖²,
 * from the final residual stream, with x on the tape — the final-normed stream (via the unembedding's Gram
 * matrix) or the logits — and dJdx = ∂(Σ_b J_b)/∂x (zero at padded positions). `target` is finalTarget of the
 * corrupted run.
 */
export function gradPathObjective(model: CausalLM, residFinal: Tensor, target: Tensor, batch: Batch): { x: Tensor; dJdx: Tensor; J: Float64Array } {
  const e = model.engine;
  const starts = rowStarts(batch);
  const { B, lengths } = batch;
  const R = starts[B]!;
  const gram = model.unembedGram();
  // x: the point whose gradient dJdx is returned (normed stream with the Gram matrix, else the logits)
  const x = gram ? model.finalNorm(residFinal) : model.unembed(model.finalNorm(residFinal));
  const W = x.size / R;
  const d = e.empty([R, W]);
  e.kernels.scale(x.ptr, 1, d.ptr, d.size);
  e.kernels.axpy(-1, target.ptr, d.ptr, d.size);
  const y = e.empty([R, W]);
  if (gram) e.kernels.gemm(false, false, R, W, W, 2, d.ptr, W, gram.ptr, W, 0, y.ptr, W); // y = 2·d·G = dJ/dx
  else e.kernels.scale(d.ptr, 2, y.ptr, d.size); // y = 2·d = dJ/dlogits
  const dv = d.data(), yv = y.data();
  const J = new Float64Array(B);
  for (let b = 0; b < B; b++) {
    const first = starts[b]! * W, real = first + lengths[b]! * W;
    let s = 0;
    for (let i = first; i < real; i++) s += 0.5 * dv[i]! * yv[i]!;
    J[b] = s;
    yv.fill(0, real, starts[b + 1]! * W); // padding is not part of J
  }
  return { x, dJdx: y, J };
}

const embedGradient = (tape: Tape, leaf: Tensor, seeds: [Tensor, Tensor]): Tensor => {
  const g = tape.backward([seeds], { watch: false }).get(leaf);
  if (!g) throw new Error('GradPath: no gradient reached the embeddings');
  return g;
};

/** The logits objective J = Σ_{real p} ‖logits(γ)[p] − logits(z')[p]‖² (the paper's). */
export function logitsObjective(model: CausalLM, batch: Batch, target: Tensor): GradPathObjective {
  const e = model.engine;
  return {
    logits: 'none',
    taped: (tape, leaf, out) => {
      const { x, dJdx, J } = gradPathObjective(model, out.residFinal, target, batch);
      return { J, g: embedGradient(tape, leaf, [x, dJdx]) };
    },
    at: (gamma) => e.tidy(() => gradPathObjective(model, model.forward(batch, { embeds: gamma, logits: 'none' }).residFinal, target, batch).J),
  };
}

/** The task metric of the corrupted run per example, from its final residual stream [R, D]. */
export function corruptedMetric(model: CausalLM, batch: Batch, corruptedFinal: Tensor, metricAt: MetricAt): Float64Array {
  const e = model.engine;
  return e.tidy(() => {
    const last = gatherRows(corruptedFinal, e.fromArray(lastRows(batch), [batch.B], 'i32'));
    return metricAt(model.unembed(model.finalNorm(last)).toArray()).values;
  });
}

/** The metric objective J = (metric(γ) − metric(z'))², per example; `target` is metric(z'). */
export function metricObjective(model: CausalLM, batch: Batch, metricAt: MetricAt, target: Float64Array): GradPathObjective {
  const e = model.engine;
  const J = (values: Float64Array): Float64Array => values.map((v, b) => (v - target[b]!) ** 2);
  return {
    logits: 'last',
    taped: (tape, leaf, out) => {
      const { values, grad } = metricAt(out.logits!.toArray());
      const V = grad.length / batch.B;
      // dJ_b/dlogits_b = 2(metric_b − metric'_b)·∂metric_b/∂logits_b
      for (let b = 0; b < batch.B; b++) for (let i = b * V; i < (b + 1) * V; i++) grad[i] = 2 * (values[b]! - target[b]!) * grad[i]!;
      return { J: J(values), g: embedGradient(tape, leaf, [out.logits!, e.fromArray(grad, out.logits!.shape)]) };
    },
    at: (gamma) => e.tidy(() => J(metricAt(model.forward(batch, { embeds: gamma, logits: 'last' }).logits!.toArray()).values)),
  };
}

/** Σ over the rows starts[b]..starts[b+1] (D values each) of f(i), per example, or over the whole batch. */
function sumsOf(n: number, starts: Int32Array, D: number, norm: 'example' | 'batch', f: (i: number) => number): number[] {
  const B = starts.length - 1;
  if (norm === 'batch') {
    let s = 0;
    for (let i = 0; i < n; i++) s += f(i);
    return Array<number>(B).fill(s);
  }
  return Array.from({ length: B }, (_, b) => {
    let s = 0;
    for (let i = starts[b]! * D; i < starts[b + 1]! * D; i++) s += f(i);
    return s;
  });
}

/**
 * Each example's step length: η (absolute), or η·‖e − e′‖/k (relative) with the distance per example or over
 * the batch tensor (as the step's norm).
 */
export function stepLengths(rule: GradPathRule, k: number, clean: Tensor, corrupted: Tensor, starts: Int32Array, D: number): Float64Array {
  const B = starts.length - 1;
  if (rule.step === 'absolute') return new Float64Array(B).fill(rule.eta);
  const c0 = clean.data(), c1 = corrupted.data();
  return Float64Array.from(sumsOf(c0.length, starts, D, rule.norm, (i) => (c0[i]! - c1[i]!) ** 2), (s) => (rule.eta * Math.sqrt(s)) / k);
}

/**
 * γ − len_b·g/‖g‖ with the norm per example (its rows starts[b]..starts[b+1], each of D values) or over the
 * whole batch; `len` is one length for all examples or one per example.
 */
export function stepAlong(e: Engine, gamma: Tensor, g: Tensor, len: number | Float64Array, norm: 'example' | 'batch', starts: Int32Array, D: number): Tensor {
  const B = starts.length - 1;
  const out = e.empty(gamma.shape);
  const gv = g.data();
  const norms = sumsOf(gv.length, starts, D, norm, (i) => gv[i]! * gv[i]!).map((s) => Math.max(Math.sqrt(s), 1e-12));
  e.kernels.scale(gamma.ptr, 1, out.ptr, out.size);
  for (let b = 0; b < B; b++) {
    const first = starts[b]! * D, n = (starts[b + 1]! - starts[b]!) * D;
    const eta = typeof len === 'number' ? len : len[b]!;
    e.kernels.axpy(-eta / norms[b]!, g.ptr + 4 * first, out.ptr + 4 * first, n);
  }
  return out;
}

/**
 * The next point from γ (with J(γ) per example and g = ∂ΣJ/∂γ): a step of `len` along −g/‖g‖; with
 * backtracking, an example whose J does not decrease has its step halved (up to rule.backtrack times, one
 * forward pass for each try) and stays at γ when no try decreases J.
 */
export function nextPoint(
  e: Engine, objective: GradPathObjective, rule: GradPathRule, gamma: Tensor, g: Tensor, J: Float64Array,
  len: Float64Array, starts: Int32Array, D: number,
): Tensor {
  if (rule.backtrack === 0) return stepAlong(e, gamma, g, len, rule.norm, starts, D);
  const B = starts.length - 1;
  const next = e.empty(gamma.shape);
  e.kernels.scale(gamma.ptr, 1, next.ptr, next.size);
  const tryLen = Float64Array.from(len);
  const open = new Set(Array.from({ length: B }, (_, b) => b));
  for (let h = 0; h <= rule.backtrack && open.size > 0; h++) {
    e.tidy(() => {
      const cand = stepAlong(e, gamma, g, tryLen, rule.norm, starts, D);
      const Jc = objective.at(cand);
      for (const b of [...open]) {
        if (Jc[b]! < J[b]!) {
          const first = starts[b]! * D;
          e.kernels.scale(cand.ptr + 4 * first, 1, next.ptr + 4 * first, (starts[b + 1]! - starts[b]!) * D);
          open.delete(b);
        } else {
          tryLen[b]! /= 2;
        }
      }
    });
  }
  return next;
}

/** Options of walk(): a recording of the first pass's activations, a callback with J at each step, a check of each vertex. */
export interface WalkOptions {
  record?: SourceRecord;
  trace?: (step: number, J: Float64Array) => void;
  check?: (next: Tensor, step: number) => Tensor;
}

/** γ_0 = start, γ_1..γ_k by GradPath's rule (before any pinning): k taped forward and backward passes of J. */
export function walk(
  model: CausalLM, batch: Batch, rule: GradPathRule, objective: GradPathObjective, start: Tensor, len: Float64Array, k: number, o: WalkOptions = {},
): Tensor[] {
  const e = model.engine;
  const starts = rowStarts(batch), D = model.dims.dModel;
  const vertices: Tensor[] = [start];
  for (let j = 0; j < k; j++) {
    const gamma = vertices[j]!;
    vertices.push(e.tidy(() => e.record((tape) => {
      const leaf = gamma.reshape(gamma.shape).requireGrad();
      const out = model.forward(batch, { embeds: leaf, logits: objective.logits, record: j === 0 ? o.record : undefined });
      const { J, g } = objective.taped(tape, leaf, out);
      o.trace?.(j, J);
      const next = nextPoint(e, objective, rule, leaf, g, J, len, starts, D);
      return o.check ? o.check(next, j) : next;
    })));
  }
  return vertices;
}

/**
 * The pinned path: γ̃_j = γ_j + (j/k)(e′ − γ_k) for j < k, and γ̃_k = e′ itself (the formula's value, exact). The
 * input vertices γ_0..γ_k are those of walk(); γ̃_0 = γ_0.
 */
export function pinToCorrupted(e: Engine, vertices: readonly Tensor[], corrupted: Tensor): Tensor[] {
  const k = vertices.length - 1;
  const gk = vertices[k]!;
  const gap = e.empty(gk.shape); // e′ − γ_k
  e.kernels.scale(corrupted.ptr, 1, gap.ptr, gap.size);
  e.kernels.axpy(-1, gk.ptr, gap.ptr, gap.size);
  return vertices.map((g, j) => {
    const out = e.empty(g.shape);
    e.kernels.scale((j === k ? corrupted : g).ptr, 1, out.ptr, out.size);
    if (j > 0 && j < k) e.kernels.axpy(j / k, gap.ptr, out.ptr, out.size);
    return out;
  });
}
