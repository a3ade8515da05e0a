/**
 * The IOI circuit of GPT-2 small (Wang et al. 2022), as data.
 *
 * Heads by class (26 heads; the classes and heads of ACDC's `IOI_CIRCUIT`, acdc/ioi/utils.py):
 *   name mover 9.9 10.0 9.6 · backup name mover 10.10 10.6 10.2 10.1 11.2 9.7 9.0 11.9 · negative name mover
 *   10.7 11.10 · S-inhibition 7.3 7.9 8.6 8.10 · induction 5.5 5.8 5.9 6.9 · duplicate token 0.1 0.10 3.0 ·
 *   previous token 2.2 4.11.
 *
 * MLPs are outside the comparison (Hanna et al. 2024, results/manual_overlap/ioi_overlap.py, count heads only
 * and drop every edge touching an MLP), so the references below have no MLP edges.
 *
 * Variant 'acdc' (default) = ACDC's `get_ioi_true_edges` mapped to our graph: 26 head nodes (+ input, logits),
 * 182 edges. Mapping: ACDC's INPUT is resid_pre plus every MLP output and its OUTPUT is resid_post plus every
 * MLP input (MLPs are "wires"); with MLPs out of scope INPUT = our `input` and OUTPUT = our `logits`. ACDC's
 * within-head edges (q_input → q → result) are not edges of our graph (a head's q/k/v slots are its inputs)
 * and are dropped. ACDC's canonical layout has no MLP or embedding nodes either.
 *
 * Variant 'eap-ig' = the reference of the EAP-IG paper's overlap script: same 26 heads, different
 * connections (previous token → induction via q, duplicate token → induction via k,v, induction 5.x → 6.9
 * via q, layer-9 name movers → later (backup) name movers via q, input → S-inhibition via q,k,v, no
 * duplicate token → S-inhibition): 213 edges. The script also adds a9.h7→m11 and m11→logits to the reference
 * but drops MLP edges from the circuit, so its edge recall divides by 215: its published edge recalls are
 * ours × 213/215.
 */
import { heads, type CircuitSpec, type Connection, type ReferenceVariant } from './spec.js';

/** Head classes of the IOI circuit (ACDC's grouping; name movers by importance). */
export const IOI_CLASSES = {
  'name mover': heads([[9, 9], [10, 0], [9, 6]]),
  'backup name mover': heads([[10, 10], [10, 6], [10, 2], [10, 1], [11, 2], [9, 7], [9, 0], [11, 9]]),
  'negative name mover': heads([[10, 7], [11, 10]]),
  's2 inhibition': heads([[7, 3], [7, 9], [8, 6], [8, 10]]),
  induction: heads([[5, 5], [5, 8], [5, 9], [6, 9]]),
  'duplicate token': heads([[0, 1], [0, 10], [3, 0]]),
  'previous token': heads([[2, 2], [4, 11]]),
} as const;

const C = IOI_CLASSES;
const IN = ['input'];
const OUT = ['logits'];
const movers = [...C['name mover'], ...C['backup name mover']];

/** ACDC `special_connections` (child q/k/v as listed there). */
const ACDC: Connection[] = [
  { from: IN, to: C['previous token'], via: 'qkv' },
  { from: IN, to: C['duplicate token'], via: 'qkv' },
  { from: IN, to: C['s2 inhibition'], via: 'q' },
  { from: IN, to: C['negative name mover'], via: 'kv' },
  { from: IN, to: movers, via: 'kv' },
  { from: C['previous token'], to: C.induction, via: 'kv' },
  { from: C.induction, to: C['s2 inhibition'], via: 'kv' },
  { from: C['duplicate token'], to: C['s2 inhibition'], via: 'kv' },
  { from: C['s2 inhibition'], to: [...movers, ...C['negative name mover']], via: 'q' },
  { from: [...movers, ...C['negative name mover']], to: OUT, via: '' },
];

/** The EAP-IG paper's ioi_overlap.py connections (MLP edges left out, see above). */
const EAP_IG: Connection[] = [
  { from: IN, to: C['previous token'], via: 'qkv' },
  { from: C['previous token'], to: C.induction, via: 'q' },
  { from: IN, to: C['duplicate token'], via: 'qkv' },
  { from: C['duplicate token'], to: C.induction, via: 'kv' },
  { from: C.induction, to: ['a6.h9'], via: 'q' }, // only 5.5, 5.8, 5.9 → 6.9 are edges
  { from: movers.filter((n) => n.startsWith('a9.')), to: movers.filter((n) => !n.startsWith('a9.')), via: 'q' },
  { from: IN, to: C['s2 inhibition'], via: 'qkv' },
  { from: C.induction, to: C['s2 inhibition'], via: 'kv' },
  { from: C['s2 inhibition'], to: [...movers, ...C['negative name mover']], via: 'q' },
  { from: IN, to: [...movers, ...C['negative name mover']], via: 'kv' },
  { from: [...movers, ...C['negative name mover']], to: OUT, via: '' },
];

/** The IOI reference circuit: 26 heads; 182 edges ('acdc') or 213 ('eap-ig'). */
export function ioiSpec(variant: ReferenceVariant = 'acdc'): CircuitSpec {
  return {
    classes: IOI_CLASSES,
    connections: variant === 'acdc' ? ACDC : EAP_IG,
    countMlps: false,
    description:
      variant === 'acdc'
        ? 'IOI (Wang et al. 2022) as ACDC get_ioi_true_edges: 26 heads, 182 edges; MLPs not compared'
        : 'IOI (Wang et al. 2022) as the EAP-IG paper overlap script: 26 heads, 213 edges; MLPs not compared',
  };
}
