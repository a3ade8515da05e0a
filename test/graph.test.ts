/** Graph structure: indices, edge counts (formula = construction), direction, names, score invariants. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Graph } from '../src/graph/graph.js';
import { isUserError } from '../src/util/errors.js';

/** Independent construction straight from DESIGN.md §3 (layer/kind rules, not the parent prefix). */
function expectedEdge(g: Graph, u: number, v: number): boolean {
  if (v === g.logitsSlot) return true;
  const dl = g.slotLayer(v);
  if (u === 0) return true;
  const sl = g.srcLayer(u);
  if (g.slotKind(v) === 'mlp') return sl < dl || (sl === dl && g.srcKind(u) === 'head');
  return sl < dl;
}

test('edge counts: formula = mask = construction for L, H in 1..5', () => {
  for (let L = 1; L <= 5; L++) {
    for (let H = 1; H <= 5; H++) {
      const g = new Graph(L, H);
      assert.equal(g.nSrc, 1 + L * (H + 1));
      assert.equal(g.nDst, L * (3 * H + 1) + 1);
      assert.equal(g.nEdges, Graph.edgeCountFormula(L, H), `${L}x${H}`);
      let n = 0;
      let mask = 0;
      for (let u = 0; u < g.nSrc; u++) {
        for (let v = 0; v < g.nDst; v++) {
          const e = expectedEdge(g, u, v);
          assert.equal(g.isEdge(u, v), e, `${L}x${H} ${u}->${v}`);
          mask += g.realMask[g.flat(u, v)]!;
          n += e ? 1 : 0;
        }
      }
      assert.equal(n, g.nEdges);
      assert.equal(mask, g.nEdges);
      let iter = 0;
      g.forEachEdge(() => iter++);
      assert.equal(iter, g.nEdges);
      assert.equal(new Set(g.edgeFlatIndices()).size, g.nEdges, 'edges() lists each edge once');
    }
  }
});

test('GPT-2 shapes: small 32,491, medium 231,877, large 810,703, XL 2,235,025 (formula and mask)', () => {
  const shapes: [number, number, number][] = [[12, 12, 32491], [24, 16, 231877], [36, 20, 810703], [48, 25, 2235025]];
  for (const [L, H, n] of shapes) {
    assert.equal(Graph.edgeCountFormula(L, H), n);
    const g = new Graph(L, H);
    let mask = 0;
    const m = g.realMask;
    for (let i = 0; i < m.length; i++) mask += m[i]!;
    assert.equal(mask, n, `${L}x${H} mask`);
    assert.equal(g.nEdges, n);
  }
  const small = new Graph(12, 12);
  assert.equal(small.nSrc, 157);
  assert.equal(small.nDst, 445);
});

test('indices follow DESIGN.md §3 and parents are the source prefix', () => {
  const g = new Graph(4, 3);
  const H = 3;
  assert.equal(g.srcIndex('input'), 0);
  assert.equal(g.srcIndex('a2.h1'), 1 + 2 * (H + 1) + 1);
  assert.equal(g.srcIndex('m2'), 1 + 2 * (H + 1) + H);
  assert.equal(g.dstIndex('a2.h1<q>'), 2 * (3 * H + 1) + 1);
  assert.equal(g.dstIndex('a2.h1<k>'), 2 * (3 * H + 1) + H + 1);
  assert.equal(g.dstIndex('a2.h1<v>'), 2 * (3 * H + 1) + 2 * H + 1);
  assert.equal(g.dstIndex('m2'), 2 * (3 * H + 1) + 3 * H);
  assert.equal(g.dstIndex('logits'), g.nDst - 1);
  for (let v = 0; v < g.nDst; v++) {
    const p = g.parentCount(v);
    for (let u = 0; u < g.nSrc; u++) assert.equal(g.isEdge(u, v), u < p);
  }
  assert.deepEqual(g.slotsOf(g.srcIndex('a1.h2')), ['q', 'k', 'v'].map((c) => g.dstIndex(`a1.h2<${c}>`)));
  assert.deepEqual(g.slotsOf(g.srcIndex('m3')), [g.dstIndex('m3')]);
  assert.deepEqual(g.slotsOf(0), []);
  for (let u = 1; u < g.nSrc; u++) for (const v of g.slotsOf(u)) assert.equal(g.slotOwner(v), u);
  assert.equal(g.slotOwner(g.logitsSlot), -1);
});

