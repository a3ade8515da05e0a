/**
 * EAP-IG on activations (Hanna et al.'s variant): for each group of sources — the input, all heads of a layer,
 * a layer's MLP — and k = 1..m, that group's output is held at the constant (k/m)·clean + (1 − k/m)·corrupted
 * while gradients are taken. No gradient flows through the held group (TransformerLens hook semantics). Under
 * an ablation (ablation.ts) the ablated values take the corrupted ones' place.
 */
import type { Tensor } from '../engine/tensor.js';
import { hookNames, type ForwardHook } from '../models/hooks.js';
import { INTERVENTION } from './ablation.js';
import { STEPS } from './method-spec.js';
import type { Method } from './types.js';

export const eapIgActivations: Method = {
  name: 'eap-ig-activations',
  kind: 'gradient',
  summary: "Hanna et al.'s variant: each layer's outputs interpolated between corrupted and clean in turn",
  options: [STEPS, INTERVENTION],
  color: '#7c3aed',
  validateVariants: ['steps=5'],
  points: (L, o) => (2 * L + 1) * o.steps,
  needsCorrupted: true,
  perHeadHooks: true,
  run: (ctx) => {
    const { e, model } = ctx;
    const { nLayer: L, nHead: H } = model.dims;
    const m = ctx.opts.steps;
    const A = ctx.corrupted!, delta = ctx.delta;
    const rowElems = A.size / A.shape[0]!;
    // groups: [hook name, first source index, number of sources]
    const groups: [string, number, number][] = [[hookNames.embed, 0, 1]];
    for (let l = 0; l < L; l++) groups.push([hookNames.result(l), model.layout.head(l, 0), H], [hookNames.mlpOut(l), model.layout.mlp(l), 1]);
    for (const [name, first, count] of groups) {
      for (let k = 1; k <= m; k++) {
        e.tidy(() => {
          // corrupted + (k/m)(clean − corrupted) = A' − (k/m)·Δ
          const held: Tensor = e.empty(count === 1 ? [rowElems] : [count, rowElems]);
          e.kernels.scale(A.ptr + 4 * first * rowElems, 1, held.ptr, held.size);
          e.kernels.axpy(-k / m, delta.ptr + 4 * first * rowElems, held.ptr, held.size);
          const hook: ForwardHook = (v) => held.reshape(v.shape);
          ctx.point({ hooks: { [name]: hook }, label: `${name} held at point ${k} of ${m}` });
        });
      }
    }
  },
};
