/**
 * The kernel contract: every numeric primitive the engine needs, on raw memory.
 *
 * All pointers are byte offsets into the shared heap (src/engine/memory.ts), f32 unless marked i32.
 * Matrices are row-major; `ld*` arguments are row strides in elements. Implementations:
 *   - src/engine/reference.ts: plain JavaScript loops, the ground truth for kernel tests;
 *   - src/engine/wasm-kernels.ts: AssemblyScript SIMD kernels run over the worker pool;
 *   - gemm / gemmBatched may instead go to a CBLAS addon (src/engine/blas.ts).
 *
 * Determinism: implementations partition *outputs* between threads and never change the order of a
 * reduction with the thread count, so results are bit-identical for any number of threads.
 * Where a kernel has `accumulate`, true means out += result, false means out = result.
 */
export interface Kernels {
  /** Human-readable name of the implementation (e.g. "wasm-relaxed-simd x2 threads"). */
  readonly name: string;

  /** C[M×N] = alpha · op(A) · op(B) + beta · C, op(X) = Xᵀ when t* is true. A is M×K (K×M when tA). beta = 0 ignores C's old contents (even NaN). */
  gemm(
    tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number,
    a: number, lda: number, b: number, ldb: number, beta: number, c: number, ldc: number,
  ): void;

  /** `batch` independent gemms; matrix i starts at a + i·strideA·4 (strides in elements), same for b and c. */
  gemmBatched(
    tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number,
    a: number, lda: number, strideA: number, b: number, ldb: number, strideB: number,
    beta: number, c: number, ldc: number, strideC: number, batch: number,
  ): void;

  /** y = (x − mean)·rstd·gamma + beta per row of D; writes the row statistics mean[rows], rstd[rows] (rstd = 1/sqrt(var + eps), biased variance). */
  layerNorm(x: number, gamma: number, beta: number, y: number, mean: number, rstd: number, rows: number, D: number, eps: number): void;

  /**
   * Input gradient of layerNorm given its saved statistics: with x̂ = (x − mean)·rstd and g = dy·gamma,
   * dx = rstd · (g − mean_d(g) − x̂ · mean_d(g·x̂)). Writes dx (accumulate: adds); if dxAcc ≠ 0, also adds dx to dxAcc.
   */
  layerNormBackward(
    dy: number, x: number, gamma: number, mean: number, rstd: number, dx: number, accumulate: boolean, dxAcc: number,
    rows: number, D: number,
  ): void;

  /**
   * One backward pass's share of a deferred sum of per-head LayerNorm input gradients (models/head-grads.ts).
   * g, y and U are [rows, cols]; the columns form cols/seg segments (heads); A and Wt are [cols/seg, rows]. Per row
   * r with v = rstd[r]·g[r, :]: U[r, :] = v, A[h, r] = Σ_{c∈h} v_c·cvec_c, Wt[h, r] = alpha·Σ_{c∈h} v_c·(y[r, c] − offs_c)
   * (accumulate: U and A add; Wt is always written).
   */
  headGradDeposit(
    g: number, rstd: number, y: number, cvec: number, offs: number, U: number, A: number, Wt: number,
    rows: number, cols: number, seg: number, alpha: number, accumulate: boolean,
  ): void;

  /**
   * RMSNorm: y = (x·rstd)·(gamma + offset) per row of D, rstd = 1/sqrt(mean(x²) + eps) written to rstd[rows]
   * (offset 1 for Gemma's gain 1 + w, else 0). x·rstd is rounded to float32 before the gain multiplies it.
   */
  rmsNorm(x: number, gamma: number, offset: number, y: number, rstd: number, rows: number, D: number, eps: number): void;

  /**
   * Input gradient of rmsNorm given its saved rstd: with x̂ = x·rstd and g = dy·(gamma + offset),
   * dx = rstd · (g − x̂ · mean_d(g·x̂)). Writes dx (accumulate: adds); if dxAcc ≠ 0, also adds dx to dxAcc.
   */
  rmsNormBackward(
    dy: number, x: number, gamma: number, offset: number, rstd: number, dx: number, accumulate: boolean, dxAcc: number,
    rows: number, D: number,
  ): void;

