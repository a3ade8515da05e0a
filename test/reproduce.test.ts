/**
 * `eapgp reproduce` end to end on a small random model with GPT-2 small's graph (12 layers × 12 heads, so the
 * manual circuits and the paper's budgets apply as they are): Ctrl-C mid-run, resume, one lost state file,
 * --force, settings that do not fit, --data-dir with --metric, --data paper (the data cache), bad options. The outputs are checked for
 * completeness and against each other and the library.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createEngine, type Engine } from '../src/engine/engine.js';
import { baselines } from '../src/evaluation/evaluate.js';
import { HANNA_BUDGETS, MIB_FRACTIONS } from '../src/evaluation/sweep.js';
import { readGraphJson } from '../src/graph/index.js';
import { makeRandomModel } from '../src/models/make-model.js';
import { loadModel, type LoadedModel } from '../src/models/load.js';
import type { Results } from '../src/reproduce/index.js';
import { getTask } from '../src/tasks/index.js';
import { prepareTaskData } from '../src/tasks/prepare.js';
import { fixtureCsv, published } from './helpers/data.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'eapgp-reproduce-'));
const modelDir = join(tmp, 'model');
const out = join(tmp, 'out');
const METHODS = ['eap', 'eap-ig', 'eap-gp'];
const PAIRS = ['ioi', 'sva'].flatMap((t) => METHODS.map((m) => `${t} ${m}`));
// 4 examples in one batch, 2 integration steps: each pair takes about a second here
const ARGS = ['reproduce', '--model', modelDir, '--tasks', 'ioi,sva', '--methods', METHODS.join(','), '--limit', '4', '--batch-size', '4', '--steps', '2', '--quiet', '--out', out];

let engine: Engine;
let loaded: LoadedModel;

before(async () => {
  makeRandomModel({ layers: 12, heads: 12, dModel: 24, nCtx: 64, seed: 1, initStd: 0.1 }, modelDir);
  engine = await createEngine();
  loaded = await loadModel(engine, modelDir, { quiet: true });
});
after(async () => {
  await engine?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const eapgp = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env } });

/** "task method" of the log lines saying `what` (started, finished earlier, finished in). */
const pairsSaying = (log: string, what: RegExp): string[] =>
  log.split('\n').flatMap((l) => {
    const m = /^\[\d+\/\d+\] (\S+) (\S+): (.*)$/.exec(l);
    return m && what.test(m[3]!) ? [`${m[1]} ${m[2]}`] : [];
  });

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => join(d.parentPath ?? d.path, d.name));
}

/** The state files (not their run logs, *.log.json) of `dir`/state. */
const stateFiles = (dir = out): string[] => readdirSync(join(dir, 'state')).filter((f) => !f.endsWith('.log.json')).sort();
const mtimes = (): Map<string, number> => new Map(stateFiles().map((f) => [f, statSync(join(out, 'state', f)).mtimeMs]));
const readResults = (dir = out): Results => JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as Results;

let finishedBeforeCtrlC: string[] = [];

test('Ctrl-C mid-run exits 130, leaves finished pairs recorded and no partial or temporary file', async () => {
  const child = spawn(process.execPath, [MAIN, ...ARGS], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    log += s;
    if (/\] ioi eap: finished in/.test(log) && !child.killed) child.kill('SIGINT');
  });
  const code = await new Promise<number | null>((res) => child.on('close', (c) => res(c)));
  assert.equal(code, 130, log);
  finishedBeforeCtrlC = pairsSaying(log, /^finished in/);
  assert.ok(finishedBeforeCtrlC.includes('ioi eap') && finishedBeforeCtrlC.length < PAIRS.length, log);
  const files = filesUnder(out);
  assert.deepEqual(files.filter((f) => f.endsWith('.tmp')), []);
  assert.deepEqual(stateFiles(), finishedBeforeCtrlC.map((p) => p.replace(' ', '-') + '.json').sort());
  for (const f of readdirSync(join(out, 'state'))) JSON.parse(readFileSync(join(out, 'state', f), 'utf8')); // complete
  for (const f of stateFiles()) assert.ok(existsSync(join(out, 'state', f.replace(/\.json$/, '.log.json'))), `${f}: its run log`);
  assert.deepEqual(readdirSync(join(out, 'graphs')).sort(), stateFiles(), 'graphs of finished pairs only');
  assert.ok(!existsSync(join(out, 'results.json')), 'the outputs come at the end of a run');
});

