/**
 * Manual circuits as data: named classes of nodes plus class-to-class connections, turned into masks over a
 * Graph's cells and sources. A connection "A → B via q,k" means every node of A feeds the q and k inputs of
 * every head of B (an MLP or logits destination has a single input, so the letters do not apply); pairs that
 * are not edges of our graph (a head feeding a head of its own or an earlier layer) are skipped, which is the
 * `layer_to > layer_from` rule of ACDC's true-edge code.
 */
import type { Graph } from '../graph/graph.js';

/** One class-to-class connection. `from`/`to` hold our node names (`input`, `a9.h9`, `m3`, `logits`). */
export interface Connection {
  from: readonly string[];
  to: readonly string[];
  /** Head inputs fed: a subset of "qkv" (ignored for MLP and logits destinations). */
  via: string;
}

/** Which reference definition: ACDC's code-level ground truth (default) or the EAP-IG paper's overlap script. */
export type ReferenceVariant = 'acdc' | 'eap-ig';

/** A manual circuit as data. */
export interface CircuitSpec {
  /** Node classes (heads/MLPs by role), for documentation, tests and the description. */
  classes: Readonly<Record<string, readonly string[]>>;
  connections: readonly Connection[];
  /** False when MLPs are outside the comparison (IOI, as Hanna et al. 2024 compare heads only). */
  countMlps: boolean;
  description: string;
}

/** `(layer, head)` pairs as our node names. */
export function heads(pairs: readonly (readonly [number, number])[]): string[] {
  return pairs.map(([l, h]) => `a${l}.h${h}`);
}

/** `m{l}` for each layer. */
export function mlps(layers: readonly number[]): string[] {
  return layers.map((l) => `m${l}`);
}

/** Masks of a spec on a graph: edges over the [nSrc × nDst] cells, nodes over the sources (input included). */
export function specMasks(spec: CircuitSpec, g: Graph): { edges: Uint8Array; nodes: Uint8Array } {
  const edges = new Uint8Array(g.nSrc * g.nDst);
  const nodes = new Uint8Array(g.nSrc);
  for (const c of spec.connections) {
    for (const from of c.from) {
      const u = g.srcIndex(from);
      if (u < 0) throw new Error(`circuit spec: unknown source ${from}`);
      for (const to of c.to) {
        const slots = to.startsWith('a') ? [...c.via].map((x) => `${to}<${x}>`) : [to];
        for (const slot of slots) {
          const v = g.dstIndex(slot);
          if (v < 0) throw new Error(`circuit spec: unknown destination ${slot}`);
          if (!g.isEdge(u, v)) continue;
          edges[g.flat(u, v)] = 1;
          nodes[u] = 1;
          const owner = g.slotOwner(v);
          if (owner >= 0) nodes[owner] = 1;
        }
      }
    }
  }
  return { edges, nodes };
}
