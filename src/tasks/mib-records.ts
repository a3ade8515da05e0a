/**
 * The records of a MIB dataset file as the Hugging Face hub serves them: one JSON array of objects (mib-bench/ioi's
 * <split>.json) or JSON Lines, one object per line (the other tasks' <split>.jsonl). Each record keeps its 1-based
 * row and line for messages; `field` reads a dotted path ("metadata.subject", "symbol_counterfactual.prompt")
 * with errors that name the file, row, line and field.
 */
import { existsSync, readFileSync } from 'node:fs';
import { UserError } from '../util/errors.js';

export interface MibRecord {
  /** 1-based record number. */
  readonly row: number;
  /** 1-based line the record starts on. */
  readonly line: number;
  readonly value: Record<string, unknown>;
}

/** Every record of `path` (see the module comment); a UserError names the file and line of anything else. */
export function readMibRecords(path: string, what: string): MibRecord[] {
  if (!existsSync(path)) throw new UserError(`${path}: no such file (${what})`);
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  const records: MibRecord[] = [];
  const object = (v: unknown, row: number, line: number): MibRecord => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new UserError(`${path}: row ${row} (line ${line}) is not a JSON object; ${what} is one object per row`);
    return { row, line, value: v as Record<string, unknown> };
  };
  if (text.trimStart().startsWith('[')) {
    let all: unknown;
    try {
      all = JSON.parse(text);
    } catch (e) {
      throw new UserError(`${path}: not valid JSON (${(e as Error).message}); ${what} is a JSON array of objects or JSON Lines`);
    }
    // a record's line: where its object opens at the array's top level (the hub's files put one per line or span several)
    const starts = topLevelObjectLines(text);
    (all as unknown[]).forEach((v, i) => records.push(object(v, i + 1, starts[i] ?? 1)));
  } else {
    lines.forEach((l, i) => {
      if (l.trim() === '') return;
      let v: unknown;
      try {
        v = JSON.parse(l);
      } catch (e) {
        throw new UserError(`${path}: line ${i + 1} is not valid JSON (${(e as Error).message}); ${what} is JSON Lines, one object per line`);
      }
      records.push(object(v, records.length + 1, i + 1));
    });
  }
  if (records.length === 0) throw new UserError(`${path}: no records; ${what} needs at least one`);
  return records;
}

/** The line of each object that opens at depth 1 of a JSON array (strings skipped). */
function topLevelObjectLines(text: string): number[] {
  const out: number[] = [];
  let depth = 0, line = 1, inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\n') line++;
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '[' || c === '{') {
      if (c === '{' && depth === 1) out.push(line);
      depth++;
    } else if (c === ']' || c === '}') depth--;
  }
  return out;
}

/** The value at a dotted path of a record, or undefined when a step is missing. */
export function fieldOf(r: MibRecord, path: string): unknown {
  let v: unknown = r.value;
  for (const k of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

/** Typed access to one record's fields; its errors name the file, row, line and field. */
export class MibRow {
  constructor(readonly path: string, readonly r: MibRecord) {}

  /** `${file}: row N (line L)` for messages. */
  get where(): string {
    return `${this.path}: row ${this.r.row} (line ${this.r.line})`;
  }

  fail(field: string, what: string): UserError {
    return new UserError(`${this.where}, field "${field}": ${what}`);
  }

  has(field: string): boolean {
    const v = fieldOf(this.r, field);
    return v !== undefined && v !== null;
  }

  /** A string (a number is written as Python's str() writes an int, as MIB's loader does). */
  text(field: string): string {
    const v = fieldOf(this.r, field);
    if (typeof v === 'string') return v;
    if (typeof v === 'number' && Number.isInteger(v)) return String(v);
    throw this.fail(field, v === undefined || v === null ? 'missing' : `${JSON.stringify(v)} is not a string`);
  }

  /** An integer index into a list of `length`. */
  index(field: string, length: number): number {
    const v = fieldOf(this.r, field);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= length) {
      throw this.fail(field, `${v === undefined ? 'missing' : JSON.stringify(v)}: expected an index 0..${length - 1} into the choices`);
    }
    return v;
  }

  /** A list of strings. */
  list(field: string): string[] {
    const v = fieldOf(this.r, field);
    if (!Array.isArray(v) || v.length === 0 || v.some((x) => typeof x !== 'string')) throw this.fail(field, `${v === undefined ? 'missing' : JSON.stringify(v)}: expected a non-empty list of strings`);
    return v as string[];
  }
}
