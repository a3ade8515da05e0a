/**
 * Every command on the model families, from the CLI as a researcher runs them (issue #12 item 6): tiny random
 * GPT-NeoX (parallel attention and MLP), Llama (grouped-query attention) and Gemma 2 checkpoints with GPT-2's
 * BPE as tokenizer.json, on generated IOI prompts. Each output is checked against a computation that does not
 * share its code path: `validate`'s exact scores against `evaluate` of the circuit "all edges but one",
 * `path`'s first point against `run`'s plain forward pass, `reproduce`'s full budget against `evaluate`'s clean
 * model, and the DOT/SVG pictures against the family's node names and closed-form edge count.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { checkPathFile, SERIES_KEYS, type PathFile } from '../src/attribution/path-format.js';
import { createEngine } from '../src/engine/engine.js';
import { evaluateCircuits } from '../src/evaluation/evaluate.js';
import { toDot } from '../src/graph/dot.js';
import { Graph } from '../src/graph/graph.js';
import { readGraphJson, writeGraphJson } from '../src/graph/json.js';
import { prune } from '../src/graph/selection.js';
import { toSvg } from '../src/graph/svg.js';
import { loadModel } from '../src/models/load.js';
import type { Results } from '../src/reproduce/index.js';
import { getTask } from '../src/tasks/index.js';
import { prepareTaskData } from '../src/tasks/prepare.js';
import { readCsv } from '../src/util/csv.js';
import { assertUserError, eapgp, type CliResult } from './helpers/cli.js';

const L = 2, H = 4, D = 32;
interface Family {
  name: string;
  make: string[];
  parallel: boolean;
}
const FAMILIES: Family[] = [
  { name: 'neox', make: ['--arch', 'neox'], parallel: true },
  { name: 'llama', make: ['--arch', 'llama', '--kv-heads', '2'], parallel: false },
  { name: 'gemma2', make: ['--arch', 'gemma2', '--kv-heads', '2', '--head-dim', '16'], parallel: false },
];

/** EAP-IG's edge count, written out here: q/k/v inputs, MLP inputs (a layer's own heads only in sequential blocks), logits. */
function edgeCount(layers: number, heads: number, parallel: boolean): number {
  let n = 0;
  for (let l = 0; l < layers; l++) {
    const upstream = 1 + l * (heads + 1);
    n += 3 * heads * upstream + upstream + (parallel ? 0 : heads);
  }
  return n + 1 + layers * (heads + 1);
}

/** Every source name of an L × H graph, and logits. */
const nodeNames = (layers: number, heads: number): string[] =>
  ['input', ...Array.from({ length: layers }, (_, l) => [...Array.from({ length: heads }, (_, h) => `a${l}.h${h}`), `m${l}`]).flat(), 'logits'];

