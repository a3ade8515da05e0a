/**
 * Tasks on a tokenizer other than GPT-2's (the fixtures of test/tokenizer-hf.test.ts): answers checked per
 * tokenizer (in context, so a SentencePiece dummy prefix does not split " he"), words whose answer is not one
 * token dropped with a warning and a count, none left an error; the loader prepends the tokenizer's BOS,
 * refuses out-of-vocabulary ids, and the published CSV is chosen by the tokenizer's kind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { taskCsvFile, taskFilesFor } from '../src/data/manifest.js';
import { dataDirCandidates, paperDataset } from '../src/reproduce/data.js';
import { generate, writeDataset } from '../src/tasks/generators/index.js';
import { getTask } from '../src/tasks/index.js';
import { singleTokenId } from '../src/tasks/single-token.js';
import { gpt2Builtin, loadTokenizer } from '../src/tokenizer/index.js';
import { isUserError } from '../src/util/errors.js';
import { FIXTURES, published } from './helpers/data.js';

const BYTE = join(FIXTURES, 'tokenizers', 'bytelevel');
const byte = loadTokenizer(BYTE);
const sp = loadTokenizer(join(FIXTURES, 'tokenizers', 'sentencepiece'));
const tmp = mkdtempSync(join(tmpdir(), 'eapgp-any-tok-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

function expectUserError(fn: () => unknown, ...fragments: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isUserError(e), `expected a UserError, got ${String(e)}`);
    for (const f of fragments) assert.ok((e as Error).message.includes(f), `message ${JSON.stringify((e as Error).message)} lacks ${JSON.stringify(f)}`);
    return true;
  });
}

/** The byte-level fixture with three IOI names added as whole words (ignore_merges reads them directly). */
function withNames(): ReturnType<typeof loadTokenizer> {
  const dir = join(tmp, 'names');
  mkdirSync(dir, { recursive: true });
  const json = JSON.parse(readFileSync(join(BYTE, 'tokenizer.json'), 'utf8'));
  json.added_tokens = json.added_tokens.map((t: { id: number }) => ({ ...t, id: t.id + 3 })); // 291, 292
  json.post_processor.special_tokens['<|begin_of_text|>'].ids = [291];
  ['Kate', 'Paul', 'Emma'].forEach((name, k) => (json.model.vocab[`\u0120${name}`] = 288 + k));
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json));
  for (const f of ['tokenizer_config.json', 'config.json']) copyFileSync(join(BYTE, f), join(dir, f));
  return loadTokenizer(dir);
}

test('single-token answers are read in context: the SentencePiece dummy prefix does not split " he"', () => {
  assert.equal(singleTokenId(sp, ' he'), 279); // alone: [259, 279]
  assert.equal(singleTokenId(sp, ' Mary'), 286);
  assert.equal(singleTokenId(sp, ' Kate'), undefined);
  assert.equal(singleTokenId(byte, ' she'), 260);
  assert.equal(singleTokenId(gpt2Builtin, ' he'), 339);
});

test('ioi on another tokenizer: names that are not one token are dropped, counted and warned about; rows load with its BOS', () => {
  const tok = withNames();
  const warnings: string[] = [];
  const ds = generate('ioi', { n: 12, seed: 2, tokenizer: tok, warn: (l) => warnings.push(l) });
  assert.deepEqual(warnings, [`ioi: dropped 31 of 34 names: answer not a single token for ${tok.name}`]);
  assert.equal(ds.dropped.byReason['name is not a single token'], 31);
  assert.equal(ds.rows.length, 12);
  const csv = join(tmp, 'ioi.csv');
  writeDataset(ds, csv);
  const examples = getTask('ioi').load(csv, tok);
  assert.equal(examples.length, 12);
  for (const e of examples) {
    assert.equal(e.clean[0], 291); // <|begin_of_text|>, prepended by the loader
    assert.equal(e.corrupted[0], 291);
    assert.equal(e.clean.filter((x) => x === 291).length, 1);
    const l = e.label as { correct: number; incorrect: number };
    assert.ok([288, 289, 290].includes(l.correct) && [288, 289, 290].includes(l.incorrect) && l.correct !== l.incorrect);
    assert.equal(e.clean.filter((x) => x === l.correct).length, 1); // IO once, S twice in the clean prompt
    assert.equal(e.clean.filter((x) => x === l.incorrect).length, 2);
  }
});

