/**
 * EAP-IG (inputs; Hanna et al. 2024): gradients at m points on the straight line between the corrupted and the
 * clean token embeddings, e_k = e' + (k/m)(e − e') for k = 0..m−1 (the corrupted end in, the clean end out).
 * Under an ablation (ablation.ts) e' is the input node's ablated value: 0, the mean or the per-position mean.
 */
import { INTERVENTION } from './ablation.js';
import { STEPS } from './method-spec.js';
import type { Method } from './types.js';

export const eapIg: Method = {
  name: 'eap-ig',
  kind: 'gradient',
  summary: 'integrated gradients on the straight line from the corrupted to the clean token embeddings',
  options: [STEPS, INTERVENTION],
  color: '#2563eb',
  reproduceByDefault: true,
  validateVariants: ['steps=5', 'steps=10', 'steps=20'],
  points: (_L, o) => o.steps,
  recordsCorrupted: true,
  run: (ctx) => {
    const { e } = ctx;
    const m = ctx.opts.steps;
    e.tidy(() => {
      const clean = ctx.embeddings('clean'), corr = ctx.baselineEmbeddings();
      const diff = e.empty(clean.shape);
      e.kernels.scale(clean.ptr, 1, diff.ptr, clean.size);
      e.kernels.axpy(-1, corr.ptr, diff.ptr, clean.size);
      for (let k = 0; k < m; k++) {
        e.tidy(() => {
          const x = e.empty(clean.shape);
          e.kernels.scale(corr.ptr, 1, x.ptr, x.size);
          e.kernels.axpy(k / m, diff.ptr, x.ptr, x.size);
          // the first point is the corrupted input itself: its pass records the corrupted activations
          ctx.point({ embeds: x, recordCorrupted: k === 0 && !ctx.ablated, label: `integration point ${k + 1} of ${m}` });
        });
      }
    });
  },
};
