/** Streaming graph reads (what `eapgp view` serves large files with) and the viewer's binary graph form. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeGraphBinary, encodeGraphBinary } from '../src/graph/binary.js';
import { Graph } from '../src/graph/graph.js';
import { readGraphJson, writeGraphJson } from '../src/graph/json.js';
import { streamGraphJson } from '../src/graph/json-stream.js';
import { edgeRank, topn } from '../src/graph/selection.js';
import { isUserError } from '../src/util/errors.js';
import { JsonStreamParser } from '../src/util/json-stream.js';
import { rng } from './helpers/viewer-fixtures.js';

const FIX = fileURLToPath(new URL('../../test/fixtures/graph/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'eapgp-graph-stream-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function same(a: Graph, b: Graph): void {
  assert.equal(b.nLayers, a.nLayers);
  assert.equal(b.nHeads, a.nHeads);
  const bits = (g: Graph) => new Uint32Array(Float32Array.from(g.scores).buffer);
  assert.deepEqual(bits(b), bits(a), 'score bits differ');
  assert.deepEqual(Array.from(b.inGraph), Array.from(a.inGraph));
  assert.deepEqual(Array.from(b.nodeInGraph), Array.from(a.nodeInGraph));
}

function random(L: number, H: number, seed: number): Graph {
  const g = new Graph(L, H);
  const r = rng(seed);
  g.forEachEdge((u, v) => {
    g.setScore(u, v, (r() - 0.5) * 10 ** Math.floor(r() * 12 - 8));
    g.setEdgeInGraph(u, v, r() < 0.2);
  });
  for (let u = 0; u < g.nSrc; u++) g.setNodeInGraph(u, r() < 0.5);
  return g;
}

test('the JSON stream parser builds what JSON.parse builds, whatever the chunk boundaries', () => {
  const text = '\ufeff{"a": [1, -2.5e-3, true, false, null, "x\\"y\\u00e9", {}], "b": {"c": {"d": []}}, "é": "ü", "__proto__": 1}';
  for (const size of [1, 2, 3, 7, 1000]) {
    const p = new JsonStreamParser('t.json');
    const bytes = Buffer.from(text, 'utf8');
    for (let i = 0; i < bytes.length; i += size) p.push(bytes.subarray(i, i + size));
    assert.deepEqual(p.end(), JSON.parse(text.slice(1)), `chunks of ${size}`);
  }
  const sunk: [string, unknown][] = [];
  const p = new JsonStreamParser('t.json', { sinks: { edges: (k, v) => sunk.push([k, v]) } });
  p.push(Buffer.from('{"edges": {"x": {"score": NaN}, "y": {"score": -Infinity}}, "z": 1}'));
  assert.deepEqual(p.end(), { edges: {}, z: 1 });
  assert.equal(sunk.length, 2);
  assert.ok(Number.isNaN((sunk[0]![1] as { score: number }).score));
  assert.equal((sunk[1]![1] as { score: number }).score, -Infinity);
  for (const [bad, where] of [['{"a": 1,}', '1:9'], ['{"a": tru}', '1:10'], ['[1 2]', '1:4'], ['{"a":\n 01}', '2:3'], ['{"a": 1', '1:8'], ['{} x', '1:4']] as const) {
    const q = new JsonStreamParser('bad.json');
    assert.throws(() => {
      q.push(Buffer.from(bad));
      q.end();
    }, (e: unknown) => isUserError(e) && (e as Error).message.startsWith(`bad.json:${where}: not valid JSON`), `${bad}: ${where}`);
  }
});

test('streamGraphJson reads what readGraphJson reads: fixtures (old and current EAP-IG) and a random graph in small chunks', async () => {
  for (const name of ['eapig-l2h2.json', 'eapig-l2h2-old.json']) {
    const a = readGraphJson(join(FIX, name));
    const b = await streamGraphJson(join(FIX, name), { chunkSize: 5 });
    same(a.graph, b.graph);
    assert.deepEqual(b.cfg, a.cfg);
  }
  const g = random(3, 4, 7);
  const file = join(tmp, 'r.json');
  writeGraphJson(file, g, { dModel: 32, meta: { method: 'eap-gp', nested: { x: [1, NaN] } } });
  let calls = 0;
  const r = await streamGraphJson(file, { chunkSize: 333, onProgress: () => calls++ });
  same(g, r.graph);
  assert.deepEqual(r.meta, readGraphJson(file).meta);
  assert.ok(calls > 3, 'progress is reported per chunk');
  // a cfg written last still works
  const moved = readFileSync(file, 'utf8').replace(/^\{("cfg": \{[^}]*\}), (.*)\}$/s, '{$2, $1}');
  assert.ok(moved.endsWith('}}') && !moved.startsWith('{"cfg"'));
  writeFileSync(join(tmp, 'late.json'), moved);
  same(g, (await streamGraphJson(join(tmp, 'late.json'))).graph);
});

test('streamGraphJson gives readGraphJson\'s messages for malformed files', async () => {
  const good = readFileSync(join(FIX, 'eapig-l2h2.json'), 'utf8');
  const cases: [string, string, RegExp][] = [
    ['not-json', good.slice(0, 200), /bad\.json:1:201: not valid JSON \(unexpected end of file\)/],
    ['unknown edge', good.replace('"input->a0.h0<q>"', '"input->a7.h0<q>"'), /bad\.json: "input->a7\.h0<q>": unknown destination/],
    ['backward edge', good.replace('"input->a0.h0<q>"', '"m1->a0.h0<q>"'), /bad\.json: "m1->a0\.h0<q>" is not an edge/],
    ['missing edge', good.replace('"input->a0.h0<k>": {', '"input->a0.h0<q>": {'), /1 of the 46 edges .* missing, the first is "input->a0\.h0<k>"/],
    ['unknown node', good.replace('"a0.h1": {', '"a0.h9": {'), /bad\.json: unknown node "a0\.h9"/],
    ['parallel', good.replace('"parallel_attn_mlp": false', '"parallel_attn_mlp": true'), /is not an edge: a0.h0 is not upstream of m0 \(attention and MLP run in parallel/],
    ['no edges', '{"cfg": {"n_layers": 1, "n_heads": 1}, "nodes": {}}', /"edges" is missing/],
    ['bad score', good.replace(/"score": [^,]+/, '"score": "big"'), /edge "input->a0\.h0<q>": score must be a number/],
    ['array', '[1, 2]', /not an EAP-IG graph file/],
  ];
  const file = join(tmp, 'bad.json');
  for (const [what, text, re] of cases) {
    writeFileSync(file, text);
    await assert.rejects(streamGraphJson(file), (e: unknown) => isUserError(e) && re.test((e as Error).message), what);
    assert.throws(() => readGraphJson(file), (e: unknown) => isUserError(e) && re.test((e as Error).message), `${what} (readGraphJson)`);
  }
  await assert.rejects(streamGraphJson(join(tmp, 'absent.json')), (e: unknown) => isUserError(e) && /cannot read graph file/.test((e as Error).message));
});

test('binary form: bit-exact round trip with header; malformed bytes are refused', () => {
  const g = random(4, 3, 9);
  g.setScore(0, g.logitsSlot, NaN);
  const bytes = encodeGraphBinary(g, { name: 'x', meta: { task: 'ioi' } });
  assert.equal((bytes.length - 5 * g.nEdges - g.nSrc) % 4, 0, 'scores start 4-byte aligned');
  const { graph, header } = decodeGraphBinary(bytes.slice().buffer);
  same(g, graph);
  assert.equal(header['name'], 'x');
  assert.deepEqual(header['meta'], { task: 'ioi' });
  assert.throws(() => decodeGraphBinary(bytes.subarray(0, bytes.length - 1)), /expected/);
  assert.throws(() => decodeGraphBinary(new Uint8Array(16)), /bad magic/);
});

test('edgeRank is the position in topn order', () => {
  const g = random(2, 3, 5);
  const order: number[] = [];
  for (let n = 1; n <= 12; n++) {
    topn(g, n);
    const added = Array.from(g.inGraphFlatIndices()).find((f) => !order.includes(f))!;
    order.push(added);
    assert.equal(edgeRank(g, Math.floor(added / g.nDst), added % g.nDst), n);
  }
  assert.throws(() => edgeRank(g, g.nSrc - 1, 0), /not an edge/);
});
