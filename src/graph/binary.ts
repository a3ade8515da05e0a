/**
 * A compact binary form of a scored graph, for sending large graphs to the viewer (a GPT-2 XL graph is
 * 150 MB of JSON but 11 MB here) and decoding them there without a JSON parse. Runs in Node and browsers.
 *
 * Layout (little-endian):
 *   "EAPG" | u32 version (1) | u32 header bytes h | header: UTF-8 JSON, space-padded to a multiple of 4
 *   | f32 scores[nEdges] | u8 edgeInGraph[nEdges] | u8 nodeInGraph[nSrc]
 * Edges are in Graph.forEachEdge order (EAP-IG's insertion order), so only the shape is needed to place them.
 */
import { Graph } from './graph.js';

/** What travels with the arrays: the shape plus anything JSON (cfg, meta, a display name). */
export interface GraphBinaryHeader {
  nLayers: number;
  nHeads: number;
  nEdges: number;
  [key: string]: unknown;
}

const MAGIC = [0x45, 0x41, 0x50, 0x47]; // "EAPG"
const VERSION = 1;

/** Encodes the graph's scores and circuit flags with a JSON header (`extra` keys are added to it). */
export function encodeGraphBinary(g: Graph, extra: Record<string, unknown> = {}): Uint8Array {
  const header: GraphBinaryHeader = { ...extra, nLayers: g.nLayers, nHeads: g.nHeads, nEdges: g.nEdges, ...(g.parallelAttnMlp ? { parallelAttnMlp: true } : {}) };
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 4) * 4;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const E = g.nEdges;
  const start = 12 + padded;
  const out = new Uint8Array(start + 4 * E + E + g.nSrc);
  out.set(MAGIC, 0);
  const view = new DataView(out.buffer);
  view.setUint32(4, VERSION, true);
  view.setUint32(8, padded, true);
  out.set(json, 12);
  const scores = new Float32Array(out.buffer, start, E);
  const flags = out.subarray(start + 4 * E, start + 5 * E);
  const s = g.scores;
  const f = g.inGraph;
  const order = g.edgeFlatIndices();
  for (let i = 0; i < E; i++) {
    scores[i] = s[order[i]!]!;
    flags[i] = f[order[i]!]!;
  }
  out.set(Uint8Array.from(g.nodeInGraph), start + 5 * E);
  return out;
}

/** Decodes encodeGraphBinary's bytes into a Graph and the header; throws an Error on anything malformed. */
export function decodeGraphBinary(bytes: ArrayBuffer | Uint8Array): { graph: Graph; header: GraphBinaryHeader } {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (u8.length < 12 || MAGIC.some((m, i) => u8[i] !== m)) throw new Error('not an eap-gp binary graph (bad magic)');
  const view = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  const version = view.getUint32(4, true);
  if (version !== VERSION) throw new Error(`binary graph version ${version}; this viewer reads version ${VERSION}`);
  const hlen = view.getUint32(8, true);
  if (12 + hlen > u8.length) throw new Error('binary graph truncated in its header');
  const header = JSON.parse(new TextDecoder().decode(u8.subarray(12, 12 + hlen))) as GraphBinaryHeader;
  const g = new Graph(header.nLayers, header.nHeads, header.parallelAttnMlp === true);
  const E = g.nEdges;
  if (header.nEdges !== E) throw new Error(`binary graph header says ${header.nEdges} edges, a ${g.nLayers}×${g.nHeads} graph has ${E}`);
  const start = 12 + hlen;
  if (u8.length !== start + 5 * E + g.nSrc) throw new Error(`binary graph has ${u8.length} bytes, expected ${start + 5 * E + g.nSrc}`);
  // copy: the score array must be 4-byte aligned, which a view into an arbitrary buffer need not be
  const scores = new Float32Array(u8.slice(start, start + 4 * E).buffer);
  const flags = u8.subarray(start + 4 * E, start + 5 * E);
  const dense = new Float32Array(g.nSrc * g.nDst);
  const order = g.edgeFlatIndices();
  for (let i = 0; i < E; i++) dense[order[i]!] = scores[i]!;
  g.setScoresDense(dense);
  const nd = g.nDst;
  for (let i = 0; i < E; i++) if (flags[i]) g.setEdgeInGraph(Math.floor(order[i]! / nd), order[i]! % nd, true);
  const nodes = u8.subarray(start + 5 * E);
  for (let u = 0; u < g.nSrc; u++) g.setNodeInGraph(u, nodes[u] === 1);
  return { graph: g, header };
}
