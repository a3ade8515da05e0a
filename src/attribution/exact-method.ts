/**
 * Exact patching as a method of the registry: its description. Its computation (exact.ts) runs patched forward
 * passes through src/evaluation, and score.ts calls it for every method of kind `patching`.
 */
import { INTERVENTION } from './ablation.js';
import type { PatchingMethod } from './method-spec.js';

export const exact: PatchingMethod = {
  name: 'exact',
  kind: 'patching',
  summary: 'patches every edge alone: the ground truth the others approximate (small models only)',
  options: [INTERVENTION],
  color: '#111827',
  validateVariants: [],
  points: () => 1,
};
