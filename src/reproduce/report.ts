/**
 * report.md of a reproduction, tables like the EAP-GP paper's: the tasks with their baselines, faithfulness
 * per task × method at a few budgets, CPR and CMD, precision/recall AUCs against the manual circuits, and the
 * time per method (only when asked for, from the run logs); the best method of each column in bold, only where
 * it is the unique best as printed (a tie marks nothing, and the report says so once). A cell shows "—" only where no value can exist
 * (no manual circuit, an undefined faithfulness, a time no run log kept) and "not run" for a pair this directory
 * has no result of. Without timings the report holds nothing that differs between runs of the same inputs and
 * options (no date, no times): the time section then says where the times are.
 */
import { REFERENCE_TASKS } from '../circuits/index.js';
import { version } from '../version.js';
import { budgetsDescription, tableBudgets } from './budgets.js';
import { faithfulnessPlotFile, prPlotFile } from './plots.js';
import type { MethodResult, PairTiming, Results, Timings } from './types.js';

/** What the time section shows when asked for (reproduce --timings): the pairs' run logs and today's date. */
export interface ReportTimings {
  /** When the report was made (ISO 8601). */
  date: string;
  pairs: Timings;
}

/** A cell's value: a number, NONE where none can exist, undefined where the pair was not run. */
const NONE = null;
type Value = number | null | undefined;
/** Which value is best in a column. */
type Better = 'high' | 'low' | 'near-one';

const score = (v: number, better: Better): number => (better === 'high' ? v : better === 'low' ? -v : -Math.abs(1 - v));

/**
 * Formats a column of values with the best one in bold, only when it is the unique best as printed: a tie at
 * the printed precision (or a column with a single value) marks nothing, since nothing is shown to be better.
 */
function column(values: readonly Value[], better: Better, fmt: (v: number) => string): string[] {
  const finite = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const bestValue = finite.length ? finite.reduce((a, b) => (score(b, better) > score(a, better) ? b : a)) : undefined;
  const best = bestValue === undefined ? undefined : fmt(bestValue);
  // ties are judged on the printed values: two cells that read the same are equal to the reader
  const printedAsBest = finite.filter((v) => score(Number(fmt(v)), better) >= score(Number(best), better)).length;
  const bold = finite.length > 1 && printedAsBest === 1;
  return values.map((v) => {
    if (v === undefined) return 'not run';
    if (v === null || !Number.isFinite(v)) return '—';
    return bold && fmt(v) === best ? `**${fmt(v)}**` : fmt(v);
  });
}

/** A Markdown table; `align` has one letter per column, l or r (default: first left, the rest right). */
function table(header: readonly string[], rows: readonly (readonly string[])[], align?: string): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  const rule = header.map((_, i) => ((align?.[i] ?? (i === 0 ? 'l' : 'r')) === 'l' ? ':---' : '---:'));
  return [line(header), line(rule), ...rows.map(line)].join('\n');
}

/** Rows = methods, one formatted column per task; `cols[t][m]` are the per-task cells. */
function methodTable(methods: readonly string[], first: string, heads: readonly string[], cols: readonly string[][]): string {
  return table([first, ...heads], methods.map((m, i) => [m, ...cols.map((c) => c[i]!)]));
}

/** d decimals; a value that rounds to zero prints without a sign ("-0.000" reads like a finding). */
const fixed = (d: number) => (v: number): string => {
  const t = v.toFixed(d);
  return Number(t) === 0 ? (0).toFixed(d) : t;
};
const sig = (v: number): string => (Math.abs(v) >= 1000 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : v.toFixed(4));
const code = (s: string): string => `\`${s.replace(/`/g, "'")}\``;

/** Every method with a result in some task, in the order results.json lists them. */
function methodsOf(r: Results): string[] {
  const seen: string[] = [];
  for (const t of Object.values(r.tasks)) for (const m of Object.keys(t.methods)) if (!seen.includes(m)) seen.push(m);
  return seen;
}

