/**
 * The two GPT-2 operations that the circuit graph sees per head:
 *   - qkvProject: every head's q, k and v input is its own copy of the residual stream (EAP-IG's graph), each
 *     with its own LayerNorm; the gradient at each copy is a hook point.
 *   - headOutputs: each head's contribution z_h·W_O,h (without b_O), a source of the graph.
 * When no hook changes the per-head inputs, all copies are equal, so the forward pass runs one LayerNorm and
 * one matrix product, and only the backward pass splits the gradient per head.
 */
import type { Grads } from '../engine/tape.js';
import type { Tensor } from '../engine/tensor.js';
import { deref, writeCopies, type WeightRef } from '../engine/ops.js';
import { layerNormBack } from '../engine/relevance.js';
import type { LayerHeadGrads } from './head-grads.js';
import type { GradHook } from './hooks.js';

const SLOT_NAMES = ['q', 'k', 'v'] as const;
export type Slot = 0 | 1 | 2;
export { SLOT_NAMES };

export interface QkvArgs {
  /** Residual stream before the block [B·P, D]. */
  resid: Tensor;
  /** Per slot (q, k, v): null = every head reads `resid`; else per-head inputs [H, B·P, D]. */
  perHead: readonly (Tensor | null)[];
  lnG: Tensor;
  lnB: Tensor;
  eps: number;
  /** c_attn [D, 3D] and bias [3D]. */
  W: WeightRef;
  b: Tensor;
  H: number;
  /** Receives dLoss/d(per-head input) [H, B·P, D] of a slot during backward; valid only during the call. */
  onGrad: readonly ((((g: Tensor) => void) & Pick<GradHook, 'deferHeads'>) | null)[];
}

/** The layer's deferred sum when all three slots' hooks offer the same one (see hooks.ts GradHook.deferHeads). */
function deferTarget(onGrad: QkvArgs['onGrad']): LayerHeadGrads | null {
  const t = onGrad.map((h) => h?.deferHeads?.() ?? null);
  return t[0] && t[0] === t[1] && t[0] === t[2] ? t[0] : null;
}

