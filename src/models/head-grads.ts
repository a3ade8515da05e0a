/**
 * The gradients at every head's q/k/v input of one layer, summed over several backward passes without forming
 * them in each pass. Each head reads its own LayerNorm of the residual stream x, so its input gradient is
 *   dx_h = rstd ⊙ (dq_h·W̃_hᵀ − a_h·1ᵀ − s_h ⊙ x̂),   W̃ = diag(γ)·W,
 *   a_h[r] = dq_h[r]·c_h with c = γᵀW / D,   s_h[r] = dq_h[r]·(qkv_h[r] − b_h − βᵀW_h) / D
 * (the LayerNorm backward written in the head's dh coordinates: W̃_hᵀ x̂ = qkv_h − b_h − βᵀW_h). Only the last term
 * depends on the pass beyond rstd ⊙ dq_h, so a pass stores U += rstd ⊙ dq, A += rstd ⊙ a, its own x̂ [R, D] and
 * weights Wt = rstd ⊙ s [3H, R], and `materialize` does one product per head for all passes:
 *   Σ_passes dx_h = U_h·W̃_hᵀ − A_h·1ᵀ − Σ_k Wt_k,h ⊙ x̂_k.
 * That replaces, per pass, 3H thin (K = d_head) products and 3H LayerNorm backward passes over [R, D].
 */
import type { Engine } from '../engine/engine.js';
import type { WeightRef } from '../engine/ops.js';
import type { Tensor } from '../engine/tensor.js';

const deref = (w: WeightRef): Tensor => (typeof w === 'function' ? w() : w);

/** What qkvProject's backward hands over in one pass (pointers into the heap, valid during the call). */
export interface HeadGradPass {
  /** dLoss/dqkv [R, 3D]. */
  dqkv: Tensor;
  /** The layer's input (residual stream) [R, D] and its LayerNorm statistics (mean, rstd pointers of R floats). */
  resid: Tensor;
  rstd: number;
  /** The op's output qkv [R, 3D] (bias included). */
  qkv: Tensor;
  lnG: Tensor;
  lnB: Tensor;
  /** c_attn [D, 3D] and its bias [3D]. */
  W: WeightRef;
  b: Tensor;
  eps: number;
}

export class LayerHeadGrads {
  private U: Tensor | null = null;
  private A: Tensor | null = null;
  private cvec: Tensor | null = null;
  private offs: Tensor | null = null;
  private readonly passes: { xhat: Tensor; wt: Tensor }[] = [];
  private lnG: Tensor | null = null;
  private W: WeightRef | null = null;

  constructor(
    private readonly e: Engine,
    readonly H: number,
  ) {}

  /** True once a pass has deposited its gradients. */
  get filled(): boolean {
    return this.passes.length > 0;
  }

  /** Adds one backward pass's gradients (called by qkvProject's backward). */
  deposit(p: HeadGradPass): void {
    const { e, H } = this;
    const k = e.kernels;
    const D = p.resid.shape[p.resid.shape.length - 1]!, R = p.resid.size / D, D3 = 3 * D;
    if (!this.cvec) {
      // pass-independent vectors: c = γᵀW / D and the bias of the centred product, b + βᵀW
      const W = deref(p.W);
      this.cvec = e.emptyDetached([D3]);
      this.offs = e.emptyDetached([D3]);
      k.gemm(false, false, 1, D3, D, 1 / D, p.lnG.ptr, D, W.ptr, D3, 0, this.cvec.ptr, D3);
      k.scale(p.b.ptr, 1, this.offs.ptr, D3);
      k.gemm(false, false, 1, D3, D, 1, p.lnB.ptr, D, W.ptr, D3, 1, this.offs.ptr, D3);
      this.lnG = p.lnG;
      this.W = p.W;
    }
    const first = !this.U;
    this.U ??= e.emptyDetached([R, D3]);
    this.A ??= e.emptyDetached([3 * H, R]);
    if (this.U.size !== R * D3) throw new Error(`deferred head gradients: ${R} rows after ${this.U.size / D3}`);
    const wt = e.emptyDetached([3 * H, R]);
    k.headGradDeposit(p.dqkv.ptr, p.rstd, p.qkv.ptr, this.cvec.ptr, this.offs!.ptr, this.U.ptr, this.A.ptr, wt.ptr, R, D3, D / H, 1 / D, !first);
    // x̂ of this pass: the LayerNorm with unit gain and zero bias (its statistics are recomputed into scratch)
    const xhat = e.emptyDetached([R, D]);
    e.tidy(() => {
      const ones = e.empty([D]), zeros = e.zeros([D]), st = e.empty([2, R]);
      e.heap.fillF32(ones.ptr, D, 1);
      k.layerNorm(p.resid.ptr, ones.ptr, zeros.ptr, xhat.ptr, st.ptr, st.ptr + 4 * R, R, D, p.eps);
    });
    this.passes.push({ xhat, wt });
  }

  /**
   * Writes the summed gradients into `into`, 3H slices [R, D] (q heads, then k heads, then v heads), or adds them
   * (`accumulate`), and frees the stored passes.
   */
  materialize(into: number, accumulate = false): void {
    const { e, H } = this;
    if (!this.U) throw new Error('deferred head gradients: nothing deposited');
    const k = e.kernels;
    const R = this.A!.shape[1]!, D3 = this.U.shape[1]!, D = D3 / 3, dh = D / H, n = this.passes.length;
    e.tidy(() => {
      // W̃ = diag(γ)·W, then every head's U_h·W̃_hᵀ in one batched call
      const W = deref(this.W!), g = this.lnG!.data();
      const Wt = e.empty([D, D3]);
      for (let d = 0; d < D; d++) k.scale(W.ptr + 4 * d * D3, g[d]!, Wt.ptr + 4 * d * D3, D3);
      k.gemmBatched(false, true, R, D, dh, 1, this.U!.ptr, D3, dh, Wt.ptr, D3, dh, accumulate ? 1 : 0, into, D, R * D, 3 * H);
      // per row r: into[·, r, :] −= coef_r [3H, n + 1] · basis_r [n + 1, D], basis_r = (x̂_1[r], …, x̂_n[r], 1)
      const basis = e.empty([n + 1, R, D]);
      this.passes.forEach((p, i) => k.scale(p.xhat.ptr, 1, basis.ptr + 4 * i * R * D, R * D));
      e.heap.fillF32(basis.ptr + 4 * n * R * D, R * D, 1);
      const coef = new Float32Array(R * 3 * H * (n + 1));
      const A = this.A!.data(), wts = this.passes.map((p) => p.wt.data());
      for (let h = 0; h < 3 * H; h++) {
        for (let r = 0; r < R; r++) {
          const o = (r * 3 * H + h) * (n + 1);
          for (let i = 0; i < n; i++) coef[o + i] = wts[i]![h * R + r]!;
          coef[o + n] = A[h * R + r]!;
        }
      }
      const C = e.fromArray(coef, [R, 3 * H, n + 1]);
      k.gemmBatched(false, false, 3 * H, D, n + 1, -1, C.ptr, n + 1, 3 * H * (n + 1), basis.ptr, R * D, D, 1, into, R * D, D, R);
    });
    this.dispose();
  }

  /** Frees what the passes stored (the pass-independent vectors too). */
  dispose(): void {
    for (const p of this.passes.splice(0)) {
      p.xhat.dispose();
      p.wt.dispose();
    }
    for (const t of [this.U, this.A, this.cvec, this.offs]) t?.dispose();
    this.U = this.A = this.cvec = this.offs = null;
  }
}
