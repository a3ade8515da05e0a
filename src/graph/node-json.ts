/**
 * Node- and neuron-level graph files in hannamw/EAP-IG's JSON format (Graph.to_json / from_json with node scores
 * or neuron_level):
 *
 *   {"cfg": {...}, "nodes": {"input": {"in_graph": true, "score": 0.25, "neurons": [true, ...],
 *                                      "neurons_scores": [0.01, ...]}, ..., "logits": {"in_graph": true}},
 *    "edges": {"input->a0.h0<q>": {"score": 0.0, "in_graph": true}, ...}, "meta": {...}}
 *
 * "score" is written for every source node at either level; "neurons" (d_model booleans) and "neurons_scores"
 * (d_model numbers) at the neuron level. A graph with MLP hidden units (attribute --level mlp-neuron) adds to each
 * MLP node "mlp_neurons" (d_mlp booleans) and "mlp_neurons_scores" (d_mlp numbers): our own keys, which EAP-IG's
 * from_json does not read (it takes in_graph, score, neurons and neurons_scores by name). An unscored value is NaN (Python's bare NaN). EAP-IG's from_json skips
 * "logits", and its to_json would index past the end of nodes_scores for it, so logits carries its flag only.
 * Edges keep their own scores (0 after node attribution) and flags (the induced edges after a node selection,
 * as EAP-IG leaves them). Reading: a file whose nodes carry no "score", "neurons" or "neurons_scores" is an edge
 * graph (json.ts), not a node graph.
 */
import { readFileSync } from 'node:fs';
import { UserError } from '../util/errors.js';
import { writeAllSync, writeAtomicSync } from '../util/atomic-write.js';
import { parseJsonFile } from '../util/json.js';
import { EdgeReader, checkMeta, checkSection, graphForCfg, graphJsonChunks, NOT_A_GRAPH, type ReadGraphOptions } from './json.js';
import { NodeGraph, type NodeLevel } from './node-graph.js';
import { formatFloat32, fromPySentinel, pyString, quotePyNonFinite, restorePyNonFinite } from './pyjson.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

export interface NodeGraphFile {
  graph: NodeGraph;
  cfg: Obj;
  meta?: Obj;
}

/** Whether graph JSON text is a node- or neuron-level graph (its "nodes" section carries scores or neurons). */
export function isNodeGraphText(text: string): boolean {
  const i = text.indexOf('"nodes"'), j = text.indexOf('"edges"');
  if (i < 0) return false;
  return /"(score|neurons|neurons_scores)"\s*:/.test(text.slice(i, j > i ? j : undefined));
}

/** The file's text in pieces: cfg, nodes with their scores (and neurons), the edges, then meta. */
export function* nodeGraphJsonChunks(g: NodeGraph, opts: { cfg?: Obj; meta?: Obj } = {}): Generator<string> {
  const D = g.dModel;
  const nodes: string[] = [];
  for (let u = 0; u < g.nSrc; u++) {
    let s = `${pyString(g.srcName(u))}: {"in_graph": ${g.nodeInGraph[u] ? 'true' : 'false'}, "score": ${formatFloat32(g.nodeScores[u]!)}`;
    if (g.neuronScores && g.neuronInGraph) {
      const flags = Array.from(g.neuronInGraph.subarray(u * D, (u + 1) * D), (x) => (x ? 'true' : 'false'));
      const scores = Array.from(g.neuronScores.subarray(u * D, (u + 1) * D), formatFloat32);
      s += `, "neurons": [${flags.join(', ')}], "neurons_scores": [${scores.join(', ')}]`;
    }
    const l = g.mlp ? mlpLayer(g, u) : -1;
    if (g.mlp && l >= 0) {
      const F = g.mlp.width;
      const flags = Array.from(g.mlp.inGraph.subarray(l * F, (l + 1) * F), (x) => (x ? 'true' : 'false'));
      const scores = Array.from(g.mlp.scores.subarray(l * F, (l + 1) * F), formatFloat32);
      s += `, "mlp_neurons": [${flags.join(', ')}], "mlp_neurons_scores": [${scores.join(', ')}]`;
    }
    nodes.push(s + '}');
  }
  nodes.push('"logits": {"in_graph": true}');
  // the edge writer's text after its own nodes section: the edges and meta
  const edgeChunks = graphJsonChunks(g.edges, { dModel: D, cfg: opts.cfg, meta: opts.meta });
  const first = edgeChunks.next().value as string;
  const at = first.indexOf(', "edges": {');
  yield `${first.slice(0, first.indexOf('"nodes": {'))}"nodes": {${nodes.join(', ')}}${first.slice(at)}`;
  yield* edgeChunks;
}

