/**
 * Dataset generators (src/tasks/generators) and `eapgp tasks`: for each of the six tasks, a generated file
 * loads with the task's own loader, has single-token answers and sensible labels, and is byte-identical for
 * the same seed; the CLI lists and makes datasets; the `custom` task loads a hand-written CSV and its metric
 * matches a hand computation.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formatCsv, generate, generators, writeDataset } from '../src/tasks/generators/index.js';
import { getTask, mibTaskNames, taskNames, type Label, type TaskExample } from '../src/tasks/index.js';
import { loadTokenizer } from '../src/tokenizer/index.js';
import { readCsv } from '../src/util/csv.js';
import { isUserError } from '../src/util/errors.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const tok = loadTokenizer();
const tmp = mkdtempSync(join(tmpdir(), 'eapgp-gen-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function eapgp(args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** True when `id` is a token that round-trips as one token: a real single-token answer. */
function isSingleToken(id: number): boolean {
  const ids = tok.encode(tok.tokenString(id));
  return ids.length === 1 && ids[0] === id;
}

/** Generates n = 60 rows, writes them (each task in its own folder, for sva's verb list) and loads them. */
function makeAndLoad(task: string, seed: number) {
  const ds = generate(task, { n: 60, seed });
  const dir = join(tmp, `${task}-${seed}`);
  mkdirSync(dir, { recursive: true });
  const csv = join(dir, `${task}.csv`);
  writeDataset(ds, csv);
  return { ds, csv, examples: getTask(task).load(csv, tok) };
}

test('there is a generator for each of the six tasks, in DESIGN.md order', () => {
  assert.deepEqual(generators.map((g) => g.name), [...taskNames]);
});

/** Task-specific label checks on the loaded examples and the CSV's text columns. */
const CHECKS: Record<string, (ex: TaskExample<Label>[], csv: string) => void> = {
  ioi(ex, csv) {
    const t = readCsv(csv);
    ex.forEach((e, i) => {
      assert.equal(e.label.kind, 'logit-diff');
      if (e.label.kind !== 'logit-diff') return;
      assert.notEqual(e.label.correct, e.label.incorrect);
      const [clean, corrupted] = t.rows[i]!.values as [string, string];
      const io = tok.tokenString(e.label.correct);
      const s = tok.tokenString(e.label.incorrect);
      // IO once, S twice in clean; corrupted swaps S2 for a third name, so S appears once there.
      assert.equal(clean.split(io + ' ').length - 1 + clean.split(io + ',').length - 1, 1, clean);
      assert.equal(clean.split(s).length - 1, 2, clean);
      assert.equal(corrupted.split(s).length - 1, 1, corrupted);
      assert.notEqual(clean, corrupted);
    });
  },
  'greater-than'(ex, csv) {
    const t = readCsv(csv);
    ex.forEach((e, i) => {
      assert.equal(e.label.kind, 'greater-than');
      if (e.label.kind !== 'greater-than') return;
      assert.ok(e.label.year >= 2 && e.label.year <= 98, `YY ${e.label.year}`);
      const [clean, corrupted] = t.rows[i]!.values as [string, string];
      const cc = clean.slice(-2);
      assert.ok(clean.includes(`year ${cc}${String(e.label.year).padStart(2, '0')} to`), clean);
      assert.ok(corrupted.includes(`year ${cc}01 to`), corrupted);
      // The clean year's last token is the "YY" token the metric reads.
      assert.equal(e.clean[e.clean.length - 5], e.label.yearIds[e.label.year]);
    });
  },
  sva(ex, csv) {
    const t = readCsv(csv);
    const verbs = readCsv(join(csv, '..', 'combined_verb_list.csv'));
    assert.deepEqual(verbs.header, ['sing', 'plur']);
    for (const r of verbs.rows) for (const v of r.values) assert.equal(tok.encode(' ' + v).length, 1, v);
    const plurals = ex.map((e) => (e.label.kind === 'sva' && e.label.plural ? 1 : 0));
    assert.ok(plurals.includes(0) && plurals.includes(1));
    ex.forEach((e, i) => {
      assert.equal(e.label.kind, 'sva');
      if (e.label.kind !== 'sva') return;
      assert.equal(e.label.verbs.singular.length, verbs.rows.length);
      const [clean, corrupted] = t.rows[i]!.values as [string, string];
      assert.notEqual(clean, corrupted);
      assert.equal(clean.split(' ').slice(2).join(' '), corrupted.split(' ').slice(2).join(' ')); // only the subject differs
    });
  },
  'gender-bias'(ex, csv) {
    const t = readCsv(csv);
    ex.forEach((e, i) => {
      assert.equal(e.label.kind, 'logit-diff');
      if (e.label.kind !== 'logit-diff') return;
      assert.deepEqual([e.label.correct, e.label.incorrect].sort((a, b) => a - b), [339, 673]);
      const [, corrupted, , , label] = t.rows[i]!.values;
      assert.equal(label, e.label.correct === 339 ? '1' : '0');
      assert.ok(corrupted!.startsWith(e.label.correct === 339 ? 'The woman ' : 'The man '), corrupted);
    });
  },
  'capital-country'(ex, csv) {
    const t = readCsv(csv);
    ex.forEach((e, i) => {
      assert.equal(e.label.kind, 'logit-diff');
      if (e.label.kind !== 'logit-diff') return;
      assert.notEqual(e.label.correct, e.label.incorrect);
      const [clean, capital, country] = t.rows[i]!.values;
      assert.equal(clean, ` ${capital}, the capital of`);
      assert.equal(tok.tokenString(e.label.correct), ' ' + country);
    });
  },
  hypernymy(ex) {
    for (const e of ex) {
      assert.equal(e.label.kind, 'hypernymy');
      if (e.label.kind !== 'hypernymy') return;
      const { answers, corrupted } = e.label;
      assert.ok(answers.length > 0 && corrupted.length > 0);
      assert.ok(answers.every((id) => !corrupted.includes(id)), 'answer sets are disjoint');
    }
  },
};

