/**
 * `eapgp attribute --level node|neuron` and `eapgp evaluate` on node and neuron graphs: the written node scores
 * equal the row sums of the edge scores of the same run; all nodes (or neurons) give F = 1; bad combinations
 * are UserErrors naming the fix. --level mlp-neuron writes the node scores plus each MLP's hidden-unit scores, which
 * sum to the MLP node's; evaluate --mlp-neurons with every unit gives the clean metric (F = 1).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { levelsTable } from '../src/attribution/method-docs.js';
import { readGraphJson } from '../src/graph/json.js';
import { readNodeGraphJson } from '../src/graph/node-json.js';
import { assertUserError, eapgp, makeModel, makeTaskData } from './helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'eapgp-cli-nodes-'));
const model = join(tmp, 'm'), data = join(tmp, 'ioi.csv');
before(() => {
  makeModel(model, { layers: 2, heads: 2, dModel: 16 });
  makeTaskData('ioi', 8, data);
});
after(() => rmSync(tmp, { recursive: true, force: true }));

const common = ['--model', model, '--task', 'ioi', '--data', data, '--quiet'];

test('attribute --level node writes EAP-IG node scores equal to the edge scores summed per source', () => {
  for (const level of ['edge', 'node', 'neuron']) {
    const r = eapgp(['attribute', ...common, '--method', 'eap-ig', '--steps', '3', '--level', level, '--out', join(tmp, `${level}.json`)]);
    assert.equal(r.code, 0, r.err);
  }
  const edges = readGraphJson(join(tmp, 'edge.json')).graph;
  const nodes = readNodeGraphJson(join(tmp, 'node.json'));
  const neurons = readNodeGraphJson(join(tmp, 'neuron.json')).graph;
  assert.equal(nodes.graph.level, 'node');
  assert.equal(nodes.meta?.level, 'node');
  assert.equal(neurons.level, 'neuron');
  const rows = new Float64Array(edges.nSrc);
  edges.forEachEdge((u, v) => (rows[u]! += edges.score(u, v)));
  const scale = Math.max(...rows.map(Math.abs));
  for (let u = 0; u < edges.nSrc; u++) {
    assert.ok(Math.abs(nodes.graph.nodeScores[u]! - rows[u]!) <= 1e-5 * scale, `${edges.srcName(u)}: ${nodes.graph.nodeScores[u]} vs ${rows[u]}`);
    let s = 0;
    for (let d = 0; d < 16; d++) s += neurons.neuronScores![u * 16 + d]!;
    assert.ok(Math.abs(s - rows[u]!) <= 1e-5 * scale, `${edges.srcName(u)}: Σ neurons ${s} vs ${rows[u]}`);
  }
});

test('evaluate --nodes / --neurons: every node (or neuron) gives F = 1, none F = 0', () => {
  for (const [file, flag, all] of [['node.json', '--nodes', 7], ['neuron.json', '--neurons', 7 * 16]] as const) {
    const r = eapgp(['evaluate', ...common, '--graph', join(tmp, file), flag, `0,2,${all}`, '--json']);
    assert.equal(r.code, 0, r.err);
    const out = JSON.parse(r.out) as { points: { nodes: number; neurons: number; faithfulness: number }[] };
    assert.equal(out.points.length, 3);
    assert.ok(Math.abs(out.points[0]!.faithfulness) < 1e-4, `none: ${out.points[0]!.faithfulness}`);
    assert.ok(Math.abs(out.points[2]!.faithfulness - 1) < 1e-4, `all: ${out.points[2]!.faithfulness}`);
    assert.equal(out.points[2]!.neurons, 7 * 16);
  }
});

test('node options and graphs that do not go together are UserErrors', () => {
  assertUserError(eapgp(['evaluate', ...common, '--graph', join(tmp, 'node.json'), '--edges', '5']), /--edges selects edges: give --nodes/);
  assertUserError(eapgp(['evaluate', ...common, '--graph', join(tmp, 'node.json')]), /flags no node.*--nodes 5,10,20/);
  assertUserError(eapgp(['evaluate', ...common, '--graph', join(tmp, 'neuron.json'), '--nodes', '2']), /neuron-level graph: give --neurons/);
  assertUserError(eapgp(['evaluate', ...common, '--graph', join(tmp, 'edge.json'), '--nodes', '2']), /edge graph: give --edges/);
  assertUserError(eapgp(['attribute', ...common, '--method', 'exact', '--level', 'node', '--out', join(tmp, 'x.json')]), /--level node takes a method with gradients at the nodes' outputs \(eap, eap-ig.*\); exact has none: use --level edge/);
  assertUserError(eapgp(['attribute', ...common, '--method', 'ifr', '--level', 'neuron', '--out', join(tmp, 'x.json')]), /ifr has none: use --level edge/);
  assertUserError(eapgp(['attribute', ...common, '--method', 'eap', '--level', 'nodes', '--out', join(tmp, 'x.json')]), /--level must be edge, node, neuron or mlp-neuron/);
});

test('attribute --level mlp-neuron and evaluate --mlp-neurons', () => {
  const out = join(tmp, 'mlp.json');
  const r = eapgp(['attribute', ...common, '--method', 'eap-ig', '--steps', '3', '--level', 'mlp-neuron', '--out', out]);
  assert.equal(r.code, 0, r.err);
  const f = readNodeGraphJson(out), g = f.graph, F = 4 * 16;
  assert.equal(f.meta?.level, 'mlp-neuron');
  assert.equal(g.level, 'node');
  assert.equal(g.mlp!.width, F);
  const node = readNodeGraphJson(join(tmp, 'node.json')).graph; // the node level of the same run
  const scale = Math.max(...Array.from(node.nodeScores, Math.abs));
  for (let u = 0; u < g.nSrc; u++) assert.ok(Math.abs(g.nodeScores[u]! - node.nodeScores[u]!) <= 1e-6 * scale, g.srcName(u));
  for (let l = 0; l < 2; l++) {
    let s = 0;
    for (let j = 0; j < F; j++) s += g.mlp!.scores[l * F + j]!;
    const m = g.nodeScores[g.layout.mlp(l)]!;
    assert.ok(Math.abs(s - m) <= 1e-5 * scale, `m${l}: Σ units ${s} vs the node's ${m}`);
  }
  const e = eapgp(['evaluate', ...common, '--graph', out, '--mlp-neurons', `0,5,${2 * F}`, '--json']);
  assert.equal(e.code, 0, e.err);
  const res = JSON.parse(e.out) as { level: string; baseline: number; points: { mlp_neurons: number; metric: number; faithfulness: number }[] };
  assert.equal(res.level, 'mlp-neuron');
  assert.deepEqual(res.points.map((p) => p.mlp_neurons), [0, 5, 2 * F]);
  assert.equal(res.points[2]!.metric, res.baseline);
  assert.ok(Math.abs(res.points[2]!.faithfulness - 1) < 1e-6);
  assert.notEqual(res.points[0]!.metric, res.points[1]!.metric);
  assertUserError(eapgp(['evaluate', ...common, '--graph', join(tmp, 'node.json'), '--mlp-neurons', '5']), /scores none: make the graph with eapgp attribute --level mlp-neuron/);
  assertUserError(eapgp(['evaluate', ...common, '--graph', out, '--mlp-neurons', '5', '--nodes', '2']), /give either --mlp-neurons or --nodes, not both/);
  assertUserError(eapgp(['evaluate', ...common, '--graph', out, '--mlp-neurons', '5', '--intervention', 'zero']), /--intervention zero has none/);
  assertUserError(eapgp(['evaluate', ...common, '--graph', join(tmp, 'edge.json'), '--mlp-neurons', '5']), /edge graph: give --edges/);
  assertUserError(eapgp(['attribute', ...common, '--method', 'eap', '--level', 'mlp-neuron', '--intervention', 'mean', '--out', join(tmp, 'x.json')]), /--intervention mean has no hidden-unit values/);
});

test("the README's levels table is the registry's", () => {
  const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
  assert.ok(readme.includes(levelsTable() + '\n'), `README.md's levels table differs from the registry; it should read:\n${levelsTable()}`);
});
