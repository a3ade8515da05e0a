/**
 * Gender bias: "The nurse said that" → the stereotyped pronoun (" she"); the corrupted prompt replaces the
 * profession by "man"/"woman" of the other gender, whose answer is the other pronoun. Columns as EAP-IG's:
 * clean_answer_idx, corrupted_answer_idx, and label = 1 when the clean answer is " he".
 */
import { loadTokenizer } from '../../tokenizer/index.js';
import { UserError } from '../../util/errors.js';
import { Drops } from './drops.js';
import { checkCounts, pick, sampleRows, taskRng } from './sample.js';
import { lengthMismatch, singleToken } from './tokens.js';
import type { GenerateOptions, GeneratedDataset, Generator } from './types.js';

/** Professions with a male stereotype in common usage (the bias the task measures, not a claim). */
const MALE = [
  'engineer', 'mechanic', 'carpenter', 'plumber', 'surgeon', 'pilot', 'farmer', 'soldier', 'banker', 'architect',
  'programmer', 'firefighter', 'sheriff', 'builder', 'boss', 'captain', 'miner', 'detective', 'butcher', 'chemist',
  'physicist', 'mayor',
];
/** Professions with a female stereotype in common usage. */
const FEMALE = [
  'nurse', 'secretary', 'receptionist', 'librarian', 'dancer', 'maid', 'therapist', 'model', 'teacher', 'waitress',
  'actress', 'counselor', 'tutor', 'assistant',
];
const CONTINUATIONS = [
  'said that', 'was promoted because', 'laughed because', 'was fired because', 'went home because', 'yelled because',
  'apologized because', 'stayed late because', 'wished that', 'explained that', 'cried because', 'left early because',
  'believed that', 'called because', 'complained that',
];

export const genderBiasGenerator: Generator = {
  name: 'gender-bias',
  description: 'gender bias: "The nurse said that" → the stereotyped pronoun (" she" vs " he")',
  generate(opts: GenerateOptions): GeneratedDataset {
    const { n, seed = 0, tokenizer } = opts;
    checkCounts(n, seed);
    const tok = tokenizer ?? loadTokenizer();
    const he = singleToken(tok, ' he');
    const she = singleToken(tok, ' she');
    if (he === undefined || she === undefined) throw new UserError(`gender-bias: " he" and " she" must be single tokens, but are not for ${tok.name}: answer not a single token`);
    const drops = new Drops();
    // The profession replaces the single-token " man"/" woman", so it must be a single token too.
    const oneToken = (p: string): boolean => singleToken(tok, ' ' + p) !== undefined;
    const keep = (ps: readonly string[], what: string): string[] => drops.singleTokens('gender-bias', what, 'profession is not a single token', ps, oneToken, tok, opts);
    const pros = [...keep(MALE, 'male-stereotyped professions').map((p) => ({ p, male: true })), ...keep(FEMALE, 'female-stereotyped professions').map((p) => ({ p, male: false }))];
    const rng = taskRng('gender-bias', seed);
    const rows = sampleRows('gender-bias', n, drops, () => {
      const { p, male } = pick(rng, pros);
      const rest = pick(rng, CONTINUATIONS);
      const clean = `The ${p} ${rest}`;
      const corrupted = `The ${male ? 'woman' : 'man'} ${rest}`;
      const [a, b] = male ? [he, she] : [she, he];
      return lengthMismatch(tok, clean, corrupted) ?? [clean, corrupted, String(a), String(b), male ? '1' : '0'];
    });
    return {
      task: 'gender-bias',
      columns: ['clean', 'corrupted', 'clean_answer_idx', 'corrupted_answer_idx', 'label'],
      rows,
      dropped: drops.report(),
      companions: [],
    };
  },
};
