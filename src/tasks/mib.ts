/**
 * MIB's circuit-track tasks (Mueller et al. 2025) as task definitions, read from the benchmark's own files
 * (mib-bench/<name> on the Hugging Face hub, `eapgp data fetch mib-…`, or any file in that format) exactly as its
 * loader builds examples (MIB_circuit_track/dataset.py HFEAPDataset: filter_dataset, then head(n), then
 * __getitem__):
 *
 *   task                        clean    corrupted (default --counterfactual)   correct / incorrect answer
 *   mib-ioi                     prompt   s2_io_flip_counterfactual.prompt        " " + metadata.indirect_object / " " + metadata.subject
 *   mib-mcqa, mib-arc-easy,     prompt   symbol_counterfactual.prompt            choices.label[answerKey] / the counterfactual's
 *   mib-arc-challenge                                                            choices.label[answerKey] (no leading space)
 *   mib-arithmetic-addition,    prompt   random_counterfactual.prompt            str(label) / str(the counterfactual's label)
 *   mib-arithmetic-subtraction
 *
 * An answer is the first token of its text (MIB's `input_ids[0]`); the metric is MIB's logit_diff,
 * logit[correct] − logit[incorrect] at the last real position (prob-diff with --metric). Rows MIB's filter drops are
 * dropped here too, each reported with its reason: IOI rows whose " io", " s" and " random_c" differ in token
 * count; MCQA/ARC rows whose two answer labels differ in token count; arithmetic rows whose answers are not single
 * tokens, whose counterfactual is null, or whose operator is not the task's. One more drop is ours: rows whose
 * clean and corrupted prompts differ in token count (edge patching is position by position, so every task here
 * needs equal lengths; MIB's loader pads them instead). `--limit N` keeps the first N rows that remain, as MIB's
 * head(n) does after its filter. MIB's arithmetic loader reads random_counterfactual whatever counterfactual type
 * is asked for; here --counterfactual chooses for every task.
 */
import { existsSync, statSync } from 'node:fs';
import { requireCached } from '../data/cache.js';
import { MIB_SPLITS, mibCacheFile } from '../data/mib-files.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { UserError } from '../util/errors.js';
import { taskOf } from './define.js';
import { MibRow, readMibRecords } from './mib-records.js';
import type { LoadOptions, LogitDiffLabel, Task, TaskExample } from './types.js';

/** A row's prompts and answer texts, or why MIB's filter drops it. */
type Read = { clean: string; corrupted: string; correct: number; incorrect: number } | { drop: string };

interface MibTaskSpec {
  name: string;
  dataset: string;
  counterfactual: string;
  /** The fields a row is read from, for `tasks list` (CF: the counterfactual type). */
  fields: readonly string[];
  read(row: MibRow, cf: string, tokenizer: Tokenizer): Read;
}

/** Token count of a text, and its first token (MIB: tokenizer(text, add_special_tokens=False).input_ids). */
function tokens(tokenizer: Tokenizer, text: string): number[] {
  return tokenizer.encode(text);
}

const firstToken = (row: MibRow, field: string, ids: number[], text: string): number => {
  if (ids.length === 0) throw row.fail(field, `${JSON.stringify(text)} has no tokens; an answer needs one`);
  return ids[0]!;
};

const ioi: MibTaskSpec = {
  name: 'mib-ioi', dataset: 'mib-bench/ioi', counterfactual: 's2_io_flip_counterfactual',
  fields: ['prompt', 'CF.prompt', 'metadata.indirect_object', 'metadata.subject', 'metadata.random_c'],
  read(row, cf, tok) {
    const [io, s, rc] = ['indirect_object', 'subject', 'random_c'].map((k) => ` ${row.text(`metadata.${k}`)}`) as [string, string, string];
    const [a, b, c] = [io, s, rc].map((x) => tokens(tok, x)) as [number[], number[], number[]];
    if (a.length !== b.length || a.length !== c.length) {
      return { drop: `${JSON.stringify(io)}, ${JSON.stringify(s)} and ${JSON.stringify(rc)} (indirect object, subject, random_c) are ${a.length}, ${b.length} and ${c.length} tokens; MIB keeps rows where they are equal` };
    }
    return { clean: row.text('prompt'), corrupted: row.text(`${cf}.prompt`), correct: firstToken(row, 'metadata.indirect_object', a, io), incorrect: firstToken(row, 'metadata.subject', b, s) };
  },
};

/** MCQA and ARC: the answer letters (symbols) of the clean row and of its counterfactual. */
function choiceTask(name: string, dataset: string): MibTaskSpec {
  return {
    name, dataset, counterfactual: 'symbol_counterfactual',
    fields: ['prompt', 'choices.label', 'answerKey', 'CF.prompt', 'CF.choices.label', 'CF.answerKey'],
    read(row, cf, tok) {
      const labels = row.list('choices.label'), cfLabels = row.list(`${cf}.choices.label`);
      const correct = labels[row.index('answerKey', labels.length)]!;
      const incorrect = cfLabels[row.index(`${cf}.answerKey`, cfLabels.length)]!;
      const [a, b] = [tokens(tok, correct), tokens(tok, incorrect)] as [number[], number[]];
      if (a.length !== b.length) return { drop: `the answers ${JSON.stringify(correct)} and ${JSON.stringify(incorrect)} are ${a.length} and ${b.length} tokens; MIB keeps rows where they are equal` };
      return { clean: row.text('prompt'), corrupted: row.text(`${cf}.prompt`), correct: firstToken(row, 'choices.label', a, correct), incorrect: firstToken(row, `${cf}.choices.label`, b, incorrect) };
    },
  };
}

