/**
 * Selection and pruning: identical edge sets to the PyTorch oracle's select_topn / select_greedy / prune on
 * random scores with many ties (fixture test/fixtures/graph/oracle-selection.json), exact counts before
 * pruning, and prune invariants (no dangling node, idempotent, only removes).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Graph } from '../src/graph/graph.js';
import { greedy, prune, threshold, topn } from '../src/graph/selection.js';
import { isUserError } from '../src/util/errors.js';

interface Case {
  n_layers: number;
  n_heads: number;
  n_edges: number;
  edge_names: string[];
  edge_flat: number[];
  scores: number[];
  selections: { method: 'topn' | 'greedy'; n: number; absolute: boolean; selected: number[]; pruned_edges: number[]; pruned_nodes: number[] }[];
}
const FIX = fileURLToPath(new URL('../../test/fixtures/graph/oracle-selection.json', import.meta.url));
const cases = (JSON.parse(readFileSync(FIX, 'utf8')) as { cases: Case[] }).cases;

function graphOf(c: Case): Graph {
  const g = new Graph(c.n_layers, c.n_heads);
  c.edge_names.forEach((name, i) => {
    const { u, v } = g.parseEdgeName(name);
    assert.equal(g.flat(u, v), c.edge_flat[i], `${name}: flat index differs from the oracle`);
    g.setScore(u, v, c.scores[i]!);
  });
  return g;
}

const sources = (g: Graph): number[] => Array.from(g.nodeInGraph).flatMap((x, u) => (x ? [u] : []));

test('topn and greedy select the oracle edge sets (ties included), then prune identically', () => {
  let checked = 0;
  for (const c of cases) {
    const g = graphOf(c);
    assert.deepEqual(Array.from(g.edgeFlatIndices()), c.edge_flat, 'insertion order');
    for (const s of c.selections) {
      const label = `${c.n_layers}x${c.n_heads} ${s.method}(${s.n}, absolute=${s.absolute})`;
      const fn = s.method === 'topn' ? topn : greedy;
      const r = fn(g, s.n, { absolute: s.absolute });
      assert.equal(r.edges, s.n, `${label}: exactly n edges before pruning`);
      assert.deepEqual(Array.from(g.inGraphFlatIndices()), s.selected, `${label}: selected edges`);
      const p = prune(g);
      assert.deepEqual(Array.from(g.inGraphFlatIndices()), s.pruned_edges, `${label}: pruned edges`);
      assert.deepEqual(sources(g), s.pruned_nodes, `${label}: pruned nodes`);
      assert.deepEqual(p, { edges: s.pruned_edges.length, nodes: s.pruned_nodes.length });
      checked++;
    }
  }
  assert.ok(checked >= 60);
});

test('the fixture really has ties that matter', () => {
  const c = cases[1]!;
  const abs = c.scores.map(Math.abs);
  assert.ok(new Set(abs).size < abs.length / 3, 'many |score| ties');
});

test('threshold keeps |score| >= t (or score >= t) and marks nodes with in- and out-edges', () => {
  const g = graphOf(cases[1]!);
  const r = threshold(g, 1.5);
  let n = 0;
  g.forEachEdge((u, v) => {
    const on = Math.abs(g.score(u, v)) >= 1.5;
    n += on ? 1 : 0;
    assert.equal(g.edgeInGraph(u, v), on);
  });
  assert.equal(r.edges, n);
  const signed = threshold(g, 1.5, { absolute: false });
  assert.ok(signed.edges < n && signed.edges > 0);
  g.forEachEdge((u, v) => assert.equal(g.edgeInGraph(u, v), g.score(u, v) >= 1.5));
  for (let u = 1; u < g.nSrc; u++) {
    const out = g.inGraphFlatIndices().some((f) => Math.floor(f / g.nDst) === u);
    const inn = g.slotsOf(u).some((v) => Array.from({ length: g.nSrc }, (_, p) => p).some((p) => g.isEdge(p, v) && g.edgeInGraph(p, v)));
    assert.equal(g.nodeInGraph[u] === 1, out && inn, g.srcName(u));
  }
});

test('prune: no dangling node, idempotent, only removes', () => {
  const g = new Graph(6, 4);
  let x = 3;
  g.forEachEdge((u, v) => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    g.setScore(u, v, x / 2 ** 32 - 0.5);
  });
  for (const sel of [() => topn(g, 40), () => topn(g, 400, { absolute: false }), () => greedy(g, 150), () => threshold(g, 0.49)]) {
    sel();
    const before = new Set(g.inGraphFlatIndices());
    const r = prune(g);
    const after = g.inGraphFlatIndices();
    for (const f of after) assert.ok(before.has(f), 'prune added an edge');
    const nd = g.nDst;
    const hasOut = new Set(Array.from(after, (f) => Math.floor(f / nd)));
    const hasIn = new Set(Array.from(after, (f) => g.slotOwner(f % nd)));
    for (let u = 0; u < g.nSrc; u++) {
      const on = g.nodeInGraph[u] === 1;
      assert.equal(on, hasOut.has(u) && (u === 0 || hasIn.has(u)), `node ${g.srcName(u)}`);
    }
    for (const f of after) {
      assert.equal(g.nodeInGraph[Math.floor(f / nd)], 1);
      const o = g.slotOwner(f % nd);
      if (o >= 0) assert.equal(g.nodeInGraph[o], 1);
    }
    const snapshot = Array.from(after);
    assert.deepEqual(prune(g), r, 'idempotent counts');
    assert.deepEqual(Array.from(g.inGraphFlatIndices()), snapshot, 'idempotent edges');
  }
});

test('greedy grows from logits: every selected edge feeds a node already reached', () => {
  const g = graphOf(cases[2]!);
  greedy(g, 30);
  const reached = new Set<number>([-1]);
  for (const f of g.inGraphFlatIndices()) reached.add(Math.floor(f / g.nDst));
  for (const f of g.inGraphFlatIndices()) assert.ok(reached.has(g.slotOwner(f % g.nDst)));
  assert.equal(g.countEdgesInGraph(), 30);
});

test('asking for more edges than exist is a UserError; 0 and all edges work', () => {
  const g = graphOf(cases[0]!);
  for (const fn of [topn, greedy]) {
    assert.throws(() => fn(g, g.nEdges + 1), (e: unknown) => isUserError(e) && /asked for 47 edges but the graph has only 46/.test((e as Error).message));
    assert.throws(() => fn(g, -1), (e: unknown) => isUserError(e));
    assert.throws(() => fn(g, 1.5), (e: unknown) => isUserError(e));
    assert.equal(fn(g, 0).edges, 0);
    assert.equal(fn(g, g.nEdges).edges, g.nEdges);
  }
  assert.throws(() => threshold(g, NaN), (e: unknown) => isUserError(e));
});

test('NaN scores rank last', () => {
  const g = new Graph(1, 1);
  g.forEachEdge((u, v) => g.setScore(u, v, 0.001));
  g.setScore(0, g.logitsSlot, NaN);
  topn(g, g.nEdges - 1);
  assert.equal(g.edgeInGraph(0, g.logitsSlot), false);
});