test('every edge goes strictly forward in residual order', () => {
  const g = new Graph(5, 4);
  g.forEachEdge((u, v) => {
    const owner = g.slotOwner(v);
    if (owner >= 0) {
      assert.ok(u < owner, `${g.edgeName(u, v)} not forward`);
      if (g.srcLayer(u) === g.slotLayer(v)) assert.ok(g.srcKind(u) === 'head' && g.slotKind(v) === 'mlp', g.edgeName(u, v));
      else assert.ok(g.srcLayer(u) < g.slotLayer(v));
    }
  });
});

test('edge order is EAP-IG Graph.from_model insertion order', () => {
  const g = new Graph(2, 2);
  const names: string[] = [];
  g.forEachEdge((u, v) => names.push(g.edgeName(u, v)));
  assert.deepEqual(names.slice(0, 7), [
    'input->a0.h0<q>', 'input->a0.h0<k>', 'input->a0.h0<v>', 'input->a0.h1<q>', 'input->a0.h1<k>', 'input->a0.h1<v>', 'input->m0',
  ]);
  assert.deepEqual(names.slice(7, 10), ['a0.h0->m0', 'a0.h1->m0', 'input->a1.h0<q>']);
  assert.deepEqual(names.slice(-7), ['input->logits', 'a0.h0->logits', 'a0.h1->logits', 'm0->logits', 'a1.h0->logits', 'a1.h1->logits', 'm1->logits']);
  assert.deepEqual([...g.edges()].slice(0, 2), [{ u: 0, v: 0 }, { u: 0, v: 2 }]);
});

test('names round-trip for every edge; bad names give clear UserErrors', () => {
  const g = new Graph(3, 3);
  g.forEachEdge((u, v) => {
    const name = g.edgeName(u, v);
    assert.deepEqual(g.parseEdgeName(name), { u, v });
  });
  for (let u = 0; u < g.nSrc; u++) assert.equal(g.srcIndex(g.srcName(u)), u);
  for (let v = 0; v < g.nDst; v++) assert.equal(g.dstIndex(g.dstName(v)), v);
  assert.equal(g.edgeName(g.srcIndex('a2.h1'), g.dstIndex('m2')), 'a2.h1->m2');
  assert.equal(g.edgeName(g.srcIndex('m2'), g.logitsSlot), 'm2->logits');
  const cases: [string, RegExp][] = [
    ['a0.h0', /not an edge name/],
    ['a9.h0->m1', /unknown source node "a9.h0"/],
    ['input->a1.h0', /unknown destination "a1.h0".*<q>/],
    ['m2->a1.h0<q>', /is not an edge: m2 is not upstream/],
    ['a1.h0->a1.h1<q>', /not an edge/],
    ['a01.h0->m2', /unknown source/],
  ];
  for (const [name, re] of cases) {
    assert.throws(() => g.parseEdgeName(name, 'x.json'), (e: unknown) => isUserError(e) && re.test((e as Error).message) && (e as Error).message.startsWith('x.json'));
  }
});

test('no score or flag can be stored on a non-edge', () => {
  const g = new Graph(2, 2);
  const u = g.srcIndex('m1');
  const v = g.dstIndex('a0.h0<q>');
  assert.throws(() => g.setScore(u, v, 1), /not an edge/);
  assert.throws(() => g.setEdgeInGraph(u, v, true), /not an edge/);
  assert.throws(() => g.setScore(0, g.nDst, 1), RangeError);
  const dense = new Float32Array(g.nSrc * g.nDst);
  dense[g.flat(u, v)] = 2;
  assert.throws(() => g.setScoresDense(dense), /non-edge m1->a0.h0<q>/);
  g.setScoresDense(dense, 'ignore');
  g.fillCircuit();
  for (let i = 0; i < dense.length; i++) {
    if (!g.realMask[i]) {
      assert.equal(g.scores[i], 0);
      assert.equal(g.inGraph[i], 0);
    }
  }
  assert.equal(g.countEdgesInGraph(), g.nEdges);
  g.setScore(0, g.logitsSlot, 0.1);
  assert.equal(g.score(0, g.logitsSlot), Math.fround(0.1));
  assert.throws(() => new Graph(0, 2), /n_layers/);
});