/** The layer whose MLP node u is, or −1. */
function mlpLayer(g: NodeGraph, u: number): number {
  const H = g.layout.nHeads;
  return u > 0 && (u - 1) % (H + 1) === H ? (u - 1 - H) / (H + 1) : -1;
}

/** Reads the MLP nodes' "mlp_neurons_scores" / "mlp_neurons" (all MLP nodes carry both, of one length). */
function readMlpUnits(g: NodeGraph, entries: [string, unknown][], file: string): void {
  const L = g.layout.nLayers;
  const mlps = entries.filter(([name, v]) => isObj(v) && ('mlp_neurons_scores' in v || 'mlp_neurons' in v));
  if (mlps.length === 0) return;
  const first = (mlps[0]![1] as Obj)['mlp_neurons_scores'];
  if (!Array.isArray(first) || first.length < 1) throw new UserError(`${file}: node "${mlps[0]![0]}": mlp_neurons_scores must be a non-empty list of numbers (one per MLP hidden unit)`);
  const F = first.length, seen = new Set<number>();
  const units = g.setMlpScores(F, new Float32Array(L * F).fill(NaN));
  for (const [name, v] of mlps) {
    const u = g.edges.srcIndex(name), l = u < 0 ? -1 : mlpLayer(g, u);
    if (l < 0) throw new UserError(`${file}: node "${name}" carries mlp_neurons, but only MLP nodes (m0, m1, …) have hidden units`);
    seen.add(l);
    const o = v as Obj, sc = o['mlp_neurons_scores'], fl = o['mlp_neurons'];
    if (!Array.isArray(sc) || sc.length !== F) throw new UserError(`${file}: node "${name}": mlp_neurons_scores must be a list of ${F} numbers (as in ${mlps[0]![0]}), got ${Array.isArray(sc) ? `${sc.length} values` : JSON.stringify(sc) ?? 'nothing'}`);
    sc.forEach((x, i) => {
      const y = num(x);
      if (typeof y !== 'number') throw new UserError(`${file}: node "${name}": mlp_neurons_scores[${i}] must be a number, got ${JSON.stringify(x)}`);
      units.scores[l * F + i] = y;
    });
    if (fl === undefined) continue;
    if (!Array.isArray(fl) || fl.length !== F || !fl.every((x) => typeof x === 'boolean' || x === 0 || x === 1)) {
      throw new UserError(`${file}: node "${name}": mlp_neurons must be a list of ${F} booleans (one per hidden unit), got ${Array.isArray(fl) ? `${fl.length} values` : JSON.stringify(fl)}`);
    }
    fl.forEach((x, i) => (units.inGraph[l * F + i] = x ? 1 : 0));
  }
  if (seen.size !== L) throw new UserError(`${file}: only ${seen.size} of the ${L} MLP nodes carry mlp_neurons_scores: every MLP node needs them (eapgp attribute --level mlp-neuron writes them all)`);
}

/** Writes a node graph atomically in EAP-IG's format. */
export function writeNodeGraphJson(file: string, g: NodeGraph, opts: { cfg?: Obj; meta?: Obj } = {}): void {
  const chunks = [...nodeGraphJsonChunks(g, opts)];
  writeAtomicSync(file, (fd) => {
    for (const c of chunks) writeAllSync(fd, Buffer.from(c, 'utf8'));
  });
}

export function nodeGraphJsonString(g: NodeGraph, opts: { cfg?: Obj; meta?: Obj } = {}): string {
  return [...nodeGraphJsonChunks(g, opts)].join('');
}

