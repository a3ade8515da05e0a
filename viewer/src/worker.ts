/**
 * The selection worker: downloads graphs in the server's binary form, keeps them as src/graph Graphs, and
 * answers selections with the library's own topn / greedy / prune and the reference circuits and
 * precision/recall of src/circuits — the page selects exactly as the command line does, off the main thread.
 */
import { referenceCircuit, type ReferenceCircuit } from '../../src/circuits/index.js';
import { overlap } from '../../src/circuits/overlap.js';
import { decodeGraphBinary } from '../../src/graph/binary.js';
import type { Graph } from '../../src/graph/graph.js';
import { edgeRank, greedy, prune, topn } from '../../src/graph/selection.js';
import { drawnSources, maxAbsInCircuit } from '../../src/graph/style.js';
import {
  SLOT_KINDS, type DetailsTarget, type EdgeDetails, type EdgeRow, type EdgeSet, type FromWorker, type GraphSummary, type NodeDetails,
  type NodeInfo, type PanelSelection, type SelectParams, type SelectionResult, type Slot, type ToWorker,
} from './protocol.js';

interface Loaded {
  id: number;
  graph: Graph;
  summary: GraphSummary;
  fileEdges: Int32Array;
  fileNodes: Uint8Array;
  refs: Map<string, ReferenceCircuit>;
}

const scope = self as unknown as {
  postMessage(m: FromWorker, transfer?: Transferable[]): void;
  onmessage: ((ev: MessageEvent<ToWorker>) => void) | null;
};
const post = (m: FromWorker, transfer: Transferable[] = []): void => scope.postMessage(m, transfer);

const slots: Partial<Record<Slot, Loaded>> = {};
/** The id each slot should end up with (a newer load supersedes an older one still downloading). */
const wanted: Partial<Record<Slot, number>> = {};

async function errorText(res: Response): Promise<string> {
  const text = await res.text();
  try {
    return (JSON.parse(text) as { error?: string }).error ?? text;
  } catch {
    return text || `HTTP ${res.status}`;
  }
}

async function load(slot: Slot, id: number, url = `/api/graph/${id}`): Promise<void> {
  wanted[slot] = id;
  try {
    const res = await fetch(url);
    if (!res.ok) throw new Error(await errorText(res));
    const total = Number(res.headers.get('Content-Length') ?? 0);
    const parts: Uint8Array[] = [];
    let loaded = 0;
    let last = 0;
    const reader = res.body!.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      loaded += value.length;
      if (performance.now() - last > 100) {
        last = performance.now();
        post({ type: 'progress', slot, id, loaded, total });
      }
    }
    const bytes = new Uint8Array(loaded);
    let o = 0;
    for (const p of parts) (bytes.set(p, o), (o += p.length));
    const { graph, header } = decodeGraphBinary(bytes);
    if (wanted[slot] !== id) return;
    const summary: GraphSummary = {
      nLayers: graph.nLayers, nHeads: graph.nHeads, parallelAttnMlp: graph.parallelAttnMlp, nEdges: graph.nEdges, nSrc: graph.nSrc, nDst: graph.nDst,
      name: String(header['name'] ?? `graph ${id}`), file: String(header['file'] ?? ''),
      cfg: (header['cfg'] ?? {}) as Record<string, unknown>, meta: (header['meta'] ?? null) as Record<string, unknown> | null,
      fileEdges: graph.countEdgesInGraph(),
      nodes: nodeInfos(graph),
    };
    slots[slot] = { id, graph, summary, fileEdges: graph.inGraphFlatIndices(), fileNodes: Uint8Array.from(graph.nodeInGraph), refs: new Map() };
    post({ type: 'loaded', slot, id, summary });
  } catch (e) {
    if (wanted[slot] === id) {
      delete slots[slot];
      post({ type: 'error', slot, id, message: (e as Error).message });
    }
  }
}

function nodeInfos(g: Graph): NodeInfo[] {
  return Array.from({ length: g.nSrc }, (_, u) => {
    const kind = g.srcKind(u);
    return { name: g.srcName(u), kind, layer: g.srcLayer(u), pos: kind === 'input' ? 0 : kind === 'mlp' ? g.nHeads : g.layout.srcHead(u) };
  });
}

