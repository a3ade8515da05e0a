/** CSV output matching util/csv.ts's reader: LF line ends, quotes only where a field needs them. */
import type { CsvData } from './types.js';

/** A field, quoted when it holds a comma, quote or line break, or starts/ends with whitespace (kept by readers). */
export function csvField(s: string): string {
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The whole file: header line, one line per row, final newline. */
export function formatCsv(data: CsvData): string {
  const lines = [data.columns, ...data.rows].map((r) => r.map(csvField).join(','));
  return lines.join('\n') + '\n';
}
