/**
 * The Greater-Than circuit of GPT-2 small (Hanna et al. 2023), as data. MLPs are compared here.
 *
 * Variant 'acdc' (default) = ACDC's `get_greaterthan_true_edges` (acdc/greaterthan/utils.py) mapped to our
 * graph: 9 heads (0.1, 0.3, 0.5, 5.5, 6.1, 6.9, 7.10, 8.11, 9.1) and all 12 MLPs = 21 nodes (+ input,
 * logits), 235 edges. Classes: 0305 = {0.3, 0.5}, 01 = {0.1}, MEARLY = m0–m3, AMID = the six mid heads,
 * MLATE = m8–m11; ACDC also links every MLP before the last AMID layer (m0–m8) to every later one of them and
 * every earlier MLP to each AMID head's query, which brings in m4–m7. ACDC's within-head edges
 * (q/k/v_input → q/k/v → result) are not edges of our graph and are dropped; resid_pre = our `input`,
 * resid_post = our `logits`.
 *
 * Variant 'eap-ig' = the EAP-IG paper's greater_than_overlap.py: heads 0.1, 0.3, 0.5, 5.1, 5.5, 6.1, 6.9,
 * 7.10, 8.8, 8.11, 9.1 (Hanna et al. 2023 keep 5.1 and 8.8, which ACDC drops) and MLPs 0–3, 8–11 = 19 nodes,
 * 240 edges.
 */
import { heads, mlps, type CircuitSpec, type Connection, type ReferenceVariant } from './spec.js';

/** Node classes of ACDC's Greater-Than ground truth (its `CIRCUIT`), plus the MLPs it links in between. */
export const GREATER_THAN_CLASSES = {
  '0305': heads([[0, 3], [0, 5]]),
  '01': heads([[0, 1]]),
  MEARLY: mlps([0, 1, 2, 3]),
  AMID: heads([[5, 5], [6, 1], [6, 9], [7, 10], [8, 11], [9, 1]]),
  MLATE: mlps([8, 9, 10, 11]),
  'MLPs before AMID': mlps([4, 5, 6, 7]),
} as const;

const C = GREATER_THAN_CLASSES;
const IN = ['input'];
const OUT = ['logits'];
/** m0..m8: ACDC connects all MLPs below the top AMID layer (9) to each other. */
const BELOW_AMID = mlps([0, 1, 2, 3, 4, 5, 6, 7, 8]);

const ACDC: Connection[] = [
  { from: IN, to: [...C['0305'], ...C['01'], ...C.MEARLY], via: 'qkv' },
  { from: [...C.AMID, ...C.MLATE], to: OUT, via: '' },
  { from: C.MEARLY, to: C.MEARLY, via: '' },
  { from: C.MLATE, to: C.MLATE, via: '' },
  { from: C['01'], to: C.MEARLY, via: '' },
  { from: [...C['01'], ...C['0305'], ...C.MEARLY], to: C.AMID, via: 'qkv' },
  { from: C.AMID, to: C.MLATE, via: '' },
  { from: BELOW_AMID, to: BELOW_AMID, via: '' },
  { from: BELOW_AMID, to: C.AMID, via: 'q' }, // only MLPs below each head's layer are edges
];

/** The EAP-IG paper's classes: a0.h1 sits with the low MLPs there. */
const LOW_ATTN = heads([[0, 3], [0, 5]]);
const LOW_MLPS = ['a0.h1', ...mlps([0, 1, 2, 3])];
const MID_ATTN = heads([[5, 1], [5, 5], [6, 1], [6, 9], [7, 10], [8, 8], [8, 11], [9, 1]]);
const HIGH_MLPS = mlps([8, 9, 10, 11]);

const EAP_IG: Connection[] = [
  { from: IN, to: [...LOW_ATTN, ...LOW_MLPS], via: 'qkv' },
  { from: [...LOW_ATTN, ...LOW_MLPS], to: MID_ATTN, via: 'qkv' },
  { from: LOW_MLPS, to: LOW_MLPS, via: '' }, // earlier → later only (non-edges skipped)
  { from: MID_ATTN, to: [...OUT, ...HIGH_MLPS], via: '' },
  { from: HIGH_MLPS, to: [...OUT, ...HIGH_MLPS], via: '' },
];

/** The Greater-Than reference circuit: 21 nodes / 235 edges ('acdc') or 19 nodes / 240 edges ('eap-ig'). */
export function greaterThanSpec(variant: ReferenceVariant = 'acdc'): CircuitSpec {
  if (variant === 'acdc') {
    return {
      classes: GREATER_THAN_CLASSES,
      connections: ACDC,
      countMlps: true,
      description: 'Greater-Than (Hanna et al. 2023) as ACDC get_greaterthan_true_edges: 9 heads + 12 MLPs, 235 edges',
    };
  }
  return {
    classes: { 'low attention': LOW_ATTN, 'low MLPs': LOW_MLPS, 'mid attention': MID_ATTN, 'high MLPs': HIGH_MLPS },
    connections: EAP_IG,
    countMlps: true,
    description: 'Greater-Than (Hanna et al. 2023) as the EAP-IG paper overlap script: 11 heads + 8 MLPs, 240 edges',
  };
}