/** The edges `flats` of g with their endpoints, kinds and g's scores. */
function edgeSet(g: Graph, flats: Int32Array, scoresFrom: Graph = g): EdgeSet {
  const nd = g.nDst;
  return {
    flat: flats,
    src: Int32Array.from(flats, (f) => Math.floor(f / nd)),
    dst: Int32Array.from(flats, (f) => g.slotOwner(f % nd)),
    kind: Uint8Array.from(flats, (f) => SLOT_KINDS.indexOf(g.slotKind(f % nd))),
    score: Float32Array.from(flats, (f) => scoresFrom.scores[f]!),
  };
}

/** Puts the chosen circuit into the graph's flags; returns the edge count before pruning. */
function applySelection(L: Loaded, p: SelectParams): number {
  const g = L.graph;
  let requested: number;
  if (p.mode === 'file') {
    g.clearCircuit();
    const nd = g.nDst;
    for (const f of L.fileEdges) g.setEdgeInGraph(Math.floor(f / nd), f % nd, true);
    for (let u = 0; u < g.nSrc; u++) g.setNodeInGraph(u, L.fileNodes[u] === 1);
    requested = L.fileEdges.length;
  } else {
    requested = Math.max(0, Math.min(Math.round(p.n), g.nEdges));
    (p.mode === 'greedy' ? greedy : topn)(g, requested, { absolute: p.absolute });
  }
  if (p.prune) prune(g);
  return requested;
}

/** The strongest `cap` of `edges` by |score| (ties by flat index), returned weakest first for drawing. */
function strongest(g: Graph, edges: Int32Array, cap: number): Int32Array {
  const s = g.scores;
  const mag = (f: number): number => (Number.isNaN(s[f]!) ? -1 : Math.abs(s[f]!));
  const sorted = Array.from(edges).sort((a, b) => mag(b) - mag(a) || a - b).slice(0, cap);
  return Int32Array.from(sorted.reverse());
}

function referenceFor(L: Loaded, p: SelectParams): ReferenceCircuit {
  const key = `${p.reference!.task}:${p.reference!.variant}`;
  let r = L.refs.get(key);
  if (!r) {
    r = referenceCircuit(p.reference!.task, L.graph, p.reference!.variant, L.summary.meta?.['family']);
    L.refs.set(key, r);
  }
  return r;
}

function select(p: SelectParams): SelectionResult {
  const loaded = (['A', 'B'] as const).filter((s) => slots[s] !== undefined);
  const requested: Partial<Record<Slot, number>> = {};
  for (const s of loaded) requested[s] = applySelection(slots[s]!, p);
  const a = slots.A, b = slots.B;
  // parallel blocks lack the a{l}.h → m{l} edges: a sequential graph of the same size is another model's
  const sameShape = a !== undefined && b !== undefined && a.graph.nLayers === b.graph.nLayers && a.graph.nHeads === b.graph.nHeads &&
    a.graph.parallelAttnMlp === b.graph.parallelAttnMlp;
  const out: SelectionResult = { A: null, B: null, compare: null, compareError: null, reference: null, referenceError: null };
  if (a && b && !sameShape) {
    const shape = (g: Graph): string => `${g.parallelAttnMlp ? 'parallel ' : ''}${g.nLayers}×${g.nHeads}`;
    out.compareError = `cannot compare a ${shape(a.graph)} graph with a ${shape(b.graph)} one`;
  }
  if (sameShape) {
    const ma = a.graph.inGraph, mb = b.graph.inGraph;
    let shared = 0, onlyA = 0, onlyB = 0;
    for (let i = 0; i < ma.length; i++) {
      if (ma[i] && mb[i]) shared++;
      else if (ma[i]) onlyA++;
      else if (mb[i]) onlyB++;
    }
    out.compare = { shared, onlyA, onlyB };
  }
  let refs: Partial<Record<Slot, ReferenceCircuit>> = {};
  if (p.reference !== null) {
    try {
      for (const s of loaded) refs[s] = referenceFor(slots[s]!, p);
      const r = refs.A ?? refs.B;
      if (r) out.reference = { description: r.description, countMlps: r.countMlps, nodes: r.nodes, edges: r.edges.reduce((x, y) => x + y, 0) };
    } catch (e) {
      refs = {};
      out.referenceError = (e as Error).message;
    }
  }
  for (const s of loaded) {
    const L = slots[s]!, g = L.graph;
    const other = s === 'A' ? b : a;
    const edges = g.inGraphFlatIndices();
    const drawn = strongest(g, edges, p.drawCap);
    const mask = g.inGraph;
    const om = sameShape ? other!.graph.inGraph : null;
    const ref = refs[s];
    const missing = om ? strongest(other!.graph, Int32Array.from(other!.graph.inGraphFlatIndices().filter((f) => !mask[f])), p.drawCap) : null;
    const refMissing: number[] = [];
    if (ref) for (let f = 0; f < ref.edges.length; f++) if (ref.edges[f] && !mask[f]) refMissing.push(f);
    out[s] = {
      requested: requested[s]!, edges: edges.length, nodes: g.countNodesInGraph(), drawn: edgeSet(g, drawn),
      maxAbs: maxAbsInCircuit(g, edges), nodeMask: drawnSources(g, edges),
      unique: om ? Uint8Array.from(drawn, (f) => (om[f] ? 0 : 1)) : null,
      missing: missing ? edgeSet(g, missing, other!.graph) : null,
      refHit: ref ? Uint8Array.from(drawn, (f) => ref.edges[f]!) : null,
      refMissing: ref ? edgeSet(g, Int32Array.from(refMissing)) : null,
      overlap: ref ? overlap(g, mask, ref) : null,
    } satisfies PanelSelection;
  }
  return out;
}

