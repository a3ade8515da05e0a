/**
 * Manual reference circuits (IOI, Greater-Than): sizes, ACDC cross-check (its canonical circuits, from the data
 * cache: `eapgp data fetch circuits`), precision/recall (against the EAP-IG paper's published numbers when fetched), ROC,
 * `eapgp compare`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { IOI_CLASSES, GREATER_THAN_CLASSES, overlap, referenceCircuit, rocSweep, type ReferenceVariant } from '../src/circuits/index.js';
import { Graph, writeGraphJson } from '../src/graph/index.js';
import { isUserError } from '../src/util/errors.js';
import { published } from './helpers/data.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'eapgp-circuits-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const g = new Graph(12, 12);
const sum = (a: ArrayLike<number>): number => Array.from(a).reduce((x, y) => x + y, 0);
const names = (mask: ArrayLike<number>): Set<string> => new Set(Array.from({ length: g.nSrc }, (_, u) => u).filter((u) => mask[u]).map((u) => g.srcName(u)));

test('reference sizes are as documented', () => {
  const want: [string, ReferenceVariant, number, number][] = [
    ['ioi', 'acdc', 26, 182],
    ['ioi', 'eap-ig', 26, 213],
    ['greater-than', 'acdc', 21, 235],
    ['greater-than', 'eap-ig', 19, 240],
  ];
  for (const [task, variant, nodes, edges] of want) {
    const r = referenceCircuit(task, g, variant);
    assert.equal(sum(r.edges), edges, `${task}/${variant} edges`);
    assert.equal(r.nodes[0], 1, 'input is in the circuit');
    assert.equal(sum(r.nodes) - 1, nodes, `${task}/${variant} nodes`);
    for (let f = 0; f < r.edges.length; f++) if (r.edges[f]) assert.equal(g.realMask[f], 1);
  }
  assert.equal(sum(referenceCircuit('ioi', g).edges.filter((_, f) => g.srcKind(Math.floor(f / g.nDst)) === 'mlp')), 0, 'no MLP edges in IOI');
});

test('unknown task or a graph that is not 12×12 is a UserError', () => {
  assert.throws(() => referenceCircuit('sva', g), (e: unknown) => isUserError(e) && /no manual reference circuit/.test((e as Error).message));
  assert.throws(() => referenceCircuit('ioi', new Graph(2, 2)), (e: unknown) => isUserError(e) && /12 layers × 12 heads/.test((e as Error).message));
});

test("a 12×12 graph of another family (graph metadata's family) gets no GPT-2 reference circuit", () => {
  assert.throws(() => referenceCircuit('ioi', g, 'acdc', 'llama'), (e: unknown) => isUserError(e) && /llama model/.test((e as Error).message));
  assert.throws(() => referenceCircuit('ioi', new Graph(12, 12, true)), (e: unknown) => isUserError(e) && /parallel attention/.test((e as Error).message));
  // GPT-2's own graphs, and those written before the family was recorded, keep it
  assert.equal(sum(referenceCircuit('ioi', g, 'acdc', 'gpt2').edges), sum(referenceCircuit('ioi', g).edges));
});

/** Our name for an ACDC canonical node: <aL.H>, <aL.H_q|k|v> → aL.hH; <mL> → mL; <resid_post> → logits. */
function ourName(acdc: string): string {
  if (acdc === 'resid_post') return 'logits';
  const m = /^a(\d+)\.(\d+)(_[qkv])?$/.exec(acdc);
  if (m) return `a${m[1]}.h${m[2]}`;
  assert.match(acdc, /^m\d+$/);
  return acdc;
}

/** Nodes and edges of an ACDC canonical layout.gv, in our names. */
const acdc = published('circuits');
function readGv(file: string): { nodes: Set<string>; edges: [string, string][]; edgeLines: number; invisible: number } {
  const text = readFileSync(acdc.path(`ground-truth-circuits/${file}`), 'utf8');
  const decl = [...text.matchAll(/^"<([^">]+)>" \[/gm)].map((m) => m[1]!);
  const lines = [...text.matchAll(/^"<([^">]+)>" -> "<([^">]+)>"(?: \[([^\]]*)\])?/gm)];
  const invisible = lines.filter((m) => /"style" = "invis"/.test(m[3] ?? '')).length;
  return { nodes: new Set(decl.map(ourName)), edges: lines.map((m) => [ourName(m[1]!), ourName(m[2]!)]), edgeLines: lines.length, invisible };
}