test('no single-token answer left, or a year split: a UserError naming the tokenizer', () => {
  expectUserError(() => generate('ioi', { n: 4, tokenizer: byte, warn: () => {} }), 'ioi: dropped 34 of 34 names: answer not a single token for hf:', 'none remain');
  expectUserError(() => generate('greater-than', { n: 4, tokenizer: byte }), 'every two-digit year "00".."99" as one token', 'splits 90 of them', '"10"');
  expectUserError(() => getTask('greater-than').load(join(FIXTURES, 'tasks', 'greater-than.csv'), sp), 'splits 100 of them');
});

test('a CSV whose token ids do not fit the vocabulary is refused, naming row and column', () => {
  // test/fixtures/tasks/ioi.csv holds GPT-2 ids (e.g. 14235-sized), far beyond this tokenizer's 290.
  expectUserError(() => getTask('ioi').load(join(FIXTURES, 'tasks', 'ioi.csv'), byte), 'ioi.csv: row 1', 'column "correct_idx"', 'outside the vocabulary (0..289)');
});

test('the published CSV follows the tokenizer: GPT-2 → gpt2.csv, Pythia → pythia.csv, others refused', () => {
  assert.equal(taskCsvFile('ioi'), 'ioi/eapig-faithfulness_gpt2.csv');
  assert.equal(taskCsvFile('ioi', 'neox'), 'ioi/eapig-faithfulness_pythia.csv');
  assert.deepEqual(taskFilesFor('sva', 'neox').map((f) => [f.file, f.path, f.size]), [
    ['sva/eapig-faithfulness_pythia.csv', 'data/sva/pythia.csv', 1155901],
    ['sva/eapig-faithfulness_combined_verb_list.csv', 'data/sva/combined_verb_list.csv', 38311],
  ]);
  assert.deepEqual(taskFilesFor('capital-country', 'gpt2').map((f) => f.path), ['data/fact-retrieval-comma/gpt2.csv']);
  assert.deepEqual(dataDirCandidates('ioi', 'neox'), [join('ioi', 'eapig-faithfulness_pythia.csv'), 'ioi.csv']);
  assert.deepEqual(dataDirCandidates('ioi', 'other'), ['ioi.csv']);
  const empty = { EAPGP_CACHE: join(tmp, 'empty-cache') };
  expectUserError(() => paperDataset('ioi', 'neox', empty), 'ioi/eapig-faithfulness_pythia.csv is missing', 'eapgp data fetch ioi');
  expectUserError(() => paperDataset('ioi', gpt2Builtin, empty), 'ioi/eapig-faithfulness_gpt2.csv is missing');
  expectUserError(() => paperDataset('ioi', byte, empty), "the EAP-IG paper's ioi data exists for GPT-2's and Pythia's tokenizers only", byte.name, '--data generated');
});

const pub = published('ioi');
test('the paper\'s id-CSV of one tokenizer is refused for another (by its sha256), with the file that fits', { skip: pub.skip }, () => {
  expectUserError(() => getTask('ioi').load(pub.path('ioi/eapig-faithfulness_pythia.csv'), gpt2Builtin), "the EAP-IG paper's ioi data for Pythia's GPT-NeoX-20B tokenizer", 'use ioi/eapig-faithfulness_gpt2.csv instead');
  expectUserError(() => getTask('ioi').load(pub.path('ioi/eapig-faithfulness_gpt2.csv'), byte), "ioi data for GPT-2's tokenizer", 'exists for GPT-2 and Pythia only');
  assert.equal(getTask('ioi').load(pub.path('ioi/eapig-faithfulness_gpt2.csv'), gpt2Builtin, { limit: 3 }).length, 3);
  assert.equal(paperDataset('ioi', gpt2Builtin).path, pub.path('ioi/eapig-faithfulness_gpt2.csv'));
});
