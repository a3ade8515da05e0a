/**
 * The relevance mode of the backward pass: LRP propagation rules (RelP, Jafari et al. 2025, arXiv 2508.21258, as
 * its authors' TransformerLens fork writes them, each a `.detach()` in the forward) sent back instead of gradients.
 * A backward pass run with BackwardOptions.relevance applies the rules switched on:
 *   norm        LN-rule (Ali et al. 2022): 1/σ of LayerNorm / RMSNorm a constant, the centring kept:
 *               dx = rstd·(γ⊙dy − mean_d(γ⊙dy)) (LayerNorm), rstd·(γ⊙dy) (RMSNorm)
 *   activation  Identity-rule: dx = dy·act(x)/x̃, x̃ = x + (1[x = 0] + sign x)·1e-6 (the authors' stabilize)
 *   gate        Half-rule: a gated act(g)·u sends half of each factor's gradient
 *   attention   AH-rule: the attention pattern a constant: dq = dk = 0, dv = Aᵀ·dz
 * Linear maps, sums and gathers keep their gradient (the 0-rule); soft-caps have no rule and keep theirs.
 * Each rule is composed from existing kernels (a norm's backward at x̂ = 0 is the LN-rule) or a loop over the
 * values, so the kernel contract is unchanged; without rules the same kernel calls run as before.
 */
import type { Engine } from './engine.js';
import type { RelevanceRules } from './tape.js';
import type { Tensor } from './tensor.js';

/** The identity rule's stabiliser of the authors' code: x + (1[x = 0] + sign x)·1e-6, in float32. */
function stabilized(x: number): number {
  return Math.fround(x + ((x === 0 ? 1 : 0) + Math.sign(x)) * 1e-6);
}

/**
 * layerNormBackward; under the LN-rule the same kernel reading x and the means as zeros, so that x̂ = 0 and
 * dx = rstd·(g − mean_d(g)).
 */
export function layerNormBack(
  e: Engine, rules: RelevanceRules | null, dy: number, x: number, gamma: number, mean: number, rstd: number,
  dx: number, accumulate: boolean, dxAcc: number, rows: number, D: number,
): void {
  if (!rules?.norm) return e.kernels.layerNormBackward(dy, x, gamma, mean, rstd, dx, accumulate, dxAcc, rows, D);
  const z = zerosFor(e, rows, D);
  e.kernels.layerNormBackward(dy, z.ptr, gamma, z.ptr + 4 * rows * D, rstd, dx, accumulate, dxAcc, rows, D);
  z.dispose();
}

/** rmsNormBackward; under the LN-rule the same kernel at x = 0: dx = rstd·(γ + offset)⊙dy. */
export function rmsNormBack(
  e: Engine, rules: RelevanceRules | null, dy: number, x: number, gamma: number, offset: number, rstd: number,
  dx: number, accumulate: boolean, dxAcc: number, rows: number, D: number,
): void {
  if (!rules?.norm) return e.kernels.rmsNormBackward(dy, x, gamma, offset, rstd, dx, accumulate, dxAcc, rows, D);
  const z = zerosFor(e, rows, D);
  e.kernels.rmsNormBackward(dy, z.ptr, gamma, offset, rstd, dx, accumulate, dxAcc, rows, D);
  z.dispose();
}

/** rows·D + rows zeros (an input and its row means), detached: the caller disposes it. */
function zerosFor(e: Engine, rows: number, D: number): Tensor {
  const z = e.emptyDetached([rows * D + rows]);
  e.heap.fillF32(z.ptr, z.size, 0);
  return z;
}

/**
 * The Identity-rule: dx (+)= scale·dy·act/x̃ over x's elements, `act` holding act(x) (times `up` for a gated
 * activation's gate: then `up` is null and dy already multiplied), dx written unless `accumulate`.
 */
export function identityRule(x: Tensor, act: Tensor, dy: Tensor, dx: Tensor, accumulate: boolean, scale = 1, up: Tensor | null = null): void {
  const X = x.data(), A = act.data(), G = dy.data(), O = dx.data(), U = up?.data();
  for (let i = 0; i < X.length; i++) {
    const ratio = Math.fround(A[i]! / stabilized(X[i]!));
    let v = Math.fround(G[i]! * ratio);
    if (U) v = Math.fround(v * U[i]!);
    if (scale !== 1) v = Math.fround(v * scale);
    O[i] = accumulate ? Math.fround(O[i]! + v) : v;
  }
}

/** The AH-rule on a fused [rows, 3·W] q/k/v gradient: the q and k columns of every row zeroed (the pattern is a constant). */
export function zeroQueryKeyColumns(e: Engine, dqkv: Tensor, rows: number, W: number): void {
  for (let r = 0; r < rows; r++) e.heap.fillF32(dqkv.ptr + 4 * r * 3 * W, 2 * W, 0);
}
