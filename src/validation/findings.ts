/**
 * Plain-language findings of a validation run, stated from the numbers whichever way they go: which variant
 * ranks edges closest to exact patching, which selects the most faithful circuits, and the comparisons the
 * methods ask for (their `comparisons` in the registry: EAP-GP vs EAP-IG and vs its straight-path control).
 */
import { findMethod } from '../attribution/registry.js';
import type { ValidationResult, VariantResult } from './runner.js';

const f3 = (x: number): string => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');
const signed = (x: number): string => (Number.isFinite(x) ? (x >= 0 ? '+' : '−') + Math.abs(x).toFixed(3) : 'n/a');

/** Variants ordered by `key`, best first (NaN last). */
function ranked(vs: readonly VariantResult[], key: (v: VariantResult) => number, higherIsBetter: boolean): VariantResult[] {
  const k = (v: VariantResult): number => {
    const x = key(v);
    return Number.isNaN(x) ? -Infinity : higherIsBetter ? x : -x;
  };
  return [...vs].sort((a, b) => k(b) - k(a));
}

function leader(vs: readonly VariantResult[], what: string, key: (v: VariantResult) => number, higherIsBetter = true): string {
  const r = ranked(vs, key, higherIsBetter);
  const top = r.slice(0, 3).map((v) => `${v.name} (${f3(key(v))})`).join(', ');
  const last = r.at(-1)!;
  return `${what}: best ${top}; worst ${last.name} (${f3(key(last))}).`;
}

/** One line comparing two variants on ρ, τ-b and CPR (a − b). */
function versus(a: VariantResult, b: VariantResult): string {
  const d = (k: (v: VariantResult) => number): string => signed(k(a) - k(b));
  return `${a.name} vs ${b.name}: Spearman ${f3(a.spearman)} vs ${f3(b.spearman)} (${d((v) => v.spearman)}), ` +
    `Kendall ${f3(a.kendall)} vs ${f3(b.kendall)} (${d((v) => v.kendall)}), ` +
    `CPR ${f3(a.faithfulness.cpr!)} vs ${f3(b.faithfulness.cpr!)} (${d((v) => v.faithfulness.cpr!)}), ` +
    `CMD ${f3(a.faithfulness.cmd!)} vs ${f3(b.faithfulness.cmd!)} (${d((v) => v.faithfulness.cmd!)}, lower is better).`;
}

/** The findings, one sentence each (empty when there is nothing to compare). */
export function findings(r: ValidationResult): string[] {
  const vs = r.variants;
  if (vs.length === 0) return [];
  const mid = Math.floor((r.topN.length - 1) / 2);
  const out = [
    leader(vs, 'Rank agreement with exact |effect| (Spearman ρ)', (v) => v.spearman),
    leader(vs, 'Rank agreement (Kendall τ-b)', (v) => v.kendall),
    leader(vs, `Precision of the top ${r.topN[mid]} edges`, (v) => v.precision[mid]!),
    leader(vs, `Faithfulness area CPR (higher is better; exact scores' own circuits: ${f3(r.exact.faithfulness.cpr!)})`, (v) => v.faithfulness.cpr!),
    leader(vs, `Faithfulness deviation CMD (lower is better; exact: ${f3(r.exact.faithfulness.cmd!)})`, (v) => v.faithfulness.cmd!, false),
  ];
  // the comparisons each method asks for (e.g. GradPath against the straight path at equal steps)
  for (const v of vs) {
    const options = v.options as Readonly<Record<string, unknown>>;
    for (const c of findMethod(v.method)?.comparisons?.(options) ?? []) {
      const other = vs.find((w) => c.matches({ name: w.name, method: w.method, options: w.options as Readonly<Record<string, unknown>> }));
      if (other) out.push(`${c.label} — ${versus(v, other)}`);
    }
  }
  return out;
}
