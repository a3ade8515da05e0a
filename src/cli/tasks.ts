/** `eapgp tasks`: list the tasks, and generate a task dataset from our own templates and word lists. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { generate, generators, writeDataset } from '../tasks/generators/index.js';
import { getTask, mibTaskNames, taskNames, VERB_LIST_NAMES } from '../tasks/index.js';
import { loadTokenizer } from '../tokenizer/index.js';
import { UserError } from '../util/errors.js';
import { intOption, parse, requireOption } from './args.js';
import { checkOutputFile } from './output-paths.js';

export const usage = `usage: eapgp tasks list
       eapgp tasks make TASK --n N [--seed S] [--tokenizer-dir DIR] --out FILE.csv

list   prints each task's name, default metric, CSV columns, what it tests, and its other metric form
       (attribute, evaluate and reproduce take --metric logit-diff|prob-diff).
make   writes N examples of TASK in the format --task TASK --data FILE.csv reads (sva also writes
       combined_verb_list.csv next to FILE.csv). The same seed (default 0) gives the same bytes; prompts
       whose answer is not one token, or whose clean and corrupted lengths differ, are dropped and counted.

Task "custom" needs no code: a CSV with columns clean, corrupted, answer, wrong (a token id or a list
like "[339, 673]") and optionally metric (logit-diff, the default, or prob-diff).
MIB's tasks (mib-ioi, mib-mcqa, mib-arithmetic-addition, -subtraction, mib-arc-easy, -challenge) read the
benchmark's own files (docs/mib.md); they have no generator.`;

const CUSTOM_DESCRIPTION = 'your own CSV: logit or probability difference of answer vs wrong (no generator)';

function list(): void {
  const rows = [...taskNames, 'custom', ...mibTaskNames].map((name) => {
    const t = getTask(name);
    const metric = name === 'custom' ? 'logit-diff|prob-diff' : t.metricKind;
    const generated = generators.find((g) => g.name === name)?.description;
    const other = `[also --metric ${t.metricForms.slice(1).join(', ')}]`;
    // the default metric in its column; the other form (--metric) after the description
    const description = generated !== undefined ? `${generated} ${other}`
      : mibTaskNames.includes(name) ? `MIB circuit track, its own JSON files (eapgp data fetch ${name}, then --data validation|test; or --data FILE; --counterfactual TYPE) ${other}`
      : CUSTOM_DESCRIPTION;
    return [name, metric, t.columns.join(','), description];
  });
  const w = [0, 1, 2].map((k) => Math.max(...rows.map((r) => r[k]!.length)));
  for (const r of rows) console.log(r.map((c, k) => (k < 3 ? c.padEnd(w[k]!) : c)).join('  '));
}

function make(argv: string[]): void {
  const { values, positionals } = parse('tasks make', argv, {
    n: { type: 'string' as const }, seed: { type: 'string' as const }, out: { type: 'string' as const }, 'tokenizer-dir': { type: 'string' as const },
  }, usage, { positionals: true });
  if (values.help) return void console.log(usage);
  if (positionals.length !== 1) throw new UserError(`tasks make: give one task name\n\n${usage}`);
  const task = positionals[0]!;
  if (task === 'custom') throw new UserError('tasks make: "custom" has no generator; write its CSV yourself (see eapgp tasks --help)');
  const n = intOption(requireOption(values.n, 'n', usage), 'n')!;
  const seed = intOption(values.seed, 'seed', 0) ?? 0;
  const out = requireOption(values.out, 'out', usage);
  checkOutputFile(out, 'out', `${task}.csv`);
  const ds = generate(task, { n, seed, tokenizer: loadTokenizer(values['tokenizer-dir']) });
  const written = writeDataset(ds, out);
  const shadow = join(dirname(out), VERB_LIST_NAMES[0]);
  if (task === 'sva' && existsSync(shadow)) console.error(`warning: the sva loader will read ${shadow} before our ${VERB_LIST_NAMES[1]}; pass --verbs to choose`);
  const why = Object.entries(ds.dropped.byReason).map(([r, c]) => `${c} ${r}`).join('; ');
  console.error(`wrote ${written.join(', ')}: ${ds.rows.length} rows; dropped ${ds.dropped.total}${why ? ` (${why})` : ''}`);
}

export async function tasks(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === 'list') return list();
  if (sub === 'make') return make(rest);
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') return void console.log(usage);
  throw new UserError(`tasks: unknown subcommand "${sub}"; use list or make\n\n${usage}`);
}
