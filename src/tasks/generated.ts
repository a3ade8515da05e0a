/**
 * Task examples straight from a generator, without a dataset file of the caller's: the generated CSV (and its
 * companions, e.g. sva's verb list) goes through a private temporary directory and the task's own loader, so
 * generated examples carry exactly the labels that `--data FILE.csv` would give.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTokenizer, type Tokenizer } from '../tokenizer/index.js';
import { generate, writeDataset } from './generators/index.js';
import { getTask } from './index.js';
import type { TaskExample } from './types.js';

export interface GeneratedExamplesOptions {
  n: number;
  seed: number;
  /** Default: the built-in GPT-2 tokenizer. */
  tokenizer?: Tokenizer;
}

/**
 * Calls `use` with the path of a temporary CSV of `n` generated rows of `task` (and its companions beside it),
 * removed again when `use` returns or throws. Synchronous, so a Ctrl-C is handled only after the removal.
 */
export function withGeneratedCsv<T>(task: string, opts: GeneratedExamplesOptions, use: (csv: string, tokenizer: Tokenizer) => T): T {
  const tokenizer = opts.tokenizer ?? loadTokenizer();
  const ds = generate(task, { n: opts.n, seed: opts.seed, tokenizer });
  const dir = mkdtempSync(join(tmpdir(), 'eapgp-gen-'));
  try {
    const csv = join(dir, `${task}.csv`);
    writeDataset(ds, csv);
    return use(csv, tokenizer);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `n` examples of `task` from its generator with `seed` (deterministic), tokenized and labelled by its loader. */
export function generateExamples(task: string, opts: GeneratedExamplesOptions): TaskExample[] {
  return withGeneratedCsv(task, opts, (csv, tokenizer) => getTask(task).load(csv, tokenizer));
}
