/**
 * Task loading and batching (src/tasks): every row of the six tasks' CSVs (our generated fixtures, and the
 * EAP-IG paper's GPT-2 files when fetched) loads with equal clean/corrupted lengths and the labels their
 * columns hold, bad input fails with a UserError naming the file, row and column, `batches` pads on the right
 * and keeps row order, and the sva verb sets match the oracle's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { batches, getTask, svaVerbIds, taskNames, yearTokenIds, type Label, type TaskExample } from '../src/tasks/index.js';
import { loadTokenizer } from '../src/tokenizer/index.js';
import { columnIndex, readCsv } from '../src/util/csv.js';
import { isUserError } from '../src/util/errors.js';
import { FIXTURES, fixtureCsv, gpt2TokenizerDir, published } from './helpers/data.js';

const tok = loadTokenizer(gpt2TokenizerDir());
const oracle = JSON.parse(readFileSync(join(FIXTURES, 'tasks', 'metrics.json'), 'utf8')) as {
  tasks: Record<string, { singular?: number[]; plural?: number[]; yearIds?: number[] }>;
};
const paperCsv = (task: string): string => published(task).path(`${task}/eapig-faithfulness_gpt2.csv`);

function isId(x: unknown): boolean {
  return Number.isInteger(x) && (x as number) >= 0 && (x as number) < tok.vocabSize;
}

test('registry: six tasks in DESIGN.md order, unknown names rejected', () => {
  assert.deepEqual(taskNames, ['ioi', 'greater-than', 'sva', 'gender-bias', 'capital-country', 'hypernymy']);
  assert.deepEqual(taskNames.map((n) => getTask(n).metricKind), ['logit-diff', 'prob-diff', 'prob-diff', 'logit-diff', 'logit-diff', 'prob-diff']);
  assert.throws(() => getTask('iio'), (e: unknown) => isUserError(e) && /unknown task "iio".*ioi, greater-than/.test((e as Error).message));
});

/** Checks every loaded example against its kind and against the label columns of the CSV read independently. */
function checkLoaded(name: string, csv: string, ex: TaskExample<Label>[]): void {
  const t = readCsv(csv);
  const col = (c: string): string[] => t.rows.map((r) => r.values[columnIndex(t, c)]!);
  assert.equal(ex.length, t.rows.length);
  ex.forEach((e, i) => {
    assert.equal(e.row, i + 1);
    assert.equal(e.clean.length, e.corrupted.length, `row ${e.row}`);
    assert.ok(e.clean.length >= 2);
    assert.equal(e.clean[0], 50256);
    assert.equal(e.corrupted[0], 50256);
    assert.deepEqual(e.clean.slice(1), tok.encode(col('clean')[i]!), `row ${e.row}: clean tokens`);
    assert.deepEqual(e.corrupted.slice(1), tok.encode(col('corrupted')[i]!), `row ${e.row}: corrupted tokens`);
    const l: Label = e.label;
    switch (name) {
      case 'ioi':
      case 'gender-bias':
      case 'capital-country': {
        const [c, w] = { ioi: ['correct_idx', 'incorrect_idx'], 'gender-bias': ['clean_answer_idx', 'corrupted_answer_idx'], 'capital-country': ['country_idx', 'corrupted_country_idx'] }[name];
        assert.ok(l.kind === 'logit-diff' && isId(l.correct) && isId(l.incorrect) && l.correct !== l.incorrect, `row ${e.row}`);
        assert.deepEqual([l.correct, l.incorrect], [Number(col(c!)[i]), Number(col(w!)[i])], `row ${e.row}`);
        if (name === 'gender-bias') assert.ok([339, 673].includes(l.correct) && [339, 673].includes(l.incorrect));
        break;
      }
      case 'greater-than':
        assert.ok(l.kind === 'greater-than' && l.year >= 2 && l.year <= 98);
        assert.equal(l.year, Number(col('correct_idx')[i]));
        assert.deepEqual(l.yearIds, oracle.tasks['greater-than']!.yearIds);
        break;
      case 'sva':
        assert.ok(l.kind === 'sva' && l.plural === (col('plural')[i] === '1'), `row ${e.row}`);
        assert.equal(l.verbs, (ex[0]!.label as typeof l).verbs, 'all rows share one verb-set object');
        break;
      case 'hypernymy':
        assert.ok(l.kind === 'hypernymy' && l.answers.length >= 1 && l.corrupted.length >= 1);
        assert.ok([...l.answers, ...l.corrupted].every(isId));
        assert.deepEqual([l.answers, l.corrupted], [JSON.parse(col('answers_idx')[i]!), JSON.parse(col('corrupted_answers_idx')[i]!)], `row ${e.row}`);
        break;
    }
  });
}

