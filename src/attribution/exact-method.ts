/**
 * Exact patching as a method of the registry: its description. Its computation (exact.ts) runs patched forward
 * passes through src/evaluation, and score.ts calls it for every method of kind `patching`.
 */
import { choiceOption, type PatchingMethod } from './method-spec.js';

/** What a removed edge carries: the corrupted run's activation, zero, or the dataset mean (DESIGN.md §5). */
export const INTERVENTION = choiceOption({
  key: 'intervention', flag: 'intervention', variantKey: 'intervention', metavar: 'patching|zero|mean', meta: 'intervention',
  default: 'patching', values: ['patching', 'zero', 'mean'] as const, help: 'what a removed edge carries',
});

export const exact: PatchingMethod = {
  name: 'exact',
  kind: 'patching',
  summary: 'patches every edge alone: the ground truth the others approximate (small models only)',
  options: [INTERVENTION],
  color: '#111827',
  validateVariants: [],
  points: () => 1,
};
