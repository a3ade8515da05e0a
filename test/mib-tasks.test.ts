/**
 * MIB's tasks (src/tasks/mib.ts) on fixture files in each task's format (test/fixtures/mib, README there):
 * examples as MIB's loader builds them (prompts, the counterfactual chosen, answers as the first token of the
 * texts MIB tokenizes, checked against ids written here), the rows MIB's filter drops reported with the reason,
 * --limit after the filter, bad files named by row, line and field, the metric against logits read by hand on a
 * tiny model, the data cache's splits, and the commands end to end: attribute, mib export (MIB's folder names)
 * and mib evaluate.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createEngine } from '../src/engine/engine.js';
import { mibTaskName } from '../src/evaluation/mib.js';
import { readGraphJson } from '../src/graph/index.js';
import { loadModel } from '../src/models/load.js';
import { makeRandomModel } from '../src/models/make-model.js';
import { batches, getTask, mibTaskNames } from '../src/tasks/index.js';
import { droppedRowsWarning, prepareTaskData } from '../src/tasks/prepare.js';
import type { LogitDiffLabel, TaskExample } from '../src/tasks/types.js';
import { loadTokenizer } from '../src/tokenizer/index.js';
import { isUserError } from '../src/util/errors.js';
import { FIXTURES } from './helpers/data.js';
import { assertUserError, eapgp } from './helpers/cli.js';

const tok = loadTokenizer();
const BOS = tok.bosId;
const fx = (name: string): string => join(FIXTURES, 'mib', name);
const tmp = mkdtempSync(join(tmpdir(), 'eapgp-mib-tasks-'));
const model = join(tmp, 'model');
before(() => makeRandomModel({ layers: 2, heads: 2, dModel: 16, seed: 9, initStd: 0.2 }, model));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Loads with the reported drops. */
function load(task: string, file: string, opts: { limit?: number; counterfactual?: string } = {}) {
  const dropped: { row: number; why: string }[] = [];
  const examples = getTask(task).load(file, tok, { ...opts, onDrop: (row, why) => dropped.push({ row, why }) }) as TaskExample<LogitDiffLabel>[];
  return { examples, dropped };
}
const ids = (text: string): number[] => [BOS, ...tok.encode(text)];
const userError = (f: () => unknown, re: RegExp): void => assert.throws(f, (e: unknown) => isUserError(e) && re.test((e as Error).message), String(re));

test('MIB task names, and MIB\'s names for them (mib export\'s folders)', () => {
  assert.deepEqual(mibTaskNames, ['mib-ioi', 'mib-mcqa', 'mib-arithmetic-addition', 'mib-arithmetic-subtraction', 'mib-arc-easy', 'mib-arc-challenge']);
  assert.deepEqual(mibTaskNames.map((t) => mibTaskName(t)), ['ioi', 'mcqa', 'arithmetic-addition', 'arithmetic-subtraction', 'arc-easy', 'arc-challenge']);
  for (const t of mibTaskNames) assert.deepEqual([getTask(t).metricKind, getTask(t).metricForms], ['logit-diff', ['logit-diff', 'prob-diff']]);
  userError(() => getTask('mib-iio'), /unknown task "mib-iio"; choose one of ioi, .*custom, mib-ioi, mib-mcqa, .*mib-arc-challenge/);
});