test('a rerun continues where the interrupted run stopped and writes complete, consistent outputs', async () => {
  const r = eapgp(ARGS);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(pairsSaying(r.stderr, /^finished earlier/), finishedBeforeCtrlC);
  assert.deepEqual(pairsSaying(r.stderr, /^started/), PAIRS.filter((p) => !finishedBeforeCtrlC.includes(p)));

  const res = readResults();
  assert.equal(res.format, 'eapgp-reproduce');
  assert.equal(res.version, 2);
  assert.deepEqual(res.model, { path: modelDir, layers: 12, heads: 12, dModel: 24, edges: 32491 });
  assert.deepEqual(res.settings, { limit: 4, batchSize: 4, steps: 2, intervention: 'patching', select: 'greedy', absolute: true, budgets: HANNA_BUDGETS });
  assert.deepEqual(Object.keys(res.tasks), ['ioi', 'sva']);
  for (const [task, t] of Object.entries(res.tasks)) {
    assert.equal(t.data, `generated:${task}:seed=0:n=4`);
    assert.equal(t.examples, 4);
    assert.equal(t.metric, task === 'ioi' ? 'logit-diff' : 'prob-diff');
    // the baselines are the library's on the generated file
    const data = prepareTaskData(getTask(task), join(out, 'data', `${task}.csv`), loaded.tokenizer, { limit: 4, batchSize: 4 });
    const base = baselines(loaded.model, data.batches, data.metric);
    const scale = Math.max(Math.abs(base.clean), Math.abs(base.corrupted));
    assert.ok(Math.abs(t.baseline - base.clean) <= 1e-6 * scale && Math.abs(t.corrupted - base.corrupted) <= 1e-6 * scale, `${task} baselines`);
    assert.notEqual(t.baseline, t.corrupted);
    assert.deepEqual(Object.keys(t.methods), METHODS);
    for (const [method, m] of Object.entries(t.methods)) {
      const what = `${task} ${method}`;
      assert.equal(m.graph, `graphs/${task}-${method}.json`);
      const { graph } = readGraphJson(join(out, m.graph), { nLayers: 12, nHeads: 12 });
      assert.ok(Array.from(graph.scores).some((s) => s !== 0), `${what}: scores`);
      assert.deepEqual(m.points.map((p) => p.requested), HANNA_BUDGETS);
      assert.deepEqual(m.fractions.points.map((p) => p.fraction), [...MIB_FRACTIONS]);
      // F = (m(C) − m(∅)) / (m(M) − m(∅)) for every circuit, to float64 rounding
      for (const p of [...m.points, ...m.fractions.points]) {
        const f = (p.metric - t.corrupted) / (t.baseline - t.corrupted);
        assert.ok(Math.abs(p.faithfulness - f) <= 1e-9 * Math.max(1, Math.abs(f)), `${what} at ${p.requested}: F ${p.faithfulness} vs ${f}`);
        assert.ok(p.edges <= p.requested && p.nodes >= 0);
      }
      // the whole graph is the clean model (float32 patching vs the plain forward pass)
      const all = m.fractions.points.at(-1)!;
      assert.equal(all.requested, 32491);
      assert.ok(Math.abs(all.metric - t.baseline) <= 1e-4 * Math.abs(t.baseline - t.corrupted), `${what}: all edges ${all.metric} vs m(M) ${t.baseline}`);
      // CPR and CMD are the trapezoids of F and |1 − F| over the fractions
      let cpr = 0, cmd = 0;
      const fp = m.fractions.points;
      for (let i = 1; i < fp.length; i++) {
        const dx = fp[i]!.fraction - fp[i - 1]!.fraction;
        cpr += (dx * (fp[i]!.faithfulness + fp[i - 1]!.faithfulness)) / 2;
        cmd += (dx * (Math.abs(1 - fp[i]!.faithfulness) + Math.abs(1 - fp[i - 1]!.faithfulness))) / 2;
      }
      assert.ok(Math.abs(cpr - m.fractions.cpr) < 1e-12 && Math.abs(cmd - m.fractions.cmd) < 1e-12, `${what}: CPR/CMD`);
      if (task === 'ioi') {
        const pr = m.pr!;
        assert.equal(pr.reference, 'acdc');
        assert.ok(pr.points.length >= 30 && pr.points.at(-1)!.n === 32491);
        assert.equal(pr.points.at(-1)!.edges.recall, 1, 'all edges recall the whole manual circuit');
        for (let i = 1; i < pr.points.length; i++) assert.ok(pr.points[i]!.edges.recall >= pr.points[i - 1]!.edges.recall, 'recall grows with n');
        for (const a of [pr.auc.nodes, pr.auc.edges]) assert.ok(a > 0 && a < 1);
      } else assert.equal(m.pr, undefined, 'sva has no manual circuit');
    }
  }

  const md = readFileSync(join(out, 'report.md'), 'utf8');
  for (const h of ['## Tasks', '### 100 edges', '### 1,000 edges', '### CPR', '### CMD', '## Precision and recall against the manual circuits', '## Time']) assert.ok(md.includes(h), h);
  const rows = md.split('\n').filter((l) => l.startsWith('|'));
  for (const l of rows) assert.doesNotMatch(l, /\|\s*\||not run/, `filled: ${l}`);
  const f100 = res.tasks['sva']!.methods['eap-gp']!.points.find((p) => p.requested === 100)!.faithfulness.toFixed(3);
  const at100 = md.slice(md.indexOf('### 100 edges'), md.indexOf('### 200 edges'));
  assert.match(at100, new RegExp(`\\| eap-gp \\| .* \\| (\\*\\*)?${f100.replace('.', '\\.')}(\\*\\*)? \\|`));
  assert.match(md, /\| eap \| \S+ \/ \S+ \| — \|/, 'P/R: ioi has AUCs, sva "—"');
  assert.ok((md.match(/\*\*/g) ?? []).length >= 2 * 10, 'a best value in bold in every column');

  for (const f of ['faithfulness-ioi.svg', 'faithfulness-sva.svg', 'pr-ioi.svg']) {
    const svg = readFileSync(join(out, 'plots', f), 'utf8');
    assert.match(svg, /^<\?xml[^>]*>\n<svg [^>]*>[\s\S]*<\/svg>\n$/);
    assert.ok((svg.match(/<path /g) ?? []).length >= (f.startsWith('pr') ? 6 : 3), f);
    for (const m of METHODS) assert.ok(svg.includes(`>${m}`), `${f}: legend ${m}`);
  }
  assert.ok(!existsSync(join(out, 'plots', 'pr-sva.svg')));
});