/** The report (see the module comment). */
export function reportMarkdown(r: Results, timings?: ReportTimings): string {
  const tasks = Object.keys(r.tasks);
  const methods = methodsOf(r);
  const res = (t: string, m: string): MethodResult | undefined => r.tasks[t]!.methods[m];
  const perTask = (get: (x: MethodResult, t: string) => Value, better: Better, fmt: (v: number) => string): string[][] =>
    tasks.map((t) => column(methods.map((m) => {
      const x = res(t, m);
      return x === undefined ? undefined : get(x, t);
    }), better, fmt));
  const { model: mo, settings: s } = r;
  const out: string[] = [];

  out.push(`# Circuit discovery on ${code(mo.path)}: ${methods.join(', ') || 'no results yet'}`, '');
  out.push(`Made by eap-gp ${version} (\`eapgp reproduce\`)${timings ? ` on ${utc(timings.date)}` : ''}.`, '');
  out.push(`- Model: ${code(mo.path)}, ${mo.layers} layers × ${mo.heads} heads, d_model ${mo.dModel}, ${mo.edges.toLocaleString('en-US')} edges.`);
  out.push(`- Data: up to ${s.limit} examples per task, batches of ${s.batchSize}; EAP-IG and EAP-GP use ${s.steps} steps.`);
  out.push('- Circuits: greedy selection by |score| from the logits, pruned; evaluated by edge patching (edges outside the circuit carry the corrupted run\'s activations). Faithfulness F = (m(C) − m(∅)) / (m(M) − m(∅)).');
  out.push(`- Edge budgets: ${s.budgets.join(', ')} (${budgetsDescription(mo.edges)}).`);
  out.push('- Bold marks the best method of a column only where it is the only best as printed; a tie marks nothing.', '');
  if (tasks.length === 0) {
    out.push('No (task, method) has finished yet.', '');
    return out.join('\n');
  }

  out.push('## Tasks', '');
  out.push(table(['task', 'data', 'examples', 'metric', 'm(M) clean', 'm(∅) corrupted'],
    tasks.map((t) => {
      const x = r.tasks[t]!;
      return [t, code(x.data), String(x.examples), x.metric, sig(x.baseline), sig(x.corrupted)];
    }), 'llrlrr'), '');
  const warned = tasks.filter((t) => r.tasks[t]!.warnings?.length);
  if (warned.length) {
    out.push('**Warnings about the data** (their faithfulness numbers below mean little):', '');
    for (const t of warned) for (const w of r.tasks[t]!.warnings!) out.push(`- ${t}: ${w}.`);
    out.push('');
  }

  out.push('## Faithfulness', '');
  out.push('F of the greedy circuit at a few of the budgets (requested edges; pruning may leave fewer). Closest to 1 in bold. Every budget is in results.json and the plots.', '');
  for (const b of tableBudgets(mo.edges).filter((x) => s.budgets.includes(x))) {
    out.push(`### ${b.toLocaleString('en-US')} edge${b === 1 ? '' : 's'}`, '');
    out.push(methodTable(methods, 'method', tasks, perTask((x) => x.points.find((p) => p.requested === b)?.faithfulness ?? NONE, 'near-one', fixed(3))), '');
  }

  out.push('## CPR and CMD', '');
  out.push('Areas over the MIB edge fractions 0.1 % … 100 %: CPR under F (higher is better), CMD under |1 − F| (lower is better). Best in bold.', '');
  out.push('### CPR', '');
  out.push(methodTable(methods, 'method', tasks, perTask((x) => x.fractions.cpr, 'high', fixed(3))), '');
  out.push('### CMD', '');
  out.push(methodTable(methods, 'method', tasks, perTask((x) => x.fractions.cmd, 'low', fixed(3))), '');

  out.push('## Precision and recall against the manual circuits', '');
  const small = mo.family === undefined && mo.layers === 12 && mo.heads === 12;
  const model = mo.family === undefined ? `${mo.layers} × ${mo.heads} model` : `${mo.layers} × ${mo.heads} ${mo.family} model`;
  out.push(
    'ROC AUC of the top-n edges by |score| over every n, at node / edge level, against ACDC\'s manual circuits (IOI: Wang et al. 2022, ' +
      'MLPs left out; Greater-Than: Hanna et al. 2023). Highest in bold. ' +
      (small ? '— : the task has no manual circuit.' : `— : the manual circuits are defined on GPT-2 small's 12 × 12 graph, not on this ${model}.`), '');
  const hasRef = (t: string): boolean => small && (REFERENCE_TASKS as readonly string[]).includes(t);
  const nodes = perTask((x, t) => (hasRef(t) ? x.pr?.auc.nodes ?? NONE : NONE), 'high', fixed(3));
  const edges = perTask((x, t) => (hasRef(t) ? x.pr?.auc.edges ?? NONE : NONE), 'high', fixed(3));
  out.push(methodTable(methods, 'method (nodes / edges)', tasks, tasks.map((_, ti) => methods.map((_, mi) => {
    const [a, b] = [nodes[ti]![mi]!, edges[ti]![mi]!];
    return a === b && (a === '—' || a === 'not run') ? a : `${a} / ${b}`;
  }))), '');

  out.push('## Time', '');
  if (timings) out.push(...timeSection(tasks, methods, res, timings), '');
  else {
    out.push(
      'The wall times of each task and method (attribution, evaluation), with the date, thread count and GEMM path, are in ' +
        '`results.log.json`; they are kept out of this file so that it is the same bytes for the same inputs and options. ' +
        'Rerun the same command with `--timings` to put the table here (finished pairs are not recomputed).', '');
  }

  out.push('## Plots', '');
  for (const t of tasks) {
    out.push(`![${t}: faithfulness vs edges](${faithfulnessPlotFile(t)})`);
    if (Object.values(r.tasks[t]!.methods).some((x) => x.pr)) out.push(`![${t}: precision vs recall](${prPlotFile(t)})`);
  }
  out.push('');
  return out.join('\n');
}

