/**
 * What `eapgp validate` prints and writes: the JSON document, the two text tables (rank agreement, precision,
 * CPR/CMD and time per variant; faithfulness per edge budget) and the markdown summary. Undefined values
 * (a correlation with a constant side) print as "n/a" and are null in JSON. The JSON and the summary hold only
 * what the inputs and options determine (byte-identical across runs and thread counts); the times, the thread
 * count and the GEMM path are in the run log, and in the summary only when asked for (`Timing`).
 */
import { findings } from './findings.js';
import type { ValidationResult, VariantResult } from './runner.js';
import { relevantOptions } from './variants.js';

/** Where the numbers came from: recorded in the JSON and the summary. */
export interface ValidationMeta {
  tool: string;
  /** The command line, for reproduction. */
  command: string;
  model: string;
  task: string;
  /** The task metric's form (logit-diff or prob-diff). */
  metric: string;
  /** "generated (seed S)" or the CSV path. */
  data: string;
  dataSha256: string;
  batchSize: number;
  /** Degenerate data (identical clean and corrupted rows, a gap m(M) − m(∅) too small for F to mean anything). */
  warnings?: string[];
}

/** How a run went, for a summary that shows its times (validate --timings). */
export interface Timing {
  gemm: string;
  threads: number;
}

/** results.json's format; version 2 moved created, gemm, threads and the seconds to the run log (files without "format" are version 1). */
export const VALIDATION_FORMAT = 'eapgp-validate';
export const VALIDATION_VERSION = 2;

/** The JSON document (dense exact scores are left out: --out writes them as EAP-IG graph JSON). */
export function toJson(r: ValidationResult, meta: ValidationMeta): object {
  return {
    format: VALIDATION_FORMAT, version: VALIDATION_VERSION, ...meta, intervention: r.intervention,
    edges: r.edges, examples: r.examples, baseline: r.baseline, topN: r.topN, budgets: r.budgets, fractions: r.fractions,
    exact: { faithfulness: r.exact.faithfulness },
    variants: r.variants.map((v) => ({
      name: v.name, method: v.method, options: relevantOptions(v), spearman: v.spearman, kendall: v.kendall,
      precision: r.topN.map((n, i) => ({ n, precision: v.precision[i]! })), faithfulness: v.faithfulness,
    })),
  };
}

/** Fixed digits; a value that rounds to zero prints without a minus sign; undefined/NaN as n/a. */
const num = (x: number | undefined, digits: number): string =>
  x !== undefined && Number.isFinite(x) ? x.toFixed(digits).replace(/^-(?=0\.?0*$)/, '') : 'n/a';
const pct = (f: number): string => `${+(f * 100).toPrecision(3)}%`;

/** Wall-clock seconds of the exact scores and of each variant's attribution, as the run log records them. */
export function variantSeconds(r: ValidationResult): { exact: number; variants: Record<string, number> } {
  return { exact: round3(r.exact.seconds), variants: Object.fromEntries(r.variants.map((v) => [v.name, round3(v.seconds)])) };
}
const round3 = (x: number): number => Number(x.toFixed(3));

/** A row per variant (the exact reference first) as cells, with the header; the time column only `withTime`. */
function summaryRows(r: ValidationResult, withTime: boolean): { header: string[]; rows: string[][] } {
  const header = ['variant', ...(withTime ? ['time s'] : []), 'Spearman', 'Kendall', ...r.topN.map((n) => `P@${n}`), 'CPR', 'CMD'];
  const row = (name: string, seconds: number, rho: number, tau: number, prec: number[], v: { cpr?: number; cmd?: number }): string[] =>
    [name, ...(withTime ? [num(seconds, 2)] : []), num(rho, 4), num(tau, 4), ...prec.map((p) => num(p, 3)), num(v.cpr, 4), num(v.cmd, 4)];
  const rows = [
    row('exact (ground truth)', r.exact.seconds, 1, 1, r.topN.map(() => 1), r.exact.faithfulness),
    ...r.variants.map((v: VariantResult) => row(v.name, v.seconds, v.spearman, v.kendall, v.precision, v.faithfulness)),
  ];
  return { header, rows };
}

