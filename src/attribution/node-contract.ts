/**
 * Node- and neuron-level contraction of a batch's gradient sums (EAP-IG's attribute_node): for every source u,
 *   N[u, d] += Σ_rows Δ_u[r, d] · ĝ_u[r, d],   ĝ_u = Σ_{v: u→v an edge} g_v,
 * where g_v is the summed gradient at destination v (gradients.ts). ĝ_u is the gradient at u's own output: a_u
 * enters every reader's input additively (the residual stream is a sum of the source outputs), and its readers
 * are exactly its children in the graph, so ∂L/∂a_u = Σ_v ∂L/∂x_v. Hence Σ_d N[u, d] = Σ_v S[u, v] (the edge
 * scores): a node's score is the sum of its outgoing edges' scores, the logits edge included.
 * ĝ is a suffix sum over the destinations in backward order, formed one layer at a time from the logits down,
 * so no gradient is kept beyond one layer's slots and the running sum.
 */
import type { Tensor } from '../engine/tensor.js';
import type { GraphLayout } from '../models/layout.js';
import type { GradSum } from './gradients.js';

/**
 * N [nSrc, D] (row-major, float64, the first nSrc·D values) += each source's per-dimension Σ_rows Δ·ĝ. `onMlp`
 * sees each MLP's ĝ [R, D] (a heap pointer, valid during the call): mlp-neurons.ts takes it to the hidden units.
 */
export function contractNodes(N: Float64Array, delta: Tensor, grads: GradSum, layout: GraphLayout, onMlp?: (l: number, g: number) => void): void {
  const e = delta.engine, k = e.kernels;
  const { nLayers: L, nHeads: H } = layout;
  const nSrc = delta.shape[0]!, RD = delta.size / nSrc, D = delta.shape[2]!, R = RD / D;
  const slots = 3 * H + 1;
  e.tidy(() => {
    const T = e.empty([RD]); // ĝ of the sources read so far from the top: every destination downstream
    const G = e.empty([slots, RD]);
    grads.formInto(T.ptr, layout.logitsSlot, 1);
    const take = (u: number): void => {
      const heap = e.heap, a = heap.f32At(delta.ptr + 4 * u * RD, RD), g = heap.f32At(T.ptr, RD);
      for (let r = 0; r < R; r++) {
        const o = r * D;
        for (let d = 0; d < D; d++) N[u * D + d]! += a[o + d]! * g[o + d]!;
      }
    };
    for (let l = L - 1; l >= 0; l--) {
      grads.formInto(G.ptr, layout.firstSlot(l), slots);
      const mlpGrad = G.ptr + 4 * 3 * H * RD;
      take(layout.mlp(l)); // its readers: the layers above and the logits
      onMlp?.(l, T.ptr);
      // in sequential blocks the layer's heads also feed its MLP; in parallel ones they read the same stream
      if (!layout.parallelAttnMlp) k.axpy(1, mlpGrad, T.ptr, RD);
      for (let h = 0; h < H; h++) take(layout.head(l, h));
      for (let i = 0; i < 3 * H; i++) k.axpy(1, G.ptr + 4 * i * RD, T.ptr, RD);
      if (layout.parallelAttnMlp) k.axpy(1, mlpGrad, T.ptr, RD);
    }
    take(0);
  });
}
