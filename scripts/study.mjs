#!/usr/bin/env node
/**
 * "When does EAP-GP help?" (docs/validation.md, issue #14): regenerates every number of the study from the
 * committed models, one CLI run after another (one heavy process at a time).
 *
 * For each model (models/default and every models/testbeds/<name>) and each task (ioi, greater-than):
 *   eapgp path      the straight path's saturated share and GradPath's diagnostics per variant (16 prompts)
 *   eapgp validate  exact patching and every method of METHODS against it (--limit prompts, --seed)
 * then writes OUT/tables.md (the tables docs/validation.md shows) and OUT/study.json (the same numbers).
 *
 *   npm run study                        everything (runs that already have their output are kept: resumable)
 *   npm run study -- --limit 40          prompts per validate run (default 40)
 *   npm run study -- --only deep6 --fresh  one model, its runs redone
 *   npm run study -- --collect           only rebuild the tables from OUT
 *
 *   npm run study -- --only sharp --seed 2 --out runs/study-seed2   the check on a second prompt set
 *
 * Options: --out DIR (default runs/study), --threads N (default 2), --seed S (the prompts, default 1).
 * Each run's own command line is in its results.json / path.log.json; the numbers do not depend on the thread
 * count.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'src', 'cli', 'main.js');

const TASKS = ['ioi', 'greater-than'];
/** The methods compared, as validate spells them, and the names the tables use. */
const METHODS = [
  ['eap', 'eap'],
  ['eap-ig:steps=5', 'EAP-IG 5'],
  ['eap-ig:steps=10', 'EAP-IG 10'],
  ['eap-ig:steps=20', 'EAP-IG 20'],
  ['eap-ig-activations:steps=5', 'EAP-IG-act 5'],
  ['eap-gp:steps=5', 'GP paper 5'],
  ['eap-gp:steps=5:step=relative:backtrack=8', 'GP descent 5'],
  ['eap-gp:steps=5:step=relative:backtrack=8:end=corrupted', 'GP pinned 5'],
];
const PATH_VARIANTS = 'paper,descent,descent-pinned';
const PATH_EXAMPLES = 16;

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: 'runs/study' }, limit: { type: 'string', default: '40' },
    threads: { type: 'string', default: '2' }, seed: { type: 'string', default: '1' },
    only: { type: 'string' }, fresh: { type: 'boolean' }, collect: { type: 'boolean' },
  },
});
const out = values.out;

/** models/default, then the testbeds in name order (--only picks the ones to run; the tables take every one). */
function models(all = false) {
  const tb = join(root, 'models', 'testbeds');
  const names = existsSync(tb) ? readdirSync(tb).filter((n) => existsSync(join(tb, n, 'config.json'))).sort() : [];
  return [{ name: 'default', dir: 'models/default' }, ...names.map((n) => ({ name: n, dir: `models/testbeds/${n}` }))]
    .filter((m) => all || !values.only || values.only.split(',').includes(m.name));
}

function eapgp(args) {
  console.error(`$ eapgp ${args.join(' ')}`);
  // validate's tables go to its summary.md (and ours to tables.md): only progress and errors are shown
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`eapgp ${args[0]} failed (exit ${r.status})`);
}

function run(m, task) {
  const dir = join(out, m.name, task);
  if (values.fresh) rmSync(resolve(root, dir), { recursive: true, force: true });
  mkdirSync(resolve(root, dir), { recursive: true });
  const threads = ['--threads', values.threads];
  const csv = join(dir, 'path-data.csv');
  if (!existsSync(resolve(root, dir, 'path.json'))) {
    // PATH_EXAMPLES prompts from the task's generator (validate generates its own --limit from the same seed)
    if (!existsSync(resolve(root, csv))) eapgp(['tasks', 'make', task, '--n', String(PATH_EXAMPLES), '--seed', values.seed, '--out', csv]);
    eapgp(['path', '--model', m.dir, '--task', task, '--data', csv, '--limit', String(PATH_EXAMPLES), '--variants', PATH_VARIANTS,
      '--quiet', ...threads, '--out', join(dir, 'path.json')]);
  }
  if (!existsSync(resolve(root, dir, 'results.json'))) {
    eapgp(['validate', '--model', m.dir, '--task', task, '--limit', values.limit, '--seed', values.seed,
      '--variants', METHODS.map((x) => x[0]).join(','), '--quiet', ...threads, '--out', dir]);
  }
}

/**
 * Where on the straight path the saturation sits, from path.json's per-example slopes on the P even samples
 * t = i/(P−1), as path-diagnostics.ts's saturatedShare defines saturated (|slope| < 10 % of the mean |slope|;
 * examples with a missing value are left out, as there): the share over t < ½ only, and |slope| at the clean
 * input over the mean |slope| (median over the examples). EAP takes its gradient at t = 0.
 */