test('mib-ioi: prompt and s2_io_flip_counterfactual, answers " IO" and " S"; the name-length filter drops row 3', () => {
  const { examples, dropped } = load('mib-ioi', fx('ioi.json'));
  assert.deepEqual(examples.map((e) => e.row), [1, 2, 4]);
  assert.deepEqual(examples[0]!.clean, ids('Then, Mary and John went to the store. John gave a drink to'));
  assert.deepEqual(examples[0]!.corrupted, ids('Then, Mary and John went to the store. Mary gave a drink to'));
  // GPT-2: " Mary" 5335, " John" 1757, " Anna" 11735, " Paul" 3362, " Kate" 16693
  assert.deepEqual(examples.map((e) => [e.label.correct, e.label.incorrect]), [[5335, 1757], [11735, 3362], [16693, 5335]]);
  assert.deepEqual(dropped, [{ row: 3, why: '" Mary", " Xylophonia" and " Kate" (indirect object, subject, random_c) are 1, 4 and 1 tokens; MIB keeps rows where they are equal' }]);
  // another counterfactual type; --limit counts the rows kept, as MIB's head(n) after its filter
  const abc = load('mib-ioi', fx('ioi.json'), { counterfactual: 'abc_counterfactual', limit: 3 });
  assert.deepEqual(abc.examples[0]!.corrupted, ids('Then, Paul and Kate went to the store. John gave a drink to'));
  assert.deepEqual(abc.examples.map((e) => e.row), [1, 2, 4]);
  assert.deepEqual(load('mib-ioi', fx('ioi.json'), { limit: 1 }).examples.map((e) => e.row), [1]);
  userError(() => load('mib-ioi', fx('ioi.json'), { counterfactual: 'abc' }),
    /ioi\.json: row 1 \(line 2\), field "abc": no such counterfactual in this row; it has s2_io_flip_counterfactual, abc_counterfactual \(--counterfactual chooses; mib-ioi's default is s2_io_flip_counterfactual\)/);
});

test('mib-mcqa and mib-arc: answer letters without a space, the symbol counterfactual\'s letter the wrong answer', () => {
  const m = load('mib-mcqa', fx('mcqa.jsonl'));
  assert.deepEqual(m.dropped, []);
  assert.deepEqual(m.examples[0]!.clean, ids('Question: Bananas are yellow. What color are bananas?\nA. red\nB. blue\nC. yellow\nD. green\nAnswer:'));
  assert.deepEqual(m.examples[0]!.corrupted, ids('Question: Bananas are yellow. What color are bananas?\nE. red\nF. blue\nG. yellow\nH. green\nAnswer:'));
  // "C" 34 vs "G" 38; "A" 32 vs "W" 54; "B" 33 vs "2" 17
  assert.deepEqual(m.examples.map((e) => [e.label.correct, e.label.incorrect]), [[34, 38], [32, 54], [33, 17]]);
  const pos = load('mib-mcqa', fx('mcqa.jsonl'), { counterfactual: 'answerPosition_counterfactual' });
  assert.deepEqual(pos.examples[0]!.label, { kind: 'logit-diff', correct: 34, incorrect: 33 }, 'yellow moved from C to B');
  for (const arc of ['mib-arc-easy', 'mib-arc-challenge']) {
    const a = load(arc, fx('arc-easy.jsonl'));
    assert.deepEqual(a.examples.map((e) => [e.row, e.label.correct, e.label.incorrect]), [[1, 33, 37], [2, 32, 47]]); // B/F, A/P
  }
});

test('mib-arithmetic: single-token answers only, the task\'s operator only, null counterfactuals dropped', () => {
  const add = load('mib-arithmetic-addition', fx('arithmetic-addition.jsonl'));
  assert.deepEqual(add.examples.map((e) => e.row), [1, 3]);
  assert.deepEqual(add.examples[0]!.clean, ids('Q: How much is 12 plus 35? A:'));
  assert.deepEqual(add.examples[0]!.corrupted, ids('Q: How much is 40 plus 31? A:'));
  assert.deepEqual(add.examples.map((e) => [e.label.correct, e.label.incorrect]), [[2857, 4869], [5332, 5332]]); // "47"/71; "85"/85
  assert.deepEqual(add.dropped, [
    { row: 2, why: 'the answers "1047" and "47" are 2 and 1 tokens; MIB keeps single-token answers only' },
    { row: 4, why: 'random_counterfactual (or its prompt) is null; MIB drops such rows' },
  ]);
  const sub = load('mib-arithmetic-subtraction', fx('arithmetic-subtraction.jsonl'));
  assert.deepEqual(sub.examples.map((e) => [e.row, tok.decode([e.label.correct]), tok.decode([e.label.incorrect])]), [[1, '47', '43'], [3, '62', '24']]);
  assert.deepEqual(sub.dropped, [{ row: 2, why: 'operator "+" is not "-" (mib-arithmetic-subtraction keeps subtractions only, as MIB does)' }]);
  // the other counterfactual types of the file
  assert.deepEqual(load('mib-arithmetic-addition', fx('arithmetic-addition.jsonl'), { counterfactual: 'ones_op1_counterfactual' }).examples[0]!.corrupted, ids('Q: How much is 15 plus 35? A:'));
});

test('bad MIB files: an error naming the file, row, line and field, or why no row is usable', () => {
  const write = (name: string, text: string): string => {
    const p = join(tmp, name);
    writeFileSync(p, text);
    return p;
  };
  const rows = JSON.parse(readFileSync(fx('ioi.json'), 'utf8')) as Record<string, unknown>[];
  delete (rows[1]!['metadata'] as Record<string, unknown>)['subject'];
  const noSubject = write('no-subject.json', JSON.stringify(rows, null, 1));
  userError(() => load('mib-ioi', noSubject), /no-subject\.json: row 2 \(line 33\), field "metadata\.subject": missing/);
  const lines = readFileSync(fx('mcqa.jsonl'), 'utf8').split('\n');
  userError(() => load('mib-mcqa', write('cut.jsonl', [lines[0], lines[1]!.slice(0, 40)].join('\n'))), /cut\.jsonl: line 2 is not valid JSON .*; mib-mcqa's data \(mib-bench\/copycolors_mcqa's format\) is JSON Lines, one object per line/);
  const mc = JSON.parse(lines[0]!) as { answerKey: number };
  mc.answerKey = 7;
  userError(() => load('mib-mcqa', write('key.jsonl', JSON.stringify(mc))), /key\.jsonl: row 1 \(line 1\), field "answerKey": 7: expected an index 0\.\.3 into the choices/);
  userError(() => load('mib-ioi', write('only-3.json', JSON.stringify([rows[2]])), { counterfactual: 's2_io_flip_counterfactual' }),
    /only-3\.json: no row of mib-ioi's data is usable with this tokenizer \(.*\): all 1 rows read are dropped \(row 1: " Mary", " Xylophonia" and " Kate" .* are 1, 4 and 1 tokens/);
  userError(() => load('mib-arithmetic-addition', fx('ioi.json')), /ioi\.json: row 1 \(line 2\), field "random_counterfactual": no such counterfactual in this row; it has s2_io_flip_counterfactual, abc_counterfactual/);
  userError(() => load('mib-ioi', join(tmp, 'missing.json')), /missing\.json: no such file \(mib-ioi's data/);
  userError(() => prepareTaskData(getTask('ioi'), fx('ioi.json'), tok, { counterfactual: 'abc_counterfactual' }), /--counterfactual applies to MIB's tasks only; drop it for --task ioi/);
});

test('the metric: MIB\'s logit difference at the last position, as read off the logits by hand', async () => {
  const e = await createEngine({ threads: 2 });
  try {
    const { model: m, tokenizer } = await loadModel(e, model, { quiet: true });
    const V = m.dims.vocabSize;
    for (const [task, file, answers] of [
      ['mib-mcqa', 'mcqa.jsonl', [['C', 'G'], ['A', 'W'], ['B', '2']]],
      ['mib-arithmetic-addition', 'arithmetic-addition.jsonl', [['47', '71'], ['85', '85']]],
      ['mib-ioi', 'ioi.json', [[' Mary', ' John'], [' Anna', ' Paul'], [' Kate', ' Mary']]],
    ] as const) {
      const d = prepareTaskData(getTask(task), fx(file), tokenizer, { batchSize: 2 });
      const examples = getTask(task).load(fx(file), tokenizer);
      assert.equal(d.examples, answers.length);
      let k = 0;
      for (const b of d.batches) {
        const logits = e.tidy(() => m.forward(b.clean, {}).logits!.toArray());
        const got = d.metric(logits, b.n, V, b.labels);
        for (let i = 0; i < b.n; i++, k++) {
          // the last real position's logits of the example run alone, and the answer ids from the texts
          const [one] = batches([examples[k]!], 1);
          const row = e.tidy(() => m.forward(one!.clean, {}).logits!.toArray());
          const [good, bad] = answers[k]!.map((t) => tokenizer.encode(t)[0]!) as [number, number];
          const want = row[good]! - row[bad]!;
          assert.ok(Math.abs(got[i]! - want) <= 1e-5 * Math.max(1, Math.abs(want)), `${task} example ${k + 1}: ${got[i]} vs ${want}`);
          if (good === bad) assert.equal(got[i], 0, 'equal answers: 0');
        }
      }
      if (task === 'mib-ioi') assert.match(droppedRowsWarning(d) ?? '', /^1 row of .*ioi\.json dropped, 3 kept \(row 3: " Mary", " Xylophonia"/);
    }
    m.dispose();
  } finally {
    await e.close();
  }
});

test('attribute, mib export and mib evaluate on MIB\'s tasks; --data test reads the cache\'s split', () => {
  const graph = join(tmp, 'ioi-eap.json');
  const a = eapgp(['attribute', '--model', model, '--task', 'mib-ioi', '--data', fx('ioi.json'), '--method', 'eap', '--batch-size', '3', '--quiet', '--out', graph]);
  assert.equal(a.code, 0, a.err);
  assert.match(a.err, /warning: 1 row of .*ioi\.json dropped, 3 kept \(row 3: /);
  assert.equal(readGraphJson(graph).meta?.task, 'mib-ioi');
  const sub = join(tmp, 'submission');
  const x = eapgp(['mib', 'export', '--graph', graph, '--model-name', 'tiny', '--out', sub]);
  assert.equal(x.code, 0, x.err);
  assert.deepEqual(readdirSync(sub), ['ioi_tiny']);
  const ev = eapgp(['mib', 'evaluate', '--model', model, '--task', 'mib-ioi', '--data', fx('ioi.json'), '--submission', join(sub, 'ioi_tiny'), '--json', '--quiet']);
  assert.equal(ev.code, 0, ev.err);
  const doc = JSON.parse(ev.out) as { task: string; examples: number; cpr: number; warnings: string[] };
  assert.deepEqual([doc.task, doc.examples], ['mib-ioi', 3]);
  assert.ok(Number.isFinite(doc.cpr));
  assert.ok(!doc.warnings.some((w) => /folder but --task/.test(w)), 'the folder is the task\'s');
  assert.ok(doc.warnings.some((w) => /dropped, 3 kept/.test(w)));
  // a MIB graph exports to MIB's folder name for its task; an MCQA folder evaluated with IOI data is flagged
  const mcqa = eapgp(['mib', 'export', '--graph', graph, '--task', 'mib-mcqa', '--model-name', 'tiny', '--out', sub]);
  assert.equal(mcqa.code, 0, mcqa.err);
  assert.deepEqual(readdirSync(sub).sort(), ['ioi_tiny', 'mcqa_tiny']);
  const other = eapgp(['mib', 'evaluate', '--model', model, '--task', 'mib-ioi', '--data', fx('ioi.json'), '--submission', join(sub, 'mcqa_tiny'), '--json', '--quiet']);
  assert.equal(other.code, 0, other.err);
  assert.ok((JSON.parse(other.out) as { warnings: string[] }).warnings.some((w) => /mcqa_tiny is a mcqa folder but --task is mib-ioi/.test(w)));

  // --data validation|test: the split in the data cache, or the command that fetches it
  const cache = join(tmp, 'cache');
  const missing = eapgp(['attribute', '--model', model, '--task', 'mib-ioi', '--data', 'test', '--method', 'eap', '--quiet', '--out', join(tmp, 'g2.json')], { env: { EAPGP_CACHE: cache } });
  assertUserError(missing, /MIB's ioi test split \(mib-bench\/ioi\) is not in the data cache \(.*mib.ioi.test\.json is missing\); fetch it with `eapgp data fetch mib-ioi`/);
  const body = readFileSync(fx('ioi.json'));
  mkdirSync(join(cache, 'mib', 'ioi'), { recursive: true });
  writeFileSync(join(cache, 'mib', 'ioi', 'test.json'), body);
  writeFileSync(join(cache, 'mib', 'ioi', 'test.json.recorded.json'), JSON.stringify({ url: 'https://huggingface.co/datasets/mib-bench/ioi/resolve/main/test.json', revision: 'f'.repeat(40), size: body.length, sha256: createHash('sha256').update(body).digest('hex') }));
  const ok = eapgp(['attribute', '--model', model, '--task', 'mib-ioi', '--data', 'test', '--method', 'eap', '--quiet', '--out', join(tmp, 'g3.json')], { env: { EAPGP_CACHE: cache } });
  assert.equal(ok.code, 0, ok.err);
  assert.equal(readGraphJson(join(tmp, 'g3.json')).meta?.data, join(cache, 'mib', 'ioi', 'test.json'));
  assertUserError(eapgp(['attribute', '--model', model, '--task', 'mib-ioi', '--method', 'eap', '--quiet', '--out', join(tmp, 'g4.json'), '--data', fx('ioi.json'), '--counterfactual', 'nope']),
    /field "nope": no such counterfactual in this row/);
});
