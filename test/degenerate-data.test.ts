/**
 * Degenerate data is flagged wherever faithfulness is reported: rows whose clean and corrupted prompts are the
 * same, and a gap m(M) − m(∅) too small for F to mean anything (src/evaluation/degenerate.ts), in evaluate (on
 * stderr and in its JSON), mib evaluate (the same rule, stderr and JSON), validate (summary.md, results.json) and reproduce (its log, report.md,
 * results.json). Data and models come from the project's own generators.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gapSpread, gapWarning, minMeaningfulGap, MIN_GAP_EFFECT_SIZE, MIN_GAP_STANDARD_ERRORS } from '../src/evaluation/degenerate.js';
import { createEngine } from '../src/engine/engine.js';
import { baselineValues } from '../src/evaluation/evaluate.js';
import { loadModel } from '../src/models/load.js';
import { getTask } from '../src/tasks/index.js';
import { identicalRowsWarning, prepareTaskData } from '../src/tasks/prepare.js';
import { loadTokenizer } from '../src/tokenizer/index.js';
import { parseCsv } from '../src/util/csv.js';
import { eapgp, makeModel, makeTaskData } from './helpers/cli.js';

const DEFAULT_MODEL = fileURLToPath(new URL('../../models/default/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'eapgp-degenerate-'));
const random = join(tmp, 'random'); // a random model does not perform any task: its gaps are noise
const ioi = join(tmp, 'ioi.csv');
const twins = join(tmp, 'ioi-twins.csv'); // rows 3 and 5 with corrupted = clean
const same = join(tmp, 'same', 'ioi.csv'); // every row so: m(M) − m(∅) is exactly 0, whatever the model
before(() => {
  makeModel(random);
  makeTaskData('ioi', 10, ioi, 4);
  const t = parseCsv(readFileSync(ioi, 'utf8'), ioi);
  const [c, k] = [t.header.indexOf('clean'), t.header.indexOf('corrupted')];
  const q = (v: string): string => `"${v.replace(/"/g, '""')}"`;
  const copy = (file: string, twin: (row: number) => boolean): void => {
    const rows = t.rows.map((r, i) => r.values.map((v, j) => (j === k && twin(i + 1) ? r.values[c]! : v)).map(q).join(','));
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, [t.header.join(','), ...rows].join('\n') + '\n');
  };
  copy(twins, (row) => row === 3 || row === 5);
  copy(same, () => true);
});
after(() => rmSync(tmp, { recursive: true, force: true }));

test('the gap rule: established (2 standard errors) and not negligible (0.2 sd), whichever is stricter', () => {
  assert.equal(MIN_GAP_STANDARD_ERRORS, 2);
  assert.equal(MIN_GAP_EFFECT_SIZE, 0.2);
  // gaps 1, 3, 5, 7: mean 4, sample sd √(20/3)
  const s = gapSpread([2, 4, 6, 8], [1, 1, 1, 1]);
  assert.equal(s.n, 4);
  assert.ok(Math.abs(s.sd - Math.sqrt(20 / 3)) < 1e-12);
  assert.ok(Math.abs(minMeaningfulGap({ sd: 1, n: 25 }) - 0.4) < 1e-12); // 2/√25 beats 0.2 below 100 examples
  assert.ok(Math.abs(minMeaningfulGap({ sd: 1, n: 400 }) - 0.2) < 1e-12); // 0.2 beats 2/√400 above
  assert.equal(gapSpread([1], [0]).sd, 0);

  // the paper's IOI data on the built-in model: m(M) −0.011, m(∅) −0.005, per-example gaps of about ±0.9
  const ioiOnDefault = gapWarning({ clean: -0.011, corrupted: -0.005, spread: { sd: 0.9, n: 1000 } });
  assert.match(ioiOnDefault ?? '', /^m\(M\) − m\(∅\) = -0\.0060 is too small .*per-example sd 0\.9000, n = 1000; F needs \|m\(M\) − m\(∅\)\| ≥ 0\.1800/);
  assert.match(ioiOnDefault ?? '', /faithfulness F = .* means nothing on this data/);
  // a task the model performs: generated IOI on the built-in model (m(M) 19.2, m(∅) −1.6, sd 18.3)
  assert.equal(gapWarning({ clean: 19.2, corrupted: -1.6, spread: { sd: 18.3, n: 100 } }), null);
  // significant yet negligible: 10,000 examples establish a gap of 0.05 sd, which no circuit can be measured against
  assert.notEqual(gapWarning({ clean: 0.05, corrupted: 0, spread: { sd: 1, n: 10_000 } }), null);
  // large but unestablished: 4 examples scattered far more than their mean gap
  assert.notEqual(gapWarning({ clean: 1, corrupted: 0, spread: { sd: 3, n: 4 } }), null);
  assert.match(gapWarning({ clean: 0.3, corrupted: 0.3 }) ?? '', /^m\(M\) − m\(∅\) = 0: /);
  assert.equal(gapWarning({ clean: 0.3, corrupted: 0.1 }), null, 'without the spread only an exact zero is flagged');
});

test('rows whose clean and corrupted prompts are identical are found and named', () => {
  const tok = loadTokenizer();
  const d = prepareTaskData(getTask('ioi'), twins, tok, { batchSize: 4 });
  assert.deepEqual(d.identicalRows, [3, 5]);
  assert.match(identicalRowsWarning(d) ?? '', /^2 of 10 rows of .*ioi-twins\.csv have identical clean and corrupted prompts \(rows 3, 5\)/);
  assert.deepEqual(prepareTaskData(getTask('ioi'), ioi, tok).identicalRows, []);
  assert.equal(identicalRowsWarning(prepareTaskData(getTask('ioi'), ioi, tok)), null);
});

test('evaluate warns on stderr and in its JSON; data the model solves gets no warning', () => {
  const graph = join(tmp, 'g.json');
  assert.equal(eapgp(['attribute', '--model', random, '--task', 'ioi', '--data', twins, '--method', 'eap', '--quiet', '--out', graph]).code, 0);
  const evaluate = (data: string, out: string) => {
    const r = eapgp(['evaluate', '--model', random, '--task', 'ioi', '--data', data, '--graph', graph, '--edges', '10', '--quiet', '--out', out, '--json']);
    assert.equal(r.code, 0, r.err);
    const warnings = (JSON.parse(readFileSync(out, 'utf8')) as { warnings: string[] }).warnings;
    assert.deepEqual(JSON.parse(r.out).warnings, warnings);
    for (const w of warnings) assert.ok(r.err.includes(`warning: ${w}`), 'each warning is also on stderr');
    return warnings;
  };
  assert.match(evaluate(twins, join(tmp, 'e1.json'))[0]!, /^2 of 10 rows .* \(rows 3, 5\)/);
  const none = evaluate(same, join(tmp, 'e2.json'));
  assert.equal(none.length, 2);
  assert.match(none[0]!, /^10 of 10 rows .* \(rows 1, 2, 3, 4, 5, 6, 7, 8, 9, 10\)/);
  assert.match(none[1]!, /^m\(M\) − m\(∅\) = 0: .* means nothing on this data/);

  if (!existsSync(join(DEFAULT_MODEL, 'config.json'))) return;
  const good = join(tmp, 'default.json');
  assert.equal(eapgp(['attribute', '--task', 'ioi', '--data', ioi, '--method', 'eap', '--quiet', '--out', good]).code, 0);
  const ok = eapgp(['evaluate', '--task', 'ioi', '--data', ioi, '--graph', good, '--edges', '20', '--quiet', '--json']);
  assert.equal(ok.code, 0, ok.err);
  assert.deepEqual(JSON.parse(ok.out).warnings, []);
  assert.doesNotMatch(ok.err, /warning/);
});

test('mib evaluate warns by evaluate\'s rule: a nonzero gap too small for its per-example spread, and identical rows', async () => {
  const graph = join(tmp, 'mib-g.json'), sub = join(tmp, 'mib');
  assert.equal(eapgp(['attribute', '--model', random, '--task', 'ioi', '--data', ioi, '--method', 'eap', '--quiet', '--out', graph]).code, 0);
  assert.equal(eapgp(['mib', 'export', '--graph', graph, '--model-name', 'tiny', '--out', sub]).code, 0);
  const mib = (data: string, out?: string) => {
    const r = eapgp(['mib', 'evaluate', '--model', random, '--task', 'ioi', '--data', data, '--submission', join(sub, 'ioi_tiny'), '--quiet', '--json', ...(out ? ['--out', out] : [])]);
    assert.equal(r.code, 0, r.err);
    const doc = JSON.parse(r.out) as { baseline: number; corrupted: number; spread: { sd: number; n: number }; warnings: string[] };
    for (const w of doc.warnings) assert.ok(r.err.includes(`warning: ${w}`), 'each warning is also on stderr');
    return doc;
  };
  const doc = mib(ioi, join(tmp, 'mib.json'));
  assert.deepEqual(JSON.parse(readFileSync(join(tmp, 'mib.json'), 'utf8')), doc);
  assert.equal(doc.spread.n, 10);
  const gap = doc.baseline - doc.corrupted;
  // a random model: the gap is not 0 (the old check passed it) but below what its spread allows
  assert.ok(gap !== 0 && Math.abs(gap) < minMeaningfulGap(doc.spread), `gap ${gap}, threshold ${minMeaningfulGap(doc.spread)}`);
  assert.equal(doc.warnings.length, 1);
  assert.match(doc.warnings[0]!, /^m\(M\) − m\(∅\) = .* is too small for its spread over the examples \(per-example sd .*, n = 10;/);
  // the same data through evaluate --fractions: the same baselines, so the same sentence
  const ev = eapgp(['evaluate', '--model', random, '--task', 'ioi', '--data', ioi, '--graph', graph, '--fractions', '--quiet', '--json']);
  assert.equal(ev.code, 0, ev.err);
  assert.deepEqual((JSON.parse(ev.out) as { warnings: string[] }).warnings, doc.warnings);
  assert.match(mib(twins).warnings[0]!, /^2 of 10 rows .* \(rows 3, 5\)/);
  // the spread is the sample sd of the per-example gaps, by hand from the clean and corrupted runs' values
  const e = await createEngine({ threads: 2 });
  try {
    const { model, tokenizer } = await loadModel(e, random, { quiet: true });
    const d = prepareTaskData(getTask('ioi'), ioi, tokenizer);
    const v = baselineValues(model, d.batches, d.metric);
    const gaps = v.clean.map((c, i) => c - v.corrupted[i]!);
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    const sd = Math.sqrt(gaps.reduce((a, g) => a + (g - mean) ** 2, 0) / (gaps.length - 1));
    assert.ok(Math.abs(doc.spread.sd - sd) <= 1e-5 * sd, `sd ${doc.spread.sd} vs ${sd}`);
    assert.ok(Math.abs(gap - mean) <= 1e-5 * sd, `gap ${gap} vs ${mean}`);
    model.dispose();
  } finally {
    await e.close();
  }
});

test('validate writes the warnings into summary.md and results.json', () => {
  const out = join(tmp, 'validate');
  const r = eapgp(['validate', '--model', random, '--task', 'ioi', '--data', same, '--variants', 'eap', '--batch-size', '5', '--quiet', '--out', out]);
  assert.equal(r.code, 0, r.err);
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { warnings: string[] };
  assert.equal(results.warnings.length, 2);
  const summary = readFileSync(join(out, 'summary.md'), 'utf8');
  for (const w of results.warnings) {
    assert.ok(summary.includes(`> **Warning:** ${w}.`), 'in summary.md');
    assert.ok(r.err.includes(`warning: ${w}`), 'on stderr');
  }
});

test('reproduce flags the data in its log, report.md and results.json, and keeps it across a resumed run', () => {
  const out = join(tmp, 'reproduce');
  const args = ['reproduce', '--model', random, '--tasks', 'ioi', '--methods', 'eap', '--data-dir', dirname(same), '--limit', '6', '--batch-size', '3', '--quiet', '--out', out];
  const r = eapgp(args);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /^warning: ioi: 6 of 6 rows .* identical clean and corrupted prompts/m);
  assert.match(r.err, /^warning: ioi: m\(M\) − m\(∅\) = 0: /m);
  const check = (): void => {
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { tasks: { ioi: { warnings: string[] } } };
    assert.equal(results.tasks.ioi.warnings.length, 2);
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    for (const w of results.tasks.ioi.warnings) assert.ok(report.includes(`- ioi: ${w}.`), 'in report.md');
  };
  check();
  const again = eapgp(args); // every pair finished: the report is rebuilt from the state files alone
  assert.equal(again.code, 0, again.err);
  assert.match(again.err, /finished earlier/);
  check();
});
