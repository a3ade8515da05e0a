/**
 * Subject-verb agreement: "The pilots near the doctor" → a plural verb. Clean and corrupted differ only in the
 * number of the subject; `plural` = 1 when the clean subject is plural. Writes our own verb list
 * (combined_verb_list.csv, columns sing, plur) next to the data, where the sva loader looks for it.
 */
import { loadTokenizer } from '../../tokenizer/index.js';
import { VERB_LIST_NAMES } from '../sva.js';
import { Drops } from './drops.js';
import { checkCounts, pick, sampleRows, taskRng } from './sample.js';
import { lengthMismatch, singleToken, tokenCount } from './tokens.js';
import type { GenerateOptions, GeneratedDataset, Generator } from './types.js';

/** [singular, plural] nouns. */
const NOUNS: readonly (readonly [string, string])[] = [
  ['pilot', 'pilots'], ['doctor', 'doctors'], ['teacher', 'teachers'], ['farmer', 'farmers'], ['dancer', 'dancers'],
  ['senator', 'senators'], ['lawyer', 'lawyers'], ['painter', 'painters'], ['singer', 'singers'], ['student', 'students'],
  ['officer', 'officers'], ['surgeon', 'surgeons'], ['customer', 'customers'], ['guard', 'guards'], ['manager', 'managers'],
  ['athlete', 'athletes'], ['minister', 'ministers'], ['driver', 'drivers'], ['soldier', 'soldiers'], ['nurse', 'nurses'],
  ['author', 'authors'], ['banker', 'bankers'], ['poet', 'poets'], ['sailor', 'sailors'], ['child', 'children'],
  ['woman', 'women'], ['man', 'men'], ['neighbor', 'neighbors'], ['clerk', 'clerks'], ['professor', 'professors'],
];

/** [singular, plural] verb forms: the agreement targets (and the relative-clause verbs). */
const VERBS: readonly (readonly [string, string])[] = [
  ['is', 'are'], ['was', 'were'], ['has', 'have'], ['does', 'do'], ['says', 'say'], ['thinks', 'think'],
  ['wants', 'want'], ['needs', 'need'], ['seems', 'seem'], ['gets', 'get'], ['makes', 'make'], ['takes', 'take'],
  ['goes', 'go'], ['comes', 'come'], ['runs', 'run'], ['writes', 'write'], ['plays', 'play'], ['works', 'work'],
  ['lives', 'live'], ['eats', 'eat'], ['sings', 'sing'], ['laughs', 'laugh'], ['smiles', 'smile'], ['talks', 'talk'],
  ['walks', 'walk'], ['swims', 'swim'], ['leaves', 'leave'], ['stays', 'stay'], ['remains', 'remain'],
  ['believes', 'believe'], ['knows', 'know'], ['tells', 'tell'], ['calls', 'call'], ['wins', 'win'],
  ['brings', 'bring'], ['keeps', 'keep'], ['finds', 'find'], ['gives', 'give'], ['likes', 'like'], ['loves', 'love'],
  ['hates', 'hate'], ['fears', 'fear'], ['visits', 'visit'], ['sees', 'see'], ['helps', 'help'], ['meets', 'meet'],
  ['watches', 'watch'], ['hopes', 'hope'], ['prefers', 'prefer'], ['enjoys', 'enjoy'], ['trusts', 'trust'],
];
/** Transitive verbs for "The X that the Y likes". */
const TRANSITIVE = new Set(['likes', 'loves', 'hates', 'fears', 'visits', 'knows', 'sees', 'helps', 'meets', 'watches', 'trusts', 'calls']);

/** [S] is the subject, [N] a distractor noun, [V] a verb agreeing with [N]. */
const TEMPLATES = ['The [S]', 'The [S] near the [N]', 'The [S] behind the [N]', 'The [S] next to the [N]', 'The [S] that the [N] [V]', 'The [S] with the [N]'];

export const svaGenerator: Generator = {
  name: 'sva',
  description: 'subject-verb agreement: "The pilots near the doctor" → a plural verb (writes combined_verb_list.csv)',
  generate(opts: GenerateOptions): GeneratedDataset {
    const { n, seed = 0, tokenizer } = opts;
    checkCounts(n, seed);
    const tok = tokenizer ?? loadTokenizer();
    const drops = new Drops();
    const verbs = drops.singleTokens('sva', 'verbs', 'verb form is not a single token', VERBS,
      ([s, p]) => singleToken(tok, ' ' + s) !== undefined && singleToken(tok, ' ' + p) !== undefined, tok, opts);
    // A subject whose two forms differ in length cannot make an equal-length pair.
    const nouns = drops.filter(NOUNS, ([s, p]) => (tokenCount(tok, ' ' + s) !== tokenCount(tok, ' ' + p) ? 'noun forms tokenize to different lengths' : undefined));
    const transitive = verbs.filter(([s]) => TRANSITIVE.has(s));
    const rng = taskRng('sva', seed);
    const rows = sampleRows('sva', n, drops, () => {
      const template = pick(rng, TEMPLATES);
      const subject = pick(rng, nouns);
      const distractor = pick(rng, nouns.filter((x) => x !== subject));
      const plural = rng.uniform() < 0.5 ? 1 : 0;
      const dPlural = rng.uniform() < 0.5 ? 1 : 0;
      const verb = pick(rng, transitive)[dPlural]!;
      const fill = (s: string): string => template.replace('[S]', s).replace('[N]', distractor[dPlural]!).replace('[V]', verb);
      const clean = fill(subject[plural]!);
      const corrupted = fill(subject[1 - plural]!);
      return lengthMismatch(tok, clean, corrupted) ?? [clean, corrupted, 'generated', String(plural)];
    });
    return {
      task: 'sva',
      columns: ['clean', 'corrupted', 'group', 'plural'],
      rows,
      dropped: drops.report(),
      companions: [{ name: VERB_LIST_NAMES[1], columns: ['sing', 'plur'], rows: verbs.map(([s, p]) => [s, p]) }],
    };
  },
};
