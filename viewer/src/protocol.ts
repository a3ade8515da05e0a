/** Messages between the page and its selection worker (worker.ts), which holds the graphs. */
import type { Overlap } from '../../src/circuits/overlap.js';
import type { ReferenceVariant } from '../../src/circuits/spec.js';

/** The two graph panels: A (left, main) and B (right, compared). */
export type Slot = 'A' | 'B';

/** greedy / topn = src/graph/selection.ts; file = the file's own in_graph flags. */
export type SelectMode = 'greedy' | 'topn' | 'file';

export interface ReferenceChoice {
  task: 'ioi' | 'greater-than';
  variant: ReferenceVariant;
}

export interface SelectParams {
  mode: SelectMode;
  /** Edge budget for greedy / topn. */
  n: number;
  absolute: boolean;
  prune: boolean;
  reference: ReferenceChoice | null;
  /** Draw at most this many edges per panel (the strongest). */
  drawCap: number;
}

/** A source node as the page draws it (from Graph's own naming and index order). */
export interface NodeInfo {
  name: string;
  kind: 'input' | 'head' | 'mlp';
  /** -1 for input. */
  layer: number;
  /** Position within its layer's row: heads 0..H-1, then the MLP. */
  pos: number;
}

/** Edge kinds by destination slot, as numbers in EdgeSet.kind. */
export const SLOT_KINDS = ['q', 'k', 'v', 'mlp', 'logits'] as const;

/** A list of edges with what drawing them needs: source node, destination node (-1 = logits), slot kind, score. */
export interface EdgeSet {
  flat: Int32Array;
  src: Int32Array;
  dst: Int32Array;
  kind: Uint8Array;
  score: Float32Array;
}

export interface GraphSummary {
  nLayers: number;
  nHeads: number;
  /** Attention and MLP read the same stream (GPT-NeoX): no a{l}.h → m{l} edges. */
  parallelAttnMlp: boolean;
  nEdges: number;
  nSrc: number;
  nDst: number;
  name: string;
  file: string;
  cfg: Record<string, unknown>;
  meta: Record<string, unknown> | null;
  /** Edges flagged in_graph in the file. */
  fileEdges: number;
  /** Every source node, by index. */
  nodes: NodeInfo[];
}

export interface PanelSelection {
  /** Edges selected before pruning (the budget, or the file's flags). */
  requested: number;
  /** Edges and source nodes (logits not counted) of the circuit. */
  edges: number;
  nodes: number;
  /** The drawn edges, weakest first, at most drawCap (the strongest of the circuit). */
  drawn: EdgeSet;
  /** Largest |score| among the circuit's edges (widths are relative to it). */
  maxAbs: number;
  /** Sources drawn as circuit nodes (flagged or touched by an edge), [nSrc]. */
  nodeMask: Uint8Array;
  /** Per drawn edge: 1 when the other panel's circuit lacks it (null without a comparison). */
  unique: Uint8Array | null;
  /** The other panel's circuit edges this one lacks (at most drawCap), with the other graph's scores. */
  missing: EdgeSet | null;
  /** Per drawn edge: 1 when it is in the reference circuit (null without one). */
  refHit: Uint8Array | null;
  /** Reference edges this circuit lacks (with this graph's scores). */
  refMissing: EdgeSet | null;
  overlap: Overlap | null;
}

export interface CompareCounts {
  shared: number;
  onlyA: number;
  onlyB: number;
}

export interface ReferenceInfo {
  description: string;
  countMlps: boolean;
  /** Reference source nodes [nSrc]. */
  nodes: Uint8Array;
  edges: number;
}

export interface SelectionResult {
  A: PanelSelection | null;
  B: PanelSelection | null;
  compare: CompareCounts | null;
  /** Why the panels could not be compared (different model shapes). */
  compareError: string | null;
  reference: ReferenceInfo | null;
  /** Why no reference could be overlaid (e.g. another model shape). */
  referenceError: string | null;
}

export interface EdgeDetails {
  kind: 'edge';
  name: string;
  score: number;
  /** 1-based rank in top-n order. */
  rank: number;
  of: number;
  inCircuit: boolean;
}

export interface EdgeRow {
  flat: number;
  name: string;
  score: number;
  inCircuit: boolean;
}

export interface NodeDetails {
  kind: 'node';
  name: string;
  nodeKind: string;
  layer: number;
  inCircuit: boolean;
  /** Edges into the node's slots / out of it: counts in the whole graph and in the circuit, strongest first. */
  incoming: { total: number; inCircuit: number; top: EdgeRow[] };
  outgoing: { total: number; inCircuit: number; top: EdgeRow[] };
}

export type DetailsTarget = { kind: 'edge'; flat: number } | { kind: 'node'; src: number };

export type ToWorker =
  /** `url`: where the graph's binary form is (default the server's /api/graph/<id>; the discovery site passes a blob: URL). */
  | { type: 'load'; slot: Slot; id: number; url?: string }
  | { type: 'unload'; slot: Slot }
  | { type: 'select'; seq: number; params: SelectParams }
  | { type: 'details'; seq: number; slot: Slot; target: DetailsTarget; absolute: boolean };

export type FromWorker =
  | { type: 'progress'; slot: Slot; id: number; loaded: number; total: number }
  | { type: 'loaded'; slot: Slot; id: number; summary: GraphSummary }
  | { type: 'error'; slot: Slot; id: number; message: string }
  | { type: 'selection'; seq: number; result: SelectionResult }
  | { type: 'details'; seq: number; details: EdgeDetails | NodeDetails | null }
  | { type: 'failed'; seq: number; message: string };
