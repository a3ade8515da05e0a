/**
 * The CSV loading shared by all tasks: check the columns, take the first `limit` rows, tokenize clean and
 * corrupted as [BOS] + encode(text), insist on equal lengths, and let the task parse each row's label.
 * Every bad-input error is a UserError that names the file, the 1-based data row (and CSV line), the column,
 * and says how to fix it.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { DATA_FILES, csvNameFor, type PublishedKind } from '../data/manifest.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { readCsv, type CsvTable } from '../util/csv.js';
import { UserError } from '../util/errors.js';
import type { Label, LoadOptions, TaskExample } from './types.js';

/** Typed access to one data row's fields; its errors name the file, row and column. */
export interface RowReader {
  /** 1-based data row. */
  readonly row: number;
  text(column: number): string;
  /** An integer in [min, max]. */
  int(column: number, min: number, max: number, what: string): number;
  /** A token id in [0, vocabSize). */
  tokenId(column: number): number;
  /** A non-empty list of token ids written like "[16840, 23685]". */
  tokenIds(column: number): number[];
}

/** What a task may use while preparing its label parser (once per load). */
export interface LoadContext {
  readonly csvPath: string;
  readonly tokenizer: Tokenizer;
  readonly opts: LoadOptions;
  /** Index of the first present column among `names`; a UserError listing the task's columns if none is. */
  column(...names: string[]): number;
}

/** A task's loading recipe. */
export interface TaskLoader<L extends Label> {
  name: string;
  columns: readonly string[];
  /** Returns the parser of one row's label (may look up columns and build token-id sets first). */
  labeler(ctx: LoadContext): (row: RowReader) => L;
}

function where(table: CsvTable, rowIndex: number): string {
  return `${table.source}: row ${rowIndex + 1} (line ${table.rows[rowIndex]!.line})`;
}

function rowReader(table: CsvTable, rowIndex: number, vocabSize: number): RowReader {
  const values = table.rows[rowIndex]!.values;
  const fail = (column: number, what: string): UserError =>
    new UserError(`${where(table, rowIndex)}, column "${table.header[column]}": ${what}`);
  const parseInt10 = (s: string, column: number, what: string): number => {
    const t = s.trim();
    if (!/^[+-]?\d+$/.test(t)) throw fail(column, `"${s}" is not an integer; expected ${what}`);
    return Number(t);
  };
  const checkId = (id: number, column: number): number => {
    if (id < 0 || id >= vocabSize) {
      throw fail(column, `token id ${id} is outside the vocabulary (0..${vocabSize - 1}); the ids must come from this model's tokenizer`);
    }
    return id;
  };
  return {
    row: rowIndex + 1,
    text: (column) => values[column]!,
    int(column, min, max, what) {
      const v = parseInt10(values[column]!, column, what);
      if (v < min || v > max) throw fail(column, `${v} is out of range; expected ${what}`);
      return v;
    },
    tokenId: (column) => checkId(parseInt10(values[column]!, column, 'a token id'), column),
    tokenIds(column) {
      const s = values[column]!.trim();
      const m = /^\[(.*)\]$/s.exec(s);
      if (m && m[1]!.trim() === '') throw fail(column, 'the list is empty; give at least one token id');
      const items = m ? m[1]!.split(',').map((x) => x.trim()) : [];
      if (!m || items.some((x) => !/^[+-]?\d+$/.test(x))) {
        throw fail(column, `"${values[column]}" is not a list of token ids; write it like "[16840, 23685]"`);
      }
      return items.map((x) => checkId(Number(x), column));
    },
  };
}

const KIND_NAME: Record<PublishedKind, string> = { gpt2: "GPT-2's tokenizer", neox: "Pythia's GPT-NeoX-20B tokenizer" };

/**
 * Refuses one of the EAP-IG paper's id-CSVs (known by its sha256) made for another tokenizer than `tokenizer`:
 * its ids may all lie inside the vocabulary and still name other tokens (GPT-2's 50,257 vs GPT-NeoX's 50,277).
 */
export function checkPublishedCsvFits(csvPath: string, tokenizer: Tokenizer): void {
  const sha = createHash('sha256').update(readFileSync(csvPath)).digest('hex');
  const f = DATA_FILES.find((x) => x.sha256 === sha && x.tokenizer !== undefined);
  if (f === undefined || f.tokenizer === tokenizer.kind) return;
  const fix = tokenizer.kind === 'other'
    ? 'the paper\'s data exists for GPT-2 and Pythia only: generate the task for this tokenizer (`eapgp tasks make`, or `reproduce --data generated`)'
    : `use ${f.group}/${csvNameFor(tokenizer.kind)} instead (\`eapgp data fetch ${f.group}\`; \`reproduce --data paper\` picks it)`;
  throw new UserError(`${csvPath}: this is the EAP-IG paper's ${f.group} data for ${KIND_NAME[f.tokenizer!]}, whose token ids do not fit this model's tokenizer (${tokenizer.name}); ${fix}`);
}

/** The positive-integer `limit` option (a UserError otherwise). */
function checkLimit(limit: number | undefined): void {
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) {
    throw new UserError(`--limit must be a positive integer, got ${limit}`);
  }
}

/** Loads a task CSV with the task's recipe (see the module comment). */
export function loadTask<L extends Label>(
  loader: TaskLoader<L>,
  csvPath: string,
  tokenizer: Tokenizer,
  opts: LoadOptions = {},
): TaskExample<L>[] {
  checkLimit(opts.limit);
  if (!existsSync(csvPath)) throw new UserError(`${csvPath}: no such file (the ${loader.name} task's data CSV)`);
  checkPublishedCsvFits(csvPath, tokenizer);
  const table = readCsv(csvPath);
  const ctx: LoadContext = {
    csvPath,
    tokenizer,
    opts,
    column(...names) {
      for (const n of names) {
        const k = table.header.indexOf(n);
        if (k >= 0) return k;
      }
      const which = names.map((n) => `"${n}"`).join(' or ');
      throw new UserError(
        `${csvPath}: missing column ${which}; the ${loader.name} task needs columns ${loader.columns.join(', ')} ` +
          `(the file has: ${table.header.join(', ')})`,
      );
    },
  };
  const cleanCol = ctx.column('clean');
  const corruptedCol = ctx.column('corrupted');
  const label = loader.labeler(ctx);
  if (table.rows.length === 0) throw new UserError(`${csvPath}: no data rows (only a header); the ${loader.name} task needs at least one example`);

  const n = Math.min(table.rows.length, opts.limit ?? Infinity);
  const bos = tokenizer.bosId;
  const out: TaskExample<L>[] = [];
  for (let i = 0; i < n; i++) {
    const r = rowReader(table, i, tokenizer.vocabSize);
    const clean = [bos, ...tokenizer.encode(r.text(cleanCol))];
    const corrupted = [bos, ...tokenizer.encode(r.text(corruptedCol))];
    if (clean.length !== corrupted.length) {
      // The metric is read at one position for both runs, and patching is position-wise.
      throw new UserError(
        `${where(table, i)}: clean has ${clean.length} tokens but corrupted has ${corrupted.length} (BOS included); ` +
          'edit the prompts so that both tokenize to the same number of tokens',
      );
    }
    out.push({ row: i + 1, clean, corrupted, label: label(r) });
  }
  return out;
}
