/**
 * The MIB circuit track: our summary against a transcription of MIB's formulas (fixtures/mib-summary.json,
 * gen-mib.py), `eapgp mib export` (layout, circuit sizes, round trip, errors) and `eapgp mib evaluate` end to
 * end on a small random model.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Graph, prune, readGraphJson, topn, writeGraphJson } from '../src/graph/index.js';
import { faithfulness } from '../src/evaluation/evaluate.js';
import { MIB_CIRCUIT_FRACTIONS, mibAreas, mibCircuitOrder, mibItemCount, mibTaskName } from '../src/evaluation/mib.js';
import { MIB_FRACTIONS } from '../src/evaluation/sweep.js';
import { circuitFileName } from '../src/cli/mib.js';
import { FIXTURES, fixtureCsv } from './helpers/data.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'eapgp-mib-'));
const eapgp = (args: string[]) => spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 300_000 });
after(() => rmSync(tmp, { recursive: true, force: true }));

interface ImportanceCase {
  name: string; mode: 'importances'; log_scale: boolean; n_edges: number; counts: number[]; baseline: number; corrupted: number;
  signed_metrics: number[]; abs_metrics: number[]; cpr: number; cmd: number;
  signed: { faithfulnesses: number[]; area_under: number; area_from_1: number; average: number };
  abs: { faithfulnesses: number[]; area_under: number; area_from_1: number; average: number };
}
interface CircuitsCase {
  name: string; mode: 'circuits'; log_scale: boolean; n_edges: number; baseline: number; corrupted: number; counts: number[]; metrics: number[];
  sorted_counts: number[]; faithfulnesses: number[]; area_under: number; area_from_1: number; average: number; cpr: number; cmd: number;
}
const fixture = JSON.parse(readFileSync(join(FIXTURES, 'mib-summary.json'), 'utf8')) as { percentages: number[]; cases: (ImportanceCase | CircuitsCase)[] };

const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test('the MIB summary reproduces the transcription of MIB\'s formulas (≤ 1e-9)', () => {
  assert.deepEqual(fixture.percentages, [...MIB_FRACTIONS]);
  for (const c of fixture.cases) {
    const base = { clean: c.baseline, corrupted: c.corrupted };
    if (c.mode === 'importances') {
      assert.deepEqual(MIB_FRACTIONS.map((p) => mibItemCount(p, c.n_edges)), c.counts, `${c.name}: int(p·E)`);
      for (const [ms, want, area] of [[c.signed_metrics, c.signed, 'area_under'], [c.abs_metrics, c.abs, 'area_from_1']] as const) {
        const fs = ms.map((m) => faithfulness(m, base));
        fs.forEach((f, i) => close(f, want.faithfulnesses[i]!, 1e-12, `${c.name}: F[${i}]`));
        const a = mibAreas(fs, { logScale: c.log_scale });
        close(a.areaUnder, want.area_under, 1e-9, `${c.name}: area under`);
        close(a.areaFrom1, want.area_from_1, 1e-9, `${c.name}: area from 1`);
        close(a.average, want.average, 1e-9, `${c.name}: average`);
        close(area === 'area_under' ? a.areaUnder : a.areaFrom1, area === 'area_under' ? c.cpr : c.cmd, 1e-9, `${c.name}: ${area}`);
      }
    } else {
      const fs = c.metrics.map((m) => faithfulness(m, base));
      const order = mibCircuitOrder(c.counts, fs);
      assert.deepEqual([...order.map((i) => c.counts[i]!), c.n_edges], c.sorted_counts, `${c.name}: order`);
      const curve = [...order.map((i) => fs[i]!), 1];
      curve.forEach((f, i) => close(f, c.faithfulnesses[i]!, 1e-12, `${c.name}: F[${i}]`));
      const a = mibAreas(curve, { logScale: c.log_scale });
      close(a.areaUnder, c.cpr, 1e-9, `${c.name}: CPR`);
      close(a.areaFrom1, c.cmd, 1e-9, `${c.name}: CMD`);
      close(a.average, c.average, 1e-9, `${c.name}: average`);
    }
  }
});

test('MIB task names and counts', () => {
  assert.equal(mibTaskName('ioi'), 'ioi');
  assert.equal(mibTaskName('arc_easy'), 'arc-easy');
  assert.equal(mibTaskName('greater-than'), null);
  // Python's int(0.005 * 999) = int(4.995) = 4; GPT-2 small's 0.1 % is 32 edges
  assert.equal(mibItemCount(0.005, 999), 4);
  assert.equal(mibItemCount(0.001, 32491), 32);
  assert.equal(circuitFileName(0.001), 'circuit-0.1pct.json');
  assert.equal(circuitFileName(0.5), 'circuit-50pct.json');
});

// ------------------------------------------------------------------ export (no model needed)

/** A 3×3 graph (172 edges) with distinct random-ish signed scores, written as EAP-IG JSON with meta.task. */
function scoredGraph(file: string, task = 'ioi'): Graph {
  const g = new Graph(3, 3);
  let k = 0;
  g.forEachEdge((u, v) => {
    k++;
    g.setScore(u, v, Math.sin(k * 12.9898) * (1 + (k % 7)));
  });
  writeGraphJson(file, g, { dModel: 24, meta: { task } });
  return g;
}

