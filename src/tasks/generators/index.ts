/**
 * Dataset generators for the six tasks of DESIGN.md §6: CSVs in the EAP-IG formats that `getTask(name).load`
 * reads, made from our own templates and word lists. Every answer is one token and clean/corrupted prompts
 * tokenize to the same length; words and sampled rows that fail a check are dropped and counted by reason.
 * Deterministic: the same (task, n, seed, tokenizer) gives byte-identical files.
 *
 *   const ds = generate('ioi', { n: 200, seed: 1 });   // { rows, columns, dropped, companions }
 *   writeDataset(ds, 'data/ioi.csv');                   // + companions (sva's verb list) next to it
 */
import { dirname, join } from 'node:path';
import { UserError } from '../../util/errors.js';
import { writeFileAtomicSync } from '../../util/atomic-write.js';
import { capitalCountryGenerator } from './capital-country.js';
import { formatCsv } from './csv-write.js';
import { genderBiasGenerator } from './gender-bias.js';
import { greaterThanGenerator } from './greater-than.js';
import { hypernymyGenerator } from './hypernymy.js';
import { ioiGenerator } from './ioi.js';
import { svaGenerator } from './sva.js';
import type { GenerateOptions, GeneratedDataset, Generator } from './types.js';

export type * from './types.js';
export { formatCsv } from './csv-write.js';

/** The generators, in DESIGN.md order. */
export const generators: readonly Generator[] = [
  ioiGenerator, greaterThanGenerator, svaGenerator, genderBiasGenerator, capitalCountryGenerator, hypernymyGenerator,
];

/** The generator of `task`; a UserError listing the generated tasks otherwise. */
export function getGenerator(task: string): Generator {
  const g = generators.find((x) => x.name === task);
  if (!g) throw new UserError(`no generator for task "${task}"; generated tasks: ${generators.map((x) => x.name).join(', ')}`);
  return g;
}

/** Generates `opts.n` rows of `task` (see the module comment). */
export function generate(task: string, opts: GenerateOptions): GeneratedDataset {
  return getGenerator(task).generate(opts);
}

/** Writes the CSV atomically to `path`, and each companion file next to it; returns the paths written. */
export function writeDataset(ds: GeneratedDataset, path: string): string[] {
  writeFileAtomicSync(path, formatCsv(ds));
  const written = [path];
  for (const c of ds.companions) {
    const p = join(dirname(path), c.name);
    writeFileAtomicSync(p, formatCsv(c));
    written.push(p);
  }
  return written;
}