for (const name of taskNames) {
  test(`${name}: every row of the fixture CSV loads`, () => {
    const ex = getTask(name).load(fixtureCsv(name), tok);
    assert.equal(ex.length, 24);
    checkLoaded(name, fixtureCsv(name), ex);
  });
}

const PAPER_ROWS: Record<string, number> = { ioi: 1000, 'greater-than': 1000, sva: 12400, 'gender-bias': 986, 'capital-country': 190, hypernymy: 198 };
for (const name of taskNames) {
  test(`${name}: every row of the EAP-IG paper's GPT-2 CSV loads`, { skip: published(name).skip }, () => {
    const ex = getTask(name).load(paperCsv(name), tok);
    assert.equal(ex.length, PAPER_ROWS[name]);
    checkLoaded(name, paperCsv(name), ex);
  });
}

test('sva verb ids of the fixture\'s verb list: the same ids as the oracle', () => {
  const v = svaVerbIds(tok, join(dirname(fixtureCsv('sva')), 'combined_verb_list.csv'));
  assert.deepEqual(v.singular, oracle.tasks['sva']!.singular);
  assert.deepEqual(v.plural, oracle.tasks['sva']!.plural);
  assert.ok(v.singular.includes(318) && v.plural.includes(389)); // " is", " are"
});

test('sva verb ids of the EAP-IG paper\'s verb list: 938 singular / 935 plural for GPT-2', { skip: published('sva').skip }, () => {
  const v = svaVerbIds(tok, published('sva').path('sva/eapig-faithfulness_combined_verb_list.csv'));
  assert.equal(v.singular.length, 938);
  assert.equal(v.plural.length, 935);
  assert.ok(v.singular.includes(318) && v.plural.includes(389)); // " is", " are"
});

test('greater-than year ids are the first tokens of "00".."99"', () => {
  const ids = yearTokenIds(tok);
  assert.equal(new Set(ids).size, 100);
  assert.equal(tok.decode([ids[7]!]), '07');
  assert.equal(tok.decode([ids[52]!]), '52');
});

test('--limit takes the first N rows in file order', () => {
  const all = getTask('ioi').load(fixtureCsv('ioi'), tok);
  const some = getTask('ioi').load(fixtureCsv('ioi'), tok, { limit: 7 });
  assert.deepEqual(some, all.slice(0, 7));
  assert.equal(getTask('capital-country').load(fixtureCsv('capital-country'), tok, { limit: 5000 }).length, 24);
  assert.throws(() => getTask('ioi').load(fixtureCsv('ioi'), tok, { limit: 0 }), (e: unknown) => isUserError(e) && /--limit/.test((e as Error).message));
});

