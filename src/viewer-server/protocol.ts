/**
 * What `eapgp view`'s server sends the page (no Node imports: the page compiles this file too).
 *
 *   GET /api/catalog        Catalog (with the method legend: the page does not load the method registry itself)
 *   GET /api/graph/ID       a graph in the binary form of src/graph/binary.ts (header: name, cfg, meta)
 *   GET /api/results/ID     ResultsResponse (a reproduce results.json with its graphs' catalog ids)
 *   GET /api/path/ID        an `eapgp path` file (src/attribution/path-format.ts)
 *   GET /api/nodes/ID       NodeGraphResponse: a node- or neuron-level graph (attribute --level node|neuron|mlp-neuron)
 * Errors come as JSON {"error": message} with a 4xx/5xx status. Files are addressed by catalog id only: the
 * server never turns a request into a file path.
 */
import type { Results } from '../reproduce/types.js';

export type EntryKind = 'graph' | 'results' | 'path' | 'nodes';

export interface CatalogEntry {
  id: number;
  kind: EntryKind;
  /** Display name: the file name, or "task · method" for a graph listed by a results.json. */
  name: string;
  /** The path as given on the command line (or relative to the results.json that lists it). */
  path: string;
  /** File size in bytes, when the file exists. */
  bytes: number | null;
  /** Why the entry cannot be opened (missing, outside the results directory, not readable). */
  error?: string;
  /** For a graph listed by a results.json: that entry and the (task, method) it belongs to. */
  from?: { results: number; task: string; method: string };
}

/** A method as the page shows it, from the method registry (src/attribution/registry.ts). */
export interface MethodLegend {
  name: string;
  /** Its line's colour in the faithfulness chart. */
  color: string;
  /** The method it is shown beside by default (panel B when it is in panel A). */
  counterpart?: string;
}

export interface Catalog {
  tool: string;
  entries: CatalogEntry[];
  /** Every method this eapgp knows, in registry order. */
  methods: MethodLegend[];
}

export interface ResultsResponse {
  results: Results;
  /** Catalog id of each (task, method) graph: graphs[task][method]. */
  graphs: Record<string, Record<string, number>>;
}

export interface ApiError {
  error: string;
}

/** One source node of a node-level graph as the page draws it. */
export interface NodeView {
  name: string;
  /** −1 for the input. */
  layer: number;
  /** The head, or −1 for an MLP or the input. */
  head: number;
  /** Its score; at the neuron level without node scores, the sum of its neuron scores; null when unscored. */
  score: number | null;
  inGraph: boolean;
}

/** A node- or neuron-level graph: every source node, and at the neuron level its top neurons by |score|. */
export interface NodeGraphResponse {
  name: string;
  level: 'node' | 'neuron';
  nLayers: number;
  nHeads: number;
  dModel: number;
  nodes: NodeView[];
  /** The neurons of largest |score| (at most NODE_VIEW_TOP_NEURONS), largest first; empty at the node level. */
  topNeurons: { node: string; dim: number; score: number }[];
  /** The MLP hidden units of largest |score| (attribute --level mlp-neuron; at most NODE_VIEW_TOP_NEURONS), largest first; empty without them. */
  topMlpNeurons: { layer: number; unit: number; score: number }[];
  meta: Record<string, unknown> | null;
}

/** How many neurons the page lists. */
export const NODE_VIEW_TOP_NEURONS = 40;
