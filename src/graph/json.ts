/**
 * Graph files in hannamw/EAP-IG's JSON format (Graph.to_json / Graph.from_json):
 *
 *   {"cfg": {"n_layers": L, "n_heads": H, "parallel_attn_mlp": false, "d_model": D, ...},
 *    "nodes": {"input": {"in_graph": true}, "a0.h0": {...}, ..., "m0": {...}, ..., "logits": {"in_graph": true}},
 *    "edges": {"input->a0.h0<q>": {"score": 0.25, "in_graph": false}, ...},
 *    "meta": {...}}
 *
 * Written like current EAP-IG (nodes as {"in_graph": bool}, Python json.dump separators, nodes and edges in
 * Graph.from_model insertion order; current EAP-IG's from_json needs cfg.d_model, so it is always written).
 * Our own extras (method, steps, model, task, data hash, time, ...) go only under "meta", which EAP-IG ignores.
 *
 * Reading also accepts older EAP-IG files: nodes as bare booleans, and "score": null (an unscored edge of
 * old EAP-IG) which reads as 0, the score current EAP-IG gives an edge it never scored; and MIB's circuit
 * files, whose edges may carry no "score" at all (read as 0, as MIB's load_graph_from_json does). Python's bare NaN /
 * Infinity are accepted and written. Scores are float32: they are written as the shortest decimal that reads
 * back to the same float32, so a round trip is bit-exact.
 */
import { readFileSync } from 'node:fs';
import { UserError } from '../util/errors.js';
import { writeAllSync, writeAtomicSync } from '../util/atomic-write.js';
import { parseJsonFile } from '../util/json.js';
import { Graph } from './graph.js';
import { formatFloat32, fromPySentinel, pyDumps, pyString, quotePyNonFinite, restorePyNonFinite } from './pyjson.js';

/** A graph read from a file, with the file's whole cfg (unknown keys kept) and our optional meta. */
export interface GraphFile {
  graph: Graph;
  cfg: Record<string, unknown>;
  meta?: Record<string, unknown>;
}

/** Expected model shape; a file that disagrees is rejected with a UserError. */
export interface ReadGraphOptions {
  nLayers?: number;
  nHeads?: number;
  dModel?: number;
  /** The model's attention and MLP read the same residual stream. */
  parallelAttnMlp?: boolean;
}

export interface WriteGraphOptions {
  /** The model width, written as cfg.d_model (required unless cfg.d_model is given). */
  dModel?: number;
  /** Extra cfg keys to keep (e.g. the cfg of a file read earlier); the shape keys come from the graph. */
  cfg?: Record<string, unknown>;
  /** Our own metadata, written under "meta". */
  meta?: Record<string, unknown>;
  /** Write each edge's score (default); false writes in_graph flags only, as MIB's circuit files are. */
  scores?: boolean;
}

