/** The shapes shared by the dataset generators (see index.ts for the registry and the writer). */
import type { Tokenizer } from '../../tokenizer/index.js';

export interface GenerateOptions {
  /** Number of data rows to produce (a positive integer). */
  n: number;
  /** PRNG seed (a non-negative integer); the same seed gives byte-identical files. Default 0. */
  seed?: number;
  /** Tokenizer used to check answers and lengths; default the built-in GPT-2 one. */
  tokenizer?: Tokenizer;
  /** Where a warning line goes (words dropped for a non-GPT-2 tokenizer); default: "eapgp: warning: ..." on stderr. */
  warn?: (line: string) => void;
}

/** What was left out and why: words that failed a check once, and sampled rows that failed one. */
export interface DropReport {
  total: number;
  /** Reason → count, in the order the reasons first occurred. */
  byReason: Record<string, number>;
}

/** A CSV to write: a header and rows of string fields in header order. */
export interface CsvData {
  columns: readonly string[];
  rows: string[][];
}

/** A generated dataset; `companions` are files written next to the CSV (the sva verb list). */
export interface GeneratedDataset extends CsvData {
  task: string;
  dropped: DropReport;
  companions: ({ name: string } & CsvData)[];
}

/** One task's generator. */
export interface Generator {
  /** The task name, as `getTask` knows it. */
  readonly name: string;
  /** One line for `eapgp tasks list`. */
  readonly description: string;
  generate(opts: GenerateOptions): GeneratedDataset;
}
