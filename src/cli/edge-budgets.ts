/**
 * What evaluate, compare and demo share about a scored graph: `--edges` lists (budgets above the graph's size
 * clamped with a note), the error for a file that flags no circuit, and the warning for a graph of another task.
 */
import { UserError } from '../util/errors.js';

/** "100,200,all" → [100, 200, 'all'] ("all" only where `allowAll`); a UserError naming a bad entry. */
export function parseEdgeList(text: string, allowAll = false): (number | 'all')[] {
  return text.split(',').map((s) => {
    const t = s.trim();
    if (allowAll && t === 'all') return 'all';
    const n = Number(t);
    if (t === '' || !Number.isSafeInteger(n) || n < 1) {
      const what = allowAll ? 'is neither a positive integer nor "all" (expected e.g. 20,50,all)' : 'is not a positive integer (expected e.g. 100,200,500)';
      throw new UserError(`--edges: "${s}" ${what}`);
    }
    return n;
  });
}

/**
 * The budgets with "all" and every count above `nEdges` replaced by `nEdges`, duplicates dropped (first
 * occurrence kept). Each clamped value is reported through `note`, so a larger request never passes silently.
 */
export function clampBudgets(budgets: readonly (number | 'all')[], nEdges: number, note: (line: string) => void): number[] {
  const over = budgets.filter((n): n is number => n !== 'all' && n > nEdges);
  if (over.length > 0) {
    note(`--edges ${over.join(', ')} exceed${over.length === 1 ? 's' : ''} the graph's ${nEdges.toLocaleString('en-US')} edges; using ${nEdges} (every edge) instead`);
  }
  return [...new Set(budgets.map((n) => (n === 'all' ? nEdges : Math.min(n, nEdges))))];
}

/** The error for `--graph FILE` without a selection when the file flags no circuit (as attribute writes it). */
export function noCircuitError(file: string, what: string): UserError {
  return new UserError(
    `${file} flags no circuit (no edge has in_graph true; eapgp attribute writes scores only), so there is nothing to ${what} ` +
      'without a selection: add --edges 100,200,500 to select circuits of those sizes from its scores',
  );
}

/** A warning when the graph's meta names another task than the one it is used with, else null. */
export function graphTaskWarning(file: string, graphTask: unknown, task: string): string | null {
  return typeof graphTask === 'string' && graphTask !== task
    ? `${file} holds scores for task ${graphTask} (its meta.task) but is used with --task ${task}: its circuits were found for another task`
    : null;
}
