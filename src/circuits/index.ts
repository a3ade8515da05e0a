/**
 * Manually found reference circuits of GPT-2 small, as masks over our graph, and their comparison with
 * discovered circuits (precision/recall, ROC).
 *
 *   task           variant  nodes (excl. input, logits)   edges
 *   ioi            acdc     26 heads                       182
 *   ioi            eap-ig   26 heads                       213
 *   greater-than   acdc     9 heads + 12 MLPs = 21         235
 *   greater-than   eap-ig   11 heads + 8 MLPs = 19         240
 */
import type { Graph } from '../graph/graph.js';
import { UserError } from '../util/errors.js';
import { greaterThanSpec } from './greater-than.js';
import { ioiSpec } from './ioi.js';
import { specMasks, type CircuitSpec, type ReferenceVariant } from './spec.js';

export { IOI_CLASSES, ioiSpec } from './ioi.js';
export { GREATER_THAN_CLASSES, greaterThanSpec } from './greater-than.js';
export type { CircuitSpec, Connection, ReferenceVariant } from './spec.js';
export * from './overlap.js';

/** Tasks with a manual circuit. */
export const REFERENCE_TASKS = ['ioi', 'greater-than'] as const;
export const REFERENCE_VARIANTS: readonly ReferenceVariant[] = ['acdc', 'eap-ig'];

/** A reference circuit on a graph. */
export interface ReferenceCircuit {
  /** 1 on the reference's edges, over the graph's [nSrc × nDst] cells. */
  edges: Uint8Array;
  /** 1 on the reference's source nodes (input included; logits is not a source). */
  nodes: Uint8Array;
  /** False when MLP nodes and MLP edges are left out of comparisons (IOI). */
  countMlps: boolean;
  description: string;
}

/** The spec of a task's manual circuit; a UserError for a task without one. */
export function referenceSpec(task: string, variant: ReferenceVariant = 'acdc'): CircuitSpec {
  if (!REFERENCE_VARIANTS.includes(variant)) throw new UserError(`reference variant must be acdc or eap-ig, got "${variant}"`);
  if (task === 'ioi') return ioiSpec(variant);
  if (task === 'greater-than') return greaterThanSpec(variant);
  throw new UserError(`no manual reference circuit for task "${task}" (available: ${REFERENCE_TASKS.join(', ')})`);
}

/**
 * The manual circuit of `task` ('ioi' or 'greater-than') as masks over `graph`, which must be GPT-2 small's
 * (12 layers × 12 heads, sequential blocks). UserError for another task or graph shape, or when the graph's
 * metadata names another model family (`family`, as `eapgp attribute` writes it).
 */
export function referenceCircuit(task: string, graph: Graph, variant: ReferenceVariant = 'acdc', family?: unknown): ReferenceCircuit {
  const spec = referenceSpec(task, variant);
  if (graph.nLayers !== 12 || graph.nHeads !== 12) {
    throw new UserError(
      `the ${task} reference circuit is for GPT-2 small (12 layers × 12 heads); this graph has ${graph.nLayers} × ${graph.nHeads}`,
    );
  }
  if (typeof family === 'string' && family !== 'gpt2') {
    throw new UserError(`the ${task} reference circuit is for GPT-2 small; this graph's metadata says its model is a ${family} model`);
  }
  // Pythia-160m has GPT-2 small's shape; its parallel blocks say it is another model
  if (graph.parallelAttnMlp) {
    throw new UserError(`the ${task} reference circuit is for GPT-2 small; this 12 × 12 graph has parallel attention and MLP (GPT-NeoX / Pythia), another model`);
  }
  const { edges, nodes } = specMasks(spec, graph);
  return { edges, nodes, countMlps: spec.countMlps, description: spec.description };
}
