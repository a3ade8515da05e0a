/**
 * RelP, relevance patching (Jafari, Eberle, Khakzar & Nanda 2025, arXiv 2508.21258): EAP's formula with the
 * gradient at the clean input replaced by LRP propagation coefficients,
 *   s(u → v) = Δ_u · c_v,   c_v = the relevance coefficient at v's input of one backward pass at the clean input,
 * the backward pass taking LRP's rules for transformers instead of the chain rule (engine/relevance.ts). The rules
 * are those of the authors' code (FarnoushRJ/RelP, a TransformerLens fork) and its quick start for GPT-2:
 *   LN-rule        every LayerNorm / RMSNorm (ln_1, ln_2, ln_f) with its 1/σ a constant
 *   Identity-rule  the MLP activation passes act(x)/x
 *   Half-rule      a gated MLP's act(gate)·up sends half to each factor
 *   0-rule         linear maps keep their gradient
 * and, with --relp-attention detach, the AH-rule: the attention pattern a constant, so queries and keys receive
 * nothing and every q/k edge scores 0. The authors list it among the rules but their GPT-2 quick start leaves it
 * out (LRP_rules = LN, Identity, Half), which is the default here. With the AH-rule and no biases the rules are
 * conservative: the coefficients at any cut of the residual stream, times its value, sum to the metric.
 * Δ is the corrupted run (or an ablation: ablation.ts) minus the clean run, as for EAP.
 */
import { INTERVENTION } from './ablation.js';
import { choiceOption } from './method-spec.js';
import type { Method, ResolvedOptions } from './types.js';

/** Whether the attention pattern passes relevance (the gradient through the softmax) or is a constant (AH-rule). */
export const RELP_ATTENTION = choiceOption({
  key: 'relpAttention', flag: 'relp-attention', variantKey: 'attention', metavar: 'gradient|detach', meta: 'relp_attention', default: 'gradient',
  values: ['gradient', 'detach'] as const, help: "RelP's attention pattern: its gradient, or detach (AH-rule: q/k edges score 0)",
});

export const relp: Method = {
  name: 'relp',
  kind: 'gradient',
  summary: 'relevance patching: EAP with LRP relevance coefficients (LN-, Identity-, Half-rule) for the gradient',
  options: [RELP_ATTENTION, INTERVENTION],
  color: '#0891b2',
  validateVariants: ['', 'attention=detach'],
  counterpart: 'eap',
  points: () => 1,
  recordsClean: true,
  run: (ctx) => {
    const attention = (ctx.opts as ResolvedOptions & { relpAttention: 'gradient' | 'detach' }).relpAttention === 'detach';
    ctx.point({ recordClean: true, relevance: { norm: true, activation: true, gate: true, attention } });
  },
};