/** Connected components of an undirected edge list, as sorted name lists. */
function components(edges: [string, string][]): string[][] {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    while (parent.get(x) !== x) x = parent.get(x)!;
    return x;
  };
  for (const [a, b] of edges) {
    for (const x of [a, b]) if (!parent.has(x)) parent.set(x, x);
    parent.set(find(a), find(b));
  }
  const groups = new Map<string, Set<string>>();
  for (const x of parent.keys()) groups.set(find(x), (groups.get(find(x)) ?? new Set()).add(x));
  return [...groups.values()].map((s) => [...s].sort()).sort((a, b) => a[0]!.localeCompare(b[0]!));
}

const sortedClasses = (classes: Record<string, readonly string[]>): string[][] =>
  Object.values(classes).map((c) => [...c].sort()).sort((a, b) => a[0]!.localeCompare(b[0]!));

for (const [task, file, classes, lines] of [
  ['ioi', 'acdc_canonical_ioi_layout.gv', IOI_CLASSES, 924],
  ['greater-than', 'acdc_canonical_greaterthan_layout.gv', GREATER_THAN_CLASSES, 328],
] as const) {
  test(`${task}: node set equals ACDC's canonical circuit; its layout edges group our classes`, { skip: acdc.skip }, () => {
    const gv = readGv(file);
    const ours = names(referenceCircuit(task, g).nodes);
    ours.delete('input'); // ACDC's canonical pictures draw no embedding node
    ours.add('logits');
    assert.deepEqual([...ours].sort(), [...gv.nodes].sort());
    // The .gv edges are invisible layout edges (e.g. <a9.1_q> -> <a9.1_v>, which is no computation) that
    // chain each colour group; they are not circuit edges, so the check is that the groups are our classes.
    assert.equal(gv.edgeLines, lines);
    assert.equal(gv.invisible, lines);
    assert.deepEqual(components(gv.edges), sortedClasses(classes));
  });
}

const reference = published('reference');
test('published EAP-IG overlap numbers use the eap-ig reference sizes', { skip: reference.skip }, () => {
  for (const [task, nodes, edges] of [['ioi', 26, 213 + 2], ['greater-than', 19, 240]] as const) {
    const file = `reference-results/eap-ig-faithfulness/manual_overlap__csv__${task}_node_edge_precision_recall.csv`;
    const [head, first] = readFileSync(reference.path(file), 'utf8').split('\n');
    const row = Object.fromEntries(head!.split(',').map((k, i) => [k, Number(first!.split(',')[i])]));
    // Top-1 edge: one hit of each kind, so recall = 1 / |reference|. IOI: the script's reference also holds
    // a9.h7->m11 and m11->logits, which its MLP-free circuits can never hit (hence 213 + 2).
    assert.equal(Math.round(1 / row['EAP-IG_node_recall']!), nodes);
    assert.equal(Math.round(1 / row['EAP-IG_edge_recall']!), edges);
    const r = referenceCircuit(task, g, 'eap-ig');
    assert.equal(sum(r.nodes) - 1, nodes);
  }
});

test('precision/recall: self 1, empty recall 0, everything recall 1 with precision |ref|/|all|', () => {
  for (const task of ['ioi', 'greater-than']) {
    const ref = referenceCircuit(task, g);
    const self = overlap(g, ref.edges, ref);
    for (const k of ['nodes', 'edges'] as const) {
      assert.equal(self[k].precision, 1);
      assert.equal(self[k].recall, 1);
    }
    const empty = overlap(g, new Uint8Array(ref.edges.length), ref);
    assert.equal(empty.nodes.recall, 0);
    assert.equal(empty.edges.recall, 0);
    assert.equal(empty.edges.precision, 0);
    const all = overlap(g, g.realMask, ref);
    // In scope: every edge (greater-than), or every edge not touching an MLP (IOI); nodes: heads (+ MLPs).
    let edges = 0;
    g.forEachEdge((u, v) => {
      if (ref.countMlps || (g.srcKind(u) !== 'mlp' && g.slotKind(v) !== 'mlp')) edges++;
    });
    const nodes = ref.countMlps ? 12 * 13 : 12 * 12;
    assert.equal(all.edges.recall, 1);
    assert.equal(all.nodes.recall, 1);
    assert.equal(all.edges.found, edges);
    assert.equal(all.edges.precision, sum(ref.edges) / edges);
    assert.equal(all.nodes.precision, (sum(ref.nodes) - 1) / nodes);
  }
  assert.equal(overlap(g, g.realMask, referenceCircuit('greater-than', g)).edges.found, g.nEdges);
});