const tmp = mkdtempSync(join(tmpdir(), 'eapgp-fam-cmd-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const DATA = join(tmp, 'ioi.csv');
/** Examples of validate; path, the pictures and `allEdges` take the first batch. */
const N = 8, BATCH = 4;
const modelDir = (f: Family): string => join(tmp, f.name);
/** eap scores of each family on DATA, for the pictures and `evaluate`. */
const graphFile = (f: Family): string => join(tmp, `${f.name}-eap.json`);

function ok(r: CliResult, what: string): CliResult {
  assert.equal(r.code, 0, `${what}: ${r.err}`);
  return r;
}
const json = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;

interface EvalOut { baseline: number; corrupted: number; points: { requested: number | null; edges: number; metric: number; faithfulness: number }[] }
/** `evaluate --json` on DATA (or `data`) with extra arguments. */
function evaluate(f: Family, args: string[], data = DATA): EvalOut {
  const r = ok(eapgp(['evaluate', '--model', modelDir(f), '--task', 'ioi', '--data', data, '--batch-size', String(BATCH), '--json', '--quiet', ...args]), `${f.name} evaluate`);
  return JSON.parse(r.out) as EvalOut;
}

const allEdgesRuns = new Map<string, EvalOut>();
/** `evaluate` of all edges of the family's eap graph on the first batch, drawn as SVG and DOT (run once). */
function allEdges(f: Family): EvalOut {
  let r = allEdgesRuns.get(f.name);
  if (!r) {
    r = evaluate(f, ['--graph', graphFile(f), '--limit', String(BATCH), '--edges', String(edgeCount(L, H, f.parallel)), '--svg', join(tmp, `${f.name}.svg`), '--dot', join(tmp, `${f.name}.dot`)]);
    allEdgesRuns.set(f.name, r);
  }
  return r;
}

before(() => {
  ok(eapgp(['tasks', 'make', 'ioi', '--n', String(N), '--seed', '1', '--out', DATA]), 'tasks make');
  for (const f of FAMILIES) {
    ok(eapgp(['make-model', ...f.make, '--layers', String(L), '--heads', String(H), '--d-model', String(D), '--vocab', '50304',
      '--gpt2-tokenizer-files', '--init-std', '0.1', '--seed', '3', '--out', modelDir(f)]), `${f.name} make-model`);
    ok(eapgp(['attribute', '--model', modelDir(f), '--task', 'ioi', '--data', DATA, '--batch-size', String(BATCH), '--method', 'eap', '--out', graphFile(f), '--quiet']), `${f.name} attribute`);
  }
});

test('the closed-form edge counts are the layouts\' (2 × 4: 102 parallel, 110 sequential; 32 heads)', () => {
  assert.deepEqual([edgeCount(2, 4, true), edgeCount(2, 4, false)], [102, 110]);
  for (const [l, h] of [[2, 4], [2, 32], [12, 12], [32, 32]] as const) {
    for (const p of [false, true]) assert.equal(new Graph(l, h, p).nEdges, edgeCount(l, h, p), `${l} × ${h}${p ? ' parallel' : ''}`);
  }
  assert.equal(edgeCount(12, 12, false), 32491, 'GPT-2 small');
  assert.equal(edgeCount(32, 32, true), 1591857, 'Pythia-2.8b (README)');
});

interface Validation {
  edges: number; examples: number; baseline: { clean: number; corrupted: number };
  exact: { faithfulness: { points: { requested: number; edges: number; metric: number; faithfulness: number }[] } };
  variants: { name: string; spearman: number; kendall: number; precision: { n: number; precision: number }[]; faithfulness: { points: { edges: number; metric: number; faithfulness: number }[]; cpr: number; cmd: number } }[];
}

for (const f of FAMILIES) {
  const E = edgeCount(L, H, f.parallel);

  test(`${f.name}: validate — exact scores = m(M) − m(all edges but one) by evaluate; statistics in range`, async () => {
    const out = join(tmp, `${f.name}-validate`);
    const variants = ['eap', 'eap-ig:steps=2', 'eap-gp:steps=2'];
    ok(eapgp(['validate', '--model', modelDir(f), '--task', 'ioi', '--data', DATA, '--batch-size', String(BATCH), '--variants', variants.join(','), '--out', out, '--quiet']), 'validate');
    const r = json<Validation>(join(out, 'results.json'));
    assert.equal(r.edges, E);
    assert.equal(r.examples, N);
    const { graph: exact } = readGraphJson(join(out, 'exact.json'));
    assert.deepEqual([exact.nLayers, exact.nHeads, exact.parallelAttnMlp, exact.nEdges], [L, H, f.parallel, E]);
    const scale = Math.max(Math.abs(r.baseline.clean), Math.abs(r.baseline.corrupted));

    assert.deepEqual(r.variants.map((v) => v.name), variants);
    for (const v of r.variants) {
      for (const [k, x] of [['spearman', v.spearman], ['kendall', v.kendall]] as const) assert.ok(Number.isFinite(x) && x >= -1 && x <= 1, `${v.name} ${k} ${x}`);
      for (const p of v.precision) assert.ok(p.precision >= 0 && p.precision <= 1, `${v.name} P@${p.n} ${p.precision}`);
      assert.ok(v.faithfulness.points.every((p) => Number.isFinite(p.faithfulness) && Number.isFinite(p.metric)) && Number.isFinite(v.faithfulness.cpr) && Number.isFinite(v.faithfulness.cmd), v.name);
    }
    // all edges ⇒ the clean model: every curve ends at m(M), F = 1
    for (const c of [r.exact.faithfulness, ...r.variants.map((v) => v.faithfulness)]) {
      const last = c.points.at(-1)!;
      assert.deepEqual([last.edges, last.faithfulness], [E, 1]);
      assert.ok(Math.abs(last.metric - r.baseline.clean) <= 1e-9 * scale);
    }

    // exact: s = loss(all but the edge) − loss(all), loss = −metric, i.e. m(M) − m(all edges but it). The two
    // largest effects, an edge from the input and one into the logits — each removed alone (pruning would take
    // more: a source whose only edge it is, e.g. m1 → logits, is left out).
    const edges = Array.from(exact.edgeFlatIndices());
    const survives = (i: number): boolean => {
      const g = exact.clone();
      g.fillCircuit();
      g.setEdgeInGraph(Math.floor(i / g.nDst), i % g.nDst, false);
      prune(g);
      return g.countEdgesInGraph() === E - 1;
    };
    const byEffect = edges.filter(survives).sort((a, b) => Math.abs(exact.scores[b]!) - Math.abs(exact.scores[a]!));
    const logitsEdge = edges.find((i) => i % exact.nDst === exact.logitsSlot && Math.floor(i / exact.nDst) > 0 && survives(i))!;
    const picks = [...new Set([...byEffect.slice(0, 2), exact.flat(0, 0), logitsEdge])];
    assert.ok(Math.abs(exact.scores[byEffect[0]!]!) > 1e-3 * scale, `the largest exact effect ${exact.scores[byEffect[0]!]} is far above the tolerance`);
    for (const i of picks) {
      const [u, v] = [Math.floor(i / exact.nDst), i % exact.nDst];
      const g = exact.clone();
      g.fillCircuit();
      g.setEdgeInGraph(u, v, false);
      const file = join(tmp, `${f.name}-without.json`);
      writeGraphJson(file, g, { dModel: D });
      const m = evaluate(f, ['--graph', file]);
      assert.ok(Math.abs(m.baseline - r.baseline.clean) <= 1e-9 * scale && Math.abs(m.corrupted - r.baseline.corrupted) <= 1e-9 * scale, 'evaluate\'s baselines are validate\'s');
      assert.equal(m.points[0]!.edges, E - 1);
      const want = m.baseline - m.points[0]!.metric;
      assert.ok(Math.abs(exact.scores[i]! - want) <= 1e-5 * scale, `${exact.edgeName(u, v)}: exact ${exact.scores[i]} vs evaluate ${want}`);
    }

    // no edges ⇒ the corrupted run, Gemma 2 included: with every edge patched each node computes its corrupted
    // output, so every patch adds nothing and the stream is the corrupted one, whether or not it is a sum of them
    const e = await createEngine({ threads: 2 });
    try {
      const { model, tokenizer } = await loadModel(e, modelDir(f), { quiet: true });
      const data = prepareTaskData(getTask('ioi'), DATA, tokenizer, { batchSize: BATCH });
      const [empty] = await evaluateCircuits({ model, batches: data.batches, metric: data.metric, circuits: [Uint8Array.from(exact.realMask)] });
      assert.ok(Math.abs(empty! - r.baseline.corrupted) <= 1e-5 * scale, `m(no edges) ${empty} vs corrupted ${r.baseline.corrupted}`);
    } finally {
      await e.close();
    }
  });

  test(`${f.name}: path — finite per-step metric and J, first point = run's clean metric, GradPath's unit step`, () => {
    const out = join(tmp, `${f.name}-path.json`);
    const steps = 3;
    ok(eapgp(['path', '--model', modelDir(f), '--task', 'ioi', '--data', DATA, '--limit', String(BATCH), '--steps', String(steps), '--points', '4', '--out', out, '--quiet']), 'path');
    const file = json<PathFile>(out);
    checkPathFile(file, out);
    assert.equal(file.examples.length, BATCH);
    const first = file.gradpath.t.indexOf(1 / steps);
    assert.ok(first > 0, 'the first GradPath step is a point of the grid');
    for (const ex of file.examples) {
      const what = `${f.name} row ${ex.row}`;
      const gradpath = ex.gradpaths[0]!;
      for (const [path, s] of [['straight', ex.straight], ['gradpath', gradpath]] as const) {
        for (const k of SERIES_KEYS) assert.ok(s[k].every((x) => x !== null && Number.isFinite(x)), `${what} ${path}.${k}: finite`);
        assert.equal(s.metric[0], ex.cleanMetric, `${what} ${path}: starts at the clean input`);
      }
      const J0 = gradpath.objective[0]!;
      assert.ok(J0 > 0 && ex.straight.objective[0] === J0, `${what}: J at the clean input ${J0}`);
      // the straight path ends at the corrupted input: J = 0 and the corrupted metric
      assert.ok(ex.straight.objective.at(-1)! <= 1e-6 * J0, `${what}: J at the corrupted end ${ex.straight.objective.at(-1)}`);
      assert.ok(Math.abs(ex.straight.metric.at(-1)! - ex.corruptedMetric!) <= 1e-5 * Math.max(1, Math.abs(ex.corruptedMetric!)), `${what}: corrupted end`);
      // GradPath's first step has length η = 1 per example
      assert.equal(gradpath.distClean[0], 0);
      assert.ok(Math.abs(gradpath.distClean[first]! - 1) <= 1e-5, `${what}: first step ${gradpath.distClean[first]}`);
    }
    // the first example's clean metric is `run`'s: a plain forward pass of its prompt, logit(correct) − logit(incorrect)
    const row = readCsv(DATA).rows[0]!.values;
    assert.equal(file.examples[0]!.clean, row[0]);
    const ran = JSON.parse(ok(eapgp(['run', '--model', modelDir(f), '--prompt', row[0]!, '--json']), 'run').out) as { logits: number[] };
    const want = ran.logits[Number(row[2])]! - ran.logits[Number(row[3])]!;
    assert.ok(Math.abs(file.examples[0]!.cleanMetric! - want) <= 1e-5 * Math.max(1, Math.abs(want)), `clean metric ${file.examples[0]!.cleanMetric} vs run ${want}`);
    // and their mean is evaluate's m(M), m(∅)
    const ev = allEdges(f);
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    assert.ok(Math.abs(mean(file.examples.map((x) => x.cleanMetric!)) - ev.baseline) <= 1e-6 * Math.max(1, Math.abs(ev.baseline)));
    assert.ok(Math.abs(mean(file.examples.map((x) => x.corruptedMetric!)) - ev.corrupted) <= 1e-6 * Math.max(1, Math.abs(ev.corrupted)));
  });

  test(`${f.name}: reproduce — completes, names the family's graphs, F = 1 and m(M) at the full budget`, () => {
    const out = join(tmp, `${f.name}-reproduce`);
    const methods = ['eap', 'eap-gp'];
    ok(eapgp(['reproduce', '--model', modelDir(f), '--tasks', 'ioi', '--methods', methods.join(','), '--limit', '4', '--batch-size', '4', '--steps', '2', '--quiet', '--out', out]), 'reproduce');
    const res = json<Results>(join(out, 'results.json'));
    assert.deepEqual(res.model, { path: modelDir(f), layers: L, heads: H, dModel: D, edges: E, family: f.name });
    assert.equal(res.settings.budgets.at(-1), E);
    const t = res.tasks['ioi']!;
    assert.deepEqual(Object.keys(t.methods), methods);
    // evaluate on reproduce's own data: the same m(M) and m(∅)
    const ev = evaluate(f, ['--graph', graphFile(f), '--edges', String(E), '--limit', '4'], join(out, 'data', 'ioi.csv'));
    const scale = Math.max(Math.abs(ev.baseline), Math.abs(ev.corrupted));
    assert.ok(Math.abs(t.baseline - ev.baseline) <= 1e-9 * scale && Math.abs(t.corrupted - ev.corrupted) <= 1e-9 * scale, `baselines ${t.baseline}, ${t.corrupted} vs ${ev.baseline}, ${ev.corrupted}`);
    for (const [method, m] of Object.entries(t.methods)) {
      assert.equal(m.graph, `graphs/ioi-${method}.json`);
      const { graph, meta } = readGraphJson(join(out, m.graph));
      assert.deepEqual([graph.nLayers, graph.nHeads, graph.parallelAttnMlp, graph.nEdges, meta?.['method']], [L, H, f.parallel, E, method]);
      for (const full of [m.points.at(-1)!, m.fractions.points.at(-1)!]) {
        assert.deepEqual([full.requested, full.edges, full.faithfulness], [E, E, 1], `${method}: the full budget`);
        assert.ok(Math.abs(full.metric - ev.baseline) <= 1e-9 * scale, `${method}: m(all edges) ${full.metric} vs m(M) ${ev.baseline}`);
      }
      assert.equal(m.pr, undefined, 'no manual circuit on a 2 × 4 graph');
    }
  });

  test(`${f.name}: evaluate --dot / --svg of all edges — every node a{l}.h{h}, the family's ${E} edges`, () => {
    const ev = allEdges(f);
    assert.deepEqual([ev.points[0]!.edges, ev.points[0]!.metric, ev.points[0]!.faithfulness], [E, ev.baseline, 1], 'all edges ⇒ m(M)');
    const svg = join(tmp, `${f.name}.svg`), dot = join(tmp, `${f.name}.dot`);
    const names = (json<{ edges: Record<string, unknown> }>(graphFile(f))).edges;
    const want = Object.keys(names).sort();
    assert.equal(want.length, E);
    const sameLayer = want.filter((n) => /^a(\d+)\.h\d+->m\1$/.test(n)).length;
    assert.equal(sameLayer, f.parallel ? 0 : L * H, 'a{l}.h → m{l} edges only in sequential blocks');

    const d = readFileSync(dot, 'utf8');
    const dotNodes = [...d.matchAll(/^ {2}"([^"]+)" \[fillcolor/gm)].map((m) => m[1]!);
    assert.deepEqual(dotNodes, nodeNames(L, H));
    const dotEdges = [...d.matchAll(/^ {2}"[^"]+" -> "[^"]+" \[.*tooltip="(\S+) [^"]+"/gm)].map((m) => m[1]!);
    assert.equal(dotEdges.length, E);
    assert.deepEqual(dotEdges.sort(), want);

    const s = readFileSync(svg, 'utf8');
    const svgNodes = [...s.matchAll(/<g class="node"><rect [^>]*\/><text [^>]*>([^<]+)<\/text><\/g>/g)].map((m) => m[1]!);
    assert.deepEqual(svgNodes.sort(), nodeNames(L, H).sort());
    const unescape = (x: string): string => x.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
    const svgEdges = [...s.matchAll(/<path class="edge" [^>]*><title>(\S+) [^<]*<\/title><\/path>/g)].map((m) => unescape(m[1]!));
    assert.equal(svgEdges.length, E);
    assert.deepEqual(svgEdges.sort(), want);
  });
}

test('NeoX\'s parallel blocks in the scores: m0 and the input reach the last position unmixed (EAP\'s m0 → logits is 0)', () => {
  // The metric reads the last position, whose token is the same in clean and corrupted IOI prompts. In a
  // parallel block m0 reads the embedding only, so its output there does not change: Δ = 0 exactly. In a
  // sequential block m0 reads layer 0's heads, which mix in the changed names.
  const score = (f: Family, name: string): number => json<{ edges: Record<string, { score: number }> }>(graphFile(f)).edges[name]!.score;
  const [neox, llama] = [FAMILIES[0]!, FAMILIES[1]!];
  assert.equal(score(neox, 'm0->logits'), 0);
  assert.equal(score(neox, 'input->logits'), 0);
  assert.notEqual(score(llama, 'm0->logits'), 0);
});

test('DOT and SVG of a 32-head parallel graph: all 32 heads per layer, the closed-form edge count, no overlapping boxes', () => {
  const g = new Graph(2, 32, true);
  let k = 0;
  g.forEachEdge((u, v) => g.setScore(u, v, Math.sin(++k)));
  g.fillCircuit();
  const E = edgeCount(2, 32, true);
  assert.equal(g.countEdgesInGraph(), E);
  const d = toDot(g);
  assert.deepEqual([...d.matchAll(/^ {2}"([^"]+)" \[fillcolor/gm)].map((m) => m[1]), nodeNames(2, 32));
  assert.equal([...d.matchAll(/ -> /g)].length, E);
  const s = toSvg(g);
  const boxes = [...s.matchAll(/<g class="node"><rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"[^>]*\/><text [^>]*>([^<]+)</g)]
    .map((m) => ({ x: Number(m[1]), y: Number(m[2]), w: Number(m[3]), h: Number(m[4]), name: m[5]! }));
  assert.deepEqual(boxes.map((b) => b.name).sort(), nodeNames(2, 32).sort());
  assert.equal([...s.matchAll(/<path class="edge"/g)].length, E);
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const [a, b] = [boxes[i]!, boxes[j]!];
      assert.ok(a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y, `${a.name} overlaps ${b.name}`);
    }
  }
});

test('a Pythia-160m-shaped NeoX (12 × 12, parallel): no precision/recall against GPT-2 small\'s manual circuits', () => {
  // GPT-2 small's shape, another model: reproduce leaves P/R out and says why, compare refuses the graph
  const dir = join(tmp, 'neox-12x12'), out = join(tmp, 'neox-12x12-reproduce');
  ok(eapgp(['make-model', '--arch', 'neox', '--layers', '12', '--heads', '12', '--d-model', '24', '--rotary-pct', '1', '--vocab', '50304',
    '--gpt2-tokenizer-files', '--init-std', '0.1', '--out', dir]), 'make-model');
  ok(eapgp(['reproduce', '--model', dir, '--tasks', 'ioi', '--methods', 'eap', '--limit', '4', '--batch-size', '4', '--quiet', '--out', out]), 'reproduce');
  const res = json<Results>(join(out, 'results.json'));
  assert.deepEqual(res.model, { path: dir, layers: 12, heads: 12, dModel: 24, edges: edgeCount(12, 12, true), family: 'neox' });
  assert.equal(res.tasks['ioi']!.methods['eap']!.pr, undefined);
  assert.match(readFileSync(join(out, 'report.md'), 'utf8'), /the manual circuits are defined on GPT-2 small's 12 × 12 graph, not on this 12 × 12 neox model/);
  assertUserError(eapgp(['compare', '--task', 'ioi', '--graph', join(out, 'graphs', 'ioi-eap.json')]),
    /the ioi reference circuit is for GPT-2 small; this 12 × 12 graph has parallel attention and MLP \(GPT-NeoX \/ Pythia\), another model/, 'compare');
});
