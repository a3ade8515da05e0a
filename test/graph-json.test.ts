/** EAP-IG graph JSON: fixtures in EAP-IG's own format load, bit-exact round trips, clear errors, XL size. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Graph } from '../src/graph/graph.js';
import { graphJsonString, parseGraphJson, readGraphJson, writeGraphJson } from '../src/graph/json.js';
import { formatFloat32 } from '../src/graph/pyjson.js';
import { isUserError } from '../src/util/errors.js';

const FIX = fileURLToPath(new URL('../../test/fixtures/graph/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'eapgp-graph-json-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Deterministic float32 scores spanning many magnitudes, signs, zeros and subnormals. */
function fillRandom(g: Graph, seed = 1): void {
  let x = seed >>> 0;
  const rnd = (): number => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0), x / 2 ** 32);
  g.forEachEdge((u, v) => {
    const r = rnd();
    const s = r < 0.02 ? 0 : r < 0.03 ? 1e-42 * (rnd() - 0.5) : (rnd() - 0.5) * 10 ** Math.floor(rnd() * 24 - 14);
    g.setScore(u, v, s);
    g.setEdgeInGraph(u, v, rnd() < 0.3);
  });
  for (let u = 0; u < g.nSrc; u++) g.setNodeInGraph(u, u % 3 === 0);
}

function sameBits(a: Graph, b: Graph): void {
  const fa = new Float32Array(a.nSrc * a.nDst);
  const fb = new Float32Array(b.nSrc * b.nDst);
  for (let i = 0; i < fa.length; i++) {
    fa[i] = a.scores[i]!;
    fb[i] = b.scores[i]!;
  }
  assert.deepEqual(new Uint32Array(fa.buffer), new Uint32Array(fb.buffer), 'score bits differ');
  assert.deepEqual(Array.from(b.inGraph), Array.from(a.inGraph));
  assert.deepEqual(Array.from(b.nodeInGraph), Array.from(a.nodeInGraph));
}

test('formatFloat32: shortest round trip, Python repr layout', () => {
  assert.equal(formatFloat32(Math.fround(0.1)), '0.1');
  assert.equal(formatFloat32(1), '1.0');
  assert.equal(formatFloat32(-0), '-0.0');
  assert.equal(formatFloat32(Math.fround(1e-5)), '1e-05');
  assert.equal(formatFloat32(Math.fround(-1.5e-7)), '-1.5e-07');
  assert.equal(formatFloat32(Math.fround(123456.789)), '123456.79');
  assert.equal(formatFloat32(Math.fround(3.4028234663852886e38)), '3.4028235e+38');
  assert.equal(formatFloat32(NaN), 'NaN');
  assert.equal(formatFloat32(-Infinity), '-Infinity');
  const f = new Float32Array(1);
  const bits = new Uint32Array(f.buffer);
  let x = 12345;
  for (let i = 0; i < 200000; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    bits[0] = x;
    const v = f[0]!;
    if (Number.isNaN(v)) continue;
    const s = formatFloat32(v);
    assert.ok(Object.is(Math.fround(Number(s)), v), `${v} -> ${s}`);
    // one digit fewer must not round-trip (shortest), checked on a sample
    if (i % 97 === 0 && v !== 0 && Number.isFinite(v)) {
      const digits = s.replace(/^-/, '').replace(/e.*$/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
      if (digits.length > 1) assert.notEqual(Math.fround(Number(v.toExponential(digits.length - 2))), v, `${s} not shortest`);
    }
  }
});

test('round trip is bit-exact (scores, edge and node flags, cfg extras, meta)', () => {
  const g = new Graph(3, 4);
  fillRandom(g);
  g.setScore(0, g.logitsSlot, NaN);
  g.setScore(1, g.logitsSlot, -Infinity);
  const file = join(tmp, 'rt.json');
  const meta = { method: 'EAP-GP', steps: 5, gp_eta: 1, wall_s: 12.5, task: 'ioi', note: 'naïve', nested: { a: [1, 2.5] } };
  writeGraphJson(file, g, { dModel: 32, meta, cfg: { positional: false } });
  const r = readGraphJson(file, { nLayers: 3, nHeads: 4, dModel: 32 });
  sameBits(g, r.graph);
  assert.deepEqual(r.meta, meta);
  assert.deepEqual(r.cfg, { n_layers: 3, n_heads: 4, parallel_attn_mlp: false, d_model: 32, positional: false });
  assert.deepEqual(readdirSync(tmp).filter((f) => f.endsWith('.tmp')), [], 'no temp file left');
  // and a second write of what was read is byte-identical
  writeGraphJson(join(tmp, 'rt2.json'), r.graph, { cfg: r.cfg, meta: r.meta! });
  assert.equal(readFileSync(join(tmp, 'rt2.json'), 'utf8'), readFileSync(file, 'utf8'));
});

test('written layout is EAP-IG Graph.to_json (key order, separators, node objects)', () => {
  const g = new Graph(2, 2);
  fillRandom(g, 5);
  const text = graphJsonString(g, { dModel: 16, meta: { method: 'EAP' } });
  assert.ok(text.startsWith('{"cfg": {"n_layers": 2, "n_heads": 2, "parallel_attn_mlp": false, "d_model": 16}, "nodes": {"input": {"in_graph": true}, "a0.h0": {"in_graph": false}'));
  assert.ok(text.endsWith('"m1->logits": {"score": ' + formatFloat32(g.score(6, g.logitsSlot)) + ', "in_graph": ' + String(g.edgeInGraph(6, g.logitsSlot)) + '}}, "meta": {"method": "EAP"}}'));
  const d = JSON.parse(text) as Record<string, Record<string, unknown>>;
  assert.deepEqual(Object.keys(d), ['cfg', 'nodes', 'edges', 'meta']);
  const fixture = JSON.parse(readFileSync(join(FIX, 'eapig-l2h2.json'), 'utf8')) as typeof d;
  assert.deepEqual(Object.keys(d['nodes']!), Object.keys(fixture['nodes']!));
  assert.deepEqual(Object.keys(d['edges']!), Object.keys(fixture['edges']!));
  assert.deepEqual(d['nodes']!['logits'], { in_graph: true });
  assert.throws(() => graphJsonString(g), /dModel is required/);
});

test('a file in current EAP-IG format loads unchanged', () => {
  const file = join(FIX, 'eapig-l2h2.json');
  const raw = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: Record<string, { in_graph: boolean }>;
    edges: Record<string, { score: number; in_graph: boolean }>;
  };
  const { graph: g, cfg, meta } = readGraphJson(file, { nLayers: 2, nHeads: 2, dModel: 16 });
  assert.equal(meta, undefined);
  assert.equal(cfg['positional'], false);
  for (const [name, e] of Object.entries(raw.edges)) {
    const { u, v } = g.parseEdgeName(name);
    assert.equal(g.score(u, v), Math.fround(e.score), name);
    assert.equal(g.edgeInGraph(u, v), e.in_graph, name);
  }
  for (const [name, n] of Object.entries(raw.nodes)) if (name !== 'logits') assert.equal(g.nodeInGraph[g.srcIndex(name)], n.in_graph ? 1 : 0);
  // Rewriting keeps every score as the same float32 and the same flags.
  const again = parseGraphJson(graphJsonString(g, { cfg }), 'again');
  sameBits(g, again.graph);
  assert.equal(again.cfg['positional'], false);
});

