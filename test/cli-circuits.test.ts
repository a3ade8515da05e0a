/** `eapgp attribute` and `eapgp evaluate` end to end: files, formats, errors, interruption. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readGraphJson } from '../src/graph/index.js';
import { fixtureCsv } from './helpers/data.js';
import { interruptAfter } from './helpers/interrupt.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const IOI = fixtureCsv('ioi');
const tmp = mkdtempSync(join(tmpdir(), 'eapgp-cli2-'));
/** Enough rows for exact patching to run for seconds (written by `eapgp tasks make` in before()). */
const IOI_400 = join(tmp, 'ioi-400.csv');
const model = join(tmp, 'model');
const eapgp = (args: string[]) => spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 300_000 });
const common = ['--model', model, '--task', 'ioi', '--data', IOI, '--limit', '8', '--batch-size', '4'];

before(() => {
  const r = eapgp(['make-model', '--layers', '2', '--heads', '2', '--d-model', '32', '--seed', '2', '--init-std', '0.1', '--out', model]);
  assert.equal(r.status, 0, r.stderr);
  const d = eapgp(['tasks', 'make', 'ioi', '--n', '400', '--out', IOI_400]);
  assert.equal(d.status, 0, d.stderr);
});
after(() => rmSync(tmp, { recursive: true, force: true }));

test('attribute writes EAP-IG JSON with meta; evaluate prints a table, --json and --out agree', () => {
  const out = join(tmp, 'gp.json');
  const a = eapgp(['attribute', ...common, '--method', 'eap-gp', '--steps', '3', '--out', out]);
  assert.equal(a.status, 0, a.stderr);
  const { graph, meta, cfg } = readGraphJson(out, { nLayers: 2, nHeads: 2 });
  assert.equal(cfg.n_layers, 2);
  assert.equal(meta?.method, 'eap-gp');
  assert.equal(meta?.steps, 3);
  assert.equal(meta?.examples, 8);
  assert.match(String(meta?.data_sha256), /^[0-9a-f]{64}$/);
  assert.ok(Array.from(graph.scores).some((s) => s !== 0));
  const t = eapgp(['evaluate', ...common, '--graph', out, '--edges', '5,20,46']);
  assert.equal(t.status, 0, t.stderr);
  assert.match(t.stdout, /requested +edges +nodes/);
  const resPath = join(tmp, 'res.json');
  const j = eapgp(['evaluate', ...common, '--graph', out, '--edges', '5,20,46', '--json', '--out', resPath]);
  const res = JSON.parse(j.stdout) as { baseline: number; corrupted: number; points: { requested: number; edges: number; faithfulness: number }[] };
  assert.deepEqual(JSON.parse(readFileSync(resPath, 'utf8')), res);
  assert.deepEqual(res.points.map((p) => p.requested), [5, 20, 46]);
  assert.equal(res.points[2]!.edges, 46);
  assert.ok(Math.abs(res.points[2]!.faithfulness - 1) < 1e-4, 'all 46 edges: faithfulness 1');
  const f = JSON.parse(eapgp(['evaluate', ...common, '--graph', out, '--fractions', '--json', '--select', 'topn', '--signed']).stdout) as { cpr: number; cmd: number; points: unknown[] };
  assert.equal(f.points.length, 10);
  assert.ok(Number.isFinite(f.cpr) && Number.isFinite(f.cmd));
});

test('evaluate without a selection uses the file in_graph flags', () => {
  const out = join(tmp, 'eap.json');
  assert.equal(eapgp(['attribute', ...common, '--method', 'eap', '--out', out]).status, 0);
  const doc = JSON.parse(readFileSync(out, 'utf8')) as { edges: Record<string, { in_graph: boolean }> };
  for (const v of Object.values(doc.edges)) v.in_graph = true;
  writeFileSync(out, JSON.stringify(doc));
  const r = JSON.parse(eapgp(['evaluate', ...common, '--graph', out, '--json']).stdout) as { points: { requested: null; faithfulness: number }[] };
  assert.equal(r.points.length, 1);
  assert.equal(r.points[0]!.requested, null);
  assert.ok(Math.abs(r.points[0]!.faithfulness - 1) < 1e-4);
});

test('clean and corrupted of different token lengths: an error naming the row', () => {
  const bad = join(tmp, 'bad.csv');
  writeFileSync(bad, 'clean,corrupted,correct_idx,incorrect_idx\n"When Mary and John went, John gave it to","When Mary and John went, Alexander Hamilton gave it to",5335,1757\n');
  const r = eapgp(['attribute', '--model', model, '--task', 'ioi', '--data', bad, '--method', 'eap', '--out', join(tmp, 'x.json')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /row 1/);
  assert.match(r.stderr, /bad\.csv/);
  assert.ok(!existsSync(join(tmp, 'x.json')));
  const m = eapgp(['attribute', ...common, '--method', 'magic', '--out', join(tmp, 'y.json')]);
  assert.equal(m.status, 1);
  assert.match(m.stderr, /unknown method "magic"; choose one of eap, eap-ig/);
  const g = eapgp(['evaluate', ...common, '--graph', join(tmp, 'missing.json')]);
  assert.equal(g.status, 1);
  assert.match(g.stderr, /missing\.json/);
});

test('Ctrl-C during attribute exits 130 and leaves no output or temporary file', async () => {
  const out = join(tmp, 'interrupted', 'scores.json');
  const args = [MAIN, 'attribute', '--model', model, '--task', 'ioi', '--data', IOI_400, '--limit', '400', '--batch-size', '4', '--method', 'exact', '--out', out];
  const { code, stderr: err } = await interruptAfter(args, 1500);
  assert.equal(code, 130, err);
  assert.match(err, /interrupted/);
  const left = existsSync(join(tmp, 'interrupted')) ? readdirSync(join(tmp, 'interrupted')) : [];
  assert.deepEqual(left, []);
});