for (const task of taskNames) {
  test(`${task}: 60 generated rows load with equal lengths, single-token answers and sensible labels`, () => {
    const { ds, csv, examples } = makeAndLoad(task, 7);
    assert.equal(ds.rows.length, 60);
    assert.deepEqual(readCsv(csv).header, [...ds.columns]);
    assert.equal(examples.length, 60);
    for (const e of examples) {
      assert.equal(e.clean.length, e.corrupted.length);
      const l = e.label;
      const ids = l.kind === 'logit-diff' ? [l.correct, l.incorrect] : l.kind === 'hypernymy' ? [...l.answers, ...l.corrupted] : [];
      for (const id of ids) assert.ok(isSingleToken(id), `answer ${id} is a single token`);
    }
    CHECKS[task]!(examples, csv);
    const sum = Object.values(ds.dropped.byReason).reduce((a, b) => a + b, 0);
    assert.equal(ds.dropped.total, sum);
  });

  test(`${task}: the same seed gives byte-identical files, another seed a different file`, () => {
    const a = readFileSync(makeAndLoad(task, 3).csv);
    const b = readFileSync(makeAndLoad(task, 3).csv); // the same path, rewritten
    assert.deepEqual(a, b);
    assert.equal(formatCsv(generate(task, { n: 60, seed: 3 })), a.toString('utf8'));
    assert.notEqual(formatCsv(generate(task, { n: 60, seed: 4 })), a.toString('utf8'));
  });
}

test('words that cannot fit are dropped and counted by reason', () => {
  // " 1850" is one GPT-2 token, so such years cannot give a YY answer.
  assert.ok((generate('greater-than', { n: 5 }).dropped.byReason['year does not tokenize as CC|YY'] ?? 0) > 0);
  assert.ok((generate('gender-bias', { n: 5 }).dropped.byReason['profession is not a single token'] ?? 0) > 0);
});

test('bad generator options are UserErrors', () => {
  assert.throws(() => generate('ioi', { n: 0 }), isUserError);
  assert.throws(() => generate('ioi', { n: 5, seed: -1 }), isUserError);
  assert.throws(() => generate('nope', { n: 5 }), (e: unknown) => isUserError(e) && /generated tasks: ioi/.test((e as Error).message));
});

