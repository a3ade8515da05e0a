/**
 * The graph layout of every family's shape (src/models/layout.ts): edge counts equal the enumerated edges and the
 * closed form, parallel blocks (GPT-NeoX) drop exactly the L·H edges a{l}.h* → m{l} and keep EAP-IG's
 * Graph.from_model insertion order (per source: its q/k/v edges, then its MLP edge), and the parallel flag survives
 * the EAP-IG JSON and our binary format.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Graph, readGraphJson, writeGraphJson } from '../src/graph/index.js';
import { decodeGraphBinary, encodeGraphBinary } from '../src/graph/binary.js';
import { GraphLayout } from '../src/models/layout.js';

const tmp = mkdtempSync(join(tmpdir(), 'eapgp-layout-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('edge counts: enumerated = closed form; parallel blocks lose exactly L·H', () => {
  // (layers, heads) of Pythia-70m, Gemma-2-2B, Qwen2.5-0.5B, Llama-3.2-1B, GPT-2 small
  for (const [L, H] of [[6, 8], [26, 8], [24, 14], [16, 32], [12, 12]] as const) {
    for (const par of [false, true]) {
      const lay = new GraphLayout({ nLayers: L, nHeads: H, parallelAttnMlp: par });
      let n = 0;
      lay.forEachEdge((u, v) => {
        assert.ok(u < lay.parentCount(v));
        n++;
      });
      const sequential = (3 * H + 1) * (L + ((H + 1) * L * (L - 1)) / 2) + L * H + 1 + L * (H + 1);
      assert.equal(n, lay.nEdges);
      assert.equal(n, sequential - (par ? L * H : 0));
    }
  }
  assert.equal(new GraphLayout({ nLayers: 12, nHeads: 12 }).nEdges, 32491); // GPT-2 small, as EAP-IG
});

test('parallel blocks: no a{l}.h → m{l} edges, EAP-IG insertion order', () => {
  const g = new Graph(2, 2, true);
  const names: string[] = [];
  g.forEachEdge((u, v) => names.push(g.edgeName(u, v)));
  assert.ok(!names.includes('a0.h0->m0') && names.includes('a0.h0->m1') && names.includes('input->m0'));
  // from_model with parallel_attn_mlp: for each node in the residual stream, its q/k/v edges then its MLP edge
  assert.deepEqual(names.slice(0, 7), ['input->a0.h0<q>', 'input->a0.h0<k>', 'input->a0.h0<v>', 'input->a0.h1<q>', 'input->a0.h1<k>', 'input->a0.h1<v>', 'input->m0']);
  assert.throws(() => g.parseEdgeName('a1.h1->m1'), /not an edge.*parallel/);
});

test('the parallel flag round-trips through EAP-IG JSON and the binary format', () => {
  const g = new Graph(2, 3, true);
  g.forEachEdge((u, v) => g.setScore(u, v, u - v / 7));
  const file = join(tmp, 'p.json');
  writeGraphJson(file, g, { dModel: 16 });
  const r = readGraphJson(file);
  assert.equal(r.cfg['parallel_attn_mlp'], true);
  assert.equal(r.graph.nEdges, g.nEdges);
  assert.deepEqual(Array.from(r.graph.scores), Array.from(g.scores));
  const b = decodeGraphBinary(encodeGraphBinary(g)).graph;
  assert.equal(b.parallelAttnMlp, true);
  assert.deepEqual(Array.from(b.scores), Array.from(g.scores));
  assert.throws(() => readGraphJson(file, { parallelAttnMlp: false }), /parallel_attn_mlp = true but the model's attention and MLP run one after the other/);
});
