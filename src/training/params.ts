/**
 * The trainable parameters of a GPT-2 under their Hugging Face names (GPT2Model layout, tied unembedding), as
 * the tensors the forward pass reads: training updates them in place. Weight decay applies to the matrices and
 * the embeddings, not to biases or LayerNorm parameters (the usual AdamW split, as in GPT-2 / nanoGPT).
 */
import type { Tensor } from '../engine/tensor.js';
import type { GPT2 } from '../models/gpt2.js';
import { UserError } from '../util/errors.js';

export interface Param {
  /** Hugging Face name, e.g. "h.0.attn.c_attn.weight". */
  name: string;
  tensor: Tensor;
  /** True for matrices and embeddings (weight decay), false for biases and LayerNorm gains/biases. */
  decay: boolean;
}

/** Every parameter of `model`, in checkpoint order (wte, wpe, per layer, ln_f). */
export function modelParams(model: GPT2): Param[] {
  const w = model.weights;
  if (w.streamed) throw new UserError('training needs every weight in memory; this model is too large (its layers are streamed)');
  if (w.unembed !== w.wte) throw new UserError('training supports tied embeddings only; this checkpoint has its own lm_head.weight');
  const out: Param[] = [
    { name: 'wte.weight', tensor: w.wte, decay: true },
    { name: 'wpe.weight', tensor: w.wpe, decay: true },
  ];
  for (let l = 0; l < model.dims.nLayer; l++) {
    const lw = w.layer(l);
    const p = `h.${l}.`;
    out.push(
      { name: p + 'ln_1.weight', tensor: lw.ln1g, decay: false },
      { name: p + 'ln_1.bias', tensor: lw.ln1b, decay: false },
      { name: p + 'attn.c_attn.weight', tensor: lw.attnW, decay: true },
      { name: p + 'attn.c_attn.bias', tensor: lw.attnB, decay: false },
      { name: p + 'attn.c_proj.weight', tensor: lw.projW, decay: true },
      { name: p + 'attn.c_proj.bias', tensor: lw.projB, decay: false },
      { name: p + 'ln_2.weight', tensor: lw.ln2g, decay: false },
      { name: p + 'ln_2.bias', tensor: lw.ln2b, decay: false },
      { name: p + 'mlp.c_fc.weight', tensor: lw.fcW, decay: true },
      { name: p + 'mlp.c_fc.bias', tensor: lw.fcB, decay: false },
      { name: p + 'mlp.c_proj.weight', tensor: lw.outW, decay: true },
      { name: p + 'mlp.c_proj.bias', tensor: lw.outB, decay: false },
    );
  }
  out.push({ name: 'ln_f.weight', tensor: w.lnfG, decay: false }, { name: 'ln_f.bias', tensor: w.lnfB, decay: false });
  return out;
}

/** Marks (or unmarks) every parameter as requiring a gradient. */
export function setRequiresGrad(params: readonly Param[], on: boolean): void {
  for (const p of params) p.tensor.requiresGrad = on;
}
