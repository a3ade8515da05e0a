/**
 * `eapgp validate` end to end, on the built-in default model (models/default) when it exists and on a tiny
 * random model otherwise: its exact scores equal per-edge evaluation (the circuit "all edges but one", through
 * src/evaluation/evaluate.ts), the generated prompts are those of `tasks make`, every table cell is present,
 * the JSON is well formed and consistent, the files are written, and bad input / Ctrl-C behave.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createEngine } from '../src/engine/engine.js';
import { baselines, evaluateCircuits } from '../src/evaluation/evaluate.js';
import { readGraphJson } from '../src/graph/index.js';
import { loadModel } from '../src/models/load.js';
import { batches, getTask } from '../src/tasks/index.js';
import type { Label } from '../src/tasks/types.js';
import { interruptAfter } from './helpers/interrupt.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const DEFAULT_MODEL = fileURLToPath(new URL('../../models/default/', import.meta.url));
const useDefault = existsSync(join(DEFAULT_MODEL, 'config.json'));
const tmp = mkdtempSync(join(tmpdir(), 'eapgp-validate-'));
const model = useDefault ? DEFAULT_MODEL : join(tmp, 'model');
const out = join(tmp, 'out');
const eapgp = (args: string[]) => spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 300_000 });
/** Two equal batches: EAP-IG's mean of batch means (exact) is then the mean over examples (evaluate). */
const LIMIT = 8, BATCH = 4, SEED = 3;
const VARIANTS = ['eap', 'eap-ig:steps=3', 'eap-gp:steps=3', 'eap-gp:steps=3:norm=batch'];
const common = ['--model', model, '--task', 'ioi', '--limit', String(LIMIT), '--batch-size', String(BATCH), '--threads', '2'];

interface Sweep { baseline: number; corrupted: number; points: { requested: number; edges: number; faithfulness: number }[]; cpr: number; cmd: number }
interface Results {
  command: string; task: string; data: string; dataSha256: string; edges: number; examples: number; topN: number[]; budgets: number[]; fractions: number[];
  baseline: { clean: number; corrupted: number };
  exact: { faithfulness: Sweep };
  variants: { name: string; spearman: number; kendall: number; precision: { n: number; precision: number }[]; faithfulness: Sweep }[];
}
let run: { stdout: string; results: Results };

before(() => {
  if (!useDefault) {
    const r = eapgp(['make-model', '--layers', '2', '--heads', '2', '--d-model', '32', '--seed', '5', '--init-std', '0.1', '--out', model]);
    assert.equal(r.status, 0, r.stderr);
  }
  const r = eapgp(['validate', ...common, '--seed', String(SEED), '--variants', VARIANTS.join(','), '--out', out, '--quiet']);
  assert.equal(r.status, 0, r.stderr);
  run = { stdout: r.stdout, results: JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as Results };
});
after(() => rmSync(tmp, { recursive: true, force: true }));

test(`exact scores equal per-edge evaluation (model: ${useDefault ? 'models/default' : 'tiny random'})`, async () => {
  // the generated prompts are exactly those of `tasks make` with the same seed: same bytes, same hash
  const csv = join(tmp, 'ioi.csv');
  assert.equal(eapgp(['tasks', 'make', 'ioi', '--n', String(LIMIT), '--seed', String(SEED), '--out', csv]).status, 0);
  assert.equal(run.results.dataSha256, createHash('sha256').update(readFileSync(csv)).digest('hex'));
  assert.equal(run.results.data, `generated: ioi, n ${LIMIT}, seed ${SEED}`);

  const e = await createEngine({ threads: 2 });
  try {
    const { model: m, tokenizer, config } = await loadModel(e, model, { quiet: true });
    const { graph } = readGraphJson(join(out, 'exact.json'), { nLayers: config.nLayer, nHeads: config.nHead });
    const task = getTask('ioi');
    const bs = batches(task.load(csv, tokenizer), BATCH);
    const metric = (l: Float32Array, B: number, V: number, y: unknown[]) => task.metric(l, B, V, y as Label[]);
    const base = baselines(m, bs, metric);
    assert.ok(Math.abs(run.results.baseline.clean - base.clean) <= 1e-6 * Math.abs(base.clean));
    const scale = Math.max(Math.abs(base.clean), Math.abs(base.corrupted));
    // the three largest exact effects (so the check is not one of zeros), an edge into the logits, one from the input
    const edges = Array.from(graph.edgeFlatIndices());
    const byEffect = [...edges].sort((a, b) => Math.abs(graph.scores[b]!) - Math.abs(graph.scores[a]!));
    const picks = [...new Set([...byEffect.slice(0, 3), graph.flat(graph.nSrc - 1, graph.logitsSlot), graph.flat(0, 0)])];
    assert.ok(Math.abs(graph.scores[byEffect[0]!]!) > 1e-3 * scale, 'the largest exact effect is far above the tolerance');
    const circuits = picks.map((i) => {
      const missing = new Uint8Array(graph.nSrc * graph.nDst);
      missing[i] = 1;
      return missing;
    });
    const ms = await evaluateCircuits({ model: m, batches: bs, metric, circuits });
    picks.forEach((i, k) => {
      // exact: s = loss(all but the edge) − loss(all) with loss = −metric, i.e. m(M) − m(all edges but it).
      // Both sides are differences of float32 runs' metrics (≈ 1e-7 relative), plus float32 storage in the JSON.
      const want = base.clean - ms[k]!;
      const got = graph.scores[i]!;
      assert.ok(Math.abs(got - want) <= 1e-5 * scale, `${graph.edgeName(Math.floor(i / graph.nDst), i % graph.nDst)}: exact ${got} vs evaluate ${want}`);
    });
  } finally {
    await e.close();
  }
});