const CORE_CFG = ['n_layers', 'n_heads', 'parallel_attn_mlp', 'd_model'];

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Reads and validates an EAP-IG graph JSON file. */
export function readGraphJson(file: string, opts: ReadGraphOptions = {}): GraphFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read graph file ${file}: ${(e as Error).message}`, { cause: e });
  }
  return parseGraphJson(text, file, opts);
}

/** Parses and validates graph JSON text; `file` names it in error messages. */
export function parseGraphJson(text: string, file: string, opts: ReadGraphOptions = {}): GraphFile {
  const d = parseJsonFile(quotePyNonFinite(text), file);
  if (!isObj(d)) throw new UserError(`${file}: ${NOT_A_GRAPH}`);
  const top = d as Obj;
  for (const k of ['cfg', 'nodes', 'edges']) checkSection(top[k], k, file);
  const cfg = restorePyNonFinite(top['cfg']) as Obj;
  const g = graphForCfg(cfg, file, opts);
  const nodes = top['nodes'] as Obj;
  for (const name in nodes) applyNode(g, name, nodes[name], file);
  const edges = new EdgeReader(g, file);
  const e = top['edges'] as Obj;
  for (const name in e) edges.add(name, e[name]);
  edges.finish();
  const out: GraphFile = { graph: g, cfg };
  if (top['meta'] !== undefined) out.meta = checkMeta(restorePyNonFinite(top['meta']), file);
  return out;
}

/** Message for a document whose top level is not an object. */
export const NOT_A_GRAPH = 'not an EAP-IG graph file (the top level must be an object with "cfg", "nodes" and "edges")';

/** Throws unless the top-level section `key` ("cfg", "nodes" or "edges") is an object. */
export function checkSection(v: unknown, key: string, file: string): void {
  if (!isObj(v)) throw new UserError(`${file}: not an EAP-IG graph file: "${key}" is missing or not an object`);
}

/** Throws unless `meta` is an object; returns it. */
export function checkMeta(meta: unknown, file: string): Obj {
  if (!isObj(meta)) throw new UserError(`${file}: "meta" must be an object`);
  return meta;
}

/** Validates a file's cfg (shape, sequential blocks, agreement with `opts`) and makes the empty graph of its shape. */
export function graphForCfg(cfg: Obj, file: string, opts: ReadGraphOptions = {}): Graph {
  const bad = (msg: string): never => {
    throw new UserError(`${file}: ${msg}`);
  };
  const L = cfg['n_layers'];
  const H = cfg['n_heads'];
  for (const [k, x] of [['n_layers', L], ['n_heads', H]] as const) {
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 1) bad(`cfg.${k} must be a positive integer, got ${JSON.stringify(x)}`);
  }
  const par = cfg['parallel_attn_mlp'] ?? false;
  if (typeof par !== 'boolean') bad(`cfg.parallel_attn_mlp must be true or false, got ${JSON.stringify(par)}`);
  if (opts.parallelAttnMlp !== undefined && par !== opts.parallelAttnMlp) {
    bad(`cfg.parallel_attn_mlp = ${par} but the model's attention and MLP run ${opts.parallelAttnMlp ? 'in parallel' : 'one after the other'}; this graph was made for another model`);
  }
  if (opts.nLayers !== undefined && L !== opts.nLayers) bad(`cfg.n_layers = ${L} but the model has ${opts.nLayers} layers`);
  if (opts.nHeads !== undefined && H !== opts.nHeads) bad(`cfg.n_heads = ${H} but the model has ${opts.nHeads} heads`);
  if (opts.dModel !== undefined && cfg['d_model'] !== undefined && cfg['d_model'] !== opts.dModel) {
    bad(`cfg.d_model = ${JSON.stringify(cfg['d_model'])} but the model has d_model = ${opts.dModel}; this graph was made for another model`);
  }
  return new Graph(L as number, H as number, par as boolean);
}

/** Applies one member of "nodes": a bare boolean (old EAP-IG) or {"in_graph": bool, ...} (other keys ignored). */
export function applyNode(g: Graph, name: string, v: unknown, file: string): void {
  const flag = isObj(v) ? v['in_graph'] : v;
  if (typeof flag !== 'boolean') {
    throw new UserError(`${file}: node "${name}": in_graph must be true or false, got ${JSON.stringify(flag) ?? 'nothing'}`);
  }
  if (name === 'logits') return; // always in the circuit
  const u = g.srcIndex(name);
  if (u < 0) throw new UserError(`${file}: unknown node "${name}" for a graph with ${g.nLayers} layers × ${g.nHeads} heads`);
  g.setNodeInGraph(u, flag);
}

/**
 * Applies the members of "edges" one at a time ({"score": number | null, "in_graph": bool}; a later duplicate
 * wins, as with JSON.parse), then `finish` checks that every edge of the graph was given.
 */
export class EdgeReader {
  readonly #seen: Uint8Array;
  #found = 0;
  /** Edge names already resolved: a name is split once per distinct source and destination. */
  readonly #src = new Map<string, number>();
  readonly #dst = new Map<string, number>();

  constructor(
    readonly g: Graph,
    readonly file: string,
  ) {
    this.#seen = new Uint8Array(g.nSrc * g.nDst);
    for (let u = 0; u < g.nSrc; u++) this.#src.set(g.srcName(u), u);
    for (let v = 0; v < g.nDst; v++) this.#dst.set(g.dstName(v), v);
  }

