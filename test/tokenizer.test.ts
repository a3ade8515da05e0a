/**
 * Tokenizer tests: our BPE (from GPT-2's vocab.json/merges.txt, rebuilt from gpt-tokenizer's data and checked
 * byte for byte against the released files' sha256, and from a tokenizer.json built from them) must give
 * exactly the ids of gpt-tokenizer's own GPT-2 encoder on every field of the six tasks' CSVs (our generated
 * ones always, the EAP-IG paper's when fetched) and on tricky text, decode must invert encode, the task CSVs'
 * token-id columns must match, and malformed files must fail with the file and line in the message. Also
 * covers src/util/csv.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate, writeDataset } from '../src/tasks/generators/index.js';
import { BpeTokenizer, gpt2Builtin, gpt2MergesTxt, gpt2VocabJson, loadTokenizer, parseTokenizerJson, type Tokenizer } from '../src/tokenizer/index.js';
import { columnIndex, parseCsv, readCsv, type CsvTable } from '../src/util/csv.js';
import { isUserError } from '../src/util/errors.js';
import { firstJsonError, parseJsonFile } from '../src/util/json.js';
import { FIXTURES, gpt2TokenizerDir, published } from './helpers/data.js';

const gpt2Dir = gpt2TokenizerDir();
const TASKS = ['ioi', 'greater-than', 'sva', 'gender-bias', 'capital-country', 'hypernymy'] as const;
const REPO_ROOT = join(FIXTURES, '..', '..');

const ours = loadTokenizer(gpt2Dir);
const builtin = loadTokenizer();

const TRICKY: string[] = [
  '',
  ' ',
  '   ',
  '  leading spaces',
  'trailing spaces   ',
  'a  b   c    d',
  'line one\nline two\n\nline four\n',
  '\n\n\n',
  ' \n \n',
  'tabs\tand\t\tmore\t',
  '\r\nwindows\r\n',
  'mixed \t\n whitespace \u00a0 nbsp \u3000 ideographic space',
  "I'm, you're, we've, they'll, he'd, it's, don't, can't",
  "'S 'T 'RE uppercase contractions aren't special",
  "rock 'n' roll ''quoted'' '",
  '1234567890 3.14159 -42 1,000,000 1e10 0x1F 2024-01-31',
  'The year 1352 to the year 13',
  '😀 emoji 👍🏽 family 👨‍👩‍👧‍👦 flags 🇫🇷',
  '日本語のテキスト 中文文本 한국어',
  'café naïve Ærøskøbing Straße façade São Paulo Zürich',
  'e\u0301 combining accent vs \u00e9 precomposed',
  'Ελληνικά Русский עברית العربية हिन्दी',
  '<|endoftext|>',
  'before<|endoftext|>after <|endoftext|> again',
  'symbols !@#$%^&*()_+-=[]{};:"\\|,.<>/?`~ ... --- ***',
  'http://example.com/path?q=1&r=two#frag',
  'def f(x):\n    return x ** 2  # comment\n',
  'Hello, world!',
];

/** Deterministic pseudo-random strings over a mix of scripts, spaces and punctuation. */
function fuzzStrings(count: number, seed: number): string[] {
  const pool = [...'ab zZ09 \n\t\r.,\'!?-_"', 'é', 'ß', 'ø', '日', '本', 'й', 'λ', '😀', '👍🏽', '\u00a0', '\u3000', "'s", "'ll", '  ', '12', '３'];
  let s = seed >>> 0;
  const rand = (n: number): number => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s % n;
  };
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let t = '';
    const len = rand(40);
    for (let j = 0; j < len; j++) t += pool[rand(pool.length)];
    out.push(t);
  }
  return out;
}

function assertSameIds(a: Tokenizer, b: Tokenizer, text: string, where: string): number[] {
  const x = a.encode(text);
  assert.deepEqual(x, b.encode(text), `${a.name} vs ${b.name} differ on ${where}: ${JSON.stringify(text)}`);
  return x;
}

function expectUserError(fn: () => unknown, ...fragments: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isUserError(e), `expected a UserError, got ${String(e)}`);
    for (const f of fragments) assert.ok((e as Error).message.includes(f), `message ${JSON.stringify((e as Error).message)} lacks ${JSON.stringify(f)}`);
    return true;
  });
}