/** Faithfulness per budget: a row per variant, a column per MIB fraction (edges after pruning vary). */
function curveRows(r: ValidationResult): { header: string[]; rows: string[][] } {
  const header = ['variant', ...r.fractions.map((f, i) => `${pct(f)} (${r.budgets[i]})`)];
  const rows = [
    ['exact (ground truth)', ...r.exact.faithfulness.points.map((p) => num(p.faithfulness, 3))],
    ...r.variants.map((v) => [v.name, ...v.faithfulness.points.map((p) => num(p.faithfulness, 3))]),
  ];
  return { header, rows };
}

function textTable({ header, rows }: { header: string[]; rows: string[][] }): string {
  const w = header.map((h, k) => Math.max(h.length, ...rows.map((r) => r[k]!.length)));
  const line = (cells: string[]): string => cells.map((c, k) => (k === 0 ? c.padEnd(w[k]!) : c.padStart(w[k]!))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

function markdownTable({ header, rows }: { header: string[]; rows: string[][] }): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map((_, k) => (k === 0 ? '---' : '---:'))), ...rows.map(line)].join('\n');
}

function preamble(r: ValidationResult, meta: ValidationMeta): string {
  const under = r.intervention === 'patching' ? '' : `, under ${r.intervention} ablation (exact patching, variants and circuits; m(∅) the fully ablated model)`;
  return `task ${meta.task} (${meta.metric}), model ${meta.model}, ${r.examples} examples (${meta.data}), ${r.edges} edges${under}: ` +
    `m(M) = ${r.baseline.clean.toPrecision(6)}, m(∅) = ${r.baseline.corrupted.toPrecision(6)}`;
}

/** The stdout report: both tables. */
export function formatText(r: ValidationResult, meta: ValidationMeta): string {
  return [
    preamble(r, meta),
    `rank agreement of |score| with |exact effect| over all ${r.edges} edges; P@n = precision of the top-n edges against the top-n exact edges; CPR/CMD over the MIB edge fractions`,
    textTable(summaryRows(r, true)),
    '',
    'faithfulness F(C) of greedy circuits by |score| (pruned), per edge fraction (edges requested)',
    textTable(curveRows(r)),
  ].join('\n');
}

/**
 * The markdown summary: the command, both tables, the findings and the chart. With `timing` it also shows the
 * times, threads and GEMM path (and then differs from run to run); without, the run log has them.
 */
export function formatMarkdown(r: ValidationResult, meta: ValidationMeta, chartFile: string, timing?: Timing): string {
  const chance = r.topN.map((n) => `P@${n} ${(n / r.edges).toFixed(3)}`).join(', ');
  return [
    `# Validation against exact patching: ${meta.task}`,
    '',
    `${preamble(r, meta)}. Batch size ${meta.batchSize}${timing ? `, ${timing.gemm} GEMM, ${timing.threads} threads` : ''}, ${meta.tool}.`,
    '',
    ...(meta.warnings?.length ? [...meta.warnings.map((w) => `> **Warning:** ${w}.`), ''] : []),
    '```sh', meta.command, '```',
    '',
    (timing ? `Exact patching (one patched forward pass per edge and batch) took ${r.exact.seconds.toFixed(1)} s. `
      : 'The attribution times are in results.log.json (`--timings` puts them in this table). ') +
      `Correlations compare |score| with |exact effect| over all edges; precision at chance would be ${chance}.`,
    '',
    markdownTable(summaryRows(r, timing !== undefined)),
    '',
    'Faithfulness of the greedy circuits (by |score|, pruned) per edge fraction:',
    '',
    markdownTable(curveRows(r)),
    '',
    '## Findings',
    '',
    ...findings(r).map((f) => `- ${f}`),
    '',
    `![faithfulness curves](${chartFile})`,
    '',
  ].join('\n');
}