function arithmeticTask(name: string, dataset: string, operator: '+' | '-'): MibTaskSpec {
  return {
    name, dataset, counterfactual: 'random_counterfactual',
    fields: ['prompt', 'label', 'operator', 'CF.prompt', 'CF.label'],
    read(row, cf, tok) {
      if (!row.has(cf) || !row.has(`${cf}.prompt`)) return { drop: `${cf} (or its prompt) is null; MIB drops such rows` };
      const op = row.text('operator');
      if (op !== operator) return { drop: `operator ${JSON.stringify(op)} is not ${JSON.stringify(operator)} (${name} keeps ${operator === '+' ? 'additions' : 'subtractions'} only, as MIB does)` };
      const [label, cfLabel] = [row.text('label'), row.text(`${cf}.label`)];
      const [a, b] = [tokens(tok, label), tokens(tok, cfLabel)] as [number[], number[]];
      if (a.length !== 1 || b.length !== 1) return { drop: `the answers ${JSON.stringify(label)} and ${JSON.stringify(cfLabel)} are ${a.length} and ${b.length} tokens; MIB keeps single-token answers only` };
      return { clean: row.text('prompt'), corrupted: row.text(`${cf}.prompt`), correct: a[0]!, incorrect: b[0]! };
    },
  };
}

const SPECS: readonly MibTaskSpec[] = [
  ioi,
  choiceTask('mib-mcqa', 'mib-bench/copycolors_mcqa'),
  arithmeticTask('mib-arithmetic-addition', 'mib-bench/arithmetic_addition', '+'),
  arithmeticTask('mib-arithmetic-subtraction', 'mib-bench/arithmetic_subtraction', '-'),
  choiceTask('mib-arc-easy', 'mib-bench/arc_easy'),
  choiceTask('mib-arc-challenge', 'mib-bench/arc_challenge'),
];

/** The counterfactual types a row offers (its fields ending in "_counterfactual"). */
const offered = (row: MibRow): string[] => Object.keys(row.r.value).filter((k) => k.endsWith('_counterfactual'));

function load(spec: MibTaskSpec, path: string, tokenizer: Tokenizer, opts: LoadOptions): TaskExample<LogitDiffLabel>[] {
  const cf = opts.counterfactual ?? spec.counterfactual;
  const limit = opts.limit;
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) throw new UserError(`--limit must be a positive integer, got ${limit}`);
  const what = `${spec.name}'s data (${spec.dataset}'s format)`;
  const out: TaskExample<LogitDiffLabel>[] = [];
  const dropped: { row: number; why: string }[] = [];
  for (const r of readMibRecords(path, what)) {
    if (limit !== undefined && out.length >= limit) break;
    const row = new MibRow(path, r);
    if (!(cf in r.value)) {
      throw row.fail(cf, `no such counterfactual in this row; it has ${offered(row).join(', ') || 'none'} (--counterfactual chooses; ${spec.name}'s default is ${spec.counterfactual})`);
    }
    const got = spec.read(row, cf, tokenizer);
    if ('drop' in got) {
      dropped.push({ row: r.row, why: got.drop });
      continue;
    }
    const clean = [tokenizer.bosId, ...tokenizer.encode(got.clean)];
    const corrupted = [tokenizer.bosId, ...tokenizer.encode(got.corrupted)];
    if (clean.length !== corrupted.length) {
      dropped.push({ row: r.row, why: `clean has ${clean.length} tokens but ${cf} has ${corrupted.length} (BOS included): edge patching needs equal lengths` });
      continue;
    }
    out.push({ row: r.row, clean, corrupted, label: { kind: 'logit-diff', correct: got.correct, incorrect: got.incorrect } });
  }
  if (out.length === 0) {
    const first = dropped[0]!;
    throw new UserError(`${path}: no row of ${spec.name}'s data is usable with this tokenizer (${tokenizer.name}): all ${dropped.length} rows read are dropped (row ${first.row}: ${first.why})`);
  }
  for (const d of dropped) opts.onDrop?.(d.row, d.why);
  return out;
}

/**
 * The file `--data` names: a path, or (when it is no file: a folder "test" is not one) a split of MIB's data for this task in the data
 * cache, `validation` or `test`, fetched by `eapgp data fetch <task>`.
 */
function resolveData(spec: MibTaskSpec, data: string): string {
  if ((existsSync(data) && statSync(data).isFile()) || !(MIB_SPLITS as readonly string[]).includes(data)) return data;
  return requireCached(mibCacheFile(spec.name, data), `MIB's ${spec.name.slice('mib-'.length)} ${data} split (${spec.dataset})`);
}

export const MIB_TASKS_DEFINED: readonly Task<LogitDiffLabel>[] = SPECS.map((spec) => taskOf<LogitDiffLabel>({
  name: spec.name,
  columns: spec.fields.map((f) => f.replace('CF', spec.counterfactual)),
  load: (path, tokenizer, opts = {}) => load(spec, path, tokenizer, opts),
  resolveData: (data) => resolveData(spec, data),
  counterfactuals: true,
}, 'logit-diff'));

/** Our names of MIB's tasks, in MIB's order. */
export const mibTaskNames: readonly string[] = SPECS.map((s) => s.name);