  add(name: string, info: unknown): void {
    const { g, file } = this;
    const i = name.indexOf('->');
    let u = i < 0 ? undefined : this.#src.get(name.slice(0, i));
    let v = i < 0 ? undefined : this.#dst.get(name.slice(i + 2));
    if (u === undefined || v === undefined || !g.isEdge(u, v)) ({ u, v } = g.parseEdgeName(name, file)); // throws the precise reason
    if (!isObj(info)) throw new UserError(`${file}: edge "${name}": expected {"score": number, "in_graph": bool}`);
    let s = info['score'];
    s = fromPySentinel(s) ?? s;
    if (s === null || s === undefined) s = 0;
    if (typeof s !== 'number') throw new UserError(`${file}: edge "${name}": score must be a number, got ${JSON.stringify(s) ?? 'nothing'}`);
    const flag = info['in_graph'];
    if (typeof flag !== 'boolean') {
      throw new UserError(`${file}: edge "${name}": in_graph must be true or false, got ${JSON.stringify(flag) ?? 'nothing'}`);
    }
    g.setScore(u, v, s);
    g.setEdgeInGraph(u, v, flag);
    const f = g.flat(u, v);
    if (this.#seen[f] === 0) {
      this.#seen[f] = 1;
      this.#found++;
    }
  }

  finish(): void {
    const { g, file } = this;
    if (this.#found === g.nEdges) return;
    let first = '';
    g.forEachEdge((u, v) => {
      if (first === '' && this.#seen[g.flat(u, v)] === 0) first = g.edgeName(u, v);
    });
    throw new UserError(
      `${file}: ${g.nEdges - this.#found} of the ${g.nEdges} edges of a ${g.nLayers}×${g.nHeads} graph are missing, the first is "${first}"`,
    );
  }
}

/**
 * The file's text in pieces (each a few hundred KB): cfg, nodes, edges in EAP-IG order, then meta. Used by
 * writeGraphJson; exposed for callers that stream elsewhere.
 */
export function* graphJsonChunks(g: Graph, opts: WriteGraphOptions = {}): Generator<string> {
  const dModel = opts.dModel ?? opts.cfg?.['d_model'];
  if (typeof dModel !== 'number' || !Number.isInteger(dModel) || dModel < 1) {
    throw new Error('writeGraphJson: dModel is required (EAP-IG needs cfg.d_model to load a graph)');
  }
  const cfg: Obj = { n_layers: g.nLayers, n_heads: g.nHeads, parallel_attn_mlp: g.parallelAttnMlp, d_model: dModel };
  for (const [k, v] of Object.entries(opts.cfg ?? {})) if (!CORE_CFG.includes(k)) cfg[k] = v;
  const nodes: string[] = [];
  const nodeIn = g.nodeInGraph;
  for (let u = 0; u < g.nSrc; u++) nodes.push(`${pyString(g.srcName(u))}: {"in_graph": ${nodeIn[u] ? 'true' : 'false'}}`);
  nodes.push('"logits": {"in_graph": true}');
  yield `{"cfg": ${pyDumps(cfg)}, "nodes": {${nodes.join(', ')}}, "edges": {`;

  const s = g.scores;
  const flags = g.inGraph;
  const srcNames = Array.from({ length: g.nSrc }, (_, u) => g.srcName(u));
  const dstNames = Array.from({ length: g.nDst }, (_, v) => g.dstName(v));
  let buf: string[] = [];
  let first = true;
  const withScores = opts.scores ?? true;
  const flat = g.edgeFlatIndices();
  for (let i = 0; i < flat.length; i++) {
    const f = flat[i]!;
    const u = Math.floor(f / g.nDst);
    const v = f - u * g.nDst;
    const score = withScores ? `"score": ${formatFloat32(s[f]!)}, ` : '';
    buf.push(`${first ? '' : ', '}"${srcNames[u]}->${dstNames[v]}": {${score}"in_graph": ${flags[f] ? 'true' : 'false'}}`);
    first = false;
    if (buf.length === 8192) {
      yield buf.join('');
      buf = [];
    }
  }
  yield buf.join('') + '}';
  yield opts.meta !== undefined ? `, "meta": ${pyDumps(opts.meta)}}` : '}';
}

/** Writes the graph atomically (temp file + rename) in EAP-IG's format, streaming for large graphs. */
export function writeGraphJson(file: string, g: Graph, opts: WriteGraphOptions = {}): void {
  const chunks = graphJsonChunks(g, opts);
  const firstChunk = chunks.next(); // validate options before creating anything on disk
  writeAtomicSync(file, (fd) => {
    if (!firstChunk.done) writeAllSync(fd, Buffer.from(firstChunk.value, 'utf8'));
    for (const c of chunks) writeAllSync(fd, Buffer.from(c, 'utf8'));
  });
}

/** The whole file text as one string (small graphs, tests). */
export function graphJsonString(g: Graph, opts: WriteGraphOptions = {}): string {
  return [...graphJsonChunks(g, opts)].join('');
}
