/**
 * Hook points of the GPT-2 forward pass (TransformerLens names), one per place the circuit graph reads or
 * writes the model (DESIGN.md §3). Shapes use R rows: B·P (batch-major, right-padded) or, for a packed batch,
 * Σ lengths (real tokens only).
 *
 *   hook_embed                   [R, D]     token embedding wte[tok] (the graph's `input`; no position embedding)
 *   blocks.{l}.hook_resid_pre    [R, D]     the residual stream entering block l
 *   blocks.{l}.hook_q_input      [H, R, D]  each head's own query input: the residual stream before ln_1
 *   blocks.{l}.hook_k_input      [H, R, D]  … key input
 *   blocks.{l}.hook_v_input      [H, R, D]  … value input
 *   blocks.{l}.attn.hook_attn_scores [B, H, P, P]  the attention logits (scaled, soft-capped), −∞ at keys a query
 *                                               cannot see; read-only: see attentionWatch
 *   blocks.{l}.attn.hook_pattern [B, H, P, P]  their softmax (read-only), in the padded layout whatever R is
 *   blocks.{l}.attn.hook_result  [H, R, D]  each head's output z_h·W_O,h, without b_O (the graph's a{l}.h{h})
 *   blocks.{l}.hook_mlp_in       [R, D]     the MLP's input: the residual stream before ln_2
 *   blocks.{l}.mlp.hook_post     [R, F]     the MLP's hidden units, the output projection's input: act(x·W_in) or
 *                                          act(gate)·up (F = d_mlp; MLP neurons, attribution/mlp-neurons.ts)
 *   blocks.{l}.hook_mlp_out      [R, D]     the MLP's output (the graph's m{l})
 *   hook_resid_final             [R, D]     the residual stream before ln_f (the graph's `logits` input)
 */
import type { AttentionWatch } from '../engine/attention-watch.js';
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

/** The hook points the graph reads or writes, of a model with L layers, in forward order (not resid_pre, attn_scores, pattern). */
export function allHookNames(L: number): string[] {
  const out: string[] = [hookNames.embed];
  for (let l = 0; l < L; l++) {
    out.push(hookNames.qInput(l), hookNames.kInput(l), hookNames.vInput(l), hookNames.result(l), hookNames.mlpIn(l), hookNames.mlpOut(l));
  }
  out.push(hookNames.residFinal);
  return out;
}

/**
 * The watchers of layer l's attention scores and pattern from the hooks at hook_attn_scores and hook_pattern, or
 * undefined when none looks (the fused path runs alone). These two points are read-only: a forward hook that
 * returns a replacement is an error (the fused kernel cannot take a pattern from outside). Gradient hooks are
 * called only on a recording pass.
 */
export function attentionWatch(
  l: number, hooks: Readonly<Partial<Record<string, ForwardHook>>>, gradHooks: Readonly<Partial<Record<string, GradHook>>>, taped: boolean,
): AttentionWatch | undefined {
  const sn = hookNames.attnScores(l), pn = hookNames.pattern(l);
  const fs = hooks[sn], fp = hooks[pn], gs = taped ? gradHooks[sn] : undefined, gp = taped ? gradHooks[pn] : undefined;
  if (!fs && !fp && !gs && !gp) return undefined;
  const look = (h: ForwardHook, name: string) => (t: Tensor) => {
    if (h(t, name) !== undefined) throw new Error(`hook ${name} returned a value: the attention scores and pattern can be read, not replaced`);
  };
  return {
    scores: fs && look(fs, sn),
    pattern: fp && look(fp, pn),
    scoresGrad: gs && ((g: Tensor) => gs(g, sn)),
    patternGrad: gp && ((g: Tensor) => gp(g, pn)),
  };
}
