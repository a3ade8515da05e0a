/**
 * Subject-verb agreement: p(singular verbs) − p(plural verbs), negated when the clean subject is plural
 * (`plural` = 1). The verb sets come from a verb-list CSV with `sing`/`plur` columns, mapped to the
 * vocabulary as eap-ig-faithfulness get_singular_and_plural(strict=True) does (see `svaVerbIds`).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Tokenizer } from '../tokenizer/index.js';
import { columnIndex, readCsv } from '../util/csv.js';
import { UserError } from '../util/errors.js';
import { defineTask } from './define.js';
import { singleTokenId } from './single-token.js';
import type { SvaLabel, VerbIds } from './types.js';

/** Verb-list file names looked for next to the data CSV, in order. */
export const VERB_LIST_NAMES = ['eapig-faithfulness_combined_verb_list.csv', 'combined_verb_list.csv'] as const;

/**
 * The vocabulary ids of the verbs: every token that is a space followed by a listed verb ("Ġ<verb>").
 * A plural form counts only if its singular form is also a single token (strict), so both sets describe
 * the same verbs. Ids are in increasing order. GPT-2 with the shared list: 938 singular, 935 plural.
 */
export function svaVerbIds(tokenizer: Tokenizer, verbListPath: string): VerbIds {
  const table = readCsv(verbListPath);
  const si = columnIndex(table, 'sing');
  const pi = columnIndex(table, 'plur');
  const singular = new Set<string>();
  const pluralToSingular = new Map<string, string>(); // first listed pair wins, like list.index
  for (const r of table.rows) {
    singular.add(r.values[si]!);
    if (!pluralToSingular.has(r.values[pi]!)) pluralToSingular.set(r.values[pi]!, r.values[si]!);
  }
  for (const p of pluralToSingular.keys()) {
    // A verb in both columns would count on both sides of the metric.
    if (singular.has(p)) throw new UserError(`${verbListPath}: "${p}" is listed both as a singular (sing) and a plural (plur) form; remove one`);
  }
  const sing: number[] = [];
  const plur: number[] = [];
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    const t = tokenizer.tokenString(id);
    if (t[0] !== ' ') continue;
    const w = t.slice(1);
    if (singular.has(w)) sing.push(id);
    else {
      const s = pluralToSingular.get(w);
      if (s !== undefined && singleTokenId(tokenizer, ' ' + s) !== undefined) plur.push(id);
    }
  }
  return { singular: sing, plural: plur };
}

/** The explicit verb list, else the first of VERB_LIST_NAMES next to the data CSV. */
function findVerbList(csvPath: string, explicit: string | undefined): string {
  if (explicit !== undefined) {
    if (!existsSync(explicit)) throw new UserError(`${explicit}: no such verb-list file (given for the sva task)`);
    return explicit;
  }
  const dir = dirname(csvPath);
  for (const name of VERB_LIST_NAMES) if (existsSync(join(dir, name))) return join(dir, name);
  throw new UserError(
    `${csvPath}: the sva task needs a verb list (CSV with columns sing, plur): put ${VERB_LIST_NAMES.join(' or ')} ` +
      'next to the data CSV, or pass its path (--verbs)',
  );
}

export const sva = defineTask<SvaLabel>(
  {
    name: 'sva',
    columns: ['clean', 'corrupted', 'plural'],
    labeler(ctx) {
      const k = ctx.column('plural');
      const verbs = svaVerbIds(ctx.tokenizer, findVerbList(ctx.csvPath, ctx.opts.verbs));
      return (r) => ({ kind: 'sva', plural: r.int(k, 0, 1, '1 if the clean subject is plural, else 0') === 1, verbs });
    },
  },
  'prob-diff',
);