test('eapgp tasks list names every task with its metric and columns', () => {
  const r = eapgp(['tasks', 'list']);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trim().split('\n');
  assert.deepEqual(lines.map((l) => l.split(/\s+/)[0]), [...taskNames, 'custom', ...mibTaskNames]);
  assert.match(lines.at(-1)!, /^mib-arc-challenge\s+logit-diff\s+prompt,choices\.label,answerKey,symbol_counterfactual\.prompt,.*MIB circuit track, its own JSON files \(eapgp data fetch mib-arc-challenge/);
  assert.match(lines[0]!, /^ioi\s+logit-diff\s+clean,corrupted,correct_idx,incorrect_idx\s+\S/);
  assert.match(lines[1]!, /^greater-than\s+prob-diff\s+/);
});

test('eapgp tasks make writes the file (and sva its verb list) and reports rows and drops on stderr', () => {
  const out = join(tmp, 'cli', 'sva.csv');
  const r = eapgp(['tasks', 'make', 'sva', '--n', '25', '--seed', '5', '--out', out]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, '');
  assert.match(r.err, /25 rows; dropped \d+/);
  assert.equal(readFileSync(out, 'utf8'), formatCsv(generate('sva', { n: 25, seed: 5 })));
  assert.equal(getTask('sva').load(out, tok).length, 25);
  const bad = eapgp(['tasks', 'make', 'ioi', '--out', join(tmp, 'cli', 'x.csv')]);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /--n is required/);
  const unknown = eapgp(['tasks', 'make', 'nope', '--n', '3', '--out', join(tmp, 'cli', 'y.csv')]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.err, /no generator for task "nope"/);
});

/** Writes a custom-task CSV and loads it. */
function loadCustom(name: string, text: string) {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return getTask('custom').load(p, tok);
}

test('custom task: logit-diff and prob-diff from a hand-written CSV match a hand computation', () => {
  const logits = new Float32Array([0.5, 2, -1, 0.25, 1]);
  const ld = loadCustom('ld.csv', 'clean,corrupted,answer,wrong\nThe cat,The dog,1,3\n');
  assert.equal(ld.length, 1);
  assert.deepEqual(ld[0]!.label, { kind: 'logit-diff', correct: 1, incorrect: 3 });
  assert.ok(Math.abs(getTask('custom').metric(logits, 1, 5, [ld[0]!.label])[0]! - 1.75) < 1e-6);

  const pd = loadCustom('pd.csv', 'clean,corrupted,answer,wrong,metric\nThe cat,The dog,"[1, 2]",3,prob-diff\nA cat,A dog,4,[0],prob-diff\n');
  const z = [...logits].reduce((s, x) => s + Math.exp(x), 0);
  const p = (i: number): number => Math.exp(logits[i]!) / z;
  const m = getTask('custom').metric(new Float32Array([...logits, ...logits]), 2, 5, pd.map((e) => e.label));
  assert.ok(Math.abs(m[0]! - (p(1) + p(2) - p(3))) < 1e-6);
  assert.ok(Math.abs(m[1]! - (p(4) - p(0))) < 1e-6);
});

test('custom task: lists need prob-diff, one metric per file, and the answer columns are required', () => {
  assert.throws(() => loadCustom('e1.csv', 'clean,corrupted,answer,wrong\nThe cat,The dog,"[1, 2]",3\n'), (e: unknown) => isUserError(e) && /row 1, column "answer".*prob-diff/.test((e as Error).message));
  assert.throws(() => loadCustom('e2.csv', 'clean,corrupted,answer,wrong,metric\na,b,1,2,logit-diff\na,b,1,2,prob-diff\n'), (e: unknown) => isUserError(e) && /row 2.*one metric per file/.test((e as Error).message));
  assert.throws(() => loadCustom('e3.csv', 'clean,corrupted,answer,wrong,metric\na,b,1,2,kl\n'), (e: unknown) => isUserError(e) && /"kl" is not a metric/.test((e as Error).message));
  assert.throws(() => loadCustom('e4.csv', 'clean,corrupted,answer\na,b,1\n'), (e: unknown) => isUserError(e) && /missing column "wrong"/.test((e as Error).message));
});
