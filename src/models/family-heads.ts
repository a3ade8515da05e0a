/**
 * The per-head pieces of the circuit graph for the model families beyond GPT-2 (GPT-2's fused versions are in
 * head-ops.ts):
 *   - headProject: one of q, k, v for every query head, each head reading its own copy of the residual stream
 *     through the block's norm. With grouped-query attention the k/v weights arrive ungrouped (one dh-row block
 *     per query head, TransformerLens' ungroup_grouped_query_attention), so each query head has its own k/v input.
 *   - headResults: each head's contribution z_h·W_O,hᵀ (no output bias), a source of the graph.
 * Weights are in Hugging Face's orientation [out, in]. When no hook replaces the per-head inputs, the forward pass
 * normalises and projects once; only the backward pass splits the gradient per head for a watcher.
 */
import type { Tensor } from '../engine/tensor.js';
import { deref, type WeightRef } from '../engine/ops.js';
import { normRows, normRowsBackward, type NormParams } from './family-ops.js';
import type { GradHook } from './hooks.js';

export interface HeadProjectArgs {
  /** Residual stream before the block [R, D]. */
  resid: Tensor;
  /** Per-head inputs [H, R, D] when a hook gave each head its own; null = every head reads `resid`. */
  perHead: Tensor | null;
  norm: NormParams;
  /** norm(resid) and its row statistics when already computed (q, k and v of a layer share them). */
  shared?: SharedNorm;
  /** [H·dh, D]: head h's rows h·dh…(h+1)·dh. */
  W: WeightRef;
  bias: Tensor | null;
  H: number;
  /**
   * Distinct k/v heads (grouped-query attention; H for q and without grouping): heads of one group share their
   * weight rows, so while they read the same stream one product per group serves them all.
   */
  groups: number;
  /** Which of the layer's q, k, v this projection is (its heads are the layer's heads slot·H …). */
  slot: 0 | 1 | 2;
  /**
   * Receives dLoss/d(per-head input) [H, R, D] during backward (valid only during the call), or, when it offers
   * a deferred sum (hooks.ts GradHook.deferHeads) and the heads read the stream itself, deposits there instead.
   */
  onGrad: (((g: Tensor) => void) & Pick<GradHook, 'deferHeads'>) | null;
}

/** A normalised residual stream [R, D] and its statistics (see normRows). */
export interface SharedNorm {
  y: Tensor;
  st: Tensor;
}

/** norm(resid) once for the q, k and v projections that read the stream itself. */
export function sharedNorm(resid: Tensor, norm: NormParams): SharedNorm {
  const e = resid.engine, D = resid.shape[resid.shape.length - 1]!, R = resid.size / D;
  const y = e.empty([R, D]);
  return { y, st: normRows(e, norm, resid.ptr, y.ptr, R, D) };
}

/** [R, H·dh]: head h's columns are norm(input_h)·W_hᵀ (+ bias). */
export function headProject(a: HeadProjectArgs): Tensor {
  const { resid, perHead: X, norm, bias, H } = a;
  const e = resid.engine, k = e.kernels;
  const D = resid.shape[resid.shape.length - 1]!, R = resid.size / D;
  const W = deref(a.W), HD = W.shape[0]!, dh = HD / H;
  if (X && X.size !== H * R * D) throw new Error(`per-head input must be [${H}, ${R}, ${D}], got [${X.shape}]`);
  const out = e.empty([R, HD]);
  let y: Tensor, st: Tensor;
  if (X) {
    y = e.empty([H, R, D]);
    st = normRows(e, norm, X.ptr, y.ptr, H * R, D);
  } else ({ y, st } = a.shared ?? sharedNorm(resid, norm));
  const grouped = !X && a.groups < H;
  if (X) k.gemmBatched(false, true, R, dh, D, 1, y.ptr, D, R * D, W.ptr, D, dh * D, 0, out.ptr, HD, dh, H);
  else if (grouped) {
    const GD = a.groups * dh, t = e.emptyDetached([R, GD]), Wg = groupRows(W, H, a.groups);
    k.gemm(false, true, R, GD, D, 1, y.ptr, D, Wg.ptr, D, 0, t.ptr, GD);
    expandGroups(t.data(), out.data(), R, H, a.groups, dh);
    t.dispose();
    Wg.dispose();
  } else k.gemm(false, true, R, HD, D, 1, y.ptr, D, W.ptr, D, 0, out.ptr, HD);
  if (bias) k.addRowVector(out.ptr, bias.ptr, out.ptr, R, HD);
  if (!e.tape) return out;
  return e.tape.record(X ? [resid, X] : [resid], out, (g, grads) => {
    const W = deref(a.W);
    const watch = grads.watching ? a.onGrad : null;
    const sr = grads.slot(resid);
    const deferTo = watch && !X ? (watch.deferHeads?.() ?? null) : null;
    if (deferTo) {
      deferTo.deposit({
        head0: a.slot * H, heads: H, dout: g, out, resid, rstd: st.ptr + 4 * R, norm, W: a.W, inMajor: false, bias,
        lnRule: !!grads.relevance?.norm,
      });
    }
    if (!X && (!watch || deferTo)) {
      if (!sr) return;
      const dy = e.emptyDetached([R, D]);
      if (grouped) {
        // the heads of a group share W's rows: sum their gradients first, then one product with the group's rows
        const GD = a.groups * dh, gs = e.emptyDetached([R, GD]), Wg = groupRows(W, H, a.groups);
        sumGroups(g.data(), gs.data(), R, H, a.groups, dh);
        k.gemm(false, false, R, D, GD, 1, gs.ptr, GD, Wg.ptr, D, 0, dy.ptr, D);
        gs.dispose();
        Wg.dispose();
      } else k.gemm(false, false, R, D, HD, 1, g.ptr, HD, W.ptr, D, 0, dy.ptr, D);
      normRowsBackward(e, norm, dy.ptr, resid.ptr, st, sr.g.ptr, !sr.fresh, 0, R, D, grads.relevance);
      dy.dispose();
      return;
    }
    // per head: dy_h = g_h·W_h, then the norm's backward of head h's own input (or of the shared one)
    const dX = e.emptyDetached([H, R, D]);
    k.gemmBatched(false, false, R, D, dh, 1, g.ptr, HD, dh, W.ptr, D, dh * D, 0, dX.ptr, D, R * D, H);
    if (X) {
      normRowsBackward(e, norm, dX.ptr, X.ptr, st, dX.ptr, false, 0, H * R, D, grads.relevance);
      watch?.(dX);
      grads.give(X, dX);
      return;
    }
    if (sr?.fresh) e.heap.fillF32(sr.g.ptr, sr.g.size, 0);
    normRowsBackward(e, norm, dX.ptr, resid.ptr, st, dX.ptr, false, sr ? sr.g.ptr : 0, H * R, D, grads.relevance);
    watch!(dX);
    dX.dispose();
  });
}