test('table: a row per variant and the exact reference, every cell present and numeric', () => {
  const lines = run.stdout.trim().split('\n');
  const tables: string[][][] = [];
  for (const [k, l] of lines.entries()) {
    if (/^variant /.test(l)) tables.push(lines.slice(k, k + 2 + VARIANTS.length).map((x) => x.split(/ {2,}/)));
  }
  assert.equal(tables.length, 2, run.stdout);
  const { topN, fractions } = run.results;
  assert.deepEqual(tables[0]![0], ['variant', 'time s', 'Spearman', 'Kendall', ...topN.map((n) => `P@${n}`), 'CPR', 'CMD']);
  assert.equal(tables[1]![0]!.length, 1 + fractions.length);
  for (const t of tables) {
    assert.deepEqual(t.slice(1).map((r) => r[0]), ['exact (ground truth)', ...VARIANTS]);
    for (const row of t.slice(1)) {
      assert.equal(row.length, t[0]!.length, `row "${row.join(' | ')}"`);
      for (const cell of row.slice(1)) assert.ok(Number.isFinite(Number(cell)), `cell "${cell}" in row ${row[0]}`);
    }
  }
});

test('results JSON: consistent sizes, statistics in range, F = 1 with all edges; SVG and summary written', () => {
  const r = run.results;
  assert.equal(r.examples, LIMIT);
  assert.deepEqual(r.variants.map((v) => v.name), VARIANTS);
  assert.equal(r.fractions.length, 10);
  assert.equal(r.budgets.at(-1), r.edges);
  for (const s of [r.exact.faithfulness, ...r.variants.map((v) => v.faithfulness)]) {
    assert.equal(s.points.length, r.budgets.length);
    // all edges kept: the clean model (patched runs are float32, ≈ 1e-6 relative)
    assert.ok(Math.abs(s.points.at(-1)!.faithfulness - 1) < 1e-4);
    assert.ok(Number.isFinite(s.cpr) && Number.isFinite(s.cmd));
  }
  for (const v of r.variants) {
    for (const x of [v.spearman, v.kendall]) assert.ok(x >= -1 && x <= 1, `${v.name}: ${x}`);
    assert.deepEqual(v.precision.map((p) => p.n), r.topN);
    for (const p of v.precision) assert.ok(p.precision >= 0 && p.precision <= 1 && Math.abs(p.precision * p.n - Math.round(p.precision * p.n)) < 1e-9, 'hits / n');
  }
  // the times are in the run log, one per variant (results.json is the same bytes for the same inputs and options)
  const log = JSON.parse(readFileSync(join(out, 'results.log.json'), 'utf8')) as { threads: number; seconds: { exact: number; variants: Record<string, number> } };
  assert.equal(log.threads, 2);
  assert.deepEqual(Object.keys(log.seconds.variants), VARIANTS);
  assert.ok(log.seconds.exact > 0 && Object.values(log.seconds.variants).every((s) => s > 0));
  const svg = readFileSync(join(out, 'faithfulness.svg'), 'utf8');
  assert.match(svg, /^<\?xml[^]*<svg [^]*<\/svg>\n$/);
  for (const name of ['exact (ground truth)', ...VARIANTS]) assert.ok(svg.includes(`>${name}</text>`), `legend entry ${name}`);
  const md = readFileSync(join(out, 'summary.md'), 'utf8');
  assert.ok(md.includes(r.command) && md.includes('## Findings') && md.includes('](faithfulness.svg)'));
  assert.match(md, /GradPath vs straight path \(EAP-IG\) at 3 steps/);
  assert.deepEqual(readdirSync(out).sort(), ['exact.json', 'faithfulness.svg', 'results.json', 'results.log.json', 'summary.md']);
});

test('--json prints the results document; bad input names the problem', () => {
  // one small batch: exact patching costs a forward pass per edge and batch
  const j = eapgp(['validate', ...common, '--limit', '2', '--batch-size', '2', '--variants', 'eap', '--json', '--quiet']);
  assert.equal(j.status, 0, j.stderr);
  const doc = JSON.parse(j.stdout) as Results;
  assert.deepEqual(doc.variants.map((v) => v.name), ['eap']);
  assert.equal(doc.examples, 2);
  const bad = (args: string[], re: RegExp) => {
    const r = eapgp(['validate', ...common, ...args]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, re);
  };
  bad(['--variants', 'eap,eap-gp:stpes=3'], /--variants: "eap-gp:stpes=3": unknown key "stpes"/);
  bad(['--top', '0'], /--top: "0" is not a positive integer/);
  bad(['--top', '100000'], /--top: n = 100000 must be an integer in 1\.\.\d+ \(the model's edge count\)/);
  bad(['--data', join(tmp, 'ioi.csv'), '--seed', '2'], /--seed applies to generated prompts only/);
  const c = eapgp(['validate', '--model', model, '--task', 'custom']);
  assert.equal(c.status, 1);
  assert.match(c.stderr, /--task custom has no generator: give its CSV with --data/);
});

test('Ctrl-C exits 130 and leaves no output directory', async () => {
  const dir = join(tmp, 'interrupted');
  const { code, stderr: err } = await interruptAfter([MAIN, 'validate', ...common, '--limit', '400', '--out', dir], 1500);
  assert.equal(code, 130, err);
  assert.match(err, /interrupted/);
  assert.ok(!existsSync(dir), 'no output directory (files are written only at the end)');
});
