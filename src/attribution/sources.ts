/**
 * Source activations of the circuit graph: the output of every source node (token embedding, each head after
 * W_O, each MLP) in one buffer [nSrc, B·P, D], in the graph's forward order (input, then per layer the H heads
 * and the MLP), written by a forward pass (ForwardOptions.record).
 */
import type { Engine } from '../engine/engine.js';
import type { Tensor } from '../engine/tensor.js';
import type { Batch, ForwardOptions, GPT2 } from '../models/gpt2.js';

/** Number of source nodes: input, then H heads and one MLP per layer. */
export const nSources = (L: number, H: number): number => 1 + L * (H + 1);
/** Forward index of head h of layer l (the MLP of layer l is at headIndex(l, H, H)). */
export const headIndex = (l: number, h: number, H: number): number => 1 + l * (H + 1) + h;

/**
 * Runs `batch` without gradients and writes alpha·outputs into buf (`write`, default for alpha = 1) or adds them
 * (buf must then be initialised). Returns the residual stream before ln_f [R, D] when `keepFinal` (else null).
 */
export function recordSources(
  e: Engine, model: GPT2, batch: Batch, buf: Tensor, alpha: number, opts: Pick<ForwardOptions, 'embeds'> & { keepFinal?: boolean; write?: boolean } = {},
): Tensor | null {
  const { nLayer: L, nHead: H } = model.dims;
  const prev = e.tape;
  e.tape = null; // no gradients: nothing is recorded
  try {
    return e.tidy(() => {
      const out = model.forward(batch, { embeds: opts.embeds, record: { buf, alpha, write: opts.write ?? alpha === 1 }, logits: 'none' });
      return opts.keepFinal ? out.residFinal : null;
    });
  } finally {
    e.tape = prev;
  }
}