test('batches: right padding with BOS, shared P and lengths, row order kept', () => {
  const mk = (row: number, n: number): TaskExample => ({
    row,
    clean: [50256, ...Array.from({ length: n - 1 }, (_, i) => 100 * row + i)],
    corrupted: [50256, ...Array.from({ length: n - 1 }, (_, i) => 100 * row + 50 + i)],
    label: { kind: 'logit-diff', correct: row, incorrect: row + 1 },
  });
  const ex = [mk(1, 3), mk(2, 5), mk(3, 2), mk(4, 4), mk(5, 6)];
  const bs = batches(ex, 2);
  assert.deepEqual(bs.map((b) => b.n), [2, 2, 1]);
  assert.deepEqual(bs.map((b) => b.rows), [[1, 2], [3, 4], [5]]);
  assert.deepEqual(bs.map((b) => b.labels.map((l) => l.kind === 'logit-diff' && l.correct)), [[1, 2], [3, 4], [5]]);
  for (const b of bs) {
    assert.equal(b.clean.P, b.corrupted.P);
    assert.equal(b.clean.B, b.n);
    assert.deepEqual([...b.clean.lengths], [...b.corrupted.lengths]);
  }
  const b0 = bs[0]!;
  assert.equal(b0.clean.P, 5);
  assert.deepEqual([...b0.clean.lengths], [3, 5]);
  assert.deepEqual([...b0.clean.ids], [50256, 100, 101, 50256, 50256, 50256, 200, 201, 202, 203]);
  assert.deepEqual([...b0.corrupted.ids], [50256, 150, 151, 50256, 50256, 50256, 250, 251, 252, 253]);
  assert.deepEqual(batches([], 4), []);
  assert.throws(() => batches(ex, 0), (e: unknown) => isUserError(e) && /--batch-size/.test((e as Error).message));

  // A task file: 23 ioi rows in batches of 10.
  const real = batches(getTask('ioi').load(fixtureCsv('ioi'), tok, { limit: 23 }), 10);
  assert.deepEqual(real.map((b) => b.n), [10, 10, 3]);
  assert.deepEqual(real.flatMap((b) => b.rows), Array.from({ length: 23 }, (_, i) => i + 1));
});

// ---------------------------------------------------------------- bad input

const tmp = mkdtempSync(join(tmpdir(), 'eapgp-tasks-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
let nFiles = 0;
function csvFile(text: string, dir = tmp): string {
  const p = join(dir, `t${nFiles++}.csv`);
  writeFileSync(p, text);
  return p;
}

/** Asserts a UserError whose message matches every pattern. */
function rejects(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isUserError(e), `not a UserError: ${String(e)}`);
    for (const p of patterns) assert.match((e as Error).message, p);
    return true;
  });
}

const IOI_OK = 'clean,corrupted,correct_idx,incorrect_idx\n' +
  '"When Mary and John went to the store, John gave a drink to","When Mary and John went to the store, Paul gave a drink to",5335,1757\n';

test('bad input: missing column names the file and the columns the task needs', () => {
  const p = csvFile('clean,corrupted,correct_idx\na,b,1\n');
  rejects(() => getTask('ioi').load(p, tok), new RegExp(p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), /missing column "incorrect_idx"/, /needs columns clean, corrupted, correct_idx, incorrect_idx/);
  rejects(() => getTask('greater-than').load(csvFile('clean,corrupted,year\na,b,5\n'), tok), /missing column "correct_idx" or "label"/);
  rejects(() => getTask('hypernymy').load(csvFile('clean,answers_idx,corrupted_answers_idx\na,[1],[2]\n'), tok), /missing column "corrupted"/);
});

test('bad input: clean and corrupted of different token lengths name the row', () => {
  const p = csvFile(IOI_OK + IOI_OK.split('\n')[1]!.replace('Paul gave', 'Paul then gave') + '\n');
  rejects(() => getTask('ioi').load(p, tok), /row 2 \(line 3\)/, /clean has 15 tokens but corrupted has 16/, /same number of tokens/);
  assert.equal(getTask('ioi').load(p, tok, { limit: 1 }).length, 1); // row 2 is never read
});

test('bad input: token ids outside the vocabulary or not integers', () => {
  rejects(() => getTask('ioi').load(csvFile(IOI_OK + IOI_OK.split('\n')[1]!.replace(',5335,', ',50257,') + '\n'), tok),
    /row 2 \(line 3\), column "correct_idx": token id 50257 is outside the vocabulary \(0\.\.50256\)/);
  rejects(() => getTask('ioi').load(csvFile(IOI_OK.replace(',1757', ',-1')), tok), /row 1 .*column "incorrect_idx": token id -1/);
  rejects(() => getTask('capital-country').load(csvFile('clean,corrupted,country_idx,corrupted_country_idx\n" Paris, the capital of"," Rome, the capital of",France,8031\n'), tok),
    /row 1 .*column "country_idx": "France" is not an integer/);
  rejects(() => getTask('hypernymy').load(csvFile('clean,corrupted,answers_idx,corrupted_answers_idx\n", cats and other",", dogs and other","[123, 99999]",[5]\n'), tok),
    /column "answers_idx": token id 99999 is outside/);
});

