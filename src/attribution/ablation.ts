/**
 * The intervention (EAP-IG's `intervention`): what a removed edge carries, and so what the gradient methods'
 * Δ_u = ã_u − a_u(z) compares the clean run with (src/evaluation/means.ts defines ã):
 *   patching          ã = the corrupted run's outputs (the default; DESIGN.md §4)
 *   zero              ã = 0
 *   mean              ã = the dataset mean of each source's output over the clean prompts' real tokens
 *   mean-positional   ã = that mean per position
 * One option for exact patching, the gradient methods that take it, and `eapgp evaluate`; the graph JSON meta
 * records it (`intervention`). With an ablation the corrupted prompts are not run. Per method:
 *   eap                  Δ = ã − a (EAP-IG's get_scores_eap does the same for zero, mean and mean-positional)
 *   eap-ig               the straight path runs from the input node's ablated value (0, the mean token embedding,
 *                        or the per-position one) to the clean token embeddings; Δ = ã − a for every source.
 *                        hannamw/EAP-IG refuses any intervention but patching for EAP-IG-inputs; this is the
 *                        reading of the forks that allow zero (path from 0, Δ = 0 − a)
 *   eap-ig-activations   each group is held at (k/m)·clean + (1 − k/m)·ã. EAP-IG's mean variant interpolates
 *                        towards 0 instead (its corrupted buffer is never filled without a corrupted run) while
 *                        its Δ is mean − clean; here both use the mean
 *   clean-corrupted      the gradients at the clean input and at the far end of eap-ig's path (the input node at
 *                        its ablated value); EAP-IG refuses ablations for this method
 *   eap-gp               not offered: GradPath descends towards the corrupted run's logits from the clean input,
 *                        and an ablated model (every source at 0 or a mean) is no input's run, so there is no
 *                        target logit vector the path's objective could be built from that the paper defines
 * EAP-IG's compute_mean_activations differs in two places that we do not copy: its plain mean keeps only each
 * example's last real position (divided by the length) and then averages over all nodes, and its positional mean
 * adds padded rows and divides by every example.
 */
import { INTERVENTIONS } from '../evaluation/means.js';
import { choiceOption } from './method-spec.js';

/** What a removed edge carries, and what Δ compares the clean run with. */
export const INTERVENTION = choiceOption({
  key: 'intervention', flag: 'intervention', variantKey: 'intervention', metavar: INTERVENTIONS.join('|'), meta: 'intervention',
  default: 'patching', values: INTERVENTIONS, help: 'what a removed edge carries: the corrupted run, zero, the mean, the per-position mean',
});