const utc = (iso: string): string => `${iso.slice(0, 16).replace('T', ' ')} UTC`;

/** The time table from the pairs' run logs, and how they were measured. */
function timeSection(tasks: string[], methods: string[], res: (t: string, m: string) => MethodResult | undefined, timings: ReportTimings): string[] {
  const time = (t: string, m: string): PairTiming | undefined => timings.pairs[t]?.[m];
  const logged = tasks.flatMap((t) => methods.flatMap((m) => (res(t, m) && time(t, m) ? [time(t, m)!] : [])));
  const setups = [...new Set(logged.map((x) => (x.threads === undefined ? 'unrecorded threads and GEMM path' : `${x.threads} thread${x.threads === 1 ? '' : 's'}, ${x.gemm} GEMM`)))];
  const out = [
    'Wall time in seconds, attribution + evaluation (both sweeps and the precision/recall curve); the clean and corrupted baselines are computed once per task and not counted. Fastest in bold. ' +
      (setups.length === 1 ? `Measured with ${setups[0]}.` : setups.length > 1 ? `Measured with different setups (${setups.join('; ')}): the times compare only within one.` : '') +
      ' From the pairs\' run logs (`state/<task>-<method>.log.json`, collected in `results.log.json`); "—": the pair\'s log is missing.',
    '',
  ];
  const value = (t: string, m: string, get: (x: PairTiming) => number): number | null | undefined => (res(t, m) === undefined ? undefined : time(t, m) ? get(time(t, m)!) : NONE);
  // a total needs every task: "not run" without one of them, "—" without one's log
  const total = (m: string, k: 'attribute' | 'evaluate'): Value =>
    !tasks.every((t) => res(t, m)) ? undefined : !tasks.every((t) => time(t, m)) ? NONE : tasks.reduce((sum, t) => sum + time(t, m)!.seconds[k], 0);
  const cells = tasks.map((t) => column(methods.map((m) => value(t, m, (x) => x.seconds.attribute + x.seconds.evaluate)), 'low', fixed(1)));
  const split = tasks.map((t, ti) => methods.map((m, mi) => {
    const x = time(t, m);
    return res(t, m) && x ? `${x.seconds.attribute.toFixed(1)} + ${x.seconds.evaluate.toFixed(1)} = ${cells[ti]![mi]!}` : cells[ti]![mi]!;
  }));
  const totals = (['attribute', 'evaluate'] as const).map((k) => column(methods.map((m) => total(m, k)), 'low', fixed(1)));
  out.push(methodTable(methods, 'method', [...tasks, 'all: attribute', 'all: evaluate'], [...split, ...totals]));
  return out;
}
