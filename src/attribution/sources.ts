/**
 * Source activations of the circuit graph: the output of every source node (token embedding, each head after
 * W_O, each MLP) in one buffer [nSrc, B·P, D], in the graph's forward order (input, then per layer the H heads
 * and the MLP), written by a forward pass (ForwardOptions.record).
 */
import type { Engine } from '../engine/engine.js';
import type { Tensor } from '../engine/tensor.js';
import type { CausalLM } from '../models/model.js';
import type { Batch } from '../models/batch.js';
import type { ForwardOptions } from '../models/model.js';


/**
 * Runs `batch` without gradients and writes alpha·outputs into buf (`write`, default for alpha = 1) or adds them
 * (buf must then be initialised); the MLPs' hidden units likewise into `hidden` [L, R, F] when given. Returns the residual stream before ln_f [R, D] when `keepFinal` (else null).
 */
export function recordSources(
  e: Engine, model: CausalLM, batch: Batch, buf: Tensor, alpha: number, opts: Pick<ForwardOptions, 'embeds'> & { keepFinal?: boolean; write?: boolean; hidden?: Tensor } = {},
): Tensor | null {
  const prev = e.tape;
  e.tape = null; // no gradients: nothing is recorded
  try {
    return e.tidy(() => {
      const out = model.forward(batch, { embeds: opts.embeds, record: { buf, alpha, write: opts.write ?? alpha === 1, hidden: opts.hidden }, logits: 'none' });
      return opts.keepFinal ? out.residFinal : null;
    });
  } finally {
    e.tape = prev;
  }
}