test('ROC over the top-n sweep: AUC 1 for the reference as scores, 0 at edge level reversed', () => {
  for (const task of ['ioi', 'greater-than']) {
    const ref = referenceCircuit(task, g);
    const s = g.clone();
    s.setScoresDense(Float32Array.from(ref.edges, (x, f) => (g.realMask[f] ? x : 0)));
    const roc = rocSweep(s, ref);
    assert.equal(roc.auc.edges, 1);
    assert.equal(roc.auc.nodes, 1);
    const last = roc.points.at(-1)!;
    assert.equal(last.n, g.nEdges);
    assert.deepEqual([last.edges.tpr, last.edges.fpr, last.nodes.tpr, last.nodes.fpr], [1, 1, 1, 1]);
    s.setScoresDense(Float32Array.from(ref.edges, (x, f) => (g.realMask[f] ? 1 - x : 0)));
    const rev = rocSweep(s, ref);
    assert.equal(rev.auc.edges, 0);
    assert.ok(rev.auc.nodes < 0.5, `reversed node AUC ${rev.auc.nodes}`);
  }
});

function eapgp(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 60_000 });
}

test('eapgp compare on a graph JSON: file circuit, --edges budgets, --json, errors', () => {
  const ref = referenceCircuit('greater-than', g);
  const s = g.clone();
  s.setScoresDense(Float32Array.from(ref.edges, (x, f) => (g.realMask[f] ? x * 2 + (f % 7) / 100 : 0)));
  for (let f = 0; f < ref.edges.length; f++) if (ref.edges[f]) s.setEdgeInGraph(Math.floor(f / g.nDst), f % g.nDst, true);
  const file = join(tmp, 'scores.json');
  writeGraphJson(file, s, { dModel: 768 });

  const text = eapgp(['compare', '--task', 'greater-than', '--graph', file]);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /node P +node R +edge P +edge R/);
  assert.match(text.stdout, /file +235 +21 +1\.0000 +1\.0000 +1\.0000 +1\.0000/);
  assert.match(text.stdout, /ROC AUC .*nodes 1\.0000, edges 1\.0000/);

  const j = eapgp(['compare', '--task', 'greater-than', '--graph', file, '--edges', '100,235,470', '--json']);
  assert.equal(j.status, 0, j.stderr);
  const out = JSON.parse(j.stdout) as {
    referenceSize: { nodes: number; edges: number };
    points: { requested: number; edges: { precision: number; recall: number; found: number } }[];
    auc: { nodes: number; edges: number };
  };
  assert.deepEqual(out.referenceSize, { nodes: 21, edges: 235 });
  assert.deepEqual(out.points.map((p) => p.requested), [100, 235, 470]);
  assert.deepEqual(out.points.map((p) => [p.edges.precision, p.edges.recall]), [[1, 100 / 235], [1, 1], [0.5, 1]]);
  assert.deepEqual(out.auc, { nodes: 1, edges: 1 });

  const ioi = JSON.parse(eapgp(['compare', '--task', 'ioi', '--graph', file, '--reference', 'eap-ig', '--json']).stdout) as typeof out;
  assert.deepEqual(ioi.referenceSize, { nodes: 26, edges: 213 });

  const bad = eapgp(['compare', '--task', 'sva', '--graph', file]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /no manual reference circuit for task "sva"/);
  const small = join(tmp, 'small.json');
  writeGraphJson(small, new Graph(2, 2), { dModel: 8 });
  const wrong = eapgp(['compare', '--task', 'ioi', '--graph', small]);
  assert.equal(wrong.status, 1);
  assert.match(wrong.stderr, /12 layers × 12 heads/);
});