/** Rows per task of the generated CSVs: enough text to exercise the encoders (tens of thousands of fields). */
const GENERATED_ROWS = 2000;
const generatedDir = mkdtempSync(join(tmpdir(), 'eapgp-tok-tasks-'));
process.on('exit', () => rmSync(generatedDir, { recursive: true, force: true }));

/** The CSVs of the six tasks: ours (generated here, written and read back), and the paper's (when fetched). */
const SOURCES = [
  {
    name: 'generated',
    skip: (..._tasks: string[]): string | false => false,
    csv(task: string): string {
      const path = join(generatedDir, `${task}.csv`);
      writeDataset(generate(task, { n: GENERATED_ROWS, seed: 3, tokenizer: builtin }), path);
      return path;
    },
  },
  {
    name: 'the EAP-IG paper\'s',
    skip: (...tasks: string[]): string | false => published(...tasks).skip,
    csv: (task: string): string => published(task).path(`${task}/eapig-faithfulness_gpt2.csv`),
  },
];

const tables = new Map<string, CsvTable>();
function tableOf(source: (typeof SOURCES)[number], name: string): CsvTable {
  const key = `${source.name}:${name}`;
  let t = tables.get(key);
  if (t === undefined) tables.set(key, (t = readCsv(source.csv(name))));
  return t;
}

function column(t: CsvTable, name: string): string[] {
  const k = columnIndex(t, name);
  return t.rows.map((r) => r.values[k]!);
}

// ---------------------------------------------------------------------------------------------- csv

test('csv: quotes, escaped quotes, embedded newlines, CRLF, BOM, row lines', () => {
  const t = parseCsv('\ufeffa,b,c\r\n1,"x, y","say ""hi"""\r\n\r\n2,"multi\nline",\n"",3,"4"', 'mem.csv');
  assert.deepEqual(t.header, ['a', 'b', 'c']);
  assert.deepEqual(
    t.rows.map((r) => [r.line, r.values]),
    [
      [2, ['1', 'x, y', 'say "hi"']],
      [4, ['2', 'multi\nline', '']],
      [6, ['', '3', '4']],
    ],
  );
  assert.equal(columnIndex(t, 'c'), 2);
  expectUserError(() => columnIndex(t, 'd'), 'mem.csv', 'missing column "d"');
});

test('csv: malformed input names source and line', () => {
  expectUserError(() => parseCsv('a,b\n1,2\n3\n', 'bad.csv'), 'bad.csv:3', 'expected 2 fields, found 1');
  expectUserError(() => parseCsv('a,b\n1,"open\n\n', 'bad.csv'), 'bad.csv:2', 'unterminated');
  expectUserError(() => parseCsv('a,b\n1,"x"y\n', 'bad.csv'), 'bad.csv:2', 'after closing quote');
  expectUserError(() => parseCsv('a,b\n1,x"y\n', 'bad.csv'), 'bad.csv:2', 'quote inside');
  expectUserError(() => parseCsv('', 'empty.csv'), 'empty.csv:1');
});

test('csv: the paper\'s six task files parse with the documented row counts', { skip: SOURCES[1]!.skip(...TASKS) }, () => {
  const expected: Record<string, number> = { ioi: 1000, 'greater-than': 1000, sva: 12400, 'gender-bias': 986, 'capital-country': 190, hypernymy: 198 };
  for (const name of TASKS) assert.equal(tableOf(SOURCES[1]!, name).rows.length, expected[name], name);
});

test('json: syntax errors point at the offending character', () => {
  const cases: [string, number][] = [['{"a":1,}', 7], ['[1,2', 4], ['{"a" 1}', 5], ['nul', 3], ['"\\x"', 2], ['01', 1], ['[1] x', 4], ['{"a":[1,{"b":tru}]}', 16]];
  for (const [text, pos] of cases) assert.equal(firstJsonError(text), pos, text);
  assert.deepEqual(parseJsonFile('\ufeff{"a": [1, 2.5e3, "\\u00e9", null]}', 'x.json'), { a: [1, 2500, 'é', null] });
  expectUserError(() => parseJsonFile('{\n  "a": 1,\n  "b": x\n}', 'x.json'), 'x.json:3:8:', 'unexpected "x"');
  expectUserError(() => parseJsonFile('[1,', 'x.json'), 'x.json:1:4:', 'unexpected end of file');
});