function cleanEnd(p) {
  const P = p.points;
  const at = Array.from({ length: P }, (_, i) => p.straight.t.findIndex((t) => Math.abs(t - i / (P - 1)) < 1e-9));
  const half = at.filter((_, i) => i / (P - 1) < 0.5).length;
  const firstHalf = [];
  const ratios = [];
  for (const ex of p.examples) {
    const s = at.map((j) => (j >= 0 ? ex.straight.slope[j] : null));
    if (s.some((x) => x === null || x === undefined)) continue;
    const mags = s.map(Math.abs);
    const mean = mags.reduce((a, b) => a + b, 0) / P;
    firstHalf.push(mean === 0 ? 1 : mags.filter((v, i) => i / (P - 1) < 0.5 && v < 0.1 * mean).length / half);
    ratios.push(mean === 0 ? 0 : mags[0] / mean);
  }
  if (ratios.length === 0) return { saturatedFirstHalf: null, cleanSlopeRatio: null };
  ratios.sort((a, b) => a - b);
  const h = ratios.length >> 1;
  return {
    saturatedFirstHalf: firstHalf.reduce((a, b) => a + b, 0) / firstHalf.length,
    cleanSlopeRatio: ratios.length % 2 ? ratios[h] : (ratios[h - 1] + ratios[h]) / 2,
  };
}

const f = (x, d) => (x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(d));
const pct = (x) => (x === null || x === undefined ? 'n/a' : `${(100 * x).toFixed(0)} %`);
const label = (name) => METHODS.find((x) => x[0] === name)?.[1] ?? name;

function collect() {
  const rows = [];
  for (const m of models(true)) {
    for (const task of TASKS) {
      const dir = resolve(root, out, m.name, task);
      if (!existsSync(join(dir, 'results.json')) || !existsSync(join(dir, 'path.json'))) continue;
      const v = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
      const p = JSON.parse(readFileSync(join(dir, 'path.json'), 'utf8'));
      rows.push({ model: m.name, task, edges: v.edges, examples: v.examples, baseline: v.baseline, exact: v.exact.faithfulness,
        variants: v.variants.map((x) => ({ name: x.name, spearman: x.spearman, kendall: x.kendall, precision: x.precision, cpr: x.faithfulness.cpr, cmd: x.faithfulness.cmd })),
        path: p.summary, straight: cleanEnd(p) });
    }
  }
  const md = [];
  md.push('## Saturation and EAP per testbed', '',
    '| model | task | edges | m(M) | m(∅) | straight path saturated | saturated, t < ½ | \\|slope\\| at clean / mean (median) | EAP Spearman | EAP-IG 5 Spearman | EAP CPR | exact CPR |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    const eap = r.variants.find((x) => x.name === 'eap');
    const ig = r.variants.find((x) => x.name === 'eap-ig:steps=5');
    md.push(`| ${r.model} | ${r.task} | ${r.edges} | ${f(r.baseline.clean, 3)} | ${f(r.baseline.corrupted, 3)} | ${pct(r.path.straight.saturated)} | ${pct(r.straight.saturatedFirstHalf)} | ${f(r.straight.cleanSlopeRatio, 2)} | ${f(eap?.spearman, 4)} | ${f(ig?.spearman, 4)} | ${f(eap?.cpr, 4)} | ${f(r.exact.cpr, 4)} |`);
  }
  md.push('', '## GradPath diagnostics (eapgp path, 16 prompts)', '',
    '| model | task | variant | J monotone | J end < start | J fraction (median) | metric fraction (median) | saturated |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    for (const g of r.path.gradpaths) {
      md.push(`| ${r.model} | ${r.task} | ${g.name} | ${pct(g.monotone)} | ${pct(g.jBelow)} | ${f(g.jFraction, 2)} | ${f(g.metricFraction, 2)} | ${pct(g.saturated)} |`);
    }
  }
  for (const r of rows) {
    const topN = r.variants[0]?.precision.map((x) => x.n) ?? [];
    md.push('', `## ${r.model} × ${r.task} (${r.examples} prompts, ${r.edges} edges; exact CPR ${f(r.exact.cpr, 4)}, CMD ${f(r.exact.cmd, 4)})`, '',
      `| method | Spearman | Kendall | ${topN.map((n) => `P@${n}`).join(' | ')} | CPR | CMD |`,
      `| --- | ---: | ---: | ${topN.map(() => '---:').join(' | ')} | ---: | ---: |`);
    for (const x of r.variants) {
      md.push(`| ${label(x.name)} | ${f(x.spearman, 4)} | ${f(x.kendall, 4)} | ${x.precision.map((p) => f(p.precision, 3)).join(' | ')} | ${f(x.cpr, 4)} | ${f(x.cmd, 4)} |`);
    }
  }
  md.push('', `Methods: ${METHODS.map(([spec, name]) => `${name} = \`${spec}\``).join('; ')}.`, '');
  mkdirSync(resolve(root, out), { recursive: true });
  writeFileSync(resolve(root, out, 'tables.md'), md.join('\n'));
  writeFileSync(resolve(root, out, 'study.json'), JSON.stringify(rows, null, 2) + '\n');
  console.error(`wrote ${join(out, 'tables.md')} and ${join(out, 'study.json')} (${rows.length} model × task runs)`);
}

if (!values.collect) for (const m of models()) for (const task of TASKS) run(m, task);
collect();