test('a lost state file: only that pair is recomputed, the others stay untouched', () => {
  const before = readResults();
  unlinkSync(join(out, 'state', 'sva-eap.json'));
  const times = mtimes();
  const r = eapgp(ARGS);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(pairsSaying(r.stderr, /^started/), ['sva eap']);
  assert.deepEqual(pairsSaying(r.stderr, /^finished earlier/), PAIRS.filter((p) => p !== 'sva eap'));
  assert.match(r.stderr, /sva: 4 examples, reusing .*sva\.csv.*\(from an earlier run\)/);
  for (const [f, t] of times) assert.equal(mtimes().get(f), t, `${f} untouched`);
  assert.ok(existsSync(join(out, 'state', 'sva-eap.json')));
  // deterministic: the recomputed pair gives the same numbers
  const a = before.tasks['sva']!.methods['eap']!, b = readResults().tasks['sva']!.methods['eap']!;
  assert.deepEqual(b.points.map((p) => p.edges), a.points.map((p) => p.edges));
  b.points.forEach((p, i) => assert.ok(Math.abs(p.faithfulness - a.points[i]!.faithfulness) <= 1e-9 * Math.max(1, Math.abs(p.faithfulness))));
});

test('--force recomputes the selected pairs; the report keeps the others', () => {
  const times = mtimes();
  const r = eapgp([...ARGS, '--force', '--tasks', 'ioi', '--methods', 'eap']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(pairsSaying(r.stderr, /^started \(--force\)/), ['ioi eap']);
  for (const [f, t] of times) {
    if (f === 'ioi-eap.json') assert.ok(mtimes().get(f)! > t, 'recomputed');
    else assert.equal(mtimes().get(f), t, `${f} untouched`);
  }
  const res = readResults();
  assert.deepEqual(Object.keys(res.tasks), ['ioi', 'sva']);
  for (const t of Object.values(res.tasks)) assert.deepEqual(Object.keys(t.methods), METHODS);
});

test('other settings than the finished pairs\': an error saying what differs, nothing written', () => {
  const times = mtimes();
  const data = statSync(join(out, 'data', 'ioi.csv')).mtimeMs;
  const r = eapgp([...ARGS, '--limit', '3']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /state\/ioi-eap[-\w]*\.json: ioi eap[-\w]* finished earlier with other settings \(limit: 4 → 3; data: "generated:ioi:seed=0:n=4" → "generated:ioi:seed=0:n=3"\); rerun with --force/);
  const seed = eapgp([...ARGS, '--seed', '7']);
  assert.equal(seed.status, 1);
  assert.match(seed.stderr, /seed=0:n=4" → "generated:ioi:seed=7:n=4"/);
  assert.deepEqual(mtimes(), times);
  assert.equal(statSync(join(out, 'data', 'ioi.csv')).mtimeMs, data);
});

test('--data-dir reads the EAP-IG layout; --metric switches the metric form', async () => {
  const dir = join(tmp, 'data-dir');
  const tasks = join(tmp, 'eap-ig-layout'); // laid out like the data cache: <task>/eapig-faithfulness_gpt2.csv
  mkdirSync(join(tasks, 'ioi'), { recursive: true });
  const csv = join(tasks, 'ioi', 'eapig-faithfulness_gpt2.csv');
  copyFileSync(fixtureCsv('ioi'), csv);
  const r = eapgp(['reproduce', '--model', modelDir, '--tasks', 'ioi', '--methods', 'eap', '--limit', '4', '--batch-size', '4', '--quiet',
    '--data-dir', tasks, '--metric', 'prob-diff', '--out', dir]);
  assert.equal(r.status, 0, r.stderr);
  const t = readResults(dir).tasks['ioi']!;
  assert.equal(t.data, csv);
  assert.equal(t.metric, 'prob-diff');
  const data = prepareTaskData(getTask('ioi'), csv, loaded.tokenizer, { limit: 4, batchSize: 4, metric: 'prob-diff' });
  const base = baselines(loaded.model, data.batches, data.metric);
  assert.ok(Math.abs(t.baseline - base.clean) <= 1e-6 * Math.abs(base.clean));
  assert.ok(!existsSync(join(dir, 'data')), 'nothing generated');
});

test('bad options are one-line errors before the model loads', () => {
  const cases: [string[], RegExp][] = [
    [['--tasks', 'ioi,nope'], /--tasks: unknown task "nope"; choose among ioi, greater-than/],
    [['--methods', 'eap,eap'], /--methods: "eap" is listed twice/],
    [['--methods', 'magic'], /unknown method "magic"/],
    [['--metric', 'kl'], /task ioi has no metric "kl"; choose logit-diff \(default\) or prob-diff/],
    [['--data-dir', join(tmp, 'missing')], /--data-dir .*missing: no such directory/],
    [['--data', 'papers'], /--data must be generated or paper, got "papers"/],
    [['--data', 'paper', '--data-dir', tmp], /--data paper reads the data cache and --data-dir a directory of your own; give one of them/],
    [['--limit', '0'], /--limit must be an integer >= 1/],
  ];
  for (const [extra, want] of cases) {
    const r = eapgp(['reproduce', '--model', join(tmp, 'no-model'), '--out', join(tmp, 'never'), ...extra]);
    assert.equal(r.status, 1, extra.join(' '));
    assert.match(r.stderr, want);
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/);
  }
  assert.ok(!existsSync(join(tmp, 'never')));
});

test('--data paper without the data fetched: one error naming the fetch command, before the model loads', () => {
  const cache = join(tmp, 'empty-cache');
  const one = eapgp(['reproduce', '--model', join(tmp, 'no-model'), '--tasks', 'ioi', '--data', 'paper', '--out', join(tmp, 'never')], { EAPGP_CACHE: cache });
  assert.equal(one.status, 1);
  assert.match(one.stderr, /the EAP-IG paper's ioi data is not in the data cache \(.*empty-cache.ioi.eapig-faithfulness_gpt2\.csv is missing\); fetch it with `eapgp data fetch ioi`/);
  const two = eapgp(['reproduce', '--model', join(tmp, 'no-model'), '--tasks', 'sva,ioi', '--data', 'paper', '--out', join(tmp, 'never')], { EAPGP_CACHE: cache });
  assert.equal(two.status, 1);
  assert.match(two.stderr, /--data paper: the EAP-IG paper's data of sva, ioi is missing from the data cache .*; fetch it with `eapgp data fetch sva ioi`/);
  assert.doesNotMatch(one.stderr + two.stderr, /at .*\.js:\d+/);
  assert.ok(!existsSync(join(tmp, 'never')));
});

const paperIoi = published('ioi');
test('--data paper reads the EAP-IG paper\'s CSV from the data cache', { skip: paperIoi.skip }, () => {
  const dir = join(tmp, 'paper');
  const r = eapgp(['reproduce', '--model', modelDir, '--tasks', 'ioi', '--methods', 'eap', '--limit', '4', '--batch-size', '4', '--quiet', '--data', 'paper', '--out', dir]);
  assert.equal(r.status, 0, r.stderr);
  const t = readResults(dir).tasks['ioi']!;
  assert.equal(t.data, 'paper:ioi');
  const data = prepareTaskData(getTask('ioi'), paperIoi.path('ioi/eapig-faithfulness_gpt2.csv'), loaded.tokenizer, { limit: 4, batchSize: 4 });
  assert.ok(Math.abs(t.baseline - baselines(loaded.model, data.batches, data.metric).clean) <= 1e-6 * Math.abs(t.baseline));
  assert.ok(!existsSync(join(dir, 'data')), 'nothing generated');
});