test('an old EAP-IG file (bare node booleans, null / NaN / -Infinity scores) loads', () => {
  const { graph: g } = readGraphJson(join(FIX, 'eapig-l2h2-old.json'));
  assert.equal(g.score(0, g.dstIndex('a0.h0<q>')), 0, 'null reads as 0');
  assert.ok(Number.isNaN(g.score(0, g.dstIndex('a0.h0<k>'))));
  assert.equal(g.score(0, g.dstIndex('a0.h0<v>')), -Infinity);
  assert.equal(g.nodeInGraph[g.srcIndex('a0.h1')], 1);
  assert.equal(g.nodeInGraph[g.srcIndex('m0')], 0);
  const text = graphJsonString(g, { dModel: 16 });
  assert.match(text, /"input->a0.h0<k>": \{"score": NaN, /);
  sameBits(g, parseGraphJson(text, 'x').graph);
});

test('malformed files give UserErrors naming the file and the problem', () => {
  const good = readFileSync(join(FIX, 'eapig-l2h2.json'), 'utf8');
  const cases: [string, string, RegExp, object?][] = [
    ['not-json', good.slice(0, 200), /bad\.json:1:201: not valid JSON/],
    ['unknown edge', good.replace('"input->a0.h0<q>"', '"input->a7.h0<q>"'), /bad\.json: "input->a7\.h0<q>": unknown destination/],
    ['backward edge', good.replace('"input->a0.h0<q>"', '"m1->a0.h0<q>"'), /bad\.json: "m1->a0\.h0<q>" is not an edge/],
    ['missing edge', good.replace('"input->a0.h0<k>": {', '"input->a0.h0<q>": {'), /bad\.json: 1 of the 46 edges .* missing, the first is "input->a0\.h0<k>"/],
    ['unknown node', good.replace('"a0.h1": {', '"a0.h9": {'), /bad\.json: unknown node "a0\.h9"/],
    ['wrong cfg', good, /bad\.json: cfg\.n_layers = 2 but the model has 12 layers/, { nLayers: 12 }],
    ['wrong heads', good, /cfg\.n_heads = 2 but the model has 12 heads/, { nHeads: 12 }],
    ['wrong d_model', good, /cfg\.d_model = 16 but the model has d_model = 768/, { dModel: 768 }],
    ['parallel', good.replace('"parallel_attn_mlp": false', '"parallel_attn_mlp": true'), /"a0.h0->m0" is not an edge: a0.h0 is not upstream of m0 \(attention and MLP run in parallel in this model\)/],
    ['no edges', '{"cfg": {"n_layers": 1, "n_heads": 1}, "nodes": {}}', /"edges" is missing/],
    ['bad score', good.replace(/"score": [^,]+/, '"score": "big"'), /edge "input->a0\.h0<q>": score must be a number/],
    ['bad flag', good.replace(/"in_graph": true}, "input->a0.h0<k>"/, '"in_graph": 1}, "input->a0.h0<k>"'), /in_graph must be true or false, got 1/],
    ['array', '[1, 2]', /not an EAP-IG graph file/],
  ];
  for (const [what, text, re, opts] of cases) {
    const file = join(tmp, 'bad.json');
    writeFileSync(file, text);
    assert.throws(
      () => readGraphJson(file, opts),
      (e: unknown) => isUserError(e) && re.test((e as Error).message),
      what,
    );
  }
  assert.throws(() => readGraphJson(join(tmp, 'absent.json')), (e: unknown) => isUserError(e) && /cannot read graph file/.test((e as Error).message));
});

test('GPT-2 XL-shaped graph (2.2 M edges) writes and reads back bit-exact', () => {
  const g = new Graph(48, 25);
  fillRandom(g, 9);
  const file = join(tmp, 'xl.json');
  const t0 = performance.now();
  writeGraphJson(file, g, { dModel: 1600 });
  const r = readGraphJson(file, { nLayers: 48, nHeads: 25 });
  const secs = (performance.now() - t0) / 1000;
  sameBits(g, r.graph);
  assert.ok(secs < 60, `XL write+read took ${secs.toFixed(1)} s`);
});