/** qkv [B·P, 3D] from per-head copies of the residual stream; see the file comment. */
export function qkvProject(a: QkvArgs): Tensor {
  const { resid, perHead, lnG, lnB, eps, b, H } = a;
  const e = resid.engine, k = e.kernels;
  const D = resid.shape[resid.shape.length - 1]!, R = resid.size / D, dh = D / H, D3 = 3 * D;
  const W = deref(a.W);
  const qkv = e.empty([R, D3]);
  let shared: { y: Tensor; mean: number; rstd: number } | null = null;
  const perStats: ({ mean: number; rstd: number } | null)[] = [null, null, null];
  const perY: (Tensor | null)[] = [null, null, null]; // per-head LayerNorm outputs, for weight gradients
  const allShared = perHead.every((x) => !x);
  for (let j = 0; j < 3; j++) {
    const X = perHead[j];
    if (!X) {
      if (!shared) {
        const y = e.empty([R, D]);
        const st = e.empty([2, R]);
        k.layerNorm(resid.ptr, lnG.ptr, lnB.ptr, y.ptr, st.ptr, st.ptr + 4 * R, R, D, eps);
        shared = { y, mean: st.ptr, rstd: st.ptr + 4 * R };
      }
      // one product for all three slots when they all read the residual stream
      if (allShared) {
        if (j === 0) k.gemm(false, false, R, D3, D, 1, shared.y.ptr, D, W.ptr, D3, 0, qkv.ptr, D3);
      } else {
        k.gemm(false, false, R, D, D, 1, shared.y.ptr, D, W.ptr + 4 * j * D, D3, 0, qkv.ptr + 4 * j * D, D3);
      }
    } else {
      if (X.size !== H * R * D) throw new Error(`per-head ${SLOT_NAMES[j]} input must be [${H}, ${R}, ${D}], got [${X.shape}]`);
      const y = e.empty([H, R, D]);
      const st = e.empty([2, H * R]);
      k.layerNorm(X.ptr, lnG.ptr, lnB.ptr, y.ptr, st.ptr, st.ptr + 4 * H * R, H * R, D, eps);
      perStats[j] = { mean: st.ptr, rstd: st.ptr + 4 * H * R };
      perY[j] = y;
      // head h: y_h [R, D] · W[:, jD + h·dh : +dh] → qkv[:, jD + h·dh : +dh]
      k.gemmBatched(false, false, R, dh, D, 1, y.ptr, D, R * D, W.ptr + 4 * j * D, D3, dh, 0, qkv.ptr + 4 * j * D, D3, dh, H);
    }
  }
  k.addRowVector(qkv.ptr, b.ptr, qkv.ptr, R, D3);
  const inputs = [resid, ...perHead.filter((x): x is Tensor => x !== null), W, b, lnG, lnB];
  if (!e.tape) return qkv;
  return e.tape.record(inputs, qkv, (g: Tensor, grads: Grads) => {
    const W = deref(a.W);
    qkvParamGrads(g, grads, { W, b, lnG, lnB, resid, perHead, perY, perStats, shared, H });
    // per-head gradients summed over passes by the hooks' owner: deposit this pass; the residual stream's
    // gradient then takes the fused path below like an unwatched slot
    const deferTo = grads.watching && allShared ? deferTarget(a.onGrad) : null;
    if (deferTo) {
      deferTo.deposit({
        head0: 0, heads: 3 * H, dout: g, out: qkv, resid, rstd: shared!.rstd,
        norm: { kind: 'layer', g: lnG, b: lnB, eps, unitOffset: false }, W: a.W, inMajor: true, bias: b,
        lnRule: !!grads.relevance?.norm,
      });
    }
    let sharedGrad: Tensor | null = null; // Σ over slots without per-head needs of dLN, for one LayerNorm backward
    const sr = grads.slot(resid);
    let residFresh = sr?.fresh ?? false;
    const watched = (j: number) => (grads.watching && !deferTo ? (a.onGrad[j] ?? null) : null);
    const fusedAll = !!sr && allShared && !watched(0) && !watched(1) && !watched(2);
    if (fusedAll) {
      // all three slots on the shared path: one product over the whole qkv gradient
      sharedGrad = e.emptyDetached([R, D]);
      k.gemm(false, true, R, D, D3, 1, g.ptr, D3, W.ptr, D3, 0, sharedGrad.ptr, D);
    }
    for (let j = 0; j < 3 && !fusedAll; j++) {
      const X = perHead[j] ?? null;
      const watch = watched(j);
      if (!X && !watch) {
        if (!sr) continue;
        if (!sharedGrad) {
          sharedGrad = e.emptyDetached([R, D]);
          k.gemm(false, true, R, D, D, 1, g.ptr + 4 * j * D, D3, W.ptr + 4 * j * D, D3, 0, sharedGrad.ptr, D);
        } else {
          k.gemm(false, true, R, D, D, 1, g.ptr + 4 * j * D, D3, W.ptr + 4 * j * D, D3, 1, sharedGrad.ptr, D);
        }
        continue;
      }
      const dX = e.emptyDetached([H, R, D]);
      if (X) {
        // per head: dLN_h = dqkv_h · W_hᵀ, then each head's own LayerNorm backward (in place)
        k.gemmBatched(false, true, R, D, dh, 1, g.ptr + 4 * j * D, D3, dh, W.ptr + 4 * j * D, D3, dh, 0, dX.ptr, D, R * D, H);
        const st = perStats[j]!;
        layerNormBack(e, grads.relevance, dX.ptr, X.ptr, lnG.ptr, st.mean, st.rstd, dX.ptr, false, 0, H * R, D);
        watch?.(dX);
        grads.give(X, dX);
        continue;
      }
      // Shared input, per-head gradients.
      const st = shared!;
      if (sr && residFresh) {
        e.heap.fillF32(sr.g.ptr, sr.g.size, 0);
        residFresh = false;
      }
      // all heads' dLN_h = dqkv_h · W_hᵀ in one batched call (BLAS threads stay awake across the heads), then each
      // head's LayerNorm backward writes its gradient and adds it into the residual's
      const scratch = e.emptyDetached([H, R, D]);
      k.gemmBatched(false, true, R, D, dh, 1, g.ptr + 4 * j * D, D3, dh, W.ptr + 4 * j * D, D3, dh, 0, scratch.ptr, D, R * D, H);
      for (let h = 0; h < H; h++) {
        layerNormBack(
          e, grads.relevance, scratch.ptr + 4 * h * R * D, resid.ptr, lnG.ptr, st.mean, st.rstd,
          dX.ptr + 4 * h * R * D, false, sr ? sr.g.ptr : 0, R, D,
        );
      }
      scratch.dispose();
      watch?.(dX);
      dX.dispose();
    }
    if (sharedGrad) {
      const st = shared!;
      layerNormBack(e, grads.relevance, sharedGrad.ptr, resid.ptr, lnG.ptr, st.mean, st.rstd, sr!.g.ptr, !residFresh, 0, R, D);
      sharedGrad.dispose();
    } else if (sr && residFresh) {
      e.heap.fillF32(sr.g.ptr, sr.g.size, 0);
    }
  });
}

/**
 * qkvProject's parameter gradients, when parameters require them (training with per-head hooks): c_attn's
 * weight dW = yᵀ·dqkv per slot (per head where the heads have their own inputs) and bias, and ln_1's gain and
 * bias from the LayerNorm output gradients dqkv·Wᵀ (computed here again: the input-gradient path may defer them).
 */
