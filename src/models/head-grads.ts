/**
 * The gradients at every head's q/k/v input of one layer, summed over several backward passes without forming
 * them in each pass. Each head reads its own normalisation of the residual stream x (x̂ = (x − mean)·rstd for
 * LayerNorm, x·rstd for RMSNorm), then a projection out = (γ ⊙ x̂ + β)·W + b, so its input gradient is
 *   dx_h = rstd ⊙ (dout_h·W̃_hᵀ − a_h·1ᵀ − s_h ⊙ x̂),   W̃ = diag(γ)·W,
 *   a_h[r] = dout_h[r]·c_h with c = γᵀW / D (LayerNorm; 0 for RMSNorm, which does not centre),
 *   s_h[r] = dout_h[r]·(out_h[r] − offs_h) / D,   offs = b + βᵀW
 * (the norm's backward written in the head's dh coordinates: W̃_hᵀ x̂ = out_h − offs_h). Only the last term depends
 * on the pass beyond rstd ⊙ dout_h, so a pass stores U += rstd ⊙ dout, A += rstd ⊙ a, its own x̂ [R, D] and weights
 * Wt = rstd ⊙ s [3H, R], and `materialize` does one product per head for all passes:
 *   Σ_passes dx_h = U_h·W̃_hᵀ − A_h·1ᵀ − Σ_k Wt_k,h ⊙ x̂_k.
 * That replaces, per pass, 3H thin (K = d_head) products and 3H norm backward passes over [R, D].
 * A projection group deposits its heads' columns: GPT-2's fused c_attn all 3H at once, the other families q, k and
 * v separately (a pass then deposits three times; they share the pass's x̂).
 */
import type { Engine } from '../engine/engine.js';
import { deref, type WeightRef } from '../engine/ops.js';
import type { Tensor } from '../engine/tensor.js';
import { normRows, type NormParams } from './family-ops.js';

/** What a projection's backward hands over in one pass (pointers into the heap, valid during the call). */
export interface HeadGradPass {
  /** The group's first head among the layer's 3H (q heads, then k, then v): 0 for a fused q/k/v projection. */
  head0: number;
  /** Heads (segments of d_head columns) in the group. */
  heads: number;
  /** dLoss/dout [R, C]. */
  dout: Tensor;
  /** The projection's output [R, C], bias included. */
  out: Tensor;
  /** The layer's input (residual stream) [R, D] and the rstd pointer (R floats) of its normalisation. */
  resid: Tensor;
  rstd: number;
  norm: NormParams;
  /** The projection: [D, C] when `inMajor` (GPT-2's Conv1D), else [C, D] (Hugging Face's Linear). */
  W: WeightRef;
  inMajor: boolean;
  bias: Tensor | null;
  /** The LN-rule (engine/relevance.ts): the norm's rstd a constant, so the pass adds no x̂ term (Wt = 0). */
  lnRule?: boolean;
}

/** One projection group's pass-independent vectors and sums. */
interface Group {
  head0: number;
  heads: number;
  W: WeightRef;
  inMajor: boolean;
  /** The norm's gain γ (1 + w for Gemma), in the heap. */
  gamma: Tensor;
  ownGamma: boolean;
  cvec: Tensor;
  offs: Tensor;
  U: Tensor;
  A: Tensor;
}

export class LayerHeadGrads {
  private readonly groups: Group[] = [];
  /** Per pass: x̂ [R, D] and, per group head0, its weights Wt [heads, R]. */
  private readonly passes: { xhat: Tensor; wt: Map<number, Tensor> }[] = [];

  constructor(
    private readonly e: Engine,
    readonly H: number,
  ) {}

  /** True once a pass has deposited its gradients. */
  get filled(): boolean {
    return this.passes.length > 0;
  }

  /** Adds one projection group's gradients of one backward pass (called by the projection's backward). */
  deposit(p: HeadGradPass): void {
    const e = this.e, k = e.kernels;
    const D = p.resid.shape[p.resid.shape.length - 1]!, R = p.resid.size / D, C = p.dout.shape[p.dout.shape.length - 1]!;
    if (p.head0 < 0 || p.head0 + p.heads > 3 * this.H || C % p.heads !== 0) {
      throw new Error(`deferred head gradients: heads ${p.head0}…${p.head0 + p.heads} of ${3 * this.H} over ${C} columns`);
    }
    let g = this.groups.find((x) => x.head0 === p.head0);
    const first = !g;
    g ??= this.addGroup(p, D, R, C);
    if (g.U.size !== R * C) throw new Error(`deferred head gradients: ${R} rows after ${g.U.size / C}`);
    // a new pass begins when this group has already deposited in the current one
    let pass = this.passes.at(-1);
    if (!pass || pass.wt.has(p.head0)) {
      // x̂ of this pass: the norm with unit gain and zero bias (its statistics are recomputed into scratch)
      const xhat = e.emptyDetached([R, D]);
      e.tidy(() => {
        const ones = e.empty([D]), zeros = e.zeros([D]);
        e.heap.fillF32(ones.ptr, D, 1);
        normRows(e, { kind: p.norm.kind, g: ones, b: zeros, eps: p.norm.eps, unitOffset: false }, p.resid.ptr, xhat.ptr, R, D);
      });
      pass = { xhat, wt: new Map() };
      this.passes.push(pass);
    }
    const wt = e.emptyDetached([p.heads, R]);
    k.headGradDeposit(p.dout.ptr, p.rstd, p.out.ptr, g.cvec.ptr, g.offs.ptr, g.U.ptr, g.A.ptr, wt.ptr, R, C, C / p.heads, p.lnRule ? 0 : 1 / D, !first);
    pass.wt.set(p.head0, wt);
  }