test('bad input: malformed or empty id lists (hypernymy)', () => {
  const hyp = (a: string): string => csvFile(`clean,corrupted,answers_idx,corrupted_answers_idx\n", cats and other",", dogs and other","${a}",[5]\n`);
  for (const bad of ['[1, 2', '1, 2', '[1; 2]', "['gem', 'gems']", '[1,,2]', '[1.5]']) {
    rejects(() => getTask('hypernymy').load(hyp(bad), tok), /row 1 \(line 2\), column "answers_idx": .* is not a list of token ids/);
  }
  rejects(() => getTask('hypernymy').load(hyp('[]'), tok), /column "answers_idx": the list is empty/);
  const ok = getTask('hypernymy').load(hyp(' [ 7 ,8,7 ] '), tok);
  assert.deepEqual(ok[0]!.label, { kind: 'hypernymy', answers: [7, 8, 7], corrupted: [5] });
});

test('bad input: empty file, header only, missing file', () => {
  rejects(() => getTask('ioi').load(csvFile(''), tok), /empty file/);
  rejects(() => getTask('ioi').load(csvFile('clean,corrupted,correct_idx,incorrect_idx\n'), tok), /no data rows/);
  rejects(() => getTask('ioi').load(join(tmp, 'nope.csv'), tok), /nope\.csv: no such file/);
});

test('greater-than: a "label" column is accepted; YY must be 0..99', () => {
  const row = 'The war lasted from the year 1732 to the year 17,The war lasted from the year 1701 to the year 17';
  const ex = getTask('greater-than').load(csvFile(`clean,corrupted,label\n${row},32\n`), tok);
  assert.equal(ex[0]!.label.kind === 'greater-than' && ex[0]!.label.year, 32);
  rejects(() => getTask('greater-than').load(csvFile(`clean,corrupted,correct_idx\n${row},100\n`), tok), /column "correct_idx": 100 is out of range/);
});

test('sva: verb list next to the CSV or explicit; plural must be 0/1; missing list explained', () => {
  const dir = mkdtempSync(join(tmp, 'sva-'));
  const data = csvFile('clean,corrupted,plural\nThe dog,The dogs,0\nThe cats,The cat,1\n', dir);
  rejects(() => getTask('sva').load(data, tok), /needs a verb list/, /combined_verb_list\.csv/, /--verbs/);
  const verbs = join(dir, 'my-verbs.csv');
  writeFileSync(verbs, 'sing,plur\nis,are\nruns,run\n');
  const ex = getTask('sva').load(data, tok, { verbs });
  const l0 = ex[0]!.label;
  assert.ok(l0.kind === 'sva' && l0.plural === false);
  assert.deepEqual(l0.kind === 'sva' && l0.verbs, { singular: [318, 4539], plural: [389, 1057] }); // " is", " runs" / " are", " run"
  assert.ok(ex[1]!.label.kind === 'sva' && ex[1]!.label.plural);
  writeFileSync(join(dir, 'combined_verb_list.csv'), 'sing,plur\nis,are\n');
  const l1 = getTask('sva').load(data, tok)[0]!.label;
  assert.deepEqual(l1.kind === 'sva' && l1.verbs, { singular: [318], plural: [389] });
  rejects(() => getTask('sva').load(data, tok, { verbs: join(dir, 'missing.csv') }), /missing\.csv: no such verb-list file/);
  rejects(() => getTask('sva').load(csvFile('clean,corrupted,plural\nThe dog,The dogs,2\n', dir), tok), /row 1 .*column "plural": 2 is out of range/);
});