  /** dgamma[D] += Σ_rows dy·x̂, dbeta[D] += Σ_rows dy (weight gradients; partitioned over columns). */
  layerNormParamGrad(dy: number, x: number, mean: number, rstd: number, dgamma: number, dbeta: number, rows: number, D: number): void;

  /** y = gelu_new(x) = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), n elements. */
  gelu(x: number, y: number, n: number): void;
  /** dx = dy · gelu_new'(x) (accumulate: adds). */
  geluBackward(x: number, dy: number, dx: number, n: number, accumulate: boolean): void;

  /**
   * out = act(x), or act(x)·up when up ≠ 0 (gated: SwiGLU, GeGLU), n elements; `kind` is an ActivationKind.
   * out may alias x or up.
   */
  activation(kind: ActivationKind, x: number, up: number, out: number, n: number): void;
  /**
   * Gradients of `activation` given dy: dx = dy·act'(x)·(up, or 1 when up = 0) and dup = dy·act(x), each written
   * (not accumulated) unless its pointer is 0.
   */
  activationBackward(kind: ActivationKind, x: number, up: number, dy: number, dx: number, dup: number, n: number): void;

  /** dst[i] = the float32 whose bits are src[i] << 16: BF16 widened exactly (src holds n u16; no aliasing). */
  widenBf16(src: number, dst: number, n: number): void;

  /** out = a + b, n elements (out may alias a or b). */
  add(a: number, b: number, out: number, n: number): void;
  /** y += alpha · x, n elements. */
  axpy(alpha: number, x: number, y: number, n: number): void;
  /** out = alpha · x (out may alias x). */
  scale(x: number, alpha: number, out: number, n: number): void;
  /** out[r, c] = x[r, c] + v[c] for rows × cols (out may alias x). */
  addRowVector(x: number, v: number, out: number, rows: number, cols: number): void;
  /** out[c] (+)= Σ_r x[r, c]. */
  sumRows(x: number, out: number, rows: number, cols: number, accumulate: boolean): void;
  /** out[i] (+)= Σ_k x[k·n + i] for k < count (sum of `count` stacked arrays of n elements). */
  sumStacked(x: number, out: number, count: number, n: number, accumulate: boolean): void;

  /** out[i, :] = table[idx[i], :] for i < n, rows of D (idx is i32). */
  gatherRows(idx: number, table: number, out: number, n: number, D: number): void;
  /** table[idx[i], :] += src[i, :] (idx is i32; repeated indices add up in order of i). */
  scatterAddRows(idx: number, src: number, table: number, n: number, D: number): void;

  /**
   * Causal self-attention. qkv is [B·P, 3·H·dh]: per row the queries of all heads, then keys, then values
   * (head h at columns h·dh of each third) — GPT-2's c_attn output. z is [B·P, H·dh] (head h at columns h·dh).
   * probs [B, H, P, P] receives softmax(q·kᵀ·scale) with the strictly upper triangle (future) = 0.
   */
  attention(qkv: number, z: number, probs: number, B: number, P: number, H: number, dh: number, scale: number): void;
  /** Gradient of `attention`: writes dqkv [B·P, 3·H·dh] (not accumulated) from dz and the saved qkv and probs. */
  attentionBackward(dz: number, qkv: number, probs: number, dqkv: number, B: number, P: number, H: number, dh: number, scale: number): void;

  /** out = softmax(x) per row of `cols` (out may alias x). */
  softmaxRows(x: number, out: number, rows: number, cols: number): void;
}

/**
 * The MLP activations of `activation`: erf GELU x·Φ(x) (Hugging Face "gelu"), tanh GELU (gelu_new /
 * gelu_pytorch_tanh, as `gelu`), SiLU x·σ(x), ReLU max(x, 0) (NaN stays NaN; derivative 1 where x > 0, else 0,
 * as PyTorch's).
 */
export const enum ActivationKind {
  GeluErf = 0,
  GeluTanh = 1,
  Silu = 2,
  Relu = 3,
}
