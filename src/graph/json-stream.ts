/**
 * Reads an EAP-IG graph file in chunks (readGraphJson's result and validation, without the whole text and
 * object tree in memory): a GPT-2 XL file (150 MB, 2.2 M edges) reads in a few seconds holding only the graph.
 * Nodes and edges are applied as they arrive; a file whose "cfg" comes after them (EAP-IG always writes it
 * first) is handled by keeping those members until the cfg is known.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { UserError } from '../util/errors.js';
import { JsonStreamParser } from '../util/json-stream.js';
import type { Graph } from './graph.js';
import { EdgeReader, NOT_A_GRAPH, applyNode, checkMeta, checkSection, graphForCfg, type GraphFile, type ReadGraphOptions } from './json.js';

export interface StreamGraphOptions extends ReadGraphOptions {
  /** Called after each chunk with the bytes read so far and the file size. */
  onProgress?: (bytes: number, total: number) => void;
  /** Bytes per read (default 1 MiB). */
  chunkSize?: number;
  /** How messages name the file (default: its path). */
  label?: string;
}

/** Reads and validates an EAP-IG graph JSON file as a stream; same result and messages as readGraphJson. */
export async function streamGraphJson(path: string, opts: StreamGraphOptions = {}): Promise<GraphFile> {
  const file = opts.label ?? path;
  const st: { g: Graph | null; edges: EdgeReader | null } = { g: null, edges: null };
  const early: [boolean, string, unknown][] = []; // [isNode, name, value] seen before the cfg
  const node = (name: string, v: unknown): void => {
    if (st.g) applyNode(st.g, name, v, file);
    else early.push([true, name, v]);
  };
  const edge = (name: string, v: unknown): void => {
    if (st.edges) st.edges.add(name, v);
    else early.push([false, name, v]);
  };
  const parser = new JsonStreamParser(file, {
    sinks: { nodes: node, edges: edge },
    onTopValue: (key, v) => {
      if (key !== 'cfg' || st.g) return;
      checkSection(v, 'cfg', file);
      st.g = graphForCfg(v as Record<string, unknown>, file, opts);
      st.edges = new EdgeReader(st.g, file);
      for (const [isNode, name, value] of early.splice(0)) (isNode ? node : edge)(name, value);
    },
  });

  let bytes = 0;
  try {
    const total = (await stat(path)).size;
    const stream = createReadStream(path, { highWaterMark: opts.chunkSize ?? 1 << 20 });
    for await (const chunk of stream) {
      parser.push(chunk as Buffer);
      bytes += (chunk as Buffer).length;
      opts.onProgress?.(bytes, total);
    }
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`cannot read graph file ${file}: ${(e as Error).message}`, { cause: e });
  }
  const top = parser.end();
  if (top === null || typeof top !== 'object' || Array.isArray(top)) throw new UserError(`${file}: ${NOT_A_GRAPH}`);
  const d = top as Record<string, unknown>;
  for (const k of ['cfg', 'nodes', 'edges']) checkSection(d[k], k, file);
  st.edges!.finish();
  const out: GraphFile = { graph: st.g!, cfg: d['cfg'] as Record<string, unknown> };
  if (d['meta'] !== undefined) out.meta = checkMeta(d['meta'], file);
  return out;
}