function qkvParamGrads(
  g: Tensor, grads: Grads,
  c: {
    W: Tensor; b: Tensor; lnG: Tensor; lnB: Tensor; resid: Tensor; perHead: readonly (Tensor | null)[]; perY: readonly (Tensor | null)[];
    perStats: readonly ({ mean: number; rstd: number } | null)[]; shared: { y: Tensor; mean: number; rstd: number } | null; H: number;
  },
): void {
  const { W, H } = c;
  const sW = W.requiresGrad ? grads.slot(W) : null, sb = c.b.requiresGrad ? grads.slot(c.b) : null;
  const sG = c.lnG.requiresGrad ? grads.slot(c.lnG) : null, sB = c.lnB.requiresGrad ? grads.slot(c.lnB) : null;
  if (!sW && !sb && !sG && !sB) return;
  const e = g.engine, k = e.kernels;
  const D = c.resid.shape[c.resid.shape.length - 1]!, R = c.resid.size / D, dh = D / H, D3 = 3 * D;
  if (sb) k.sumRows(g.ptr, sb.g.ptr, R, D3, !sb.fresh);
  if (sW) {
    // the three slots (and the heads within one) write disjoint columns of dW
    const beta = sW.fresh ? 0 : 1;
    for (let j = 0; j < 3; j++) {
      const y = c.perY[j];
      if (y) k.gemmBatched(true, false, D, dh, R, 1, y.ptr, D, R * D, g.ptr + 4 * j * D, D3, dh, beta, sW.g.ptr + 4 * j * D, D3, dh, H);
      else k.gemm(true, false, D, D, R, 1, c.shared!.y.ptr, D, g.ptr + 4 * j * D, D3, beta, sW.g.ptr + 4 * j * D, D3);
    }
  }
  if (!sG && !sB) return;
  e.tidy(() => {
    if (sG?.fresh) e.heap.fillF32(sG.g.ptr, D, 0);
    if (sB?.fresh) e.heap.fillF32(sB.g.ptr, D, 0);
    const dG = sG ? sG.g : e.zeros([D]), dB = sB ? sB.g : e.zeros([D]);
    for (let j = 0; j < 3; j++) {
      const X = c.perHead[j];
      if (X) {
        const dy = e.empty([H, R, D]), st = c.perStats[j]!;
        k.gemmBatched(false, true, R, D, dh, 1, g.ptr + 4 * j * D, D3, dh, W.ptr + 4 * j * D, D3, dh, 0, dy.ptr, D, R * D, H);
        k.layerNormParamGrad(dy.ptr, X.ptr, st.mean, st.rstd, dG.ptr, dB.ptr, H * R, D);
      } else {
        const dy = e.empty([R, D]), st = c.shared!;
        k.gemm(false, true, R, D, D, 1, g.ptr + 4 * j * D, D3, W.ptr + 4 * j * D, D3, 0, dy.ptr, D);
        k.layerNormParamGrad(dy.ptr, c.resid.ptr, st.mean, st.rstd, dG.ptr, dB.ptr, R, D);
      }
    }
  });
}

/** Per-head outputs [H, B·P, D]: out_h = z[:, h·dh : +dh] · W_O[h·dh : +dh, :] (b_O excluded). */
export function headOutputs(z: Tensor, Wref: WeightRef, H: number): Tensor {
  const e = z.engine, k = e.kernels;
  const D = z.shape[z.shape.length - 1]!, R = z.size / D, dh = D / H;
  const W = deref(Wref);
  const out = e.empty([H, R, D]);
  k.gemmBatched(false, false, R, D, dh, 1, z.ptr, D, dh, W.ptr, D, dh * D, 0, out.ptr, D, R * D, H);
  if (!e.tape) return out;
  return e.tape.record([z, W], out, (g, grads) => {
    const W = deref(Wref);
    const sz = grads.slot(z);
    // dz_h = dout_h · W_O,hᵀ : [R, D] · [D, dh]
    if (sz) k.gemmBatched(false, true, R, dh, D, 1, g.ptr, D, R * D, W.ptr, D, dh * D, sz.fresh ? 0 : 1, sz.g.ptr, D, dh, H);
    // dW_O[h·dh : +dh, :] = z_hᵀ · dout_h (heads write disjoint rows)
    const sW = W.requiresGrad ? grads.slot(W) : null;
    if (sW) k.gemmBatched(true, false, dh, D, R, 1, z.ptr, D, dh, g.ptr, D, R * D, sW.fresh ? 0 : 1, sW.g.ptr, D, dh * D, H);
  });
}

/** [R, D] → [n, R, D]: n copies (the per-head inputs before a hook changes them). */
export function expandCopies(x: Tensor, n: number): Tensor {
  const e = x.engine;
  const out = e.empty([n, ...x.shape]);
  writeCopies(x, out.ptr, n);
  if (!e.tape) return out;
  return e.tape.record([x], out, (g, grads) => {
    const sx = grads.slot(x);
    if (sx) e.kernels.sumStacked(g.ptr, sx.g.ptr, n, x.size, !sx.fresh);
  });
}