test('mib export: nine circuits of at most p·E edges (MIB\'s count), round-tripping through our reader; importances keep every score', () => {
  const gPath = join(tmp, 'g.json');
  const g = scoredGraph(gPath);
  assert.equal(g.nEdges, 172);
  const out = join(tmp, 'sub');
  const r = eapgp(['mib', 'export', '--graph', gPath, '--model-name', 'tiny', '--out', out, '--circuits']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /not one of MIB's models/);
  const dir = join(out, 'ioi_tiny');
  assert.deepEqual(readdirSync(out), ['ioi_tiny'], 'no temporary folder left');
  assert.deepEqual(readdirSync(dir).sort(), MIB_CIRCUIT_FRACTIONS.map(circuitFileName).sort());
  const sizes: number[] = [];
  for (const p of MIB_CIRCUIT_FRACTIONS) {
    const file = join(dir, circuitFileName(p));
    const text = readFileSync(file, 'utf8');
    assert.ok(!text.includes('"score"'), 'circuits carry in_graph flags only');
    const { graph: c } = readGraphJson(file, { nLayers: 3, nHeads: 3 });
    const edges = c.countEdgesInGraph();
    assert.ok(edges <= p * g.nEdges, `${p}: ${edges} edges > ${p * g.nEdges}`);
    // the same circuit as top-n by |score| at int(p·E), pruned
    const want = g.clone();
    topn(want, Math.trunc(p * g.nEdges));
    prune(want);
    assert.deepEqual(Array.from(c.inGraph), Array.from(want.inGraph), `${p}: edges`);
    assert.deepEqual(Array.from(c.nodeInGraph), Array.from(want.nodeInGraph), `${p}: nodes`);
    sizes.push(edges);
  }
  // int(p·172) = 0, 0, 0, 1, 3, 8, 17, 34, 86 edges before pruning
  assert.deepEqual(MIB_CIRCUIT_FRACTIONS.map((p) => Math.trunc(p * 172)), [0, 0, 0, 1, 3, 8, 17, 34, 86]);
  assert.ok(sizes.every((s, i) => i === 0 || s >= sizes[i - 1]!), `sizes grow: ${sizes}`);
  assert.ok(sizes[8]! > 0);

  const r2 = eapgp(['mib', 'export', '--graph', gPath, '--model-name', 'tiny', '--out', out, '--force']);
  assert.equal(r2.status, 0, r2.stderr);
  assert.deepEqual(readdirSync(dir), ['importances.json']);
  const back = readGraphJson(join(dir, 'importances.json'));
  assert.deepEqual(Array.from(back.graph.scores), Array.from(g.scores));
  assert.equal(back.cfg.d_model, 24);
  assert.equal(back.meta, undefined, 'MIB files carry no meta');
});

test('mib export: errors name the problem and write nothing', () => {
  const gPath = join(tmp, 'g2.json');
  scoredGraph(gPath);
  const gtPath = join(tmp, 'gt.json');
  scoredGraph(gtPath, 'greater-than');
  const out = join(tmp, 'errs');
  const cases: [string[], RegExp][] = [
    [['--graph', gtPath, '--model-name', 'tiny'], /task "greater-than" has no MIB counterpart; MIB's tasks are ioi, mcqa/],
    [['--graph', gPath, '--model-name', 'gpt2'], /the graph has 172 edges \(3 layers × 3 heads\) but MIB's gpt2 graph has 32491/],
    [['--graph', gPath, '--model-name', 'my_model'], /--model-name "my_model": use letters, digits/],
    [['--graph', gPath, '--graph', gtPath, '--task', 'ioi,mcqa,ioi', '--model-name', 'tiny'], /--task gives 3 values for 2 graphs/],
    [['--graph', gPath, '--graph', gPath, '--model-name', 'tiny'], /both go to ioi_tiny/],
    [['--graph', gPath, '--model-name', 'tiny', '--signed'], /--select and --signed choose the circuits of --circuits/],
  ];
  for (const [args, re] of cases) {
    const r = eapgp(['mib', 'export', ...args, '--out', out]);
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.ok(!existsSync(out), `${args.join(' ')}: nothing written`);
  }
  // a task mapping for a graph without meta.task comes from --task; an existing non-empty folder needs --force
  mkdirSync(join(out, 'mcqa_tiny'), { recursive: true });
  writeFileSync(join(out, 'mcqa_tiny', 'old.json'), '{}');
  const r = eapgp(['mib', 'export', '--graph', gPath, '--task', 'mcqa', '--model-name', 'tiny', '--out', out]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /mcqa_tiny exists and is not empty; give --force/);
  assert.deepEqual(readdirSync(join(out, 'mcqa_tiny')), ['old.json']);
  // an all-zero graph is no importance file
  const zero = join(tmp, 'zero.json');
  writeGraphJson(zero, new Graph(3, 3), { dModel: 24 });
  const z = eapgp(['mib', 'export', '--graph', zero, '--task', 'ioi', '--model-name', 'tiny', '--out', join(tmp, 'z')]);
  assert.equal(z.status, 1);
  assert.match(z.stderr, /every score is 0/);
});

// ------------------------------------------------------------------ evaluate on a small random model

const model = join(tmp, 'model');
const data = ['--task', 'ioi', '--data', fixtureCsv('ioi'), '--limit', '8', '--batch-size', '4'];

before(() => {
  const r = eapgp(['make-model', '--layers', '3', '--heads', '3', '--d-model', '24', '--seed', '5', '--init-std', '0.1', '--out', model]);
  assert.equal(r.status, 0, r.stderr);
});

interface Out {
  mode: string; baseline: number; corrupted: number; cpr: number; cmd: number;
  curves: Record<'cpr' | 'cmd', { absolute: boolean | null; areaUnder: number; areaFrom1: number; points: { fraction: number; requested: number | null; edges: number; metric: number | null; faithfulness: number }[] }>;
}

test('mib evaluate: an importance file and its nine exported circuits, as MIB evaluates them', () => {
  const scores = join(tmp, 'eap.json');
  const a = eapgp(['attribute', '--model', model, ...data, '--method', 'eap', '--out', scores]);
  assert.equal(a.status, 0, a.stderr);
  const sub = join(tmp, 'eval');
  assert.equal(eapgp(['mib', 'export', '--graph', scores, '--model-name', 'tiny', '--out', join(sub, 'imp')]).status, 0);
  assert.equal(eapgp(['mib', 'export', '--graph', scores, '--model-name', 'tiny', '--out', join(sub, 'circ'), '--circuits']).status, 0);

  const run = (dir: string, extra: string[] = []): Out => {
    const r = eapgp(['mib', 'evaluate', '--model', model, ...data, '--submission', join(sub, dir, 'ioi_tiny'), '--json', '--quiet', ...extra]);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as Out;
  };
  const imp = run('imp');
  assert.equal(imp.mode, 'importances');
  assert.equal(imp.curves.cpr.absolute, false);
  assert.equal(imp.curves.cmd.absolute, true);
  for (const c of [imp.curves.cpr, imp.curves.cmd]) {
    assert.deepEqual(c.points.map((p) => p.requested), [0, 0, 0, 1, 3, 8, 17, 34, 86, 172]);
    c.points.forEach((p) => assert.ok(p.edges <= p.requested!));
    assert.equal(c.points[0]!.faithfulness, 0, 'no edges: the corrupted run, F = 0');
    close(c.points[9]!.faithfulness, 1, 1e-4, 'every edge: F = 1');
    // the areas from the reported F values, by an independent trapezoid sum on the fraction axis
    const fs = c.points.map((p) => p.faithfulness);
    let under = 0, from1 = 0;
    for (let i = 1; i < 10; i++) {
      const w = MIB_FRACTIONS[i]! - MIB_FRACTIONS[i - 1]!;
      under += (w * (fs[i]! + fs[i - 1]!)) / 2;
      from1 += (w * (Math.abs(1 - fs[i]!) + Math.abs(1 - fs[i - 1]!))) / 2;
    }
    close(c.areaUnder, under, 1e-12, 'area under F');
    close(c.areaFrom1, from1, 1e-12, 'area from 1');
  }
  assert.equal(imp.cpr, imp.curves.cpr.areaUnder);
  assert.equal(imp.cmd, imp.curves.cmd.areaFrom1);

  // the nine circuits exported top-n by |score| are the CMD curve's circuits: the same F, then F = 1 appended
  const circ = run('circ');
  assert.equal(circ.mode, 'circuits');
  assert.equal(circ.baseline, imp.baseline);
  assert.equal(circ.corrupted, imp.corrupted);
  const pts = circ.curves.cpr.points;
  assert.equal(pts.length, 10);
  assert.deepEqual(pts.slice(0, 9).map((p) => p.edges), imp.curves.cmd.points.slice(0, 9).map((p) => p.edges));
  // two evaluations with other circuits beside them: a circuit's m(C) may differ by the rounding of its place in a
  // stacked pass (≤ 1e-6 of the metric scale, see test/patched-runs.test.ts), which F divides by the gap
  const fTol = (1e-6 * Math.max(Math.abs(imp.baseline), Math.abs(imp.corrupted))) / Math.abs(imp.baseline - imp.corrupted);
  assert.ok(fTol < 1e-4, `the data leave F a meaningful tolerance (${fTol})`);
  pts.slice(0, 9).forEach((p, i) => close(p.faithfulness, imp.curves.cmd.points[i]!.faithfulness, fTol, `circuit ${i}`));
  assert.equal(pts[9]!.faithfulness, 1);
  assert.equal(pts[9]!.metric, null);
  close(circ.cmd, mibAreas(pts.map((p) => p.faithfulness)).areaFrom1, 1e-12, 'CMD');

  // ln x: the same F values, other widths
  const log = run('imp', ['--log-scale']);
  assert.deepEqual(log.curves.cpr.points.map((p) => p.faithfulness), imp.curves.cpr.points.map((p) => p.faithfulness));
  close(log.cpr, mibAreas(imp.curves.cpr.points.map((p) => p.faithfulness), { logScale: true }).areaUnder, 1e-12, 'log CPR');
});

test('mib evaluate: a folder MIB cannot read is an error before the model loads', () => {
  const dir = join(tmp, 'bad', 'ioi_tiny');
  mkdirSync(dir, { recursive: true });
  const run = () => eapgp(['mib', 'evaluate', '--model', join(tmp, 'no-model'), ...data, '--submission', dir]);
  let r = run();
  assert.equal(r.status, 1);
  assert.match(r.stderr, /0 \.json files; MIB reads one importance file or 9 circuits/);
  writeFileSync(join(dir, 'importances.pt'), '');
  r = run();
  assert.match(r.stderr, /importances\.pt: \.pt circuit files are not read here/);
});
