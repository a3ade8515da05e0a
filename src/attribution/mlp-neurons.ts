/**
 * MLP-neuron attribution (issue #15's "MLP neurons"): each hidden unit j of layer l's MLP, the input of its output
 * projection (hook_post: GELU(x·W_in + b_in) for GPT-2/NeoX, act(gate)·up for gated MLPs), scored as
 *   s(l, j) = 1/(N·K) Σ_examples Σ_rows (h_corr − h_clean)[r, j] · ĝ_h[r, j],   ĝ_h = ĝ_out · W_outᵀ
 * where ĝ_out = Σ_passes ∂L/∂(MLP output) is the sum the node level forms (node-contract.ts) and h_clean, h_corr
 * are recorded with the source outputs, from the same runs. The MLP's output is h·W_out + b_out, linear in h, so
 * ∂L/∂h = ∂L/∂out·W_outᵀ at every pass and summing over the method's passes (IG points, GradPath) before the
 * product is exact. Σ_j s(l, j) = Σ Δh·W_out · ĝ_out = the MLP node's score (Δ of the bias is 0).
 * Gemma 2 normalises the product once more (post_feedforward_layernorm): its output is not linear in h, so the
 * level refuses it (model.mlpOutNonlinear). Under zero or mean ablation the hidden units have no intervention
 * value here, so the level takes the corrupted run only.
 */
import type { Tensor } from '../engine/tensor.js';
import type { CausalLM } from '../models/model.js';
import { UserError } from '../util/errors.js';

/** The hidden width F, or a UserError when the model's MLP output is not linear in its hidden units. */
export function mlpNeuronShape(model: CausalLM, method: string): { F: number } {
  if (model.mlpOutNonlinear) throw new UserError(`--level mlp-neuron (${method}): ${model.mlpOutNonlinear}; use --level node or neuron`);
  return { F: model.dMlp };
}

/**
 * The callback contractNodes hands each MLP's ĝ_out [R, D] to: N[offset + l·F + j] += Σ_rows Δh[l][r, j]·ĝ_h[r, j]
 * with Δh = hdelta [L, R, F].
 */
export function contractMlpNeurons(N: Float64Array, offset: number, hdelta: Tensor, model: CausalLM): (l: number, g: number) => void {
  const e = hdelta.engine, [, R, F] = hdelta.shape as [number, number, number];
  return (l, g) => e.tidy(() => {
    const gh = e.empty([R, F]);
    model.mlpOutToHidden(l, g, gh.ptr, R);
    const heap = e.heap, a = heap.f32At(hdelta.ptr + 4 * l * R * F, R * F), b = heap.f32At(gh.ptr, R * F);
    const o = offset + l * F;
    for (let r = 0; r < R; r++) {
      const x = r * F;
      for (let j = 0; j < F; j++) N[o + j]! += a[x + j]! * b[x + j]!;
    }
  });
}