  /** The group's pass-independent vectors: c = γᵀW / D (zero without centring) and offs = b + βᵀW. */
  private addGroup(p: HeadGradPass, D: number, R: number, C: number): Group {
    const e = this.e, k = e.kernels, W = deref(p.W), n = p.norm;
    let gamma = n.g;
    if (n.unitOffset) {
      gamma = e.emptyDetached([D]);
      const src = n.g.data(), dst = gamma.data();
      for (let d = 0; d < D; d++) dst[d] = src[d]! + 1;
    }
    // γ or β times W: [1, D]·[D, C], or [1, D]·[C, D]ᵀ
    const rowTimesW = (v: Tensor, alpha: number, beta: number, out: Tensor) =>
      p.inMajor ? k.gemm(false, false, 1, C, D, alpha, v.ptr, D, W.ptr, C, beta, out.ptr, C)
        : k.gemm(false, true, 1, C, D, alpha, v.ptr, D, W.ptr, D, beta, out.ptr, C);
    const cvec = e.emptyDetached([C]), offs = e.emptyDetached([C]);
    if (n.kind === 'layer') rowTimesW(gamma, 1 / D, 0, cvec);
    else e.heap.fillF32(cvec.ptr, C, 0);
    if (p.bias) k.scale(p.bias.ptr, 1, offs.ptr, C);
    else e.heap.fillF32(offs.ptr, C, 0);
    if (n.b) rowTimesW(n.b, 1, 1, offs);
    const g: Group = {
      head0: p.head0, heads: p.heads, W: p.W, inMajor: p.inMajor, gamma, ownGamma: gamma !== n.g,
      cvec, offs, U: e.emptyDetached([R, C]), A: e.emptyDetached([p.heads, R]),
    };
    this.groups.push(g);
    return g;
  }

  /**
   * Writes the summed gradients into `into`, 3H slices [R, D] (q heads, then k heads, then v heads), or adds them
   * (`accumulate`), and frees the stored passes. Heads no group deposited are zeroed (or left, when accumulating).
   */
  materialize(into: number, accumulate = false): void {
    const e = this.e, k = e.kernels, H3 = 3 * this.H;
    if (!this.filled) throw new Error('deferred head gradients: nothing deposited');
    const xhat0 = this.passes[0]!.xhat;
    const D = xhat0.shape[1]!, R = xhat0.shape[0]!, n = this.passes.length, slice = R * D;
    e.tidy(() => {
      const covered = new Uint8Array(H3);
      for (const g of this.groups) {
        covered.fill(1, g.head0, g.head0 + g.heads);
        const W = deref(g.W), gam = g.gamma.data(), C = g.U.shape[1]!, dh = C / g.heads;
        const out = into + 4 * g.head0 * slice, beta = accumulate ? 1 : 0;
        // W̃ = diag(γ)·W, then every head's U_h·W̃_hᵀ in one batched call
        const Wt = e.empty(W.shape);
        if (g.inMajor) {
          for (let d = 0; d < D; d++) k.scale(W.ptr + 4 * d * C, gam[d]!, Wt.ptr + 4 * d * C, C);
          k.gemmBatched(false, true, R, D, dh, 1, g.U.ptr, C, dh, Wt.ptr, C, dh, beta, out, D, slice, g.heads);
        } else {
          const src = W.data(), dst = Wt.data();
          for (let c = 0, o = 0; c < C; c++) for (let d = 0; d < D; d++, o++) dst[o] = src[o]! * gam[d]!;
          k.gemmBatched(false, false, R, D, dh, 1, g.U.ptr, C, dh, Wt.ptr, D, dh * D, beta, out, D, slice, g.heads);
        }
      }
      if (!accumulate) for (let h = 0; h < H3; h++) if (!covered[h]) e.heap.fillF32(into + 4 * h * slice, slice, 0);
      // per row r: into[·, r, :] −= coef_r [3H, n + 1] · basis_r [n + 1, D], basis_r = (x̂_1[r], …, x̂_n[r], 1)
      const basis = e.empty([n + 1, R, D]);
      this.passes.forEach((p, i) => k.scale(p.xhat.ptr, 1, basis.ptr + 4 * i * slice, slice));
      e.heap.fillF32(basis.ptr + 4 * n * slice, slice, 1);
      const coef = new Float32Array(R * H3 * (n + 1));
      for (const g of this.groups) {
        const A = g.A.data(), wts = this.passes.map((p) => p.wt.get(g.head0)?.data() ?? null);
        for (let j = 0; j < g.heads; j++) {
          const h = g.head0 + j;
          for (let r = 0; r < R; r++) {
            const o = (r * H3 + h) * (n + 1);
            for (let i = 0; i < n; i++) coef[o + i] = wts[i]?.[j * R + r] ?? 0;
            coef[o + n] = A[j * R + r]!;
          }
        }
      }
      const Cf = e.fromArray(coef, [R, H3, n + 1]);
      k.gemmBatched(false, false, H3, D, n + 1, -1, Cf.ptr, n + 1, H3 * (n + 1), basis.ptr, slice, D, 1, into, slice, D, R);
    });
    this.dispose();
  }

  /** Frees what the passes and groups stored. */
  dispose(): void {
    for (const p of this.passes.splice(0)) {
      p.xhat.dispose();
      for (const t of p.wt.values()) t.dispose();
    }
    for (const g of this.groups.splice(0)) {
      for (const t of [g.cvec, g.offs, g.U, g.A]) t.dispose();
      if (g.ownGamma) g.gamma.dispose();
    }
  }
}
