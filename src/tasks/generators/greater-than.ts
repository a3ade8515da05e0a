/**
 * Greater-than: "The siege lasted from the year 1732 to the year 17" → a year above 32. The corrupted prompt
 * starts at CC01, so every continuation is "greater". correct_idx = YY (02..98). A year is used only when it
 * tokenizes as " CC" + "YY" (the metric reads the two-digit tokens "00".."99").
 */
import { loadTokenizer } from '../../tokenizer/index.js';
import { yearTokenIds } from '../greater-than.js';
import { Drops } from './drops.js';
import { checkCounts, pick, sampleRows, taskRng } from './sample.js';
import { lengthMismatch } from './tokens.js';
import type { GenerateOptions, GeneratedDataset, Generator } from './types.js';

const NOUNS = [
  'siege', 'drought', 'festival', 'reign', 'journey', 'treaty', 'expedition', 'famine', 'trial', 'voyage',
  'tournament', 'strike', 'campaign', 'blockade', 'rebellion', 'truce', 'alliance', 'feud', 'exile', 'occupation',
  'partnership', 'apprenticeship', 'negotiation', 'construction', 'survey', 'mission', 'embargo', 'plague',
];
const CENTURIES = [11, 12, 13, 14, 15, 16, 17, 18];

export const greaterThanGenerator: Generator = {
  name: 'greater-than',
  description: 'year comparison: "The siege lasted from the year 1732 to the year 17" → YY > 32',
  generate({ n, seed = 0, tokenizer }: GenerateOptions): GeneratedDataset {
    checkCounts(n, seed);
    const tok = tokenizer ?? loadTokenizer();
    const yearIds = yearTokenIds(tok);
    const drops = new Drops();
    // " CCYY" must split as [" CC", "YY"], also for the corrupted CC01.
    const splits = (cc: number, yy: number): boolean => {
      const ids = tok.encode(` ${cc}${String(yy).padStart(2, '0')}`);
      return ids.length === 2 && ids[1] === yearIds[yy];
    };
    const centuries = drops.filter(CENTURIES, (cc) => (splits(cc, 1) ? undefined : 'century: CC01 does not tokenize as CC|01'));
    // YY in 02..98, so both sides of the metric are non-empty; e.g. " 1850" is one token and is left out.
    const years: [number, number][] = [];
    for (const cc of centuries) for (let yy = 2; yy <= 98; yy++) years.push([cc, yy]);
    const usable = drops.filter(years, ([cc, yy]) => (splits(cc, yy) ? undefined : 'year does not tokenize as CC|YY'));
    const rng = taskRng('greater-than', seed);
    const rows = sampleRows('greater-than', n, drops, () => {
      const noun = pick(rng, NOUNS);
      const [cc, yy] = pick(rng, usable);
      const clean = `The ${noun} lasted from the year ${cc}${String(yy).padStart(2, '0')} to the year ${cc}`;
      const corrupted = `The ${noun} lasted from the year ${cc}01 to the year ${cc}`;
      return lengthMismatch(tok, clean, corrupted) ?? [clean, corrupted, String(yy)];
    });
    return { task: 'greater-than', columns: ['clean', 'corrupted', 'correct_idx'], rows, dropped: drops.report(), companions: [] };
  },
};