// ---------------------------------------------------------------------------------------- tokenizer

test('vocab.json and merges.txt rebuilt from the built-in encoding are the released GPT-2 files, byte for byte', () => {
  // sha256 of openai-community/gpt2's vocab.json and merges.txt (the files of the original GPT-2 release)
  const sha = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');
  assert.equal(sha(gpt2VocabJson()), '196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783');
  assert.equal(sha(gpt2MergesTxt()), '1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5');
  assert.deepEqual(readdirSync(gpt2Dir).sort(), ['merges.txt', 'vocab.json']);
  assert.equal(readFileSync(join(gpt2Dir, 'merges.txt'), 'utf8'), gpt2MergesTxt());
  assert.equal(Object.keys(JSON.parse(gpt2VocabJson()) as object).length, 50257);
  assert.equal(gpt2MergesTxt().split('\n').length, 50002); // version line, 50,000 merges, final newline
});

test('loadTokenizer picks vocab.json+merges.txt, else the built-in encoding', () => {
  assert.ok(ours instanceof BpeTokenizer);
  assert.equal(builtin, gpt2Builtin);
  const empty = mkdtempSync(join(tmpdir(), 'eapgp-tok-empty-'));
  try {
    assert.equal(loadTokenizer(empty), gpt2Builtin, 'a directory without tokenizer files');
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
  for (const t of [ours, builtin]) {
    assert.equal(t.vocabSize, 50257, t.name);
    assert.equal(t.bosId, 50256, t.name);
  }
});

test('known GPT-2 ids', () => {
  for (const t of [ours, builtin]) {
    assert.deepEqual(t.encode('Hello, world!'), [15496, 11, 995, 0], t.name);
    assert.deepEqual(t.encode(' he'), [339], t.name);
    assert.deepEqual(t.encode(' she'), [673], t.name);
    assert.equal(t.tokenString(995), ' world', t.name);
    assert.equal(t.tokenString(50256), '<|endoftext|>', t.name);
  }
});

test('"<|endoftext|>" in text is plain text on both paths; BOS is never added', () => {
  for (const t of [ours, builtin]) {
    assert.deepEqual(t.encode('<|endoftext|>'), [27, 91, 437, 1659, 5239, 91, 29], t.name);
    assert.ok(!t.encode('x<|endoftext|>y').includes(50256), t.name);
  }
});

for (const source of SOURCES) {
  test(`identical ids on every field of every row of ${source.name} six task CSVs`, { skip: source.skip(...TASKS) }, () => {
    let strings = 0;
    let tokens = 0;
    for (const name of TASKS) {
      const t = tableOf(source, name);
      assert.ok(columnIndex(t, 'clean') >= 0 && columnIndex(t, 'corrupted') >= 0, name);
      for (const row of t.rows) {
        for (const v of row.values) {
          tokens += assertSameIds(ours, builtin, v, `${t.source}:${row.line}`).length;
          strings++;
        }
      }
    }
    assert.ok(strings > 40_000 && tokens > 200_000, `${strings} strings, ${tokens} tokens`);
  });
}

test('identical ids on tricky and fuzzed strings', () => {
  for (const s of TRICKY) assertSameIds(ours, builtin, s, 'tricky string');
  for (const s of fuzzStrings(3000, 12345)) assertSameIds(ours, builtin, s, 'fuzz string');
  // Long real prose with markdown tables and code: the repository's README and docs.
  const docs = ['README.md', ...readdirSync(join(REPO_ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];
  for (const f of docs) assertSameIds(ours, builtin, readFileSync(join(REPO_ROOT, f), 'utf8'), f);
});

test('decode(encode(s)) === s', () => {
  for (const t of [ours, builtin]) {
    for (const s of [...TRICKY, ...fuzzStrings(1000, 777)]) assert.equal(t.decode(t.encode(s)), s, `${t.name}: ${JSON.stringify(s)}`);
  }
});

test('both decode every single token and split UTF-8 the same way', () => {
  for (let id = 0; id < 50257; id++) assert.equal(ours.tokenString(id), builtin.tokenString(id), `token ${id}`);
  // "’" is two tokens (e2 80 | 99): each alone is an incomplete sequence.
  const ids = ours.encode('’');
  assert.equal(ids.length, 2);
  for (const t of [ours, builtin]) {
    assert.equal(t.decode(ids), '’', t.name);
    assert.equal(t.tokenString(ids[0]!), '\ufffd', t.name);
    assert.throws(() => t.decode([50257]), RangeError, t.name);
    assert.throws(() => t.decode([-1]), RangeError, t.name);
  }
});

// ---------------------------------------------------------------------------------- task id columns

for (const source of SOURCES) {
  test(`${source.name} ioi: correct_idx / incorrect_idx are the single tokens of " IO" / " S" in every clean prompt`, { skip: source.skip('ioi') }, () => {
    const t = tableOf(source, 'ioi');
    const clean = column(t, 'clean');
    const correct = column(t, 'correct_idx').map(Number);
    const incorrect = column(t, 'incorrect_idx').map(Number);
    clean.forEach((prompt, i) => {
      const ids = ours.encode(prompt);
      for (const [id, times] of [[correct[i]!, 1], [incorrect[i]!, 2]] as const) {
        const name = ours.tokenString(id);
        assert.match(name, /^ [A-Z][a-z]+$/, `row ${t.rows[i]!.line}: token ${id} is ${JSON.stringify(name)}`);
        assert.deepEqual(ours.encode(name), [id], `row ${t.rows[i]!.line}`);
        // IO is named once, S twice (S1 and S2) in the clean prompt.
        assert.equal(ids.filter((x) => x === id).length, times, `row ${t.rows[i]!.line}: ${JSON.stringify(prompt)} / ${name}`);
      }
    });
  });

  test(`${source.name} capital-country: country_idx / corrupted_country_idx are the first token of " <country>"`, { skip: source.skip('capital-country') }, () => {
    const t = tableOf(source, 'capital-country');
    for (const [countryCol, idCol] of [['country', 'country_idx'], ['corrupted_country', 'corrupted_country_idx']] as const) {
      const countries = column(t, countryCol);
      column(t, idCol).forEach((id, i) => {
        assert.equal(ours.encode(' ' + countries[i])[0], Number(id), `row ${t.rows[i]!.line}: ${countries[i]}`);
      });
    }
  });

  test(`${source.name} hypernymy: answers_idx lists are the first tokens of " <answer>"`, { skip: source.skip('hypernymy') }, () => {
    const t = tableOf(source, 'hypernymy');
    const pyStrings = (s: string): string[] => [...s.matchAll(/'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1] ?? m[2]!);
    for (const [ansCol, idCol] of [['answers', 'answers_idx'], ['corrupted_answers', 'corrupted_answers_idx']] as const) {
      const answers = column(t, ansCol);
      column(t, idCol).forEach((ids, i) => {
        const expected = pyStrings(answers[i]!).map((a) => ours.encode(' ' + a)[0]);
        assert.deepEqual(JSON.parse(ids), expected, `row ${t.rows[i]!.line}`);
      });
    }
  });

  test(`${source.name} gender-bias: answer ids are " he" / " she"`, { skip: source.skip('gender-bias') }, () => {
    const t = tableOf(source, 'gender-bias');
    const he = ours.encode(' he')[0];
    const she = ours.encode(' she')[0];
    const clean = column(t, 'clean_answer_idx').map(Number);
    const corrupted = column(t, 'corrupted_answer_idx').map(Number);
    clean.forEach((id, i) => {
      assert.deepEqual(new Set([id, corrupted[i]]), new Set([he, she]), `row ${t.rows[i]!.line}`);
    });
  });
}

test('greater-than: every two-digit year "00".."99" is a single token', () => {
  // The metric reads the logits of the two-digit continuation; this must hold for it to make sense.
  for (let n = 0; n < 100; n++) {
    const yy = String(n).padStart(2, '0');
    assert.equal(ours.encode(yy).length, 1, yy);
  }
});

// -------------------------------------------------------------------------------- tokenizer.json, errors

test('tokenizer.json (string and pair merges, added_tokens) gives the same ids as vocab/merges', () => {
  const vocab = JSON.parse(readFileSync(join(gpt2Dir, 'vocab.json'), 'utf8')) as Record<string, number>;
  const merges = readFileSync(join(gpt2Dir, 'merges.txt'), 'utf8').split('\n').slice(1).filter((l) => l !== '');
  const dir = mkdtempSync(join(tmpdir(), 'eapgp-tok-'));
  try {
    const asStrings = { version: '1.0', added_tokens: [], model: { type: 'BPE', vocab, merges } };
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(asStrings, null, 2));
    const fromStrings = loadTokenizer(dir);
    assert.ok(fromStrings instanceof BpeTokenizer);

    // Pairs, with <|endoftext|> only among added_tokens (as some exports do).
    const { ['<|endoftext|>']: eot, ...rest } = vocab;
    const asPairs = {
      added_tokens: [{ id: eot, content: '<|endoftext|>', special: true }],
      model: { type: 'BPE', vocab: rest, merges: merges.map((m) => m.split(' ')) },
    };
    const fromPairs = parseTokenizerJson(JSON.stringify(asPairs), 'pairs.json');

    const samples = [...TRICKY, ...fuzzStrings(500, 99), ...column(tableOf(SOURCES[0]!, 'ioi'), 'clean'), ...column(tableOf(SOURCES[0]!, 'sva'), 'clean')];
    for (const t of [fromStrings, fromPairs]) {
      assert.equal(t.vocabSize, 50257);
      assert.equal(t.bosId, 50256);
      assert.equal(t.tokenString(50256), '<|endoftext|>');
      for (const s of samples) assertSameIds(t, ours, s, t.name);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('malformed tokenizer files: UserError naming file and line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'eapgp-tok-bad-'));
  const vocabPath = join(dir, 'vocab.json');
  const mergesPath = join(dir, 'merges.txt');
  const base = JSON.parse(readFileSync(join(gpt2Dir, 'vocab.json'), 'utf8')) as Record<string, number>;
  const goodVocab = JSON.stringify(base, null, 1); // one entry per line
  const goodMerges = '#version: 0.2\nĠ t\nĠ a\nh e\n';
  try {
    // vocab.json is not JSON (error on line 3).
    writeFileSync(vocabPath, '{\n "a": 0,\n "b": oops\n}\n');
    writeFileSync(mergesPath, goodMerges);
    expectUserError(() => loadTokenizer(dir), `${vocabPath}:3:7:`, 'not valid JSON');

    // A non-integer id, reported at its line.
    const badVocab = goodVocab.replace('"#": 2', '"#": "two"');
    const badLine = badVocab.slice(0, badVocab.indexOf('"#": "two"')).split('\n').length;
    assert.ok(badLine > 1);
    writeFileSync(vocabPath, badVocab);
    expectUserError(() => loadTokenizer(dir), `${vocabPath}:${badLine}:`, '"#"');

    // merges.txt line 3 has three parts.
    writeFileSync(vocabPath, goodVocab);
    writeFileSync(mergesPath, '#version: 0.2\nĠ t\nĠ a x\nh e\n');
    expectUserError(() => loadTokenizer(dir), `${mergesPath}:3`, 'Ġ a x');

    // merges.txt line 4 merges a token that is not in the vocabulary.
    writeFileSync(mergesPath, '#version: 0.2\nĠ t\nĠ a\nh ☃\n');
    expectUserError(() => loadTokenizer(dir), `${mergesPath}:4`, '☃');

    // A vocabulary without byte tokens is not byte-level.
    writeFileSync(vocabPath, JSON.stringify({ '<|endoftext|>': 0, a: 1 }));
    writeFileSync(mergesPath, '#version: 0.2\n');
    expectUserError(() => loadTokenizer(dir), vocabPath, 'no token for byte');

    // Half a pair, a missing directory, a broken tokenizer.json.
    rmSync(mergesPath);
    expectUserError(() => loadTokenizer(dir), 'no merges.txt');
    expectUserError(() => loadTokenizer(join(dir, 'nope')), 'no such model directory');
    rmSync(vocabPath);
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify({ model: { type: 'BPE', vocab: base, merges: ['Ġ t', 'bad'] } }, null, 2));
    expectUserError(() => loadTokenizer(dir), 'tokenizer.json:', 'model.merges[1]');
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify({ model: { type: 'WordPiece', vocab: {} } }));
    expectUserError(() => loadTokenizer(dir), 'tokenizer.json:1', 'only BPE');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
