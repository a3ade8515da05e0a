/**
 * Node- and neuron-level graph JSON (src/graph/node-json.ts) against files written by a transcription of
 * hannamw/EAP-IG's Graph.to_json (test/fixtures/gen-node-json.py): values, flags and the induced edges read as
 * written; our writer gives the same keys, shapes and values; a round trip is bit-exact (NaN included); bad
 * files are UserErrors naming the node and the fix.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { graphJsonString } from '../src/graph/json.js';
import { Graph } from '../src/graph/graph.js';
import { isNodeGraphText, nodeGraphJsonString, parseNodeGraphJson } from '../src/graph/node-json.js';
import { quotePyNonFinite, restorePyNonFinite } from '../src/graph/pyjson.js';
import { UserError } from '../src/util/errors.js';

const FIX = fileURLToPath(new URL('../../test/fixtures/graph/', import.meta.url));
const text = (name: string) => readFileSync(FIX + name, 'utf8');
const pyParse = (t: string) => restorePyNonFinite(JSON.parse(quotePyNonFinite(t))) as {
  cfg: Record<string, unknown>; nodes: Record<string, Record<string, unknown>>; edges: Record<string, { score: number; in_graph: boolean }>;
};
const same = (a: unknown, b: unknown): boolean =>
  typeof a === 'number' && typeof b === 'number' ? Object.is(Math.fround(a), Math.fround(b)) || (Number.isNaN(a) && Number.isNaN(b)) : a === b;

/** Whether two parsed files hold the same keys in the same order and the same values (numbers as float32). */
function assertSameFile(ours: ReturnType<typeof pyParse>, theirs: ReturnType<typeof pyParse>): void {
  assert.deepEqual(ours.cfg, theirs.cfg);
  assert.deepEqual(Object.keys(ours.nodes), Object.keys(theirs.nodes));
  for (const [name, v] of Object.entries(theirs.nodes)) {
    assert.deepEqual(Object.keys(ours.nodes[name]!), Object.keys(v), name);
    for (const [k, x] of Object.entries(v)) {
      if (Array.isArray(x)) (ours.nodes[name]![k] as unknown[]).forEach((y, i) => assert.ok(same(y, x[i]), `${name}.${k}[${i}]: ${y} vs ${x[i]}`));
      else assert.ok(same(ours.nodes[name]![k], x), `${name}.${k}: ${ours.nodes[name]![k]} vs ${x}`);
    }
  }
  assert.deepEqual(Object.keys(ours.edges), Object.keys(theirs.edges));
  for (const [name, v] of Object.entries(theirs.edges)) assert.ok(same(ours.edges[name]!.score, v.score) && ours.edges[name]!.in_graph === v.in_graph, name);
}

test("a node-level file of EAP-IG's to_json reads, and writes back with the same keys and values", () => {
  const t = text('eapig-nodes-l2h2d4.json');
  assert.ok(isNodeGraphText(t));
  const { graph: g } = parseNodeGraphJson(t, 'nodes.json');
  assert.equal(g.level, 'node');
  assert.equal(g.neuronScores, null);
  assert.deepEqual(Array.from(g.nodeScores.subarray(0, 3)), [0.1, -0.2, 0.3].map(Math.fround));
  assert.ok(Number.isNaN(g.nodeScores[3]!)); // m0: unscored
  assert.deepEqual(Array.from(g.nodeInGraph), [1, 0, 1, 1, 0, 1, 1]);
  // the file's edge flags are the edges between kept nodes: what our inducedEdges gives for the same nodes
  const flags = Array.from(g.edges.inGraph);
  assert.deepEqual(Array.from(g.inducedEdges().inGraph), flags);
  assertSameFile(pyParse(nodeGraphJsonString(g)), pyParse(t));
});

test("a neuron-level file of EAP-IG's to_json reads, writes back alike, and round-trips bit-exactly", () => {
  const t = text('eapig-neurons-l2h2d4.json');
  const { graph: g } = parseNodeGraphJson(t, 'neurons.json');
  assert.equal(g.level, 'neuron');
  assert.equal(g.dModel, 4);
  assert.deepEqual(Array.from(g.neuronInGraph!.subarray(0, 8)), [1, 0, 1, 0, 0, 0, 0, 0]);
  assert.deepEqual(Array.from(g.neuronScores!.subarray(0, 4)), [-0.75, 0.74, -0.73, 0.72].map(Math.fround));
  assert.ok(Number.isNaN(g.neuronScores![9]!) && g.nodeScores.every(Number.isNaN));
  const out = nodeGraphJsonString(g, { meta: { level: 'neuron' } });
  assertSameFile(pyParse(out), pyParse(t));
  const back = parseNodeGraphJson(out, 'back.json').graph;
  assert.deepEqual(new Uint8Array(back.neuronScores!.buffer), new Uint8Array(g.neuronScores!.buffer));
  assert.deepEqual(new Uint8Array(back.nodeScores.buffer), new Uint8Array(g.nodeScores.buffer));
  assert.deepEqual(back.neuronInGraph, g.neuronInGraph);
  assert.deepEqual(back.nodeInGraph, g.nodeInGraph);
});

test('bad node files are UserErrors naming the node and the fix', () => {
  const t = text('eapig-neurons-l2h2d4.json');
  const short = t.replace('"neurons": [true, false, true, false]', '"neurons": [true, false]');
  assert.throws(() => parseNodeGraphJson(short, 'f.json'), (e: unknown) => e instanceof UserError && /node "input": neurons must be a list of 4 booleans \(cfg\.d_model\), got 2 values/.test(e.message));
  const word = text('eapig-nodes-l2h2d4.json').replace(/"score": 0\.1[0-9]*/, '"score": "high"');
  assert.throws(() => parseNodeGraphJson(word, 'f.json'), (e: unknown) => e instanceof UserError && /node "input": score must be a number/.test(e.message));
  const edgeFile = graphJsonString(new Graph(2, 2), { dModel: 4 });
  assert.ok(!isNodeGraphText(edgeFile));
  assert.throws(() => parseNodeGraphJson(edgeFile, 'edges.json'), (e: unknown) => e instanceof UserError && /edge graph.*--level node/.test(e.message));
});