function row(g: Graph, f: number): EdgeRow {
  const u = Math.floor(f / g.nDst), v = f % g.nDst;
  return { flat: f, name: g.edgeName(u, v), score: g.scores[f]!, inCircuit: g.inGraph[f] === 1 };
}

/** Count, in-circuit count and the strongest few of a list of edges. */
function edgeList(g: Graph, flats: number[], top = 12): NodeDetails['incoming'] {
  const s = g.scores;
  const mag = (f: number): number => (Number.isNaN(s[f]!) ? -1 : Math.abs(s[f]!));
  const inC = flats.filter((f) => g.inGraph[f] === 1);
  const sorted = [...inC.sort((a, b) => mag(b) - mag(a)), ...flats.filter((f) => g.inGraph[f] !== 1).sort((a, b) => mag(b) - mag(a))];
  return { total: flats.length, inCircuit: inC.length, top: sorted.slice(0, top).map((f) => row(g, f)) };
}

function details(slot: Slot, t: DetailsTarget, absolute: boolean): EdgeDetails | NodeDetails | null {
  const L = slots[slot];
  if (!L) return null;
  const g = L.graph, nd = g.nDst;
  if (t.kind === 'edge') {
    const u = Math.floor(t.flat / nd), v = t.flat % nd;
    if (!g.isEdge(u, v)) return null;
    return { kind: 'edge', name: g.edgeName(u, v), score: g.scores[t.flat]!, rank: edgeRank(g, u, v, { absolute }), of: g.nEdges, inCircuit: g.inGraph[t.flat] === 1 };
  }
  const u = t.src;
  const slotsIn = u < 0 ? [g.logitsSlot] : g.slotsOf(u);
  const incoming: number[] = [];
  for (const v of slotsIn) for (let p = 0; p < g.parentCount(v); p++) incoming.push(p * nd + v);
  const outgoing: number[] = [];
  if (u >= 0) for (let v = 0; v < nd; v++) if (g.isEdge(u, v)) outgoing.push(u * nd + v);
  return {
    kind: 'node',
    name: u < 0 ? 'logits' : g.srcName(u),
    nodeKind: u < 0 ? 'logits' : g.srcKind(u),
    layer: u < 0 ? g.nLayers : g.srcLayer(u),
    inCircuit: u < 0 ? true : drawnSources(g, g.inGraphFlatIndices())[u] === 1,
    incoming: edgeList(g, incoming),
    outgoing: edgeList(g, outgoing),
  };
}

scope.onmessage = (ev) => {
  const m = ev.data;
  switch (m.type) {
    case 'load':
      void load(m.slot, m.id, m.url);
      break;
    case 'unload':
      delete slots[m.slot];
      delete wanted[m.slot];
      break;
    case 'select':
      try {
        const result = select(m.params);
        const transfer: Transferable[] = [];
        for (const p of [result.A, result.B]) if (p) transfer.push(p.drawn.flat.buffer, p.drawn.score.buffer);
        post({ type: 'selection', seq: m.seq, result }, transfer);
      } catch (e) {
        post({ type: 'failed', seq: m.seq, message: (e as Error).message });
      }
      break;
    case 'details':
      try {
        post({ type: 'details', seq: m.seq, details: details(m.slot, m.target, m.absolute) });
      } catch (e) {
        post({ type: 'failed', seq: m.seq, message: (e as Error).message });
      }
      break;
  }
};
