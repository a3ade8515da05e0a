/**
 * Hook points of the GPT-2 forward pass (TransformerLens names), one per place the circuit graph reads or
 * writes the model (DESIGN.md §3). Shapes use R rows: B·P (batch-major, right-padded) or, for a packed batch,
 * Σ lengths (real tokens only).
 *
 *   hook_embed                   [R, D]     token embedding wte[tok] (the graph's `input`; no position embedding)
 *   blocks.{l}.hook_q_input      [H, R, D]  each head's own query input: the residual stream before ln_1
 *   blocks.{l}.hook_k_input      [H, R, D]  … key input
 *   blocks.{l}.hook_v_input      [H, R, D]  … value input
 *   blocks.{l}.attn.hook_result  [H, R, D]  each head's output z_h·W_O,h, without b_O (the graph's a{l}.h{h})
 *   blocks.{l}.hook_mlp_in       [R, D]     the MLP's input: the residual stream before ln_2
 *   blocks.{l}.hook_mlp_out      [R, D]     the MLP's output (the graph's m{l})
 *   hook_resid_final             [R, D]     the residual stream before ln_f (the graph's `logits` input)
 */
import type { Tensor } from '../engine/tensor.js';
import type { LayerHeadGrads } from './head-grads.js';
import { hookNames } from './hook-names.js';

/**
 * A forward hook sees the value at its hook point and may return a replacement of the same shape (to add to a
 * value, return an `add` of it). Returning nothing keeps the value. Ops on the tape stay differentiable.
 */
export type ForwardHook = (value: Tensor, name: string) => Tensor | void;
/** A gradient hook receives dLoss/d(value) during backward; the tensor is valid only during the call. */
export type GradHook = ((grad: Tensor, name: string) => void) & {
  /**
   * On all three per-head input hooks of a layer (the same object from each): the backward pass deposits the
   * layer's per-head input gradients there, to be summed over passes and formed once (see head-grads.ts); the
   * hooks are then not called. Taken only when no forward hook replaces the layer's per-head inputs.
   */
  deferHeads?: () => LayerHeadGrads;
};

export { hookNames } from './hook-names.js';

/** Every hook point name of a model with L layers, in forward order. */
export function allHookNames(L: number): string[] {
  const out: string[] = [hookNames.embed];
  for (let l = 0; l < L; l++) {
    out.push(hookNames.qInput(l), hookNames.kInput(l), hookNames.vInput(l), hookNames.result(l), hookNames.mlpIn(l), hookNames.mlpOut(l));
  }
  out.push(hookNames.residFinal);
  return out;
}
