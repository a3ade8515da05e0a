/**
 * Information flow routes (Ferrando & Voita 2024) as hannamw/EAP-IG computes them on the edge graph
 * (attribute(method='information-flow-routes')): from the clean run alone, how much of each destination's input
 * each parent source makes up. For destination v with input x_v (the residual stream before its norm) and parent
 * u with output a_u, at every real position:
 *   proximity(u, v)  = max(0, ‖x_v‖₁ − ‖x_v − a_u‖₁)
 *   importance(u, v) = proximity(u, v) / Σ_{parents u' of v} proximity(u', v)
 *   s(u → v)         = (1/N) Σ_examples (1/len) Σ_{real positions} importance(u, v)
 * So scores are ≥ 0, and a destination's scores sum to 1 over its parents at every position where some proximity
 * is positive; where none is, EAP-IG divides 0 by 0 (NaN) and here that position adds nothing. The L1 norms are
 * float64 sums of the float32 activations. A layer's q, k and v inputs are one value in the clean run, so its 3H
 * head-input destinations share their scores. No metric, no corrupted prompts, no gradients.
 */
import { rowStarts } from '../models/batch.js';
import { hookNames, type ForwardHook } from '../models/hooks.js';
import type { CleanContext, Method } from './types.js';

export const ifr: Method = {
  name: 'ifr',
  kind: 'gradient',
  summary: "information flow routes (Ferrando & Voita): each source's L1 proximity share of a destination's clean input; no gradients",
  options: [],
  color: '#be185d',
  validateVariants: [''],
  points: () => 1,
  scoreClean: (ctx) => scoreRoutes(ctx),
};

function scoreRoutes(ctx: CleanContext): void {
  const { e, model, batch } = ctx;
  const { nLayer: L, dModel: D } = model.dims;
  const layout = model.layout, { nSrc, nDst } = layout;
  const clean = batch.clean, R = clean.ids.length, starts = rowStarts(clean);
  const prev = e.tape;
  e.tape = null;
  try {
    e.tidy(() => {
      // the clean run: every source's output, and each destination group's input (copied: the pass frees its layers)
      const src = e.empty([nSrc, R, D]);
      const attnIn: Float32Array[] = [], mlpIn: Float32Array[] = [];
      let finalIn: Float32Array | null = null;
      const hooks: Record<string, ForwardHook> = {};
      for (let l = 0; l < L; l++) {
        hooks[hookNames.qInput(l)] = (x) => void (attnIn[l] = x.data().slice(0, R * D)); // H equal copies: keep one
        hooks[hookNames.mlpIn(l)] = (x) => void (mlpIn[l] = x.toArray());
      }
      hooks[hookNames.residFinal] = (x) => void (finalIn = x.toArray());
      model.forward(clean, { hooks, record: { buf: src, alpha: 1, write: true }, logits: 'none' });
      const a = src.data();
      // this batch's scores are added only at the end: a slice that runs out of memory is tried again
      const local = new Float64Array(nSrc * nDst);
      const route = (x: Float32Array, parents: number, cols: number[]): void => {
        const imp = new Float64Array(parents), prox = new Float64Array(parents);
        for (let b = 0; b < clean.B; b++) {
          const len = clean.lengths[b]!;
          for (let r = starts[b]!; r < starts[b]! + len; r++) {
            const xo = r * D;
            let norm = 0, total = 0;
            for (let d = 0; d < D; d++) norm += Math.abs(x[xo + d]!);
            for (let u = 0; u < parents; u++) {
              const ao = (u * R + r) * D;
              let dist = 0;
              for (let d = 0; d < D; d++) dist += Math.abs(x[xo + d]! - a[ao + d]!);
              total += prox[u] = Math.max(0, norm - dist);
            }
            if (total > 0) for (let u = 0; u < parents; u++) imp[u]! += prox[u]! / total / len;
          }
        }
        for (const v of cols) for (let u = 0; u < parents; u++) local[u * nDst + v] = imp[u]!;
      };
      const H = model.dims.nHead;
      for (let l = 0; l < L; l++) {
        const c0 = layout.firstSlot(l);
        route(attnIn[l]!, layout.parentCount(c0), Array.from({ length: 3 * H }, (_, i) => c0 + i));
        route(mlpIn[l]!, layout.parentCount(layout.mlpSlot(l)), [layout.mlpSlot(l)]);
      }
      route(finalIn!, nSrc, [layout.logitsSlot]);
      for (let i = 0; i < local.length; i++) ctx.sums[i]! += local[i]!;
    });
  } finally {
    e.tape = prev;
  }
}