/** [groups·dh, D]: the rows of each group's first head in an ungrouped [H·dh, D] (a new detached tensor). */
function groupRows(W: Tensor, H: number, groups: number): Tensor {
  const D = W.shape[1]!, dh = W.shape[0]! / H, rep = H / groups;
  const out = W.engine.emptyDetached([groups * dh, D]), src = W.data(), dst = out.data();
  for (let g = 0; g < groups; g++) dst.set(src.subarray(g * rep * dh * D, (g * rep + 1) * dh * D), g * dh * D);
  return out;
}

/** out [R, H·dh] ⟵ each head's group's columns of t [R, groups·dh]. */
function expandGroups(t: Float32Array, out: Float32Array, R: number, H: number, groups: number, dh: number): void {
  const rep = H / groups, GD = groups * dh, HD = H * dh;
  for (let r = 0; r < R; r++) {
    for (let h = 0; h < H; h++) {
      const src = r * GD + Math.floor(h / rep) * dh;
      out.set(t.subarray(src, src + dh), r * HD + h * dh);
    }
  }
}

/** gs [R, groups·dh] ⟵ the sum of g [R, H·dh]'s columns over the heads of each group (heads in order). */
function sumGroups(g: Float32Array, gs: Float32Array, R: number, H: number, groups: number, dh: number): void {
  const rep = H / groups, GD = groups * dh, HD = H * dh;
  for (let r = 0; r < R; r++) {
    for (let q = 0; q < groups; q++) {
      const o = r * GD + q * dh;
      for (let i = 0; i < dh; i++) {
        let acc = 0;
        for (let j = 0; j < rep; j++) acc += g[r * HD + (q * rep + j) * dh + i]!;
        gs[o + i] = acc;
      }
    }
  }
}

/** [H, R, D]: head h's output z_h·W_O[:, h·dh…]ᵀ (W_O is [D, H·dh]; the output bias belongs to no head). */
export function headResults(z: Tensor, Wref: WeightRef, H: number): Tensor {
  const e = z.engine, k = e.kernels;
  const HD = z.shape[z.shape.length - 1]!, R = z.size / HD, dh = HD / H;
  const W = deref(Wref), D = W.shape[0]!;
  const out = e.empty([H, R, D]);
  k.gemmBatched(false, true, R, D, dh, 1, z.ptr, HD, dh, W.ptr, HD, dh, 0, out.ptr, D, R * D, H);
  if (!e.tape) return out;
  return e.tape.record([z], out, (g, grads) => {
    const sz = grads.slot(z);
    // dz_h = dout_h · W_O,h : [R, D]·[D, dh]
    if (sz) k.gemmBatched(false, false, R, dh, D, 1, g.ptr, D, R * D, deref(Wref).ptr, HD, dh, sz.fresh ? 0 : 1, sz.g.ptr, HD, dh, H);
  });
}