export function readNodeGraphJson(file: string, opts: ReadGraphOptions = {}): NodeGraphFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read graph file ${file}: ${(e as Error).message}`, { cause: e });
  }
  return parseNodeGraphJson(text, file, opts);
}

const num = (v: unknown): unknown => fromPySentinel(v) ?? v;

export function parseNodeGraphJson(text: string, file: string, opts: ReadGraphOptions = {}): NodeGraphFile {
  const d = parseJsonFile(quotePyNonFinite(text), file);
  if (!isObj(d)) throw new UserError(`${file}: ${NOT_A_GRAPH}`);
  for (const k of ['cfg', 'nodes', 'edges']) checkSection(d[k], k, file);
  const cfg = restorePyNonFinite(d['cfg']) as Obj;
  const edges = graphForCfg(cfg, file, opts);
  const nodes = d['nodes'] as Obj;
  const entries = Object.entries(nodes).filter(([name]) => name !== 'logits');
  const level: NodeLevel | null = entries.some(([, v]) => isObj(v) && ('neurons' in v || 'neurons_scores' in v))
    ? 'neuron'
    : entries.some(([, v]) => isObj(v) && 'score' in v) ? 'node' : null;
  if (!level) throw new UserError(`${file}: no node carries a "score", "neurons" or "neurons_scores": this is an edge graph (evaluate it without node options, or score nodes with eapgp attribute --level node)`);
  const D = cfg['d_model'];
  if (typeof D !== 'number' || !Number.isInteger(D) || D < 1) throw new UserError(`${file}: cfg.d_model must be a positive integer for a ${level}-level graph, got ${JSON.stringify(D)}`);
  const g = new NodeGraph(edges, D, level);
  for (const [name, v] of entries) {
    const u = edges.srcIndex(name);
    if (u < 0) throw new UserError(`${file}: unknown node "${name}" for a graph with ${edges.nLayers} layers × ${edges.nHeads} heads`);
    const flag = isObj(v) ? v['in_graph'] : v;
    if (typeof flag !== 'boolean') throw new UserError(`${file}: node "${name}": in_graph must be true or false, got ${JSON.stringify(flag) ?? 'nothing'}`);
    g.nodeInGraph[u] = flag ? 1 : 0;
    if (!isObj(v)) continue;
    const s = num(v['score']);
    if (s !== undefined && s !== null) {
      if (typeof s !== 'number') throw new UserError(`${file}: node "${name}": score must be a number, got ${JSON.stringify(s)}`);
      g.nodeScores[u] = s;
    }
    if (v['neurons'] !== undefined) {
      const f = v['neurons'];
      if (!Array.isArray(f) || f.length !== D || !f.every((x) => typeof x === 'boolean' || x === 0 || x === 1)) {
        throw new UserError(`${file}: node "${name}": neurons must be a list of ${D} booleans (cfg.d_model), got ${Array.isArray(f) ? `${f.length} values` : JSON.stringify(f)}`);
      }
      f.forEach((x, i) => (g.neuronInGraph![u * D + i] = x ? 1 : 0));
    } else if (level === 'neuron') g.neuronInGraph!.fill(g.nodeInGraph[u]!, u * D, (u + 1) * D);
    if (v['neurons_scores'] !== undefined) {
      const f = v['neurons_scores'];
      if (!Array.isArray(f) || f.length !== D) throw new UserError(`${file}: node "${name}": neurons_scores must be a list of ${D} numbers (cfg.d_model), got ${Array.isArray(f) ? `${f.length} values` : JSON.stringify(f)}`);
      f.forEach((x, i) => {
        const y = num(x);
        if (typeof y !== 'number') throw new UserError(`${file}: node "${name}": neurons_scores[${i}] must be a number, got ${JSON.stringify(x)}`);
        g.neuronScores![u * D + i] = y;
      });
    }
  }
  readMlpUnits(g, entries, file);
  const reader = new EdgeReader(edges, file);
  const e = d['edges'] as Obj;
  for (const name in e) reader.add(name, e[name]);
  reader.finish();
  const out: NodeGraphFile = { graph: g, cfg };
  if (d['meta'] !== undefined) out.meta = checkMeta(restorePyNonFinite(d['meta']), file);
  return out;
}
