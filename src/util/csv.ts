/**
 * A small RFC 4180 CSV reader: comma-separated fields, optional double quotes around a field,
 * `""` for a quote inside a quoted field, quoted fields may span lines, CRLF or LF line ends,
 * a leading UTF-8 BOM is dropped. Used by the tests and the task loaders.
 */
import { readFileSync } from 'node:fs';
import { fsErrorMeaning, UserError } from './errors.js';

/** One data record; `line` is the 1-based line of the file where the record starts (for messages). */
export interface CsvRow {
  readonly line: number;
  readonly values: string[];
}

/** The first record as the header, then every further record. */
export interface CsvTable {
  readonly source: string;
  readonly header: string[];
  readonly rows: CsvRow[];
}

/** Malformed CSV is bad input: a UserError whose message names the source and line. */
function csvError(source: string, line: number, what: string): UserError {
  return new UserError(`${source}:${line}: ${what}`);
}

/**
 * Parses CSV text. Every record must have as many fields as the header. A blank line is skipped
 * (but a quoted empty field `""` is a record). `source` only appears in error messages.
 */
export function parseCsv(text: string, source = '<csv>'): CsvTable {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const records: CsvRow[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let recordLine = 1;
  let quotedRecord = false; // the record had a quoted field, so an empty one still counts
  let i = 0;
  const n = text.length;

  const endRecord = (): void => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0] === '' && !quotedRecord)) {
      records.push({ line: recordLine, values: fields });
    }
    fields = [];
    field = '';
    quotedRecord = false;
  };

  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */ && field === '') {
      // Quoted field: read to the closing quote.
      quotedRecord = true;
      const openLine = line;
      i++;
      for (;;) {
        const close = text.indexOf('"', i);
        if (close < 0) throw csvError(source, openLine, 'unterminated quoted field');
        const chunk = text.slice(i, close);
        for (let k = chunk.indexOf('\n'); k >= 0; k = chunk.indexOf('\n', k + 1)) line++;
        field += chunk;
        if (text.charCodeAt(close + 1) === 0x22) {
          field += '"'; // "" is an escaped quote
          i = close + 2;
          continue;
        }
        i = close + 1;
        break;
      }
      const next = text.charCodeAt(i);
      if (i < n && next !== 0x2c && next !== 0x0a && next !== 0x0d) {
        throw csvError(source, line, 'unexpected character after closing quote');
      }
      continue;
    }
    if (c === 0x2c /* , */) {
      fields.push(field);
      field = '';
      i++;
    } else if (c === 0x0a || c === 0x0d) {
      endRecord();
      i += c === 0x0d && text.charCodeAt(i + 1) === 0x0a ? 2 : 1;
      line++;
      recordLine = line;
    } else if (c === 0x22) {
      throw csvError(source, line, 'quote inside an unquoted field');
    } else {
      // Copy the run of plain characters in one slice.
      let j = i + 1;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d === 0x2c || d === 0x0a || d === 0x0d || d === 0x22) break;
        j++;
      }
      field += text.slice(i, j);
      i = j;
    }
  }
  if (field !== '' || fields.length > 0 || quotedRecord) endRecord();

  if (records.length === 0) throw csvError(source, 1, 'empty file (no header)');
  const header = records[0]!.values;
  const rows = records.slice(1);
  for (const r of rows) {
    if (r.values.length !== header.length) {
      throw csvError(source, r.line, `expected ${header.length} fields, found ${r.values.length}`);
    }
  }
  return { source, header, rows };
}

/** Reads and parses a UTF-8 CSV file. */
export function readCsv(path: string): CsvTable {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const meaning = fsErrorMeaning(e);
    if (meaning === undefined) throw e;
    throw new UserError(`cannot read ${path}: ${meaning}`, { cause: e });
  }
  return parseCsv(text, path);
}

/** Index of a header column; throws (naming the file) when the column is missing. */
export function columnIndex(table: CsvTable, name: string): number {
  const k = table.header.indexOf(name);
  if (k < 0) {
    throw csvError(table.source, 1, `missing column "${name}" (have: ${table.header.join(', ')})`);
  }
  return k;
}
